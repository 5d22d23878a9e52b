/* SPDX-License-Identifier: MIT */
#include "fileio.h"
#include "log.h"
#include "source.h"

#include <fcntl.h>
#include <sys/stat.h>

int source_open(const char *path, struct source **ret)
{
	struct stat st;
	int fd, r;

	*ret = NULL;
	fd = open_regular(AT_FDCWD, path, 0, false);
	if (fd < 0)
		return log_error_errno(fd, "Cannot read the base rootfs %s: %s", path,
				       open_error(fd));
	if (fstat(fd, &st) < 0) {
		r = log_error_errno(errno, "Cannot read the base rootfs %s: %m", path);
		close(fd);
		return r;
	}
	/* The image source counts its own progress: the bytes of content it
	 * reads, not of the file. */
	if (source_image_probe(fd))
		return source_image_open(path, fd, ret);
	r = source_archive_open(path, fd, ret);
	if (*ret)
		(*ret)->total = (uint64_t)st.st_size;
	return r;
}

void source_free(struct source *s)
{
	if (!s)
		return;
	s->ops->free(s);
	free(s->path);
	free(s);
}
