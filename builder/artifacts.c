/* SPDX-License-Identifier: MIT */
#include "fileio.h"
#include "artifacts.h"
#include "log.h"

#include <ctype.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pwd.h>
#include <strings.h>
#include <sys/stat.h>

/* The lock file as the schema loader fills it. */
struct lock_entry {
	struct cmeta m;
	struct cstr name, arch, version, url, sha256;
	struct cuint size;
};

struct lock_doc {
	struct cmeta m;
	struct clist artifacts;
};

#define F CONF_FIELD

static const char *const archs[] = { "arm64", "amd64", NULL };

static const struct field entry_fields[] = {
	F("name", FT_STRING, struct lock_entry, name, .required = true),
	F("arch", FT_ENUM, struct lock_entry, arch, .values = archs),
	F("version", FT_STRING, struct lock_entry, version, .required = true),
	F("url", FT_STRING, struct lock_entry, url, .required = true),
	F("sha256", FT_STRING, struct lock_entry, sha256, .required = true),
	F("size", FT_UINT, struct lock_entry, size, .min = 1, .max = UINT64_MAX),
	{ 0 },
};
static const struct schema entry_schema = {
	.what = "artifact",
	.name_key = "name",
	.size = sizeof(struct lock_entry),
	.fields = entry_fields,
};

static const struct field doc_fields[] = {
	F("artifacts", FT_LIST, struct lock_doc, artifacts, .sub = &entry_schema, .required = true),
	{ 0 },
};
static const struct schema doc_schema = { .what = "lock", .fields = doc_fields };

static struct lock_entry *entry_at(struct lock_doc *d, size_t i)
{
	return (struct lock_entry *)d->artifacts.items + i;
}

static bool valid_name(const char *s)
{
	if (!*s || strlen(s) > 64 || !isalnum((unsigned char)*s))
		return false;
	for (const char *p = s; *p; p++)
		if (!isalnum((unsigned char)*p) && !strchr("._-", *p))
			return false;
	return true;
}

