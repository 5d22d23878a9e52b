/* SPDX-License-Identifier: MIT */
#include "fileio.h"
#include "overlay.h"
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
			return log_error("%s: a template larger than 1 MiB is not a template", path);
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
		_cleanup_free_ char *rl = *rel ? xasprintf("%s/%s", rel, names[i]) : xstrdup(names[i]);
		struct stat st;

		if (lstat(h, &st) < 0) {
			r = log_error_errno(errno, "Cannot read %s: %m", h);
			break;
		}
		if (S_ISDIR(st.st_mode)) {
			r = scan_dir(s, h, rl);
		} else if (S_ISREG(st.st_mode) || S_ISLNK(st.st_mode)) {
			size_t len = strlen(rl);
			bool template = S_ISREG(st.st_mode) && len > 3 && streq(rl + len - 3, ".in");
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
					r = log_error_errno(errno, "Cannot read link %s: %m", e.host);
					ARRAY_PUSH(s->v, s->n, s->cap, e);
					break;
				}
				t[l] = 0;
				e.target = xstrdup(t);
			}
			ARRAY_PUSH(s->v, s->n, s->cap, e);
		} else {
			r = log_error("%s: overlays may hold only files, symlinks and directories", h);
		}
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return r;
}

int overlay_scan(const char *root, const char *board, const char *role,
		 struct overlay_entry **ret, size_t *n)
{
	struct scan s = { 0 };
	_cleanup_free_ char *b = xasprintf("board/%s", board);
	_cleanup_free_ char *ro = xasprintf("role/%s", role);
	const char *layers[] = { "common", b, ro };
	struct stat st;
	int r = 0;

	if (stat(root, &st) < 0 || !S_ISDIR(st.st_mode))
		return log_error("Overlay directory %s does not exist (set it with --overlays DIR)",
				 root);
	for (size_t i = 0; i < ELEMENTSOF(layers) && r >= 0; i++) {
		_cleanup_free_ char *dir = xasprintf("%s/%s", root, layers[i]);
		if (stat(dir, &st) < 0)
			continue;
		s.layer = layers[i];
		r = scan_dir(&s, dir, "");
	}
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

int overlay_read_modes(const char *root, struct overlay_mode **ret, size_t *n)
{
	_cleanup_free_ char *path = xasprintf("%s/modes", root);
	_cleanup_fclose_ FILE *f = fopen_regular(path);
	struct overlay_mode *v = NULL;
	size_t cap = 0, count = 0;
	char line[1024];
	unsigned lineno = 0;

	*ret = NULL;
	*n = 0;
	if (!f)
		return errno == ENOENT ? 0
				       : log_error_errno(errno, "Cannot read %s: %s", path,
							 open_error(-errno));
	while (fgets(line, sizeof(line), f)) {
		unsigned mode, uid, gid;
		char file[900];
		lineno++;
		if (line[0] == '#' || line[strspn(line, " \t\n")] == 0)
			continue;
		if (sscanf(line, "%o %u %u %899s", &mode, &uid, &gid, file) != 4 || mode > 07777 ||
		    file[0] == '/') {
			overlay_modes_free(v, count);
			return log_error("%s:%u: expected MODE UID GID PATH (octal mode, relative path)",
					 path, lineno);
		}
		ARRAY_PUSH(v, count, cap,
			   ((struct overlay_mode){ xstrdup(file), mode, uid, gid }));
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
