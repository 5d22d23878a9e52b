/* SPDX-License-Identifier: MIT */
/* A message is one line on stderr even when several processes write to the
 * same pipe at once, as `build --all`'s builds do: each message is written
 * whole, in one write, so that no other process's bytes land inside it. */
#include "log.h"
#include "unit.h"

#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#define WRITERS	 6
#define MESSAGES 300

/* The message of writer W, number I: a value with a control character (so
 * that it is escaped) and enough text to take many writes if written in
 * pieces. */
static void message(int w, int i, char *buf, size_t len)
{
	snprintf(buf, len, "writer %d message %d: %.*s\x1b[0m end", w, i, 40 + w * 7,
		 "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyz");
}

int main(void)
{
	int fd[2], bad = 0, lines = 0, seen[WRITERS] = { 0 };
	char *out = NULL, *l;
	size_t len = 0, cap = 0;
	pid_t pids[WRITERS];

	if (pipe(fd) < 0)
		abort();
	for (int w = 0; w < WRITERS; w++) {
		pids[w] = fork();
		if (pids[w] < 0)
			abort();
		if (pids[w] == 0) {
			char buf[256];
			close(fd[0]);
			if (dup2(fd[1], STDERR_FILENO) < 0)
				_exit(1);
			log_init("farm-test");
			for (int i = 0; i < MESSAGES; i++) {
				message(w, i, buf, sizeof(buf));
				if (i % 2)
					log_warning("%s", buf);
				else
					log_error("%s", buf);
			}
			_exit(0);
		}
	}
	close(fd[1]);
	for (;;) {
		ssize_t n;
		if (cap - len < 4096)
			out = realloc(out, cap = cap * 2 + 8192);
		if (!out)
			abort();
		n = read(fd[0], out + len, cap - len - 1);
		if (n <= 0)
			break;
		len += (size_t)n;
	}
	out[len] = 0;
	close(fd[0]);
	for (int w = 0; w < WRITERS; w++) {
		int st;
		waitpid(pids[w], &st, 0);
	}

	/* Every line is one whole message, each writer's in its order. */
	for (char *save = NULL; (l = strtok_r(save ? NULL : out, "\n", &save));) {
		char buf[256], want[512];
		int w, i;
		lines++;
		const char *m = startswith(l, "farm-test: ") ? l + strlen("farm-test: ") : "";
		if (startswith(m, "warning: "))
			m += strlen("warning: ");
		if (sscanf(m, "writer %d message %d:", &w, &i) != 2) {
			bad++;
			continue;
		}
		if (w < 0 || w >= WRITERS || i != seen[w]) {
			bad++;
			continue;
		}
		message(w, i, buf, sizeof(buf));
		*strchr(buf, '\x1b') = 0;
		snprintf(want, sizeof(want), "farm-test: %s%s\\x1b[0m end",
			 i % 2 ? "warning: " : "", buf);
		bad += strcmp(l, want) != 0;
		seen[w]++;
	}
	CHECK("parallel writers: every line one whole message", bad == 0);
	CHECK("parallel writers: every message", lines == WRITERS * MESSAGES);
	if (bad)
		printf("# %d of %d lines were not one whole message\n", bad, lines);
	free(out);
	return UNIT_EXIT();
}
