/* SPDX-License-Identifier: MIT */
#include "overlay.h"
#include "conf.h"
#include "fileio.h"
#include "log.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

struct scan {
	struct overlay_entry *v;
	size_t n, cap;
	const char *layer;
};

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* fopen() through open_regular(): NULL and errno set (EINVAL: not a
 * regular file). */
static FILE *fopen_regular(const char *path)
{
	int fd = open_regular(AT_FDCWD, path, 0, false);
	FILE *f;

	if (fd < 0) {
		errno = -fd;
		return NULL;
	}
	f = fdopen(fd, "r");
	if (!f)
		close(fd);
	return f;
}

static int read_text(const char *path, char **ret)
{
	_cleanup_fclose_ FILE *f = fopen_regular(path);
	char *buf = NULL;
	size_t len = 0, n;
	char chunk[4096];

	if (!f)
		return log_error_errno(errno, "Cannot read %s: %s", path, open_error(-errno));
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0) {
		if (len + n > 1 * MiB) {
			free(buf);
			return log_error("%s: a template larger than 1 MiB is not a template",
					 path);
		}
		buf = xrealloc(buf, len + n + 1);
		memcpy(buf + len, chunk, n);
		len += n;
	}
	if (ferror(f)) {
		free(buf);
		return log_error_errno(EIO, "Cannot read %s: %m", path);
	}
	if (!buf)
		buf = xstrdup("");
	buf[len] = 0;
	if (strlen(buf) != len) {
		free(buf);
		return log_error("%s: a template must be text (it holds a NUL byte)", path);
	}
	*ret = buf;
	return 0;
}

static int scan_dir(struct scan *s, const char *host, const char *rel)
{
	DIR *d = opendir(host);
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	int r = 0;

	if (!d)
		return log_error_errno(errno, "Cannot read overlay directory %s: %m", host);
	while ((de = readdir(d)))
		if (!streq(de->d_name, ".") && !streq(de->d_name, ".."))
			ARRAY_PUSH(names, n, cap, xstrdup(de->d_name));
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);

	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *h = xasprintf("%s/%s", host, names[i]);
		_cleanup_free_ char *rl =
			*rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
		struct stat st;

		if (lstat(h, &st) < 0) {
			r = log_error_errno(errno, "Cannot read %s: %m", h);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			r = scan_dir(s, h, rl);
		} else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
			size_t len = strlen(rl);
			bool template =
				S_ISREG(st.st_mode) && len > 3 && streq(rl + len - 3, ".in");
			struct overlay_entry e = {
				.layer = xstrdup(s->layer),
				.rel = TAKE_PTR(rl),
				.host = TAKE_PTR(h),
				.mode = st.st_mode & 0755, /* git keeps only the x bit */
				.symlink = S_ISLNK(st.st_mode),
			};
			if (template) {
				e.rel[len - 3] = 0;
				r = read_text(e.host, &e.text);
				if (r < 0) {
					ARRAY_PUSH(s->v, s->n, s->cap, e);
					break;
				}
			}
			if (e.symlink) {
				char t[4096];
				ssize_t l = readlink(e.host, t, sizeof(t) - 1);
				if (l < 0) {
					r = log_error_errno(errno, "Cannot read link %s: %m",
							    e.host);
					ARRAY_PUSH(s->v, s->n, s->cap, e);
					break;
				}
				t[l] = 0;
				e.target = xstrdup(t);
			}
			ARRAY_PUSH(s->v, s->n, s->cap, e);
		} else {
			r = log_error("%s: overlays may hold only files, symlinks and directories",
				      h);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

size_t overlay_features(const struct config *c, const char **features, size_t max)
{
	size_t n = 0;

	/* The daily shutdown timer: none without a schedule. */
	if (c->power.enabled.v && c->power.shutdown.m.set && n < max)
		features[n++] = "power-schedule";
	return n;
}

int overlay_scan(const char *root, const char *board, const char *role, const char *const *features,
		 size_t n_features, struct overlay_entry **ret, size_t *n)
{
	struct scan s = { 0 };
	char *layers[3 + OVERLAY_MAX_FEATURES];
	size_t n_layers = 0;
	struct stat st;
	int r = 0;

	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode))
		return log_error("Overlay directory %s does not exist (set it with --overlays DIR)",
				 root);
	layers[n_layers++] = xstrdup("common");
	layers[n_layers++] = xasprintf("board/%s", board);
	layers[n_layers++] = xasprintf("role/%s", role);
	for (size_t i = 0; i < n_features && i < OVERLAY_MAX_FEATURES; i++)
		layers[n_layers++] = xasprintf("feature/%s", features[i]);
	for (size_t i = 0; i < n_layers && r >= 0; i++) {
		_cleanup_free_ char *dir = xasprintf("%s/%s", root, layers[i]);
		if (stat(dir, &st) < 0)
			continue;
		s.layer = layers[i];
		r = scan_dir(&s, dir, "");
	}
	for (size_t i = 0; i < n_layers; i++)
		free(layers[i]);
	if (r < 0) {
		overlay_free(s.v, s.n);
		return r;
	}
	*ret = s.v;
	*n = s.n;
	return 0;
}

