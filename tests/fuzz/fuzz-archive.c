/* SPDX-License-Identifier: MIT */
/* libFuzzer target: an input is a base rootfs (any archive libarchive
 * reads, or a disk image), streamed into a 64 MiB ext4 root and a FAT boot
 * partition as a build does (stream_base() with the pi5 board's rules).
 * It must end in success or one refusal, never a crash, a sanitizer report
 * or a hang; and when it succeeds, `e2fsck -fn` must find the filesystem
 * clean (the oracle: an abort() here is a finding). Built and run by
 * `make fuzz` (tests/fuzz/run). FUZZ_BOARDS names the directory that holds
 * boards/ (default configs). */
#include "board.h"
#include "ext4.h"
#include "fat.h"
#include "log.h"
#include "personalize.h"
#include "process.h"
#include "stream.h"
#include "util.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define ROOT_SIZE (64 * MiB)
#define BOOT_SIZE (64 * MiB)

static struct board board;
static char input[64], image[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_BOARDS");
	const char *tmp = getenv("TMPDIR");

	/* Refusals are the expected outcome: not printed. */
	log_set_max_level(LOG_LEVEL_ERR - 1);
	if (board_load(dir ? dir : "configs", "pi5", &board) < 0) {
		fprintf(stderr, "fuzz-archive: cannot load the pi5 board (set FUZZ_BOARDS)\n");
		exit(1);
	}
	snprintf(image, sizeof(image), "%s/fuzz-archive.%d.img", tmp ? tmp : "/tmp", getpid());
	return 0;
}

/* e2fsck -fn on the root (at the start of the image): 0 means clean. */
static int fsck(void)
{
	char *argv[] = { "e2fsck", "-fn", image, NULL };

	return spawn_wait(argv, 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	_cleanup_close_ int in = memfd_create("fuzz-base", MFD_CLOEXEC);
	_cleanup_close_ int img = -1;
	size_t n_caps = 0;
	struct capture *caps = personalize_captures(&n_caps);
	struct pathmap *replaced = pathmap_new(), *boot_files = pathmap_new();
	struct fat_writer *fat = NULL;
	struct ext4_writer *ext4 = NULL;
	struct stream_stats stats;
	uint64_t root_size;
	int r;

	if (in < 0 || (size && write(in, data, size) != (ssize_t)size))
		abort();
	snprintf(input, sizeof(input), "/proc/self/fd/%d", in);
	img = open(image, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (img < 0 || ftruncate(img, BOOT_SIZE + ROOT_SIZE) < 0)
		abort();
	{
		struct fat_params fp = { .offset = ROOT_SIZE,
					 .size = BOOT_SIZE,
					 .serial = 1,
					 .label = "BOOT",
					 .mtime = 1700000000 };
		if (fat_new(img, &fp, &fat) < 0)
			abort();
	}
	{
		struct ext4_params ep = { .path = image,
					  .fd = img,
					  .offset = 0,
					  .size = ROOT_SIZE,
					  .label = "root",
					  .epoch = 1700000000 };
		if (ext4_new(&ep, &ext4) < 0)
			abort();
	}
	{
		struct stream_sink sink = {
			.ext4 = ext4,
			.fat = fat,
			.board = &board,
			.replaced_paths = replaced,
			.captures = caps,
			.n_captures = n_caps,
			.boot_files = boot_files,
			.epoch = 1700000000,
		};
		r = stream_base(input, &sink, &stats);
	}
	if (r >= 0 && ext4_finish(ext4, 0, &root_size) >= 0 && fsck() != 0) {
		fprintf(stderr,
			"fuzz-archive: e2fsck -fn finds the root written from this input "
			"damaged (%s)\n",
			image);
		abort();
	}
	ext4_free(ext4);
	fat_free(fat);
	personalize_captures_reset(caps, n_caps);
	pathmap_free(replaced);
	pathmap_free(boot_files);
	unlink(image);
	return 0;
}
