/* SPDX-License-Identifier: MIT */
/* Running mmdebstrap for a base rootfs recipe: the host checks (mode,
 * user namespaces, qemu-user binfmt for a foreign architecture), one
 * progress line built from mmdebstrap's output, the full log next to the
 * archive, and the temporary archive that is renamed when complete and
 * removed on failure or Ctrl-C. */
#include "base.h"
#include "board.h"
#include "fileio.h"
#include "interrupt.h"
#include "log.h"
#include "process.h"

#include <fcntl.h>
#include <pwd.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>

#define TAIL_LINES 12

static bool in_path(const char *prog)
{
	const char *path = getenv("PATH");
	_cleanup_free_ char *copy = xstrdup(path && *path ? path : "/usr/bin:/bin");
	char *save = NULL;

	for (char *d = strtok_r(copy, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *p = xasprintf("%s/%s", d, prog);
		if (access(p, X_OK) == 0)
			return true;
	}
	return false;
}

char *base_mmdebstrap_version(bool quiet)
{
	char *const argv[] = { "mmdebstrap", "--version", NULL };
	int fds[2] = { -1, -1 }, status, r;
	char buf[256];
	size_t len = 0;
	ssize_t n;
	pid_t pid;

	if (!in_path("mmdebstrap")) {
		if (!quiet)
			log_error("mmdebstrap is not installed: 'apt-get install mmdebstrap' "
				  "(scripts/install-deps installs it)");
		return NULL;
	}
	r = pipe2(fds, O_CLOEXEC) < 0 ? -errno : spawn_into(argv, fds[1], &pid);
	if (r < 0) {
		/* spawn_into() returns the error; errno is not it. */
		if (!quiet)
			log_error_errno(r, "Cannot run mmdebstrap --version: %m");
		closep(&fds[0]);
		closep(&fds[1]);
		return NULL;
	}
	close(fds[1]);
	for (;;) {
		n = read(fds[0], buf + len, sizeof(buf) - 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0 || (len += (size_t)n) == sizeof(buf) - 1)
			break;
	}
	close(fds[0]);
	if (wait_child(pid, &status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
	    len == 0) {
		if (!quiet)
			log_error("mmdebstrap --version failed");
		return NULL;
	}
	buf[len] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return xstrdup(buf);
}

static long read_long(const char *path)
{
	_cleanup_fclose_ FILE *f = fopen(path, "re");
	long v;

	return f && fscanf(f, "%ld", &v) == 1 ? v : -1;
}

static bool has_subid(const char *file, const char *user, uid_t uid)
{
	_cleanup_fclose_ FILE *f = fopen(file, "re");
	char line[512], num[32];

	snprintf(num, sizeof(num), "%u:", (unsigned)uid);
	while (f && fgets(line, sizeof(line), f))
		if ((user && startswith(line, user) && line[strlen(user)] == ':') ||
		    startswith(line, num))
			return true;
	return false;
}

/* mmdebstrap --mode=unshare needs unprivileged user namespaces, subordinate
 * ids and newuidmap. Says what to change when something is missing. */
static int check_unshare(void)
{
	const struct passwd *pw = getpwuid(getuid());
	const char *user = pw ? pw->pw_name : NULL;
	uid_t uid = getuid();
	const char *why = NULL, *fix = NULL;

	if (read_long("/proc/sys/kernel/unprivileged_userns_clone") == 0) {
		why = "unprivileged user namespaces are off (kernel.unprivileged_userns_clone=0)";
		fix = "sudo sysctl -w kernel.unprivileged_userns_clone=1";
	} else if (read_long("/proc/sys/user/max_user_namespaces") == 0) {
		why = "user namespaces are off (user.max_user_namespaces=0)";
		fix = "sudo sysctl -w user.max_user_namespaces=15000";
	} else if (read_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") == 1) {
		why = "AppArmor restricts unprivileged user namespaces";
		fix = "sudo sysctl -w kernel.apparmor_restrict_unprivileged_userns=0";
	} else if (!has_subid("/etc/subuid", user, uid) || !has_subid("/etc/subgid", user, uid)) {
		why = "your user has no subordinate uid/gid range in /etc/subuid and /etc/subgid";
		fix = "sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 "
		      "\"$USER\"";
	} else if (!in_path("newuidmap") || !in_path("newgidmap")) {
		why = "newuidmap and newgidmap are missing";
		fix = "sudo apt-get install uidmap";
	}
	if (!why)
		return 0;
	return log_error("As a normal user mmdebstrap builds in a user namespace "
			 "(--mode=unshare), but %s. Either run this command as root, or "
			 "once: %s",
			 why, fix);
}

static const char *host_arch(void)
{
	static struct utsname u;

	if (uname(&u) < 0)
		return "unknown";
	if (streq(u.machine, "x86_64"))
		return "amd64";
	if (streq(u.machine, "aarch64"))
		return "arm64";
	return u.machine;
}

/* A foreign architecture runs under qemu-user: its binfmt_misc handler must
 * be registered and enabled. Nothing privileged is done here; the message
 * says what to run. */
static int check_emulation(const char *board, const char *arch)
{
	const struct board_ops *ops = board_ops_find(board);
	_cleanup_free_ char *handler = NULL;
	_cleanup_fclose_ FILE *f = NULL;
	char line[64] = "";
	bool mounted;

	if (streq(arch, host_arch()) || !ops)
		return 0;
	mounted = access("/proc/sys/fs/binfmt_misc/status", F_OK) == 0;
	handler = xasprintf("/proc/sys/fs/binfmt_misc/qemu-%s", ops->qemu_arch);
	f = fopen(handler, "re");
	if (f && fgets(line, sizeof(line), f) && startswith(line, "enabled"))
		return 0;
	/* One line (messages are): the commands separated by "; ". */
	return log_error("The %s base is %s, which this %s host runs only under qemu-user "
			 "emulation, but %s. As root, once: apt-get install qemu-user-static "
			 "binfmt-support; %supdate-binfmts --enable qemu-%s; then run this command "
			 "again (building under emulation takes tens of minutes).",
			 board, arch, host_arch(),
			 !mounted ? "binfmt_misc is not mounted"
			 : f	  ? "its qemu-user handler is disabled"
				  : "binfmt_misc has no qemu-user handler for it",
			 mounted ? ""
				 : "mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc; ",
			 ops->qemu_arch);
}

/* Progress: one line on a terminal, redrawn from mmdebstrap's output; one
 * line per phase otherwise. */
struct run {
	const char *board;
	int log_fd;
	bool tty;
	const char *phase;
	unsigned fetched, unpacked, configured;
	char detail[48];
	struct timespec start;
	uint64_t last_ms;
	char tail[TAIL_LINES][200];
	unsigned ntail;
	bool sha1_key, no_pubkey;
};

static uint64_t ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)(((int64_t)t.tv_sec - t0->tv_sec) * 1000 +
			  ((int64_t)t.tv_nsec - t0->tv_nsec) / 1000000);
}

