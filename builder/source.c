/* SPDX-License-Identifier: MIT */
#include "log.h"
#include "source.h"

#include <fcntl.h>
#include <sys/stat.h>

int source_open(const char *path, struct source **ret)
{
	struct stat st;
	int fd, r;

	*ret = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return log_error_errno(errno, "Cannot open the base rootfs %s: %m", path);
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return log_error("Cannot read the base rootfs %s: not a regular file", path);
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