void overlay_free(struct overlay_entry *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].layer);
		free(v[i].rel);
		free(v[i].host);
		free(v[i].target);
		free(v[i].text);
	}
	free(v);
}

/* One field of a modes line: digits in BASE up to MAX, nothing else. */
static bool mode_field(const char *s, size_t n, int base, uint64_t max, uint32_t *ret)
{
	uint64_t v = 0;

	if (n == 0 || n > 12)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] >= '0' + base)
			return false;
		v = v * (uint64_t)base + (uint64_t)(s[i] - '0');
	}
	if (v > max)
		return false;
	*ret = (uint32_t)v;
	return true;
}

int overlay_read_modes(const char *root, struct overlay_mode **ret, size_t *n)
{
	_cleanup_free_ char *path = xasprintf("%s/modes", root), *text = NULL;
	struct overlay_mode *v = NULL;
	size_t cap = 0, count = 0, len;
	unsigned lineno = 0, errors = 0;
	int r;

	*ret = NULL;
	*n = 0;
	r = read_file(path, &text, &len, 1 * MiB);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return log_error_errno(r, "Cannot read %s: %s", path, open_error(r));
	for (const char *l = text; *l;) {
		const char *end = l + strcspn(l, "\n"), *p = l, *f[4];
		size_t fl[4], nf = 0;
		uint32_t mode, uid, gid;
		lineno++;
		/* Fields split by blanks: MODE UID GID PATH, and nothing more. */
		while (p < end && nf < 5) {
			p += strspn(p, " \t");
			if (p >= end || *p == '#')
				break;
			if (nf == 4) {
				nf++;
				break;
			}
			f[nf] = p;
			fl[nf] = strcspn(p, " \t\n");
			p += fl[nf++];
		}
		if (nf == 0) {
			/* blank or a comment */
		} else if (nf != 4) {
			conf_error_at(path, text, (struct pos){ lineno, (unsigned)(p - l) + 1 },
				      "expected MODE UID GID PATH, %s",
				      nf < 4 ? "the line ends early"
					     : "and nothing after the path");
			errors++;
		} else if (!mode_field(f[0], fl[0], 8, 07777, &mode)) {
			conf_error_at(path, text, (struct pos){ lineno, (unsigned)(f[0] - l) + 1 },
				      "MODE '%.*s' is not an octal mode up to 7777", (int)fl[0],
				      f[0]);
			errors++;
		} else if (!mode_field(f[1], fl[1], 10, UINT32_MAX - 1, &uid) ||
			   !mode_field(f[2], fl[2], 10, UINT32_MAX - 1, &gid)) {
			/* 2^32 - 1 is (uid_t)-1, "no owner"; past it a value
			 * would wrap, and 4294967296 would become root. */
			bool u = !mode_field(f[1], fl[1], 10, UINT32_MAX - 1, &uid);
			conf_error_at(path, text,
				      (struct pos){ lineno, (unsigned)(f[u ? 1 : 2] - l) + 1 },
				      "%s '%.*s' is not a number from 0 to 4294967294",
				      u ? "UID" : "GID", (int)fl[u ? 1 : 2], f[u ? 1 : 2]);
			errors++;
		} else if (f[3][0] == '/' || fl[3] >= 900) {
			conf_error_at(path, text, (struct pos){ lineno, (unsigned)(f[3] - l) + 1 },
				      "PATH must be relative to the image's root (no leading /)");
			errors++;
		} else {
			ARRAY_PUSH(v, count, cap,
				   ((struct overlay_mode){ strndup(f[3], fl[3]), mode, uid, gid }));
		}
		l = *end ? end + 1 : end;
	}
	if (errors) {
		overlay_modes_free(v, count);
		return -EINVAL;
	}
	*ret = v;
	*n = count;
	return 0;
}

void overlay_modes_free(struct overlay_mode *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
}
