/* SPDX-License-Identifier: MIT */
/* build --all: every node's build in a process of its own, as many at once
 * as there are CPUs, and the one line that says how they went. */
#include "build.h"
#include "log.h"

#include <sched.h>
#include <sys/wait.h>

/* The CPUs this process may run on (its affinity, as taskset or a
 * container sets it), at least 1. */
static size_t usable_cpus(void)
{
	cpu_set_t set;
	long n;

	if (sched_getaffinity(0, sizeof(set), &set) == 0 && CPU_COUNT(&set) > 0)
		return (size_t)CPU_COUNT(&set);
	n = sysconf(_SC_NPROCESSORS_ONLN);
	return n > 0 ? (size_t)n : 1;
}

enum node_state {
	NODE_WAITING,
	NODE_RUNNING,
	NODE_BUILT,
	NODE_FAILED,
	NODE_STOPPED,
	NODE_NOT_ASKED, /* a node of another board than --board's */
};
#define EXIT_INTERRUPTED 3 /* a child's status: it stopped on a signal, wrote nothing */

static void print_nodes(const struct config *c, const enum node_state *st, enum node_state which,
			const char *label)
{
	bool first = true;

	for (size_t i = 0; i < c->nodes.n; i++)
		if (st[i] == which) {
			printf("%s%s", first ? label : ", ", config_node_at(c, i)->name.v);
			first = false;
		}
}

int build_all(const struct build_opts *bo, const struct config *c, struct board *boards,
	      const char *board)
{
	size_t jobs = usable_cpus(), running = 0, next = 0, built = 0, n = c->nodes.n, asked = 0;
	pid_t *pids = xcalloc(n, sizeof(pid_t));
	enum node_state *st = xcalloc(n, sizeof(*st));
	sigset_t wake, old;
	int forwarded = 0;

	for (size_t i = 0; i < n; i++) {
		if (board && !streq(config_node_at(c, i)->board.v, board))
			st[i] = NODE_NOT_ASKED;
		else
			asked++;
	}
	if (asked > 1)
		setenv("FARM_NO_PROGRESS", "1", 1); /* one progress line per terminal */
	fflush(NULL);
	/* Signals and child exits are taken with sigwaitinfo(), so that none
	 * can slip in between a check and the wait. */
	sigemptyset(&wake);
	sigaddset(&wake, SIGCHLD);
	sigaddset(&wake, SIGINT);
	sigaddset(&wake, SIGTERM);
	sigaddset(&wake, SIGHUP);
	sigprocmask(SIG_BLOCK, &wake, &old);
	for (;;) {
		int sig;
		while (next < n && running < jobs && !*bo->interrupted) {
			pid_t pid;
			if (st[next] == NODE_NOT_ASKED) {
				next++;
				continue;
			}
			pid = fork();
			if (pid < 0) {
				log_error_errno(errno, "Cannot start the build of node '%s': %m",
						config_node_at(c, next)->name.v);
				st[next++] = NODE_FAILED;
				continue;
			}
			if (pid == 0) {
				int r;
				sigprocmask(SIG_SETMASK, &old, NULL);
				r = build_node(bo, c, config_node_at(c, next), &boards[next]);
				fflush(NULL);
				_exit(r == -EINTR ? EXIT_INTERRUPTED : r < 0 ? 1 : 0);
			}
			pids[next] = pid;
			st[next++] = NODE_RUNNING;
			running++;
		}
		if (running == 0)
			break;
		sig = sigwaitinfo(&wake, NULL);
		if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP)
			*bo->interrupted = sig;
		if (*bo->interrupted && !forwarded) {
			forwarded = *bo->interrupted;
			for (size_t i = 0; i < n; i++)
				if (st[i] == NODE_RUNNING)
					kill(pids[i], forwarded);
		}
		for (;;) {
			int ws;
			pid_t pid = waitpid(-1, &ws, WNOHANG);
			if (pid <= 0)
				break;
			for (size_t i = 0; i < n; i++)
				if (pids[i] == pid && st[i] == NODE_RUNNING) {
					st[i] = WIFEXITED(ws) && WEXITSTATUS(ws) == 0 ? NODE_BUILT
						: WIFEXITED(ws) &&
								WEXITSTATUS(ws) == EXIT_INTERRUPTED
							? NODE_STOPPED
							: NODE_FAILED;
					built += st[i] == NODE_BUILT;
					running--;
				}
		}
	}
	sigprocmask(SIG_SETMASK, &old, NULL);

	if (*bo->interrupted)
		printf("interrupted (SIG%s): ", sigabbrev_np(*bo->interrupted));
	printf("%zu of %zu images built", built, asked);
	print_nodes(c, st, NODE_FAILED, "; failed: ");
	print_nodes(c, st, NODE_STOPPED, "; stopped: ");
	print_nodes(c, st, NODE_WAITING, "; not started: ");
	printf("\n");
	free(pids);
	free(st);
	return built == asked ? 0 : -EIO;
}
