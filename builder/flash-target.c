/* SPDX-License-Identifier: MIT */
/* The disk a flash writes, as the kernel shows it (sysfs, mountinfo, swaps,
 * holders), and what must stop a flash before anything is written: a path
 * that is no disk, a partition, a disk with anything of it in use, the disk
 * the running system's root is on. */
#include "flash.h"
#include "fileio.h"
#include "log.h"
#include "util.h"

#include <blkid/blkid.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

#define MAX_DEVS 256

struct devset {
	dev_t dev[MAX_DEVS];
	char *name[MAX_DEVS]; /* "sda2" */
	size_t n;
};

static void devset_free(struct devset *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->name[i]);
	s->n = 0;
}

static ssize_t devset_find(const struct devset *s, dev_t d)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->dev[i] == d)
			return (ssize_t)i;
	return -1;
}

static void devset_add(struct devset *s, dev_t d, const char *name)
{
	if (s->n < MAX_DEVS && devset_find(s, d) < 0) {
		s->dev[s->n] = d;
		s->name[s->n++] = xstrdup(name);
	}
}

/* A small sysfs attribute, without its trailing newline; NULL if absent. */
static char *sysattr(const char *dir, const char *name)
{
	_cleanup_free_ char *path = xasprintf("%s/%s", dir, name);
	char *v = NULL;

	if (read_file(path, &v, NULL, 4096) < 0)
		return NULL;
	v[strcspn(v, "\n")] = 0;
	for (char *e = v + strlen(v); e > v && e[-1] == ' ';)
		*--e = 0;
	return v;
}

static bool parse_devno(const char *s, dev_t *d)
{
	unsigned ma, mi;

	if (!s || sscanf(s, "%u:%u", &ma, &mi) != 2)
		return false;
	*d = makedev(ma, mi);
	return true;
}

/* /sys/dev/block/M:m resolved: /sys/devices/.../block/sda[/sda1]. */
static char *sysdir(dev_t d)
{
	char link[64], real[PATH_MAX];

	snprintf(link, sizeof(link), "/sys/dev/block/%u:%u", major(d), minor(d));
	return realpath(link, real) ? xstrdup(real) : NULL;
}

static const char *base(const char *p)
{
	const char *s = strrchr(p, '/');
	return s ? s + 1 : p;
}

/* The whole disks under the block device D: through the slaves of
 * device-mapper and RAID devices, from a partition to its disk. */
static void whole_disks(dev_t d, struct devset *out, int depth)
{
	_cleanup_free_ char *dir = sysdir(d), *slaves = NULL, *part = NULL;
	DIR *dd;
	struct dirent *de;
	bool any = false;

	if (!dir || depth > 8)
		return;
	slaves = xasprintf("%s/slaves", dir);
	dd = opendir(slaves);
	while (dd && (de = readdir(dd))) {
		_cleanup_free_ char *sd = NULL, *dev = NULL;
		dev_t sdev;
		if (de->d_name[0] == '.')
			continue;
		sd = xasprintf("%s/%s", slaves, de->d_name);
		dev = sysattr(sd, "dev");
		if (parse_devno(dev, &sdev)) {
			whole_disks(sdev, out, depth + 1);
			any = true;
		}
	}
	if (dd)
		closedir(dd);
	if (any)
		return;
	part = sysattr(dir, "partition");
	if (part) {
		_cleanup_free_ char *parent = xasprintf("%s/..", dir),
				    *dev = sysattr(parent, "dev");
		dev_t pd;
		if (parse_devno(dev, &pd)) {
			_cleanup_free_ char *pdir = sysdir(pd);
			devset_add(out, pd, pdir ? base(pdir) : "?");
		}
		return;
	}
	devset_add(out, d, base(dir));
}

/* The mount point of "/" and its device, from mountinfo: st_dev of / is an
 * anonymous device on btrfs and overlayfs, the source names the disk. */