static void show(struct run *s, bool force)
{
	uint64_t ms = ms_since(&s->start);
	struct winsize ws = { 0 };
	char line[256];
	int cols = 80, n;

	if (!s->tty || !s->phase || (!force && ms - s->last_ms < 200))
		return;
	s->last_ms = ms;
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 10)
		cols = ws.ws_col;
	n = snprintf(line, sizeof(line), "rootfs %s: %um%02us %s", s->board, (unsigned)(ms / 60000),
		     (unsigned)(ms / 1000 % 60), s->phase);
	if (n > 0 && (size_t)n < sizeof(line) && s->fetched && streq(s->phase, "downloading"))
		n += snprintf(line + n, sizeof(line) - n, ", %u packages", s->fetched);
	else if (n > 0 && (size_t)n < sizeof(line) && (s->unpacked || s->configured))
		n += snprintf(line + n, sizeof(line) - n, ", %u unpacked, %u set up", s->unpacked,
			      s->configured);
	if (n > 0 && (size_t)n < sizeof(line) && *s->detail)
		snprintf(line + n, sizeof(line) - n, " (%s)", s->detail);
	line[MIN((size_t)cols - 1, sizeof(line) - 1)] = 0;
	/* What mmdebstrap printed (a package, a hook's output) is shown
	 * made visible, as every message is. */
	fputs("\r\033[K", stderr);
	log_print(stderr, "%s", line);
}

