/* SPDX-License-Identifier: MIT */
/* libfaulty-disk.so, for LD_PRELOAD: a disk that fails in one chosen way.
 * For pwrite() to the file FARM_TEST_DISK (compared by device and inode):
 *   FARM_TEST_CORRUPT_AT=N  the write that covers byte N stores it inverted
 *                           (the caller's buffer is not touched): a disk
 *                           that stores a byte wrongly;
 *   FARM_TEST_KILL_AT=N     the process is killed (SIGKILL) instead of
 *                           doing the write that covers byte N: a power cut
 *                           at that point.
 * The flash tests use it to prove that verify reads the disk back, and what
 * a failed or interrupted flash leaves behind. */
#include <dlfcn.h>
#include <signal.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off64_t);

static ssize_t corrupt(pwrite_fn real, int fd, const void *buf, size_t len, off64_t off)
{
	const char *path = getenv("FARM_TEST_DISK"), *at_s = getenv("FARM_TEST_CORRUPT_AT");
	const char *kill_s = getenv("FARM_TEST_KILL_AT");
	struct stat a, b;
	long long at;
	void *copy;
	ssize_t n;

	if (!path || (!at_s && !kill_s) || fstat(fd, &a) < 0 || stat(path, &b) < 0 ||
	    a.st_ino != b.st_ino || a.st_dev != b.st_dev)
		return real(fd, buf, len, off);
	if (kill_s && atoll(kill_s) >= off && atoll(kill_s) < off + (long long)len)
		raise(SIGKILL);
	if (!at_s)
		return real(fd, buf, len, off);
	at = atoll(at_s);
	if (at < off || at >= off + (long long)len)
		return real(fd, buf, len, off);
	/* Aligned like the original, so that O_DIRECT still takes it. */
	if (posix_memalign(&copy, 4096, len ? len : 1) != 0) {
		errno = ENOMEM;
		return -1;
	}
	memcpy(copy, buf, len);
	((uint8_t *)copy)[at - off] ^= 0xff;
	n = real(fd, copy, len, off);
	free(copy);
	return n;
}

ssize_t pwrite64(int fd, const void *buf, size_t len, off64_t off)
{
	static pwrite_fn real;

	if (!real)
		real = (pwrite_fn)dlsym(RTLD_NEXT, "pwrite64");
	return corrupt(real, fd, buf, len, off);
}

ssize_t pwrite(int fd, const void *buf, size_t len, off_t off)
{
	static ssize_t (*real)(int, const void *, size_t, off_t);

	if (!real)
		real = (ssize_t(*)(int, const void *, size_t, off_t))dlsym(RTLD_NEXT, "pwrite");
	return corrupt((pwrite_fn)real, fd, buf, len, off);
}