static bool root_device(dev_t *d)
{
	struct stat st;
	_cleanup_fclose_ FILE *f = NULL;
	char line[4096];
	bool found = false;

	if (stat("/", &st) == 0 && major(st.st_dev) != 0) {
		*d = st.st_dev;
		return true;
	}
	f = fopen("/proc/self/mountinfo", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char mp[PATH_MAX], src[PATH_MAX];
		const char *sep = strstr(line, " - ");
		struct stat ss;
		if (sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 || !streq(mp, "/") || !sep ||
		    sscanf(sep + 3, "%*s %4095s", src) != 1)
			continue;
		if (stat(src, &ss) == 0 && S_ISBLK(ss.st_mode)) {
			*d = ss.st_rdev;
			found = true; /* the last mount on / wins */
		}
	}
	return found;
}

/* The disk's own device and its partitions. */
static void disk_members(const char *dir, dev_t disk, struct devset *out)
{
	DIR *dd = opendir(dir);
	struct dirent *de;

	devset_add(out, disk, base(dir));
	while (dd && (de = readdir(dd))) {
		_cleanup_free_ char *sub = NULL, *part = NULL, *dev = NULL;
		dev_t pd;
		if (de->d_name[0] == '.')
			continue;
		sub = xasprintf("%s/%s", dir, de->d_name);
		part = sysattr(sub, "partition");
		dev = part ? sysattr(sub, "dev") : NULL;
		if (parse_devno(dev, &pd))
			devset_add(out, pd, de->d_name);
	}
	if (dd)
		closedir(dd);
}

static int refuse_in_use(const char *path, const struct devset *m)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];

	while (f && fgets(line, sizeof(line), f)) {
		char devno[32], mp[PATH_MAX], src[PATH_MAX] = "";
		const char *sep = strstr(line, " - ");
		dev_t d = 0;
		struct stat st;
		ssize_t i = -1;
		if (sscanf(line, "%*s %*s %31s %*s %4095s", devno, mp) != 2)
			continue;
		if (parse_devno(devno, &d))
			i = devset_find(m, d);
		if (i < 0 && sep && sscanf(sep + 3, "%*s %4095s", src) == 1 && src[0] == '/' &&
		    stat(src, &st) == 0 && S_ISBLK(st.st_mode))
			i = devset_find(m, st.st_rdev);
		if (i >= 0)
			return log_error("%s: /dev/%s is mounted on %s: unmount it first (umount %s); "
					 "nothing was written",
					 path, m->name[i], mp, mp);
	}
	if (f)
		fclose(f);
	f = fopen("/proc/swaps", "re");
	while (f && fgets(line, sizeof(line), f)) {
		char name[PATH_MAX];
		struct stat st;
		ssize_t i;
		if (sscanf(line, "%4095s", name) != 1 || stat(name, &st) < 0 ||
		    !S_ISBLK(st.st_mode))
			continue;
		i = devset_find(m, st.st_rdev);
		if (i >= 0)
			return log_error("%s: /dev/%s is in use as swap: swapoff /dev/%s first; nothing "
					 "was written",
					 path, m->name[i], m->name[i]);
	}
	for (size_t i = 0; i < m->n; i++) {
		_cleanup_free_ char *dir = sysdir(m->dev[i]), *holders = NULL;
		DIR *dd;
		struct dirent *de;
		if (!dir)
			continue;
		holders = xasprintf("%s/holders", dir);
		dd = opendir(holders);
		while (dd && (de = readdir(dd))) {
			_cleanup_free_ char *hd = NULL, *dmname = NULL;
			if (de->d_name[0] == '.')
				continue;
			hd = xasprintf("%s/%s/dm", holders, de->d_name);
			dmname = sysattr(hd, "name");
			closedir(dd);
			return log_error("%s: /dev/%s is held by %s%s%s%s (device-mapper, RAID or LVM): "
					 "stop that first; nothing was written",
					 path, m->name[i], de->d_name, dmname ? " (" : "",
					 dmname ? dmname : "", dmname ? ")" : "");
		}
		if (dd)
			closedir(dd);
	}
	return 0;
}

