/* SPDX-License-Identifier: MIT */
/* Test driver for builder/fat.c.
 *
 *   fatwrite [--chunk N] [--offset N] IMAGE SIZE SERIAL_HEX LABEL EPOCH [SRC_DIR]
 *
 * creates (truncates) IMAGE and writes a FAT32 of SIZE bytes at byte offset
 * N (default 0; the image is then N + SIZE bytes) holding a copy of
 * SRC_DIR's directories and regular files, in name order, all with mtime
 * EPOCH. Small files go through fat_add_file(), larger ones are streamed in
 * 1 MiB writes; --chunk N streams every file in N-byte writes instead.
 *
 *   fatwrite --selftest IMAGE
 *
 * exercises the API's error paths and prints "ok NAME" / "not ok NAME"
 * lines; it leaves a completely full 64 MiB filesystem in IMAGE. */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <sys/stat.h>

#include "fat.h"
#include "util.h"

#define SMALL_FILE (64 * KiB)

static size_t chunk; /* 0: default strategy */

static int copy_file(struct fat_writer *w, const char *src, const char *dst, uint64_t size,
		     time_t mtime)
{
	_cleanup_close_ int fd = open(src, O_RDONLY | O_CLOEXEC);
	size_t bufsize = chunk ? chunk : MiB;
	_cleanup_free_ char *buf = NULL;
	struct fat_file *f;
	uint64_t done = 0;
	int r;

	if (fd < 0)
		return -errno;
	if (!chunk && size <= SMALL_FILE) {
		buf = xmalloc(size);
		r = pread_full(fd, buf, size, 0);
		return r < 0 ? r : fat_add_file(w, dst, buf, size, mtime);
	}
	buf = xmalloc(bufsize);
	r = fat_file_open(w, dst, size, mtime, &f);
	if (r < 0)
		return r;
	while (done < size) {
		size_t len = MIN(bufsize, size - done);

		r = pread_full(fd, buf, len, done);
		if (r >= 0)
			r = fat_file_write(f, buf, len);
		if (r < 0)
			break;
		done += len;
	}
	r = r < 0 ? r : 0;
	return fat_file_close(f) < 0 && r == 0 ? -EIO : r;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Copies SRC into FAT directory DST ("" for the root). */
static int copy_tree(struct fat_writer *w, const char *src, const char *dst, time_t mtime)
{
	struct dirent **list;
	int n, r = 0;

	n = scandir(src, &list, NULL, by_name);
	if (n < 0) {
		fprintf(stderr, "fatwrite: %s: %m\n", src);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		const char *name = list[i]->d_name;
		_cleanup_free_ char *s = xasprintf("%s/%s", src, name);
		_cleanup_free_ char *d = *dst ? xasprintf("%s/%s", dst, name) : xstrdup(name);
		struct stat st;

		if (r < 0 || streq(name, ".") || streq(name, ".."))
			continue;
		if (lstat(s, &st) < 0) {
			fprintf(stderr, "fatwrite: %s: %m\n", s);
			r = -1;
		} else if (S_ISDIR(st.st_mode)) {
			r = fat_mkdir(w, d, mtime);
			if (r < 0)
				fprintf(stderr, "fatwrite: mkdir %s: %s\n", d, strerror(-r));
			else
				r = copy_tree(w, s, d, mtime);
		} else if (S_ISREG(st.st_mode)) {
			r = copy_file(w, s, d, st.st_size, mtime);
			if (r < 0)
				fprintf(stderr, "fatwrite: %s: %s\n", d, strerror(-r));
		}
	}
	for (int i = 0; i < n; i++)
		free(list[i]);
	free(list);
	return r;
}

#define EXPECT(name, expr, want)                                                                   \
	do {                                                                                       \
		int _r = (expr);                                                                   \
		if (_r == (want))                                                                  \
			printf("ok fat-api-%s\n", (name));                                         \
		else                                                                               \
			printf("not ok fat-api-%s: %s returned %d, want %d\n", (name), #expr, _r,  \
			       (want));                                                            \
	} while (0)

static int selftest(const char *image)
{
	_cleanup_close_ int fd = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	struct fat_params p = { .size = 64 * MiB, .serial = 0x1234abcd, .label = "SELFTEST" };
	struct fat_writer *w = NULL;
	struct fat_file *f = NULL;
	char name[300];
	uint64_t before;
	int r;

	if (fd < 0 || ftruncate(fd, p.size) < 0) {
		fprintf(stderr, "fatwrite: %s: %m\n", image);
		return 1;
	}
	EXPECT("too-small", fat_new(fd, &(struct fat_params){ .size = 32 * MiB }, &w), -EINVAL);
	EXPECT("unaligned-offset",
	       fat_new(fd, &(struct fat_params){ .offset = 100, .size = 64 * MiB }, &w), -EINVAL);
	EXPECT("label-too-long",
	       fat_new(fd, &(struct fat_params){ .size = 64 * MiB, .label = "ABCDEFGHIJKL" }, &w),
	       -EINVAL);
	EXPECT("label-bad-char",
	       fat_new(fd, &(struct fat_params){ .size = 64 * MiB, .label = "A*B" }, &w), -EINVAL);
	r = fat_new(fd, &p, &w);
	EXPECT("new", r, 0);
	if (r < 0)
		return 1;

	EXPECT("mkdir", fat_mkdir(w, "a/b", 0), 0);
	EXPECT("mkdir-again", fat_mkdir(w, "a/b", 0), 0);
	EXPECT("mkdir-other-case", fat_mkdir(w, "A/B", 0), 0);
	EXPECT("add-file", fat_add_file(w, "a/file.txt", "hi\n", 3, 0), 0);
	EXPECT("file-exists", fat_add_file(w, "a/FILE.TXT", "", 0, 0), -EEXIST);
	EXPECT("dir-exists-as-file", fat_add_file(w, "a/b", "", 0, 0), -EEXIST);
	EXPECT("mkdir-over-file", fat_mkdir(w, "a/file.txt", 0), -ENOTDIR);
	EXPECT("file-under-file", fat_add_file(w, "a/file.txt/x", "", 0, 0), -ENOTDIR);
	EXPECT("forbidden-char", fat_add_file(w, "x?y", "", 0, 0), -EINVAL);
	EXPECT("control-char", fat_add_file(w, "x\ty", "", 0, 0), -EINVAL);
	EXPECT("invalid-utf8", fat_add_file(w, "\xff.txt", "", 0, 0), -EINVAL);
	EXPECT("overlong-utf8", fat_add_file(w, "\xc0\xae", "", 0, 0), -EINVAL);
	EXPECT("surrogate", fat_add_file(w, "\xed\xa0\x80", "", 0, 0), -EINVAL);
	EXPECT("outside-bmp", fat_add_file(w, "\xf0\x9f\x98\x80", "", 0, 0), -EINVAL);
	EXPECT("trailing-dot", fat_add_file(w, "name.", "", 0, 0), -EINVAL);
	EXPECT("dot-component", fat_add_file(w, "a/../x", "", 0, 0), -EINVAL);
	EXPECT("empty-name", fat_add_file(w, "", "", 0, 0), -EINVAL);
	EXPECT("trailing-slash", fat_add_file(w, "a/", "", 0, 0), -EINVAL);
	memset(name, 'n', 255);
	name[255] = '\0';
	EXPECT("name-255", fat_add_file(w, name, "", 0, 0), 0);
	name[255] = 'n';
	name[256] = '\0';
	EXPECT("name-256", fat_add_file(w, name, "", 0, 0), -EINVAL);
	EXPECT("bmp-name", fat_add_file(w, "\xc3\xa9t\xc3\xa9 \xe2\x82\xac.txt", "x", 1, 0), 0);
	EXPECT("too-big-for-fat32", fat_file_open(w, "big", 4 * GiB, 0, &f), -EFBIG);
	EXPECT("no-space", fat_file_open(w, "big", 64 * MiB, 0, &f), -ENOSPC);

	EXPECT("short-write-open", fat_file_open(w, "short", 10, 0, &f), 0);
	EXPECT("short-write", fat_file_write(f, "abcd", 4), 0);
	EXPECT("finish-busy", fat_finish(w), -EBUSY);
	EXPECT("short-write-close", fat_file_close(f), -EIO);
	EXPECT("long-write-open", fat_file_open(w, "long", 10, 0, &f), 0);
	EXPECT("long-write", fat_file_write(f, "abcdefghijk", 11), -EIO);
	EXPECT("long-write-close", fat_file_close(f), -EIO);

	before = fat_free_bytes(w);
	EXPECT("free-bytes",
	       fat_add_file(w, "ONE", "1", 1, 0) == 0 && fat_free_bytes(w) == before - 512, true);
	/* A directory with free entries, for an empty file once data is full. */
	EXPECT("dir-for-empty", fat_mkdir(w, "dir-for-empty", 0), 0);
	/* Fill the filesystem exactly: directories must still fit (upper-case
	 * 8.3 names: one directory entry each, no long name). */
	before = fat_free_bytes(w);
	r = fat_file_open(w, "FILL", before, 0, &f);
	EXPECT("fill-open", r, 0);
	if (r == 0) {
		_cleanup_free_ char *buf = xcalloc(1, MiB);

		for (uint64_t done = 0; r == 0 && done < before; done += MiB)
			r = fat_file_write(f, buf, MIN(MiB, before - done));
		EXPECT("fill-close", fat_file_close(f), 0);
	}
	EXPECT("full", fat_add_file(w, "MORE", "1", 1, 0), -ENOSPC);
	EXPECT("full-empty-file", fat_add_file(w, "dir-for-empty/EMPTY", "", 0, 0), 0);
	EXPECT("finish", fat_finish(w), 0);
	EXPECT("finish-again", fat_finish(w), -EINVAL);
	fat_free(w);
	return 0;
}

int main(int argc, char **argv)
{
	_cleanup_close_ int fd = -1;
	struct fat_params p = { 0 };
	struct fat_writer *w = NULL;
	uint64_t offset = 0;
	char *end;
	int r;

	for (; argc > 2 && startswith(argv[1], "--"); argc -= 2, argv += 2) {
		uint64_t v;

		if (streq(argv[1], "--selftest"))
			return selftest(argv[2]);
		if (parse_size(argv[2], &v) < 0 ||
		    (!streq(argv[1], "--chunk") && !streq(argv[1], "--offset"))) {
			fprintf(stderr, "fatwrite: bad option %s %s\n", argv[1], argv[2]);
			return 1;
		}
		if (streq(argv[1], "--chunk"))
			chunk = v ? v : 1;
		else
			offset = v;
	}
	if (argc != 6 && argc != 7) {
		fprintf(stderr, "usage: fatwrite [--chunk N] [--offset N] IMAGE SIZE SERIAL_HEX "
				"LABEL EPOCH [SRC_DIR]\n       fatwrite --selftest IMAGE\n");
		return 1;
	}
	p.offset = offset;
	p.label = argv[4];
	errno = 0;
	p.serial = strtoul(argv[3], &end, 16);
	if (parse_size(argv[2], &p.size) < 0 || errno || *end || !*argv[3]) {
		fprintf(stderr, "fatwrite: bad size or serial\n");
		return 1;
	}
	p.mtime = strtoll(argv[5], &end, 10);
	if (*end || !*argv[5]) {
		fprintf(stderr, "fatwrite: bad epoch %s\n", argv[5]);
		return 1;
	}

	fd = open(argv[1], O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, offset + p.size) < 0) {
		fprintf(stderr, "fatwrite: %s: %m\n", argv[1]);
		return 1;
	}
	r = fat_new(fd, &p, &w);
	if (r < 0) {
		fprintf(stderr, "fatwrite: cannot create FAT32 of %" PRIu64 " bytes: %s\n", p.size,
			strerror(-r));
		return 1;
	}
	r = argc == 7 ? copy_tree(w, argv[6], "", p.mtime) : 0;
	if (r == 0) {
		r = fat_finish(w);
		if (r < 0)
			fprintf(stderr, "fatwrite: finish: %s\n", strerror(-r));
	}
	fat_free(w);
	return r < 0 ? 1 : 0;
}
