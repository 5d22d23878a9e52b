/* SPDX-License-Identifier: MIT */
#include "curl-dl.h"
#include "log.h"

/* Our definitions of the functions, not curl.h's type-checking macros. */
#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>
#include <dlfcn.h>
#include <stdarg.h>

/* Debian's libcurl4 (the OpenSSL build, whose headers libcurl4-openssl-dev
 * installs). */
#define LIBCURL "libcurl.so.4"

static struct {
	CURLcode (*global_init)(long);
	void (*global_cleanup)(void);
	CURL *(*easy_init)(void);
	void (*easy_cleanup)(CURL *);
	CURLcode (*easy_perform)(CURL *);
	const char *(*easy_strerror)(CURLcode);
	CURLcode (*easy_setopt)(CURL *, CURLoption, ...);
	CURLcode (*easy_getinfo)(CURL *, CURLINFO, ...);
} fn;
static void *lib;

int curl_load(void)
{
	static const struct {
		const char *name;
		size_t offset;
	} syms[] = {
#define SYM(f) { "curl_" #f, offsetof(__typeof__(fn), f) }
		SYM(global_init),  SYM(global_cleanup), SYM(easy_init),	  SYM(easy_cleanup),
		SYM(easy_perform), SYM(easy_strerror),	SYM(easy_setopt), SYM(easy_getinfo),
#undef SYM
	};

	if (lib)
		return 0;
	lib = dlopen(LIBCURL, RTLD_NOW | RTLD_LOCAL);
	if (!lib)
		return log_error("fetch needs libcurl: %s (Debian's package libcurl4; "
				 "scripts/install-deps installs it)",
				 dlerror()),
		       -1;
	for (size_t i = 0; i < ELEMENTSOF(syms); i++) {
		void *p = dlsym(lib, syms[i].name);
		if (!p) {
			log_error("%s has no %s: %s", LIBCURL, syms[i].name, dlerror());
			dlclose(lib);
			lib = NULL;
			return -1;
		}
		memcpy((char *)&fn + syms[i].offset, &p, sizeof(p));
	}
	return 0;
}

CURLcode curl_global_init(long flags) { return fn.global_init(flags); }
void curl_global_cleanup(void) { fn.global_cleanup(); }
CURL *curl_easy_init(void) { return fn.easy_init(); }
void curl_easy_cleanup(CURL *c) { fn.easy_cleanup(c); }
CURLcode curl_easy_perform(CURL *c) { return fn.easy_perform(c); }
const char *curl_easy_strerror(CURLcode e) { return fn.easy_strerror(e); }

/* The one argument after OPTION, of the type its number says (curl.h's
 * CURLOPTTYPE_* ranges, as libcurl's own curl_easy_setopt reads it). */
CURLcode curl_easy_setopt(CURL *c, CURLoption option, ...)
{
	va_list ap;
	CURLcode r;

	va_start(ap, option);
	if (option < CURLOPTTYPE_OBJECTPOINT)
		r = fn.easy_setopt(c, option, va_arg(ap, long));
	else if (option < CURLOPTTYPE_FUNCTIONPOINT)
		r = fn.easy_setopt(c, option, va_arg(ap, void *));
	else if (option < CURLOPTTYPE_OFF_T)
		r = fn.easy_setopt(c, option, va_arg(ap, void (*)(void)));
	else if (option < CURLOPTTYPE_BLOB)
		r = fn.easy_setopt(c, option, va_arg(ap, curl_off_t));
	else
		r = fn.easy_setopt(c, option, va_arg(ap, void *));
	va_end(ap);
	return r;
}

/* Every CURLINFO_* takes a pointer. */
CURLcode curl_easy_getinfo(CURL *c, CURLINFO info, ...)
{
	va_list ap;
	CURLcode r;

	va_start(ap, info);
	r = fn.easy_getinfo(c, info, va_arg(ap, void *));
	va_end(ap);
	return r;
}
