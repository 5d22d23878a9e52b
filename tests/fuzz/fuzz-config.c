/* SPDX-License-Identifier: MIT */
/* libFuzzer target: an input is a cluster config, loaded and validated as
 * `farm-image validate` does (config_load(), then each node's board
 * profile). It must end in success or diagnostics, never a crash, a
 * sanitizer report or a hang. The config sits in a directory of its own
 * whose boards/ is FUZZ_BOARDS's (default configs/boards). */
#include "board.h"
#include "config.h"
#include "log.h"
#include "util.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <sys/stat.h>

static char dir[PATH_MAX], path[PATH_MAX + 16];

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void cleanup(void)
{
	char boards[PATH_MAX + 16];

	snprintf(boards, sizeof(boards), "%s/boards", dir);
	unlink(path);
	unlink(boards);
	rmdir(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp = getenv("TMPDIR"), *b = getenv("FUZZ_BOARDS");
	char boards[PATH_MAX + 16], target[PATH_MAX];

	/* Diagnostics are the expected outcome: not printed. */
	log_set_max_level(LOG_LEVEL_ERR - 1);
	snprintf(dir, sizeof(dir), "%s/fuzz-config.%d", tmp ? tmp : "/tmp", getpid());
	snprintf(path, sizeof(path), "%s/cluster.yaml", dir);
	snprintf(boards, sizeof(boards), "%s/boards", dir);
	if (!realpath(b ? b : "configs", target) || mkdir(dir, 0700) < 0) {
		fprintf(stderr, "fuzz-config: cannot set up %s (set FUZZ_BOARDS)\n", dir);
		exit(1);
	}
	strncat(target, "/boards", sizeof(target) - strlen(target) - 1);
	if (symlink(target, boards) < 0) {
		fprintf(stderr, "fuzz-config: cannot link %s\n", boards);
		exit(1);
	}
	atexit(cleanup);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct config c;

	if (fd < 0 || (size && write(fd, data, size) != (ssize_t)size))
		abort();
	close(fd);
	if (config_load(path, &c) == 0) {
		for (size_t i = 0; i < c.nodes.n; i++) {
			struct board b;
			board_load(c.dir, config_node_at(&c, i)->board.v, &b);
			board_free(&b);
		}
	}
	config_free(&c);
	return 0;
}
