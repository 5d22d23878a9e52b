/* SPDX-License-Identifier: MIT */
/* A node's output files: lock, checks, anonymous or hidden temporaries, and
 * the commit that names them all or none (see output.h). */
#include "output.h"
#include "log.h"
#include "threads.h"

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#define SUFFIX_LEN 6 /* as mkstemp's XXXXXX */

struct outfile {
	const char *final; /* DIR/NAME.img */
	const char *base;  /* NAME.img */
	int fd;
	bool anonymous; /* O_TMPFILE: no name until the commit */
	char *tmp;	/* its hidden name in DIR, once it has one */
	char *path;	/* what opens it: /proc/self/fd/N or DIR/.NAME.img.XXXXXX */
	char *backup;	/* the previous build's file during the commit */
	bool renamed;
};

/* Writeback is started on a thread of its own: sync_file_range() submits
 * the pages itself, and the host filesystem allocates their blocks then
 * (delayed allocation), which is work the build's thread need not wait
 * for. */
#define WRITEBACK_STEP (64 * MiB)

struct writeback {
	const struct outfile *f;
	unsigned pending; /* 1 << output */
	bool started;
	bool stop; /* under LOCK; read without it between steps */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
};

struct outputs {
	const char *dir, *node, *need_what;
	uint64_t need, free_at_start;
	int dfd, lock_fd;
	char *lock_name;
	struct outfile f[OUT_COUNT];
	struct writeback *wb;
};

static const char *const suffixes[OUT_COUNT] = {
	[OUT_IMG] = ".img",
	[OUT_BMAP] = ".img.bmap",
	[OUT_ZST] = ".img.zst",
	[OUT_JSON] = ".json",
};

const char *output_suffix(int which) { return suffixes[which]; }

static const char alnum[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/* ".NAME.img.XXXXXX": the shape of every hidden file of the node. */
static char *hidden_name(const char *base)
{
	uint8_t rnd[SUFFIX_LEN];
	char suffix[SUFFIX_LEN + 1];

	if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd))
		for (size_t i = 0; i < sizeof(rnd); i++)
			rnd[i] = (uint8_t)rand();
	for (size_t i = 0; i < SUFFIX_LEN; i++)
		suffix[i] = alnum[rnd[i] % (sizeof(alnum) - 1)];
	suffix[SUFFIX_LEN] = 0;
	return xasprintf(".%s.%s", base, suffix);
}

static bool is_hidden_name(const char *name, const char *base)
{
	size_t n = strlen(base);

	if (name[0] != '.' || strncmp(name + 1, base, n) != 0 || name[1 + n] != '.')
		return false;
	name += n + 2;
	if (strlen(name) != SUFFIX_LEN)
		return false;
	return strspn(name, alnum) == SUFFIX_LEN;
}

static const char *type_name(mode_t m)
{
	switch (m & S_IFMT) {
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symbolic link";
	case S_IFIFO:
		return "a fifo";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
	case S_IFBLK:
		return "a device";
	}
	return "not a regular file";
}

static uint64_t free_bytes(int fd)
{
	struct statvfs v;

	if (fstatvfs(fd, &v) < 0)
		return UINT64_MAX;
	return (uint64_t)v.f_bavail * v.f_frsize;
}

/* The node's lock: .NAME.lock in DIR, held with flock() for the whole
 * build (the kernel releases it when the process ends, however it ends). */
static int take_lock(struct outputs *o)
{
	o->lock_name = xasprintf(".%s.lock", o->node);
	for (int tries = 0; tries < 16; tries++) {
		struct stat a, b;
		int fd = openat(o->dfd, o->lock_name, O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC,
				0600);
		if (fd < 0)
			return log_error_errno(errno, "Cannot create the lock %s/%s: %m", o->dir,
					       o->lock_name);
		if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
			int e = errno;
			close(fd);
			if (e == EWOULDBLOCK)
				return log_error_errno(
					EBUSY,
					"%s: another farm-image is building node '%s' "
					"into %s (it holds %s/%s): wait for it to finish",
					o->node, o->node, o->dir, o->dir, o->lock_name);
			return log_error_errno(e, "Cannot lock %s/%s: %m", o->dir, o->lock_name);
		}
		/* The build that held it removes it when done: the lock is ours
		 * only if the name still leads to the file we locked. */
		if (fstat(fd, &a) == 0 &&
		    fstatat(o->dfd, o->lock_name, &b, AT_SYMLINK_NOFOLLOW) == 0 &&
		    a.st_dev == b.st_dev && a.st_ino == b.st_ino) {
			o->lock_fd = fd;
			return 0;
		}
		close(fd);
	}
	return log_error_errno(EBUSY, "Cannot lock %s/%s: it keeps being replaced", o->dir,
			       o->lock_name);
}

