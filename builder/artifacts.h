/* SPDX-License-Identifier: MIT */
/* Pinned artifacts (configs/artifacts.lock): the k3s binary and air-gap
 * images per architecture and the Helm charts of the stack, each with its
 * URL and sha256. The cache is content-addressed: a verified file lives at
 * <cache>/<sha256>, a download in progress at <cache>/<sha256>.part.
 * A build takes an artifact only through artifact_path(), which reads
 * every byte and refuses a file whose size or hash differs. */
#pragma once

#include "conf.h"
#include "hash.h"
#include "util.h"

struct artifact {
	char *name, *arch, *version, *url, *sha256; /* arch NULL: any architecture */
	uint64_t size;				    /* 0: not pinned */
	struct pos pos;				    /* the entry in the lock file */
};

struct artifacts {
	struct artifact *v;
	size_t n;
	char *path; /* the lock file */
};

/* Loads and checks LOCK_PATH: unknown keys, a sha256 that is not 64 hex
 * digits, a URL that is not http(s) or has no file name, the same name and
 * arch twice. Every problem is printed as FILE:LINE:COL; returns 0, or
 * -EINVAL (or -errno when the file cannot be read). */
int artifacts_load(const char *lock_path, struct artifacts *a);
void artifacts_free(struct artifacts *a);

/* The entry for NAME and ARCH (NULL: the arch-independent entry), or NULL. */
const struct artifact *artifacts_find(const struct artifacts *a, const char *name,
				      const char *arch);

/* ${XDG_CACHE_HOME:-$HOME/.cache}/farm/artifacts, or NULL when there is no
 * home directory. */
char *artifacts_cache_dir(void);

/* "k3s (amd64) v1.33.5+k3s1", for messages. */
char *artifact_describe(const struct artifact *art);

/* The file name a user's artifacts directory holds: the last component of
 * the URL, percent-decoded ("k3s-arm64", "cilium-1.19.3.tgz"). */
char *artifact_file_name(const struct artifact *art);

/* Checks that FD holds exactly the pinned bytes (size when pinned, then a
 * full sha256 read). Returns 0, -EBADMSG (ACTUAL_HEX holds the hash read),
 * -EFBIG (size differs; *ACTUAL_SIZE holds it) or -errno. Does not print. */
int artifact_verify_fd(const struct artifact *art, int fd, char actual_hex[SHA256_HEX_LEN],
		       uint64_t *actual_size);

/* Opens PATH (O_RDONLY | O_CLOEXEC | FLAGS) and checks it as
 * artifact_verify_fd() does. Returns 1 when PATH holds the artifact, 0 when
 * it does not exist, and -EFBIG, -EBADMSG or -EINVAL (not a regular file)
 * when it holds something else, which is the caller's to report, as what to
 * do about it depends on where PATH is. Any other failure is -errno after
 * one message: "DESC: cannot open PATH: ..." or "DESC: cannot read PATH:
 * ...". */
int artifact_verify_file(const struct artifact *art, const char *desc, const char *path, int flags,
			 char actual_hex[SHA256_HEX_LEN], uint64_t *actual_size);

/* Path of a verified artifact (NAME, ARCH or NULL), from DIR (an artifacts
 * directory the user gives: files named like the URL's last component) or
 * the cache. Verifies size and sha256 (full read). Returns 0, -ENOENT after
 * printing ONE message naming the artifact and the two ways to provide it
 * ("run 'farm-image fetch' with internet access, or pass --artifacts DIR
 * holding FILE"), or -EBADMSG naming the artifact whose hash differs.
 * An artifact the lock does not list is also -ENOENT, with its own message;
 * a file that exists but cannot be read gives its -errno, after one message. */
int artifact_path(const struct artifacts *a, const char *name, const char *arch, const char *dir,
		  char **ret);
/* The same with an explicit cache directory (NULL: artifacts_cache_dir()). */
int artifact_path_in(const struct artifacts *a, const struct artifact *art, const char *dir,
		     const char *cache, char **ret);
