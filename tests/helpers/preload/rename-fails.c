/* SPDX-License-Identifier: MIT */
/* LD_PRELOAD=librename-fails.so FARM_TEST_RENAME_FAILS=NAME: renameat() onto
 * the name NAME (a file name relative to the directory, as farm-image's
 * commit uses) fails with EIO, once per process; every other rename works.
 * It lets a test fail the commit between two renames, which nothing else
 * can do on purpose. */
#include <dlfcn.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

int renameat(int olddirfd, const char *oldpath, int newdirfd, const char *newpath)
{
	static int (*real)(int, const char *, int, const char *);
	static int failed;
	const char *name = getenv("FARM_TEST_RENAME_FAILS");

	if (!real)
		real = (int (*)(int, const char *, int, const char *))dlsym(RTLD_NEXT, "renameat");
	if (name && !failed && strcmp(newpath, name) == 0) {
		failed = 1;
		errno = EIO;
		return -1;
	}
	return real(olddirfd, oldpath, newdirfd, newpath);
}