static int compare_strings(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* What a build of the node that was killed (or lost its power) left: no
 * build of the node can be running, we hold its lock. */
static void remove_stale(struct outputs *o)
{
	int fd = fcntl(o->dfd, F_DUPFD_CLOEXEC, 3);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	char **names = NULL, *list;
	size_t n = 0, cap = 0, len = 0;
	struct dirent *de;

	if (!d) {
		if (fd >= 0)
			close(fd);
		return;
	}
	while ((de = readdir(d)))
		for (int i = 0; i < OUT_COUNT; i++) {
			struct stat st;
			if (!is_hidden_name(de->d_name, o->f[i].base) ||
			    fstatat(o->dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			    !S_ISREG(st.st_mode))
				continue;
			if (unlinkat(o->dfd, de->d_name, 0) == 0)
				ARRAY_PUSH(names, n, cap, xstrdup(de->d_name));
			break;
		}
	closedir(d);
	if (!n)
		return;
	qsort(names, n, sizeof(*names), compare_strings);
	for (size_t i = 0; i < n; i++)
		len += strlen(names[i]) + 2;
	list = xmalloc(len + 1);
	list[0] = 0;
	for (size_t i = 0; i < n; i++) {
		strcat(list, i ? ", " : "");
		strcat(list, names[i]);
		free(names[i]);
	}
	log_notice("%s: removed %zu temporary file%s that an interrupted build left in %s: %s",
		   o->node, n, n == 1 ? "" : "s", o->dir, list);
	free(list);
	free(names);
}

/* Only a regular file (to be replaced) or nothing may be at each target. */
static int check_targets(const struct outputs *o)
{
	unsigned bad = 0;

	for (int i = 0; i < OUT_COUNT; i++) {
		struct stat st;
		if (fstatat(o->dfd, o->f[i].base, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT) {
				log_error_errno(errno, "Cannot check %s: %m", o->f[i].final);
				bad++;
			}
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			log_error("%s: %s is %s, where the build writes a file: remove it, or "
				  "choose another --out",
				  o->node, o->f[i].final, type_name(st.st_mode));
			bad++;
		}
	}
	return bad ? -EEXIST : 0;
}

static int create_file(struct outputs *o, struct outfile *f)
{
	int fd = openat(o->dfd, ".", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd >= 0) {
		/* Libraries open the file by name: the anonymous file has one
		 * only in /proc. */
		char *path = xasprintf("/proc/self/fd/%d", fd);
		if (access(path, F_OK) == 0) {
			f->fd = fd;
			f->anonymous = true;
			f->path = path;
			return 0;
		}
		free(path);
		close(fd);
	}
	/* The filesystem has no O_TMPFILE: a hidden name, which the next
	 * build removes should this one be killed. */
	for (int tries = 0; tries < 64; tries++) {
		char *name = hidden_name(f->base);
		fd = openat(o->dfd, name, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd >= 0) {
			f->fd = fd;
			f->tmp = name;
			f->path = xasprintf("%s/%s", o->dir, name);
			return 0;
		}
		free(name);
		if (errno != EEXIST)
			break;
	}
	return log_error_errno(errno, "%s: cannot create %s: %m", o->node, f->final);
}

int outputs_open(const struct outputs_params *p, struct outputs **ret)
{
	struct outputs *o = xcalloc(1, sizeof(*o));
	int r;

	*ret = NULL;
	o->dir = p->dir;
	o->node = p->node;
	o->need = p->need;
	o->need_what = p->need_what;
	o->dfd = o->lock_fd = -1;
	o->wb = xcalloc(1, sizeof(*o->wb));
	*o->wb = (struct writeback){ .f = o->f,
				     .lock = PTHREAD_MUTEX_INITIALIZER,
				     .cond = PTHREAD_COND_INITIALIZER };
	for (int i = 0; i < OUT_COUNT; i++) {
		const char *slash = strrchr(p->final[i], '/');
		o->f[i] = (struct outfile){ .final = p->final[i],
					    .base = slash ? slash + 1 : p->final[i],
					    .fd = -1 };
	}
	if (mkdir(p->dir, 0755) < 0 && errno != EEXIST) {
		r = log_error_errno(errno, "Cannot create the output directory %s: %m", p->dir);
		goto fail;
	}
	o->dfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (o->dfd < 0) {
		r = log_error_errno(errno, "Cannot open the output directory %s: %m", p->dir);
		goto fail;
	}
	r = take_lock(o);
	if (r < 0)
		goto fail;
	remove_stale(o);
	r = check_targets(o);
	if (r < 0)
		goto fail;
	o->free_at_start = free_bytes(o->dfd);
	if (o->free_at_start < o->need) {
		char a[32], b[32];
		r = log_error_errno(ENOSPC,
				    "%s: %s has %s free, but the image needs at least %s there (%s): "
				    "make room, or choose another --out",
				    o->node, o->dir, format_size(o->free_at_start, a, sizeof(a)),
				    format_size(o->need, b, sizeof(b)), o->need_what);
		goto fail;
	}
	for (int i = 0; i < OUT_COUNT; i++) {
		r = create_file(o, &o->f[i]);
		if (r < 0)
			goto fail;
	}
	*ret = o;
	return 0;
fail:
	outputs_free(o);
	return r;
}

int outputs_fd(const struct outputs *o, int which) { return o->f[which].fd; }
const char *outputs_path(const struct outputs *o, int which) { return o->f[which].path; }
const char *outputs_name(const struct outputs *o, int which) { return o->f[which].final; }

/* Starts the writeback of FD's pages a step at a time: a build that fails
 * or is interrupted stops it (writeback_stop()) within one step, instead
 * of waiting while gigabytes of a file about to be removed reach the disk. */
static void writeback_file(struct writeback *wb, int fd)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return;
	for (off_t at = 0; at < st.st_size; at += WRITEBACK_STEP) {
		if (__atomic_load_n(&wb->stop, __ATOMIC_RELAXED))
			return;
		(void)sync_file_range(fd, at, WRITEBACK_STEP, SYNC_FILE_RANGE_WRITE);
	}
}

static void *writeback_loop(void *arg)
{
	struct writeback *wb = arg;

	pthread_mutex_lock(&wb->lock);
	for (;;) {
		unsigned todo;
		while (!wb->pending && !wb->stop)
			pthread_cond_wait(&wb->cond, &wb->lock);
		if (wb->stop)
			break;
		todo = wb->pending;
		wb->pending = 0;
		pthread_mutex_unlock(&wb->lock);
		for (int i = 0; i < OUT_COUNT; i++)
			if (todo & (1u << i))
				writeback_file(wb, wb->f[i].fd);
		pthread_mutex_lock(&wb->lock);
	}
	pthread_mutex_unlock(&wb->lock);
	return NULL;
}

void outputs_writeback(const struct outputs *o, int which)
{
	struct writeback *wb = o->wb;

	if (!wb->started)
		wb->started = thread_start(&wb->thread, writeback_loop, wb) == 0;
	if (!wb->started) {
		(void)sync_file_range(o->f[which].fd, 0, 0, SYNC_FILE_RANGE_WRITE);
		return;
	}
	pthread_mutex_lock(&wb->lock);
	wb->pending |= 1u << which;
	pthread_cond_signal(&wb->cond);
	pthread_mutex_unlock(&wb->lock);
}

/* Writeback still asked for is the fsync's to do. */
static void writeback_stop(struct writeback *wb)
{
	if (!wb->started)
		return;
	pthread_mutex_lock(&wb->lock);
	__atomic_store_n(&wb->stop, true, __ATOMIC_RELAXED);
	pthread_cond_signal(&wb->cond);
	pthread_mutex_unlock(&wb->lock);
	pthread_join(wb->thread, NULL);
	wb->started = false;
}

int outputs_write_failed(const struct outputs *o, int which, int r)
{
	if (r == -ENOSPC || r == -EDQUOT) {
		char a[32], b[32], c[32];
		uint64_t now = free_bytes(o->dfd);
		return log_error_errno(r,
				       "%s: cannot write %s: %s is full (%s free; %s when the build "
				       "began, and the image needs at least %s there): make room, or "
				       "choose another --out",
				       o->node, o->f[which].final, o->dir,
				       format_size(now == UINT64_MAX ? 0 : now, a, sizeof(a)),
				       format_size(o->free_at_start, b, sizeof(b)),
				       format_size(o->need, c, sizeof(c)));
	}
	return log_error_errno(r, "%s: cannot write %s: %m", o->node, o->f[which].final);
}

/* A hidden name in DIR for the anonymous file F, or for the target's
 * previous file (BACKUP). */
static int link_hidden(struct outputs *o, struct outfile *f, bool backup)
{
	for (int tries = 0; tries < 64; tries++) {
		char *name = hidden_name(f->base);
		int r = backup ? linkat(o->dfd, f->base, o->dfd, name, 0)
			       : linkat(AT_FDCWD, f->path, o->dfd, name, AT_SYMLINK_FOLLOW);
		if (r == 0) {
			if (backup)
				f->backup = name;
			else
				f->tmp = name;
			return 0;
		}
		free(name);
		if (errno != EEXIST)
			return -errno;
	}
	return -EEXIST;
}

/* A rename failed at output K: the previous build's files go back. Returns
 * the number of targets that could not be restored. */
static unsigned roll_back(struct outputs *o, int k)
{
	unsigned stuck = 0;

	for (int i = 0; i < OUT_COUNT; i++) {
		struct outfile *f = &o->f[i];
		int r = 0;
		if (i < k && f->renamed) {
			r = f->backup ? renameat(o->dfd, f->backup, o->dfd, f->base)
				      : unlinkat(o->dfd, f->base, 0);
			if (r == 0) {
				f->renamed = false;
				free(f->backup);
				f->backup = NULL;
			}
		} else if (i == OUT_JSON && f->backup) {
			r = renameat(o->dfd, f->backup, o->dfd, f->base);
			if (r == 0) {
				free(f->backup);
				f->backup = NULL;
			}
		}
		if (r < 0) {
			log_error_errno(errno, "%s: cannot put the previous %s back: %m", o->node,
					f->final);
			stuck++;
		}
	}
	return stuck;
}

int outputs_commit(struct outputs *o, mode_t mode)
{
	bool previous = false;
	int r;

	writeback_stop(o->wb);
	for (int i = 0; i < OUT_COUNT; i++) {
		if (fchmod(o->f[i].fd, mode) < 0 || fsync(o->f[i].fd) < 0)
			return outputs_write_failed(o, i, -errno);
	}
	/* Nothing may have come in the way since the build began. */
	r = check_targets(o);
	if (r < 0)
		return r;
	for (int i = 0; i < OUT_COUNT; i++) {
		struct outfile *f = &o->f[i];
		struct stat st;
		if (f->anonymous && !f->tmp && (r = link_hidden(o, f, false)) < 0) {
			log_error_errno(r, "%s: cannot give %s a name in %s: %m", o->node, f->final,
					o->dir);
			goto undo_backups;
		}
		/* The previous build's file stays reachable until the new
		 * one is in place. */
		if (fstatat(o->dfd, f->base, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		previous = true;
		r = link_hidden(o, f, true);
		if (r < 0) {
			log_error_errno(r,
					"%s: cannot keep the previous %s while it is replaced "
					"(%m): nothing was replaced",
					o->node, f->final);
			goto undo_backups;
		}
	}
	/* The old manifest goes first, the new one comes last: no manifest
	 * ever sits beside files it does not describe. */
	if (o->f[OUT_JSON].backup && unlinkat(o->dfd, o->f[OUT_JSON].base, 0) < 0) {
		r = log_error_errno(errno, "%s: cannot remove the previous %s: %m", o->node,
				    o->f[OUT_JSON].final);
		goto undo_backups;
	}
	fsync(o->dfd);
	for (int i = 0; i < OUT_COUNT; i++) {
		struct outfile *f = &o->f[i];
		if (renameat(o->dfd, f->tmp, o->dfd, f->base) < 0) {
			r = -errno;
			if (roll_back(o, i) == 0)
				log_error_errno(r, "%s: cannot rename %s/%s to %s: %m; %s", o->node,
						o->dir, f->tmp, f->final,
						previous
							? "the previous build's files are back in place"
							: "nothing was written");
			else
				log_error_errno(r,
						"%s: cannot rename %s/%s to %s: %m; %s and the "
						"files named above are this build's, without a "
						"manifest",
						o->node, o->dir, f->tmp, f->final, o->dir);
			goto undo_backups;
		}
		f->renamed = true;
		free(f->tmp);
		f->tmp = NULL;
	}
	r = 0;
undo_backups:
	for (int i = 0; i < OUT_COUNT; i++)
		if (o->f[i].backup) {
			unlinkat(o->dfd, o->f[i].backup, 0);
			free(o->f[i].backup);
			o->f[i].backup = NULL;
		}
	fsync(o->dfd);
	return r;
}

void outputs_free(struct outputs *o)
{
	if (!o)
		return;
	writeback_stop(o->wb);
	pthread_mutex_destroy(&o->wb->lock);
	pthread_cond_destroy(&o->wb->cond);
	free(o->wb);
	for (int i = 0; i < OUT_COUNT; i++) {
		struct outfile *f = &o->f[i];
		if (f->fd >= 0)
			close(f->fd);
		if (f->tmp)
			unlinkat(o->dfd, f->tmp, 0);
		free(f->tmp);
		free(f->path);
		free(f->backup);
	}
	if (o->lock_fd >= 0) {
		/* Removed while held: see take_lock(). */
		unlinkat(o->dfd, o->lock_name, 0);
		close(o->lock_fd);
	}
	if (o->dfd >= 0)
		close(o->dfd);
	free(o->lock_name);
	free(o);
}