static const struct {
	const char *match, *phase;
} phases[] = {
	{ "running apt-get update", "updating package lists" },
	{ "downloading packages", "downloading" },
	{ "extracting archives", "extracting" },
	{ "installing essential packages", "installing essential packages" },
	{ "installing remaining packages", "installing packages" },
	{ "running --setup-hook", "setup hooks" },
	{ "running --essential-hook", "essential hooks" },
	{ "running --customize-hook", "customize hooks" },
	{ "running special hook", "customize hooks" },
	{ "cleaning package lists", "cleaning up" },
	{ "creating tarball", "packing the archive" },
};

/* The word after PREFIX in LINE, as the detail. */
static void set_detail(struct run *s, const char *line, const char *prefix)
{
	const char *p = line + strlen(prefix);

	snprintf(s->detail, sizeof(s->detail), "%.*s", (int)strcspn(p, " :"), p);
}

static void on_line(struct run *s, const char *line)
{
	const char *phase = NULL;

	(void)!write(s->log_fd, line, strlen(line));
	(void)!write(s->log_fd, "\n", 1);
	if (!*line)
		return;
	snprintf(s->tail[s->ntail++ % TAIL_LINES], sizeof(s->tail[0]), "%s", line);
	if (strstr(line, "SHA1 is not considered secure"))
		s->sha1_key = true;
	if (strstr(line, "NO_PUBKEY") || strstr(line, "is not signed"))
		s->no_pubkey = true;
	if (startswith(line, "I: ")) {
		for (size_t i = 0; i < ELEMENTSOF(phases) && !phase; i++)
			if (strstr(line, phases[i].match))
				phase = phases[i].phase;
	} else if (startswith(line, "Get:")) {
		s->fetched++;
	} else if (startswith(line, "Unpacking ")) {
		s->unpacked++;
		set_detail(s, line, "Unpacking ");
	} else if (startswith(line, "Setting up ")) {
		s->configured++;
		set_detail(s, line, "Setting up ");
	}
	if (phase && phase != s->phase) {
		s->phase = phase;
		s->detail[0] = 0;
		s->fetched = 0; /* package lists are not packages */
		if (!s->tty)
			log_info("rootfs %s: %s...", s->board, phase);
		show(s, true);
	} else
		show(s, false);
}

/* Reads the child's output to its end, one line at a time. On a signal,
 * passes it on to the child once and goes on reading until it is gone. */
static void pump(struct run *s, int fd, pid_t pid)
{
	char buf[4096];
	size_t have = 0;
	bool passed_on = false;

	for (;;) {
		ssize_t n = read(fd, buf + have, sizeof(buf) - 1 - have);
		char *start = buf, *nl;

		if (interrupted && !passed_on) {
			kill(pid, interrupted);
			passed_on = true;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		have += (size_t)n;
		buf[have] = 0;
		while ((nl = strpbrk(start, "\r\n"))) {
			*nl = 0;
			on_line(s, start);
			start = nl + 1;
		}
		have -= (size_t)(start - buf);
		memmove(buf, start, have);
		if (have == sizeof(buf) - 1) {
			buf[have] = 0;
			on_line(s, buf);
			have = 0;
		}
	}
	if (have) {
		buf[have] = 0;
		on_line(s, buf);
	}
}

static void print_failure(const struct run *s, const char *why, const char *log_path)
{
	unsigned first = s->ntail > TAIL_LINES ? s->ntail - TAIL_LINES : 0;

	log_error("Building the %s base failed: %s. The end of mmdebstrap's output:", s->board,
		  why);
	for (unsigned i = first; i < s->ntail; i++)
		log_print(stderr, "    %s\n", s->tail[i % TAIL_LINES]);
	if (s->sha1_key)
		fputs("This host's apt refuses a signing key bound with SHA-1: replace it with the "
		      "same key re-signed (see the comment at the mirror's key in the recipe).\n",
		      stderr);
	else if (s->no_pubkey)
		fputs("A mirror's signature could not be checked: give the mirror the archive's "
		      "public key ('key:' in the recipe).\n",
		      stderr);
	log_print(stderr, "The full log: %s\n", log_path);
}

/* The finished archive: readable by all, on disk, then under its name. */
static int store(const char *tmp, const char *archive)
{
	_cleanup_close_ int fd = open(tmp, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, archive) < 0)
		return -errno;
	return 0;
}

