/* SPDX-License-Identifier: MIT */
#include "steps.h"
#include "fileio.h"
#include "firstboot.h"
#include "join.h"
#include "log.h"
#include "powercycle.h"
#include "stack.h"
#include "storage.h"

#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>

/* In the order they run. */
const struct step farm_steps[] = {
	{ "storage", PHASE_STORAGE, ROLES_ALL, STEP_EVERY_BOOT | STEP_SELF_RECORDING,
	  "the data partition grown to the disk, Btrfs and its subvolumes", step_storage },
	{ "ssh-host-keys", PHASE_FIRSTBOOT, ROLES_ALL, 0,
	  "SSH host keys made on the data partition", step_host_keys },
	{ "home", PHASE_FIRSTBOOT, ROLES_ALL, 0, "the admin user's home directory", step_home },
	{ "k3s-ca", PHASE_FIRSTBOOT, ROLE_BIT(ROLE_SERVER), 0,
	  "the cluster CA files where k3s takes them at its first start", step_k3s_ca },
	{ "k3s-images", PHASE_FIRSTBOOT, ROLES_ALL, 0,
	  "the air-gap image archives linked into k3s's images directory", step_k3s_images },
	{ "kubelet-dropin", PHASE_FIRSTBOOT, ROLES_ALL, 0, "the kubelet configuration drop-ins",
	  step_kubelet_dropins },
	{ "k3s-api", PHASE_JOIN, ROLES_ALL, 0, "the cluster's API answers", step_k3s_api },
	{ "node-registered", PHASE_JOIN, ROLES_ALL, 0, "this node is registered in the cluster",
	  step_node_registered },
	{ "power-rbac", PHASE_JOIN, ROLE_BIT(ROLE_SERVER), STEP_EVERY_BOOT,
	  "the agents' power-cycle rights applied (RBAC)", step_power_rbac },
	{ "stack", PHASE_JOIN, ROLE_BIT(ROLE_SERVER), STEP_EVERY_BOOT,
	  "the core stack installed in order, each component ready", step_stack },
	{ "node-ready", PHASE_JOIN, ROLES_ALL, 0, "this node is Ready (its CNI runs)",
	  step_node_ready },
};
const size_t n_farm_steps = ELEMENTSOF(farm_steps);

bool step_applies(const struct step *s, enum role r) { return s->roles & ROLE_BIT(r); }

int steps_run(struct farm_node *n, enum step_phase phase)
{
	int r = mkdir_p(n->state, 0700);

	if (r < 0)
		return log_error_errno(r, "Cannot create %s: %m", n->state);
	for (size_t i = 0; i < n_farm_steps; i++) {
		const struct step *s = &farm_steps[i];
		struct record rec;
		char detail[400] = "";

		if (s->phase != phase || !step_applies(s, n->conf.role.i))
			continue;
		if (!(s->flags & STEP_EVERY_BOOT) &&
		    journal_read(n->state, "steps", s->name, &rec) >= 0 && rec.state == RECORD_DONE)
			continue;
		if (!(s->flags & STEP_SELF_RECORDING))
			journal_progress(n->state, s->name, PROGRESS_RUNNING, "%s", s->summary);
		r = s->run(n, detail, sizeof(detail));
		if (r < 0) {
			if (!(s->flags & STEP_SELF_RECORDING))
				journal_progress(n->state, s->name, PROGRESS_FAILED,
						 "failed (see the unit's log); runs again at the next "
						 "start");
			return log_error_errno(r, "Step %s failed; it runs again at the next start",
					       s->name);
		}
		if (s->flags & STEP_SELF_RECORDING)
			continue;
		/* What the step wrote is durable before its record says done:
		 * the record's own fsync commits only that file, and a power
		 * cut in between left a step recorded whose work was lost
		 * (k3s-images' links, so k3s's assertions failed at every boot).
		 * The state directory and every data subvolume are one
		 * filesystem, which one syncfs covers. */
		r = syncfs_of(n->state);
		if (r < 0)
			return log_error_errno(r, "Cannot make step %s durable: %m", s->name);
		r = journal_write(n->state, "steps", s->name, NULL, detail);
		if (r < 0)
			return log_error_errno(r, "Cannot record step %s: %m", s->name);
		journal_progress_clear(n->state, s->name);
		log_info("%s: %s", s->name, detail);
	}
	return 0;
}

/* --- the journal --------------------------------------------------------- */

/* Times a record may carry: from 1970 to the end of year 9999. */
#define MAX_WHEN 253402300799LL

/* One line of TEXT at *P into BUF (cut to its size), advancing *P. The
 * bytes stay as they are: `status` escapes them for the terminal
 * (log_put_escaped) and JSON (json.c) as each needs. */
static void take_line(const char **p, char *buf, size_t len)
{
	size_t n = strcspn(*p, "\n");

	snprintf(buf, len, "%.*s", (int)MIN(n, len - 1), *p);
	*p += n + ((*p)[n] == '\n');
}

/* "WORD EPOCH" with EPOCH a sane time. */
static bool parse_head(const char *line, const char *word, time_t *when)
{
	size_t n = strlen(word);
	char *end;
	long long t;

	if (strncmp(line, word, n) != 0 || line[n] != ' ')
		return false;
	errno = 0;
	t = strtoll(line + n + 1, &end, 10);
	if (errno || *end || end == line + n + 1 || t < 0 || t > MAX_WHEN)
		return false;
	*when = (time_t)t;
	return true;
}