/* A regular file that backs a loop device is in use as a disk. */
static int refuse_loop_backing(const char *path, const struct stat *st)
{
	DIR *dd = opendir("/sys/block");
	struct dirent *de;
	int r = 0;

	while (dd && r == 0 && (de = readdir(dd))) {
		_cleanup_free_ char *dir = NULL, *file = NULL;
		struct stat bs;
		if (!startswith(de->d_name, "loop"))
			continue;
		dir = xasprintf("/sys/block/%s/loop", de->d_name);
		file = sysattr(dir, "backing_file");
		if (file && stat(file, &bs) == 0 && bs.st_dev == st->st_dev &&
		    bs.st_ino == st->st_ino)
			r = log_error("%s is attached to /dev/%s: detach it first (losetup -d /dev/%s); "
				      "nothing was written",
				      path, de->d_name, de->d_name);
	}
	if (dd)
		closedir(dd);
	return r;
}

static const char *kind_of(mode_t m)
{
	return S_ISDIR(m)    ? "a directory"
	       : S_ISFIFO(m) ? "a FIFO"
	       : S_ISCHR(m)  ? "a character device"
	       : S_ISSOCK(m) ? "a socket"
			     : "not a file";
}

int flash_target_inspect(const char *path, struct flash_target *t)
{
	struct stat st;
	_cleanup_free_ char *dir = NULL, *part = NULL, *ro = NULL, *size = NULL, *lss = NULL;
	struct devset roots = { 0 }, members = { 0 };
	dev_t root;
	int r = 0;

	*t = (struct flash_target){ .path = xstrdup(path), .lss = 512 };
	if (stat(path, &st) < 0) {
		if (errno == ENOENT)
			return log_error("%s does not exist: give the disk (/dev/sdX, /dev/nvmeXn1, "
					 "/dev/mmcblkX) or an existing file; nothing was written",
					 path);
		return log_error_errno(errno, "Cannot look at %s: %m", path);
	}
	if (S_ISREG(st.st_mode)) {
		t->size = (uint64_t)st.st_size;
		return refuse_loop_backing(path, &st);
	}
	if (!S_ISBLK(st.st_mode))
		return log_error("%s is %s, neither a block device nor a regular file%s; nothing was "
				 "written",
				 path, kind_of(st.st_mode),
				 S_ISCHR(st.st_mode) && strstr(path, "nvme")
					 ? " (an NVMe controller: its disk is /dev/nvmeXnY)"
					 : "");
	t->blockdev = true;
	t->rdev = st.st_rdev;
	dir = sysdir(st.st_rdev);
	if (!dir)
		return log_error("%s: the kernel shows no block device %u:%u in /sys/dev/block",
				 path, major(st.st_rdev), minor(st.st_rdev));
	t->sysname = xstrdup(base(dir));
	part = sysattr(dir, "partition");
	if (part) {
		_cleanup_free_ char *parent = xasprintf("%s/..", dir), *pr = realpath(parent, NULL);
		return log_error("%s is partition %s of /dev/%s, not a disk: give the whole disk "
				 "(/dev/%s); nothing was written",
				 path, part, pr ? base(pr) : "?", pr ? base(pr) : "?");
	}
	size = sysattr(dir, "size");
	lss = sysattr(dir, "queue/logical_block_size");
	ro = sysattr(dir, "ro");
	t->size = size ? strtoull(size, NULL, 10) * 512 : 0;
	t->lss = lss ? (unsigned)strtoul(lss, NULL, 10) : 512;
	{
		_cleanup_free_ char *dev = xasprintf("%s/device", dir);
		_cleanup_free_ char *vendor = sysattr(dev, "vendor"),
				    *model = sysattr(dev, "model");
		if (model)
			t->model = vendor && *vendor ? xasprintf("%s %s", vendor, model)
						     : xstrdup(model);
	}
	t->transport = xstrdup(strstr(dir, "/usb")		  ? "usb"
			       : startswith(t->sysname, "nvme")	  ? "nvme"
			       : startswith(t->sysname, "mmcblk") ? "sd/mmc"
			       : startswith(t->sysname, "loop")	  ? "loop"
			       : strstr(dir, "/virtio")		  ? "virtio"
			       : strstr(dir, "/ata")		  ? "sata"
								  : "");
	if (ro && streq(ro, "1"))
		return log_error("%s is read-only (a write-protect switch, or the kernel set it so); "
				 "nothing was written",
				 path);

	if (root_device(&root)) {
		whole_disks(root, &roots, 0);
		if (devset_find(&roots, st.st_rdev) >= 0)
			r = log_error("%s is the disk the running system's root (/) is on: farm-image "
				      "flash never writes it; nothing was written",
				      path);
	}
	if (r == 0) {
		disk_members(dir, st.st_rdev, &members);
		r = refuse_in_use(path, &members);
	}
	devset_free(&roots);
	devset_free(&members);
	return r;
}

