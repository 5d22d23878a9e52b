/* SPDX-License-Identifier: MIT */
/* farm-node storage: early at every boot, before local filesystems. Grows
 * the disk's GPT and the data partition (disk.c), then makes sure the data
 * partition is a Btrfs filesystem filling it, with the subvolumes the image
 * mounts; a new @var is seeded from the image's own /var. A no-op once
 * everything is in place. It never formats a partition that carries a
 * filesystem signature, never shrinks, never moves. */
#include "storage.h"
#include "disk.h"
#include "fileio.h"
#include "log.h"
#include "process.h"
#include "steps.h"
#include "subvol.h"

#include <blkid/blkid.h>
#include <btrfsutil.h>
#include <fcntl.h>
#include <linux/btrfs.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>

#define MOUNT_DIR "/run/farm/data"

struct storage_opts {
	const struct nodeconf *node;
	const char *root; /* "" on the node; a directory in tests */
	const char *data; /* the data partition's device */
};

/* The filesystem signature on DEV into TYPE: "btrfs", "" for none. Returns 0,
 * or -errno after one message. */
static int probe_type(const char *dev, char *type, size_t len)
{
	blkid_probe pr = blkid_new_probe_from_filename(dev);
	const char *v = NULL;
	int r;

	if (!pr)
		return log_error_errno(errno ? errno : EIO, "Cannot probe %s: %m", dev);
	blkid_probe_enable_superblocks(pr, 1);
	blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE);
	blkid_probe_enable_partitions(pr, 1);
	r = blkid_do_safeprobe(pr);
	if (r == 1)
		type[0] = 0; /* nothing */
	else if (r == 0 && (blkid_probe_lookup_value(pr, "TYPE", &v, NULL) == 0 ||
			    blkid_probe_lookup_value(pr, "PTTYPE", &v, NULL) == 0))
		snprintf(type, len, "%s", v);
	else {
		blkid_free_probe(pr);
		return log_error("%s carries more than one signature (or cannot be read); "
				 "farm-node will not touch it",
				 dev);
	}
	blkid_free_probe(pr);
	return 0;
}

static int grow_btrfs(const char *mnt)
{
	struct btrfs_ioctl_vol_args args = { 0 };
	_cleanup_close_ int fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (fd < 0)
		return log_error_errno(errno, "Cannot open %s: %m", mnt);
	snprintf(args.name, sizeof(args.name), "max");
	if (ioctl(fd, BTRFS_IOC_RESIZE, &args) < 0)
		return log_error_errno(errno,
				       "Cannot grow the Btrfs filesystem to its partition: %m");
	return 0;
}

/* Copies the image's directory SRC into the new subvolume DST. */
static int seed(const char *src, const char *dst)
{
	_cleanup_free_ char *from = xasprintf("%s/.", src);
	char *argv[] = { "cp", "-a", "--reflink=never", from, (char *)dst, NULL };
	int r = spawn_wait(argv, 0);

	if (r != 0)
		return log_error_errno(r < 0 ? r : EIO,
				       "Cannot copy %s into %s (cp exited with %d)", src, dst, r);
	return 0;
}

/* One subvolume: present, or created (through NAME.new, renamed once
 * complete, so a power cut never leaves a half-seeded one in place). */
static int ensure_subvolume(const char *root, const struct data_subvolume *s, bool *created)
{
	_cleanup_free_ char *path = xasprintf(MOUNT_DIR "/%s", s->name);
	_cleanup_free_ char *tmp = xasprintf(MOUNT_DIR "/%s.new", s->name);
	_cleanup_free_ char *src = xasprintf("%s%s", root, s->mount);
	enum btrfs_util_error e;
	int r;

	*created = false;
	e = btrfs_util_is_subvolume(path);
	if (e == BTRFS_UTIL_OK)
		return 0;
	if (e != BTRFS_UTIL_ERROR_STATFS_FAILED && e != BTRFS_UTIL_ERROR_NOT_SUBVOLUME)
		return log_error("Cannot check subvolume %s: %s", s->name, btrfs_util_strerror(e));
	if (access(path, F_OK) == 0)
		return log_error("%s exists on the data partition but is not a subvolume; "
				 "farm-node will not replace it",
				 s->name);
	/* A leftover of an interrupted first boot. */
	if (btrfs_util_is_subvolume(tmp) == BTRFS_UTIL_OK) {
		log_notice("Removing %s.new, left by an interrupted first boot", s->name);
		e = btrfs_util_delete_subvolume(tmp, BTRFS_UTIL_DELETE_SUBVOLUME_RECURSIVE);
		if (e)
			return log_error("Cannot remove the unfinished %s: %s", tmp,
					 btrfs_util_strerror(e));
	}
	e = btrfs_util_create_subvolume(tmp, 0, NULL, NULL);
	if (e)
		return log_error("Cannot create subvolume %s: %s", s->name, btrfs_util_strerror(e));
	if (s->seed) {
		log_info("Seeding subvolume %s from the image's %s", s->name, s->mount);
		r = seed(src, tmp);
		if (r < 0)
			return r;
	}
	sync();
	if (rename(tmp, path) < 0)
		return log_error_errno(errno, "Cannot rename %s to %s: %m", tmp, path);
	r = fsync_dir(MOUNT_DIR);
	if (r < 0)
		return log_error_errno(r, "Cannot sync %s: %m", MOUNT_DIR);
	log_info("Created subvolume %s", s->name);
	*created = true;
	return 0;
}

