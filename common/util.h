/* SPDX-License-Identifier: MIT */
/* Small helpers shared by farm-image and farm-node: cleanup attributes,
 * ownership transfer, sizes. Modeled on systemd's macro.h. */
#pragma once

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define _cleanup_(f)   __attribute__((cleanup(f)))
#define _unused_       __attribute__((unused))
#define _printf_(a, b) __attribute__((format(printf, a, b)))
#define _warn_unused_  __attribute__((warn_unused_result))

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
#define _cleanup_free_	 _cleanup_(freep)
#define _cleanup_close_	 _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Take ownership: return the value and reset the variable so that its
 * cleanup handler does nothing. */
#define TAKE_PTR(p)                                                                                \
	({                                                                                         \
		__typeof__(p) _tp = (p);                                                           \
		(p) = NULL;                                                                        \
		_tp;                                                                               \
	})
#define TAKE_FD(fd)                                                                                \
	({                                                                                         \
		int _tf = (fd);                                                                    \
		(fd) = -1;                                                                         \
		_tf;                                                                               \
	})

#define ELEMENTSOF(x)	   (sizeof(x) / sizeof((x)[0]))
#define MIN(a, b)	   ((a) < (b) ? (a) : (b))
#define MAX(a, b)	   ((a) > (b) ? (a) : (b))
#define DIV_ROUND_UP(x, y) (((x) + (y)-1) / (y))
#define ALIGN_UP(x, a)	   (DIV_ROUND_UP((x), (a)) * (a))

#define KiB ((uint64_t)1024)
#define MiB (1024 * KiB)
#define GiB (1024 * MiB)

static inline bool streq(const char *a, const char *b) { return strcmp(a, b) == 0; }
static inline bool streq_ptr(const char *a, const char *b)
{
	return (!a && !b) || (a && b && streq(a, b));
}
static inline bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}
/* LEN bytes at P (LEN > 0) hold only zeros: the first is 0 and every byte
 * equals the next. */
static inline bool mem_is_zero(const void *p, size_t len)
{
	const uint8_t *b = p;
	return b[0] == 0 && memcmp(b, b + 1, len - 1) == 0;
}

/* Allocation that never returns NULL: farm has nothing sensible to do when
 * memory runs out, so it reports and aborts in one place, oom(). */
_Noreturn void oom(void);
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) _printf_(1, 2);

/* Growable array of pointers. */
#define ARRAY_PUSH(arr, n, cap, item)                                                              \
	do {                                                                                       \
		if ((n) == (cap)) {                                                                \
			(cap) = (cap) ? (cap)*2 : 8;                                               \
			(arr) = xrealloc((arr), (cap) * sizeof(*(arr)));                           \
		}                                                                                  \
		(arr)[(n)++] = (item);                                                             \
	} while (0)

/* "512MiB", "4GiB", "1048576" -> bytes. Returns 0 or -EINVAL/-ERANGE. */
int parse_size(const char *s, uint64_t *ret);
/* Human-readable size into buf ("1.5 GiB"). */
const char *format_size(uint64_t bytes, char *buf, size_t len);

/* The length (1-4) of the valid UTF-8 sequence at S (LEN bytes left) and
 * its code point in *CP, or 0 when S does not start one (a stray
 * continuation byte, an overlong form, a surrogate, past U+10FFFF, cut
 * short). */
size_t utf8_decode(const char *s, size_t len, uint32_t *cp);

/* Full read/write loops on a file descriptor. Return 0 or -errno. */
int pread_full(int fd, void *buf, size_t len, uint64_t off);
int pwrite_full(int fd, const void *buf, size_t len, uint64_t off);
int write_full(int fd, const void *buf, size_t len);
