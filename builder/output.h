/* SPDX-License-Identifier: MIT */
/* A node's four output files in the output directory: NAME.img,
 * NAME.img.bmap, NAME.img.zst and NAME.json.
 *
 * Before anything is written, outputs_open() takes the node's lock in the
 * directory (two builds of one node into one directory never interleave),
 * removes what an interrupted build of the node left there, checks that
 * nothing but a regular file is in the way of each target and that the
 * filesystem has room, and creates the four files anonymously (O_TMPFILE:
 * SIGKILL or a power loss leaves nothing) or, where the filesystem cannot,
 * under hidden temporary names. outputs_commit() then gives them their
 * names all at once or not at all: every target checked again, the old
 * files kept as hidden links until the new ones are in place (and put back
 * if a rename fails), the old manifest removed before the first rename and
 * the new one renamed last, so that a manifest always describes the image
 * beside it. */
#pragma once

#include <stdint.h>
#include <sys/types.h>

/* The outputs, in the order they are renamed: the manifest last (see
 * above). Adding one is a value here, its name's suffix in output.c's
 * table, and its writer. */
enum { OUT_IMG, OUT_BMAP, OUT_ZST, OUT_JSON, OUT_COUNT };

/* What output WHICH's name adds to the node's: ".img", ".img.bmap", ... */
const char *output_suffix(int which);

struct outputs;

struct outputs_params {
	const char *dir;       /* the output directory (created if missing) */
	const char *node;      /* for messages */
	char *const *final;    /* DIR/NAME.img, ... (OUT_COUNT of them): the targets */
	uint64_t need;	       /* bytes the outputs need at least (checked first) */
	const char *need_what; /* what NEED counts, for the message */
};

/* Returns 0 or -errno after printing one message; on failure nothing is
 * left and nothing was changed in DIR. */
int outputs_open(const struct outputs_params *p, struct outputs **ret);
int outputs_fd(const struct outputs *o, int which);
/* A path that opens the file (for libraries that open by name). */
const char *outputs_path(const struct outputs *o, int which);
/* The target's name, for messages. */
const char *outputs_name(const struct outputs *o, int which);

/* Starts writing what output WHICH holds so far to the disk, without
 * waiting: the disk works while the build computes, and the commit's fsync
 * (which reports any failure) has little left to do. Written pages are
 * written again if they change. */
void outputs_writeback(const struct outputs *o, int which);

/* Reports a failed write of output WHICH (R < 0) once: a full filesystem
 * is named with what is free on it and what the outputs need. Returns R. */
int outputs_write_failed(const struct outputs *o, int which, int r);

/* Gives the files their names (see above), mode MODE, all of them synced.
 * Returns 0 or -errno after printing one message; on failure the previous
 * build's files (if any) are in place again, or the message says which
 * were replaced. */
int outputs_commit(struct outputs *o, mode_t mode);

/* Removes what was not committed and releases the lock. */
void outputs_free(struct outputs *o);