void flash_target_free(struct flash_target *t)
{
	free(t->path);
	free(t->sysname);
	free(t->model);
	free(t->transport);
	*t = (struct flash_target){ 0 };
}

/* "ext4 \"LABEL\"" for what libblkid finds at [OFF, OFF+SIZE) of FD. */
static void probe_fs(int fd, uint64_t off, uint64_t size, char *out, size_t len)
{
	blkid_probe pr = blkid_new_probe();
	const char *type = NULL, *label = NULL;

	out[0] = 0;
	if (!pr)
		return;
	if (blkid_probe_set_device(pr, fd, (blkid_loff_t)off, (blkid_loff_t)size) == 0) {
		blkid_probe_enable_superblocks(pr, 1);
		blkid_probe_set_superblocks_flags(pr, BLKID_SUBLKS_TYPE | BLKID_SUBLKS_LABEL);
		blkid_probe_enable_partitions(pr, 0);
		if (blkid_do_safeprobe(pr) == 0) {
			blkid_probe_lookup_value(pr, "TYPE", &type, NULL);
			blkid_probe_lookup_value(pr, "LABEL", &label, NULL);
			snprintf(out, len, "%s%s%s%s", type ? type : "", label ? " \"" : "",
				 label ? label : "", label ? "\"" : "");
		}
	}
	blkid_free_probe(pr);
}

void flash_target_describe(FILE *f, const struct flash_target *t, int fd,
			   const struct flash_table *table)
{
	char a[32], fs[160];

	log_print(f, "%s: %s%s%s, %s (%llu bytes), %u-byte sectors\n", t->path,
		  t->model	? t->model
		  : t->blockdev ? "(no model name)"
				: "a regular file",
		  t->transport && *t->transport ? " on " : "",
		  t->transport && *t->transport ? t->transport : "",
		  format_size(t->size, a, sizeof(a)), (unsigned long long)t->size, t->lss);
	if (!table->label[0]) {
		probe_fs(fd, 0, t->size, fs, sizeof(fs));
		log_print(f, "  no partition table%s%s\n",
			  fs[0] ? "; a whole-disk filesystem: " : "", fs);
		return;
	}
	log_print(f, "  a %s partition table%s%s%s%s\n",
		  streq(table->label, "dos") ? "DOS (MBR)" : "GPT",
		  table->disk_id[0] ? " (disk id " : "", table->disk_id,
		  table->disk_id[0] ? ")" : "",
		  table->marked ? ", marked by an interrupted 'flash --keep-data'" : "");
	for (size_t i = 0; i < table->n_parts; i++) {
		const struct flash_part *p = &table->parts[i];
		probe_fs(fd, p->start, p->size, fs, sizeof(fs));
		log_print(f, "    %2u  %-8s %10s  %s%s%s\n", p->partno, p->name[0] ? p->name : "-",
			  format_size(p->size, a, sizeof(a)),
			  p->type_name[0] ? p->type_name : p->type, fs[0] ? ", " : "", fs);
	}
	if (!table->n_parts)
		log_print(f, "    (no partitions)\n");
}