/* A journal file: at most 64 KiB, and only a regular file (a FIFO or a
 * device put there must not hang `status`). -ENOENT when absent; -EFBIG,
 * -EISDIR or -ENOEXEC when it cannot be a record. */
static int read_journal_file(const char *path, char **text)
{
	_cleanup_close_ int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	size_t got = 0;
	ssize_t n;

	if (fd < 0)
		return errno == ELOOP ? -ENOEXEC : -errno;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISDIR(st.st_mode))
		return -EISDIR;
	if (!S_ISREG(st.st_mode))
		return -ENOEXEC;
	if (st.st_size > 64 * 1024)
		return -EFBIG;
	*text = xmalloc((size_t)st.st_size + 1);
	while (got < (size_t)st.st_size) {
		n = read(fd, *text + got, (size_t)st.st_size - got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	(*text)[got] = 0;
	return 0;
}

static const char *damage_why(int r)
{
	return r == -EFBIG    ? "larger than a record"
	       : r == -EISDIR ? "a directory"
			      : "not a regular file";
}

int journal_write(const char *state_dir, const char *kind, const char *name, const char *hash,
		  const char *detail)
{
	_cleanup_free_ char *dir = xasprintf("%s/%s", state_dir, kind);
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	_cleanup_free_ char *text = NULL;
	int r = mkdir_p(dir, 0700);

	if (r < 0)
		return r;
	text = xasprintf("done %lld\n%s%s%s%s\n", (long long)time(NULL), hash ? "hash " : "",
			 hash ? hash : "", hash ? "\n" : "", detail);
	return write_file_atomic(path, text, strlen(text), 0600);
}

/* The text of KIND/NAME (or progress/NAME) and its first line. Returns 1
 * with *P after the first line, 0 when absent, -EBADMSG with WHY when it
 * cannot be a record, -errno when it cannot be read. */
static int open_record(const char *state_dir, const char *kind, const char *name, char **text,
		       char *first, size_t len, const char **p, char *why, size_t wlen)
{
	_cleanup_free_ char *path = xasprintf("%s/%s/%s", state_dir, kind, name);
	int r = read_journal_file(path, text);

	if (r == -ENOENT)
		return 0;
	if (r == -EFBIG || r == -EISDIR || r == -ENOEXEC) {
		snprintf(why, wlen, "%s", damage_why(r));
		return -EBADMSG;
	}
	if (r < 0)
		return r;
	*p = *text;
	take_line(p, first, len);
	return 1;
}

int journal_read(const char *state_dir, const char *kind, const char *name, struct record *rec)
{
	_cleanup_free_ char *text = NULL;
	char line[600];
	const char *p;
	int r;

	*rec = (struct record){ 0 };
	r = open_record(state_dir, kind, name, &text, line, sizeof(line), &p, rec->why,
			sizeof(rec->why));
	if (r == -EBADMSG || (r > 0 && !parse_head(line, "done", &rec->when))) {
		rec->state = RECORD_DAMAGED;
		if (r > 0)
			snprintf(rec->why, sizeof(rec->why), "first line is not 'done TIME'");
		return 0;
	}
	if (r <= 0)
		return r;
	rec->state = RECORD_DONE;
	take_line(&p, line, sizeof(line));
	if (startswith(line, "hash ")) {
		snprintf(rec->hash, sizeof(rec->hash), "%s", line + 5);
		take_line(&p, line, sizeof(line));
	}
	snprintf(rec->detail, sizeof(rec->detail), "%s", line);
	return 0;
}

static const char *const progress_words[] = {
	[PROGRESS_RUNNING] = "running",
	[PROGRESS_FAILED] = "failed",
};

void journal_progress(const char *state_dir, const char *name, enum progress_state s,
		      const char *fmt, ...)
{
	_cleanup_free_ char *dir = xasprintf("%s/progress", state_dir);
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	_cleanup_free_ char *msg = NULL, *text = NULL;
	va_list ap;
	int r;

	va_start(ap, fmt);
	if (vasprintf(&msg, fmt, ap) < 0)
		abort();
	va_end(ap);
	msg[strcspn(msg, "\n")] = 0;
	text = xasprintf("%s %lld\n%s\n", progress_words[s], (long long)time(NULL), msg);
	r = mkdir_p(dir, 0700);
	if (r >= 0)
		r = write_file_atomic(path, text, strlen(text), 0600);
	if (r < 0)
		log_warning_errno(r, "Cannot note the progress of %s in %s: %m", name, dir);
}

void journal_progress_clear(const char *state_dir, const char *name)
{
	_cleanup_free_ char *path = xasprintf("%s/progress/%s", state_dir, name);

	if (unlink(path) < 0 && errno != ENOENT)
		log_warning_errno(errno, "Cannot remove %s: %m", path);
}

int journal_read_progress(const char *state_dir, const char *name, struct progress_note *pn)
{
	_cleanup_free_ char *text = NULL;
	char line[600];
	const char *p;
	int r;

	*pn = (struct progress_note){ 0 };
	r = open_record(state_dir, "progress", name, &text, line, sizeof(line), &p, pn->text,
			sizeof(pn->text));
	if (r == -EBADMSG) {
		pn->state = PROGRESS_DAMAGED;
		return 0;
	}
	if (r <= 0)
		return r;
	if (parse_head(line, "running", &pn->when))
		pn->state = PROGRESS_RUNNING;
	else if (parse_head(line, "failed", &pn->when))
		pn->state = PROGRESS_FAILED;
	else {
		pn->state = PROGRESS_DAMAGED;
		return 0;
	}
	take_line(&p, pn->text, sizeof(pn->text));
	return 0;
}