static bool valid_sha256(char *s)
{
	if (strlen(s) != 64 || strspn(s, "0123456789abcdefABCDEF") != 64)
		return false;
	for (char *p = s; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return true;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = (char)tolower((unsigned char)c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* The URL's last path component, percent-decoded; NULL when it has none or
 * it would not be a plain file name. */
static char *url_file_name(const char *url)
{
	const char *rest = strstr(url, "://"), *path, *end, *last;
	char *out, *o;

	if (!rest)
		return NULL;
	path = strchr(rest + 3, '/');
	if (!path)
		return NULL;
	end = path + strcspn(path, "?#");
	last = end;
	while (last > path && last[-1] != '/')
		last--;
	if (last == end)
		return NULL;
	out = o = xmalloc((size_t)(end - last) + 1);
	for (const char *p = last; p < end; p++) {
		if (*p == '%' && p + 2 < end && hexval(p[1]) >= 0 && hexval(p[2]) >= 0) {
			*o++ = (char)(hexval(p[1]) * 16 + hexval(p[2]));
			p += 2;
		} else
			*o++ = *p;
	}
	*o = 0;
	for (const char *p = out; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*out = 0; /* "%0a": a file name (and an image path) with a line break */
	if (!*out || streq(out, ".") || streq(out, "..") || strchr(out, '/') ||
	    strlen(out) != (size_t)(o - out)) {
		free(out);
		return NULL;
	}
	return out;
}

/* "" when the URL is fine, else why not. */
static const char *url_problem(const char *url)
{
	const char *host;
	size_t n;
	char *name;

	if (strncasecmp(url, "https://", 8) == 0)
		host = url + 8;
	else if (strncasecmp(url, "http://", 7) == 0)
		host = url + 7;
	else
		return "must start with https:// or http://";
	for (const char *p = url; *p; p++)
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			return "contains a space or a control character";
	n = strcspn(host, "/?#");
	if (n == 0)
		return "has no host";
	if (memchr(host, '@', n))
		return "carries a user name or password; the lock is no place for credentials";
	name = url_file_name(url);
	if (!name)
		return "does not end in a file name";
	free(name);
	return "";
}

static void entry_label(const struct lock_entry *e, char *buf, size_t len)
{
	const char *arch = e->arch.v;

	snprintf(buf, len, "artifact '%s'%s%s%s", e->name.v ? e->name.v : "?", arch ? " (" : "",
		 arch ? arch : "", arch ? ")" : "");
}

static void check_entries(struct conf_file *f, struct lock_doc *d)
{
	for (size_t i = 0; i < d->artifacts.n; i++) {
		struct lock_entry *e = entry_at(d, i);
		const char *why;
		char label[160];

		entry_label(e, label, sizeof(label));
		if (e->name.v && !valid_name(e->name.v))
			conf_error(f, e->name.m.pos,
				   "%s: name must be letters, digits, '.', '_', '-' (at most 64)",
				   label);
		if (e->version.v && strpbrk(e->version.v, " \t\n"))
			conf_error(f, e->version.m.pos, "%s: version '%s' contains a space", label,
				   e->version.v);
		if (e->sha256.v && !valid_sha256(e->sha256.v))
			conf_error(f, e->sha256.m.pos,
				   "%s: sha256 '%s' is not 64 hexadecimal digits", label,
				   e->sha256.v);
		if (e->url.v && *(why = url_problem(e->url.v)))
			conf_error(f, e->url.m.pos, "%s: url '%s' %s", label, e->url.v, why);
		if (!e->name.v)
			continue;
		for (size_t j = 0; j < i; j++) {
			struct lock_entry *o = entry_at(d, j);
			if (o->name.v && streq(o->name.v, e->name.v) &&
			    streq_ptr(o->arch.v, e->arch.v)) {
				conf_error(f, e->name.m.pos,
					   "%s is listed twice (first on line %u)", label,
					   o->name.m.pos.line);
				break;
			}
		}
	}

	/* An artifacts directory holds files named like the URLs: two different
	 * files must not want the same name. */
	for (size_t i = 0; i < d->artifacts.n; i++) {
		struct lock_entry *e = entry_at(d, i);
		_cleanup_free_ char *name = e->url.v ? url_file_name(e->url.v) : NULL;
		char label[160];

		if (!name || !e->sha256.v)
			continue;
		entry_label(e, label, sizeof(label));
		for (size_t j = 0; j < i; j++) {
			struct lock_entry *o = entry_at(d, j);
			_cleanup_free_ char *other = o->url.v ? url_file_name(o->url.v) : NULL;
			if (other && o->sha256.v && streq(name, other) &&
			    !streq(o->sha256.v, e->sha256.v)) {
				conf_error(f, e->url.m.pos,
					   "%s: its file name '%s' is also another file's (line "
					   "%u); an artifacts directory cannot hold both",
					   label, name, o->url.m.pos.line);
				break;
			}
		}
	}
}

int artifacts_load(const char *lock_path, struct artifacts *a)
{
	struct lock_doc doc = { 0 };
	struct conf_file f;
	int r;

	*a = (struct artifacts){ .path = xstrdup(lock_path) };
	r = conf_file_open(lock_path, &f);
	if (r < 0) {
		conf_file_close(&f);
		return r;
	}
	conf_load(&f, &doc_schema, &doc);
	check_entries(&f, &doc);
	r = f.errors ? -EINVAL : 0;
	if (r == 0) {
		a->n = doc.artifacts.n;
		a->v = xcalloc(a->n ? a->n : 1, sizeof(*a->v));
		for (size_t i = 0; i < a->n; i++) {
			struct lock_entry *e = entry_at(&doc, i);
			a->v[i] = (struct artifact){
				.name = TAKE_PTR(e->name.v),
				.arch = TAKE_PTR(e->arch.v),
				.version = TAKE_PTR(e->version.v),
				.url = TAKE_PTR(e->url.v),
				.sha256 = TAKE_PTR(e->sha256.v),
				.size = e->size.v,
				.pos = e->m.pos,
			};
		}
	}
	conf_free(&doc_schema, &doc);
	conf_file_close(&f);
	return r;
}

void artifacts_free(struct artifacts *a)
{
	for (size_t i = 0; i < a->n; i++) {
		free(a->v[i].name);
		free(a->v[i].arch);
		free(a->v[i].version);
		free(a->v[i].url);
		free(a->v[i].sha256);
	}
	free(a->v);
	free(a->path);
	*a = (struct artifacts){ 0 };
}

const struct artifact *artifacts_find(const struct artifacts *a, const char *name, const char *arch)
{
	for (size_t i = 0; i < a->n; i++)
		if (streq(a->v[i].name, name) && streq_ptr(a->v[i].arch, arch))
			return &a->v[i];
	return NULL;
}

char *artifacts_cache_dir(void)
{
	const char *xdg = getenv("XDG_CACHE_HOME"), *home = getenv("HOME");
	struct passwd *pw;

	/* The XDG base directory spec ignores relative paths. */
	if (xdg && xdg[0] == '/')
		return xasprintf("%s/farm/artifacts", xdg);
	if (!home || home[0] != '/') {
		pw = getpwuid(getuid());
		home = pw && pw->pw_dir && pw->pw_dir[0] == '/' ? pw->pw_dir : NULL;
	}
	return home ? xasprintf("%s/.cache/farm/artifacts", home) : NULL;
}

char *artifact_describe(const struct artifact *art)
{
	if (art->arch)
		return xasprintf("%s (%s) %s", art->name, art->arch, art->version);
	return xasprintf("%s %s", art->name, art->version);
}

char *artifact_file_name(const struct artifact *art)
{
	char *name = url_file_name(art->url);

	/* The loader refused URLs without a usable name. */
	return name ? name : xstrdup(art->sha256);
}

int artifact_verify_fd(const struct artifact *art, int fd, char actual_hex[SHA256_HEX_LEN],
		       uint64_t *actual_size)
{
	uint8_t digest[SHA256_LEN];
	struct sha256_ctx *c;
	struct stat st;
	uint64_t off = 0;
	size_t bufsize = 1 << 20;
	_cleanup_free_ uint8_t *buf = NULL;

	actual_hex[0] = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	*actual_size = (uint64_t)st.st_size;
	if (art->size && *actual_size != art->size)
		return -EFBIG;
	buf = xmalloc(bufsize);
	c = sha256_new();
	for (;;) {
		ssize_t n = pread(fd, buf, bufsize, (off_t)off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;
			sha256_free(c);
			return r;
		}
		if (n == 0)
			break;
		sha256_update(c, buf, (size_t)n);
		off += (uint64_t)n;
	}
	sha256_final(c, digest);
	hex_encode(digest, SHA256_LEN, actual_hex);
	*actual_size = off;
	if (art->size && off != art->size)
		return -EFBIG;
	return streq(actual_hex, art->sha256) ? 0 : -EBADMSG;
}

int artifact_verify_file(const struct artifact *art, const char *desc, const char *path, int flags,
			 char actual_hex[SHA256_HEX_LEN], uint64_t *actual_size)
{
	_cleanup_close_ int fd = open_regular(AT_FDCWD, path, flags, false);
	int r;

	actual_hex[0] = 0;
	if (fd == -ENOENT)
		return 0;
	if (fd < 0)
		return log_error_errno(fd, "%s: cannot open %s: %s", desc, path, open_error(fd));
	r = artifact_verify_fd(art, fd, actual_hex, actual_size);
	if (r == 0)
		return 1;
	if (r == -EFBIG || r == -EBADMSG || r == -EINVAL)
		return r;
	return log_error_errno(r, "%s: cannot read %s: %m", desc, path);
}

/* 1 when PATH holds the artifact, 0 when PATH does not exist, else a
 * negative errno after one message. IN_CACHE words the advice. */
static int try_file(const struct artifact *art, const char *desc, const char *path, bool in_cache)
{
	char actual[SHA256_HEX_LEN];
	uint64_t size = 0;
	int r = artifact_verify_file(art, desc, path, 0, actual, &size);

	if (r == -EFBIG)
		log_error("%s: %s has %" PRIu64 " bytes, but the lock pins %" PRIu64
			  " bytes (sha256 %s)%s",
			  desc, path, size, art->size, art->sha256,
			  in_cache ? "; delete it and run 'farm-image fetch' again" : "");
	else if (r == -EBADMSG)
		log_error("%s: the sha256 of %s differs from the lock: expected %s, got %s%s", desc,
			  path, art->sha256, actual,
			  in_cache ? "; delete it and run 'farm-image fetch' again" : "");
	else if (r == -EINVAL)
		return log_error("%s: %s is not a regular file", desc, path);
	else
		return r; /* there (1), absent (0) or reported */
	return -EBADMSG;
}

int artifact_path_in(const struct artifacts *a, const struct artifact *art, const char *dir,
		     const char *cache, char **ret)
{
	_cleanup_free_ char *desc = artifact_describe(art), *file = artifact_file_name(art);
	_cleanup_free_ char *cache_default = NULL, *p = NULL;
	int r;

	*ret = NULL;
	if (dir) {
		p = xasprintf("%s/%s", dir, file);
		r = try_file(art, desc, p, false);
		if (r > 0)
			*ret = TAKE_PTR(p);
		if (r != 0)
			return r < 0 ? r : 0;
		free(TAKE_PTR(p));
	}
	if (!cache)
		cache = cache_default = artifacts_cache_dir();
	if (cache) {
		p = xasprintf("%s/%s", cache, art->sha256);
		r = try_file(art, desc, p, true);
		if (r > 0)
			*ret = TAKE_PTR(p);
		if (r != 0)
			return r < 0 ? r : 0;
	}
	if (dir)
		log_error("%s is neither in %s nor in the cache %s: run 'farm-image fetch' with "
			  "internet access, or pass --artifacts DIR holding %s",
			  desc, dir, cache ? cache : "(none)", file);
	else
		log_error("%s is not in the cache %s: run 'farm-image fetch' with internet access, "
			  "or pass --artifacts DIR holding %s",
			  desc, cache ? cache : "(none)", file);
	return -ENOENT;
}

int artifact_path(const struct artifacts *a, const char *name, const char *arch, const char *dir,
		  char **ret)
{
	const struct artifact *art = artifacts_find(a, name, arch);

	*ret = NULL;
	if (!art) {
		log_error("%s pins no artifact '%s'%s%s%s", a->path, name, arch ? " for " : "",
			  arch ? arch : "", arch ? "" : " (independent of the architecture)");
		return -ENOENT;
	}
	return artifact_path_in(a, art, dir, NULL, ret);
}