int step_storage(struct farm_node *n, char *detail_out, size_t detail_len)
{
	_cleanup_free_ char *disk = NULL, *state = NULL, *data_default = NULL;
	struct storage_opts opts = { .node = &n->conf, .root = n->root, .data = n->data };
	const struct storage_opts *o = &opts;
	struct disk_result dr;
	unsigned partno;
	char type[64], detail[512];
	bool formatted = false;
	size_t created = 0;
	int r;

	if (!opts.data)
		opts.data = data_default =
			xasprintf("/dev/disk/by-partuuid/%s", n->conf.data_partuuid.v);
	r = disk_of_partition(o->data, &disk, &partno);
	if (r < 0)
		return r;
	r = disk_grow(disk, partno, o->node->ceph_size.v, &dr);
	if (r < 0)
		return r;
	if (dr.changed)
		log_info("Grew the data partition of %s to %llu MiB%s", disk,
			 (unsigned long long)(dr.data_size / MiB),
			 dr.ceph_size ? " (and made the Ceph partition)" : "");

	r = probe_type(o->data, type, sizeof(type));
	if (r < 0)
		return r;
	if (type[0] && !streq(type, "btrfs"))
		return log_error("The data partition %s holds a %s signature. farm-node never formats "
				 "a partition that may hold data: if it is really to be replaced, "
				 "erase it by hand (wipefs -a %s) and reboot",
				 o->data, type, o->data);
	if (!type[0]) {
		char *argv[] = { "mkfs.btrfs", "-q", "-L", "farm-data", (char *)o->data, NULL };
		log_info("Creating the Btrfs filesystem on %s", o->data);
		r = spawn_wait(argv, 0);
		if (r != 0)
			return log_error_errno(r < 0 ? r : EIO, "mkfs.btrfs %s failed (%d)",
					       o->data, r);
		formatted = true;
	}

	r = mkdir_p(MOUNT_DIR, 0700);
	if (r < 0)
		return log_error_errno(r, "Cannot create " MOUNT_DIR ": %m");
	if (mount(o->data, MOUNT_DIR, "btrfs", MS_NOATIME | MS_NODEV | MS_NOSUID, "subvolid=5") < 0)
		return log_error_errno(errno, "Cannot mount %s: %m", o->data);
	r = grow_btrfs(MOUNT_DIR);
	for (size_t i = 0; r >= 0 && i < n_data_subvolumes; i++) {
		bool c;
		r = ensure_subvolume(o->root, &data_subvolumes[i], &c);
		created += c;
	}
	if (r >= 0) {
		/* The journal of this step lives where /var will be. */
		state = xasprintf(MOUNT_DIR "/@var/lib/farm");
		snprintf(detail, sizeof(detail),
			 "disk %s (%llu MiB), data %llu MiB%s, %s, %zu subvolumes created", disk,
			 (unsigned long long)(dr.disk_bytes / MiB),
			 (unsigned long long)(dr.data_size / MiB),
			 dr.ceph_size ? ", ceph partition" : "",
			 formatted ? "btrfs created" : "btrfs kept", created);
		r = mkdir_p(state, 0700);
		if (r >= 0)
			r = journal_write(state, "steps", "storage", NULL, detail);
		if (r < 0)
			log_error_errno(r, "Cannot record the storage step: %m");
		else
			log_info("Storage ready: %s", detail);
		snprintf(detail_out, detail_len, "%s", detail);
	}
	if (umount(MOUNT_DIR) < 0 && r >= 0)
		r = log_error_errno(errno, "Cannot unmount " MOUNT_DIR ": %m");
	return r;
}