int base_build(const struct base_recipe *r, const char *board, const char *suite,
	       const char *archive)
{
	_cleanup_free_ char *dir =
		xasprintf("%.*s", (int)(strrchr(archive, '/') - archive), archive);
	_cleanup_free_ char *log_path = NULL, *tmp = NULL, *sources = NULL;
	_cleanup_(base_strv_free) char **argv = NULL;
	_cleanup_close_ int log_fd = -1, rd = -1, fd = -1;
	struct interrupt_saved old;
	struct run s = { .board = board };
	int fds[2], status = 0, ret;
	pid_t pid;
	uint64_t ms;

	if (getuid() != 0 && (ret = check_unshare()) < 0)
		return ret;
	if ((ret = check_emulation(board, r->architecture.v)) < 0)
		return ret;
	if (!in_path("zstd"))
		return log_error("zstd is not installed: 'apt-get install zstd'");
	if (strpbrk(dir, " \t\n"))
		return log_error("The cache directory '%s' has a space in it, which mmdebstrap's "
				 "upload hook cannot take: pass --cache DIR",
				 dir);
	if ((ret = mkdir_p(dir, 0755)) < 0)
		return log_error_errno(ret, "Cannot create the cache directory %s: %m", dir);

	/* From here on a signal is noted, passed on and cleaned up after. */
	interrupt_catch(&old);
	log_path = xasprintf("%.*s.log", (int)(strlen(archive) - strlen(".tar.zst")), archive);
	tmp = xasprintf("%s/.building-XXXXXX.tar.zst", dir);
	sources = xasprintf("%s/.sources-XXXXXX", dir);
	fd = mkostemps(tmp, strlen(".tar.zst"), O_CLOEXEC);
	if (fd < 0) {
		ret = log_error_errno(errno, "Cannot create a file in %s: %m", dir);
		goto restore;
	}
	closep(&fd);
	fd = mkostemp(sources, O_CLOEXEC);
	ret = fd < 0 ? -errno : base_write_sources(r, board, suite, sources);
	if (ret < 0) {
		log_error_errno(ret, "Cannot write the apt sources for mmdebstrap in %s: %m", dir);
		goto out;
	}
	log_fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (log_fd < 0) {
		ret = log_error_errno(errno, "Cannot create the log %s: %m", log_path);
		goto out;
	}
	argv = base_mmdebstrap_argv(r, suite, tmp, sources);
	for (char **a = argv; *a; a++)
		dprintf(log_fd, "%s%s", a == argv ? "# " : " ", *a);
	dprintf(log_fd, "\n");

	s.log_fd = log_fd;
	s.tty = isatty(STDERR_FILENO) && !getenv("FARM_NO_PROGRESS");
	clock_gettime(CLOCK_MONOTONIC, &s.start);
	log_info("Building the %s base (%s, %s) with mmdebstrap%s; log: %s", board, suite,
		 r->architecture.v,
		 streq(r->architecture.v, host_arch()) ? "" : " under qemu-user emulation",
		 log_path);

	if (pipe2(fds, O_CLOEXEC) < 0) {
		ret = log_error_errno(errno, "Cannot create a pipe: %m");
		goto out;
	}
	rd = fds[0];
	ret = spawn_into(argv, fds[1], &pid);
	close(fds[1]);
	if (ret < 0) {
		log_error_errno(ret, "Cannot run mmdebstrap: %m");
		goto out;
	}
	pump(&s, rd, pid);
	ret = wait_child(pid, &status);
	if (s.tty && s.phase)
		fputs("\r\033[K", stderr);
	ms = ms_since(&s.start);
	if (interrupted) {
		ret = log_error("Interrupted: removed the partial %s base; log: %s", board,
				log_path);
	} else if (ret < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		char why[64];
		snprintf(why, sizeof(why),
			 WIFEXITED(status) ? "mmdebstrap exited with status %d"
					   : "mmdebstrap was killed by signal %d",
			 WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		print_failure(&s, why, log_path);
		ret = -EIO;
	} else if ((ret = store(tmp, archive)) < 0) {
		log_error_errno(ret, "Cannot store %s: %m", archive);
	} else {
		log_info("Built the %s base in %um%02us: %s", board, (unsigned)(ms / 60000),
			 (unsigned)(ms / 1000 % 60), archive);
		ret = 0;
	}
out:
	if (ret < 0)
		unlink(tmp);
	unlink(sources);
restore:
	interrupt_restore(&old);
	return ret;
}
