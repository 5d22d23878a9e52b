/* SPDX-License-Identifier: MIT */
#include "fileio.h"
#include "util.h"

#include <fcntl.h>
#include <libgen.h>
#include <sys/stat.h>

int fsync_dir(const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0 || fsync(fd) < 0)
		return -errno;
	return 0;
}

int syncfs_of(const char *path)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || syncfs(fd) < 0)
		return -errno;
	return 0;
}

int write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	_cleanup_free_ char *copy = xstrdup(path), *tmp = NULL;
	char *dir = dirname(copy);
	_cleanup_close_ int fd = -1;
	int r;

	tmp = xasprintf("%s/.%s.XXXXXX", dir, path + strlen(dir) + (dir[1] ? 1 : 0));
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = fchmod(fd, mode) < 0 ? -errno : 0;
	if (r >= 0)
		r = write_full(fd, data, len);
	if (r >= 0 && fsync(fd) < 0)
		r = -errno;
	if (r >= 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	return fsync_dir(dir);
}

int open_regular(int dfd, const char *path, int flags, bool block_ok)
{
	int fd = openat(dfd, path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags);
	struct stat st;

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode) && !(block_ok && S_ISBLK(st.st_mode))) {
		close(fd);
		return -EINVAL;
	}
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK) < 0) {
		int r = -errno;
		close(fd);
		return r;
	}
	return fd;
}

const char *open_error(int r) { return r == -EINVAL ? "not a regular file" : strerror(-r); }

int read_file(const char *path, char **ret, size_t *len, size_t max)
{
	_cleanup_close_ int fd = open_regular(AT_FDCWD, path, 0, false);
	char *buf = NULL;
	size_t got = 0, cap = 0;
	ssize_t n;

	if (fd < 0)
		return fd;
	/* Until EOF: sysfs and procfs files do not know their size. */
	for (;;) {
		if (got == cap) {
			if (cap > max) {
				free(buf);
				return -EFBIG;
			}
			cap = cap ? cap * 2 : 4096;
			buf = xrealloc(buf, cap + 1);
		}
		n = read(fd, buf + got, cap - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = -errno;
			free(buf);
			return e;
		}
		if (n == 0)
			break;
		got += (size_t)n;
	}
	if (got > max) {
		free(buf);
		return -EFBIG;
	}
	buf[got] = 0;
	*ret = buf;
	if (len)
		*len = got;
	return 0;
}

int mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = xstrdup(path);

	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = 0;
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}
