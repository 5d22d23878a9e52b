/* SPDX-License-Identifier: MIT */
/* farm-image flash: the command. Everything is checked before anything is
 * written: the image and its block map, the disk (flash-target.c), its
 * sector size against the board's rule, its size, and with --keep-data
 * that the disk is this node's (its GPT's disk and partition GUIDs are the
 * ones farm derives from the cluster and node names). Then the question,
 * unless --yes; then the disk is made unbootable, written, verified, and
 * made bootable again only once all of it is verified. */
#include "board.h"
#include "config.h"
#include "flash.h"
#include "hash.h"
#include "interrupt.h"
#include "log.h"
#include "usage.h"
#include "util.h"

#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/fs.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>

#define HEAD_LEN (1 * MiB)

struct flash_opts {
	const char *node, *device, *out, *config;
	bool keep_data, yes;
};

struct flash_ctx {
	const struct flash_opts *o;
	struct config config;
	const struct config_node *node;
	const struct board_ops *board;
	char *img, *bmap_path;
	bool zst;
	struct bmap bmap;
	struct flash_source *src;
	struct flash_table image, disk;
	struct flash_target target;
	const struct flash_part *ipart[3], *dpart[3]; /* boot, root, data */
	uint64_t write_start[2], write_end[2];
};

static const char *const part_names[3] = { "boot", "root", "data" };

static void derived_disk_guid(const char *cluster, const char *node, char out[37])
{
	uint8_t u[16];

	uuid_derive(cluster, node, "disk", u);
	uuid_format(u, out);
	for (char *s = out; *s; s++)
		if (*s >= 'a' && *s <= 'f')
			*s = (char)(*s - 'a' + 'A');
}

/* The image, its block map and its GPT; the image must be this node's. */
static int load_image(struct flash_ctx *x)
{
	const struct flash_opts *o = x->o;
	_cleanup_free_ char *zst = xasprintf("%s/%s.img.zst", o->out, o->node);
	char want[37];
	struct stat st;
	int r;

	x->img = xasprintf("%s/%s.img", o->out, o->node);
	x->bmap_path = xasprintf("%s/%s.img.bmap", o->out, o->node);
	if (stat(x->img, &st) < 0) {
		if (stat(zst, &st) < 0)
			return log_error("No image of node '%s' in %s (neither %s.img nor %s.img.zst): "
					 "build it first (farm-image build --node %s --out %s)",
					 o->node, o->out, o->node, o->node, o->node, o->out);
		free(x->img);
		x->img = TAKE_PTR(zst);
		x->zst = true;
	}
	r = bmap_load(x->bmap_path, &x->bmap);
	if (r < 0)
		return r;
	r = flash_source_open(x->img, x->zst, x->bmap.image_size, HEAD_LEN, &x->src);
	if (r < 0)
		return r;
	r = flash_table_of_image(flash_source_head(x->src),
				 (size_t)MIN((uint64_t)HEAD_LEN, x->bmap.image_size),
				 x->bmap.image_size, &x->image);
	if (r < 0)
		return log_error_errno(r, "%s has no readable GPT: it is not a farm image (%m)",
				       x->img);
	derived_disk_guid(x->config.cluster.name.v, o->node, want);
	if (!streq(x->image.disk_id, want))
		return log_error("%s is not the image of node '%s' of cluster '%s': its disk GUID is "
				 "%s, the node's is %s; rebuild it (farm-image build --node %s)",
				 x->img, o->node, x->config.cluster.name.v, x->image.disk_id, want,
				 o->node);
	for (int i = 0; i < 3; i++) {
		x->ipart[i] = flash_table_find(&x->image, part_names[i]);
		if (!x->ipart[i] || x->ipart[i]->partno != (unsigned)i + 1)
			return log_error("%s has no partition %d named '%s': it is not a farm image",
					 x->img, i + 1, part_names[i]);
	}
	return 0;
}

static const char *part_list(const struct flash_table *t, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < t->n_parts && n + 1 < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%u '%s'", i ? ", " : "",
				      t->parts[i].partno,
				      t->parts[i].name[0] ? t->parts[i].name
							  : t->parts[i].type_name);
	return t->n_parts ? buf : "none";
}

/* --keep-data: the disk must be this node's, laid out so that the new boot
 * and root fit where the old ones are. */
static int check_keep_data(struct flash_ctx *x)
{
	const char *dev = x->o->device, *node = x->o->node, *cluster = x->config.cluster.name.v;
	const struct flash_table *d = &x->disk;
	char list[512], guid[37];
	bool farm_names = true;

	if (!d->label[0])
		return log_error("%s carries no partition table: it is not a farm node's disk and "
				 "holds no data to keep; flash it without --keep-data; nothing was "
				 "written",
				 dev);
	if (!streq(d->label, "gpt"))
		return log_error("%s carries a %s partition table, not a farm node's GPT: refusing "
				 "--keep-data; nothing was written",
				 dev, streq(d->label, "dos") ? "DOS (MBR)" : d->label);
	for (int i = 0; i < 3; i++) {
		x->dpart[i] = flash_table_find(d, part_names[i]);
		farm_names = farm_names && x->dpart[i] && x->dpart[i]->partno == (unsigned)i + 1;
	}
	if (!streq(d->disk_id, x->image.disk_id)) {
		for (size_t i = 0; i < x->config.nodes.n; i++) {
			const char *other = config_node_at(&x->config, i)->name.v;
			derived_disk_guid(cluster, other, guid);
			if (streq(guid, d->disk_id))
				return log_error("%s is the disk of node '%s' (cluster '%s'), not of "
						 "'%s': --keep-data keeps a node's own data only; "
						 "nothing was written",
						 dev, other, cluster, node);
		}
		if (farm_names)
			return log_error("%s carries a farm node's layout (boot, root, data) but of "
					 "another cluster, or of a node that is not in %s: its disk "
					 "GUID is %s, node '%s' of cluster '%s' has %s; nothing was "
					 "written",
					 dev, x->o->config, d->disk_id, node, cluster,
					 x->image.disk_id);
		return log_error("%s carries a GPT that is not a farm node's (disk GUID %s; "
				 "partitions: %s): a farm disk has boot, root and data with GUIDs "
				 "derived from the cluster and node names; nothing was written",
				 dev, d->disk_id, part_list(d, list, sizeof(list)));
	}
	for (int i = 0; i < 3; i++) {
		const struct flash_part *ip = x->ipart[i], *dp = x->dpart[i];
		if (!dp)
			return log_error("%s has the disk GUID of node '%s' but no partition %d '%s' "
					 "(partitions: %s); nothing was written",
					 dev, node, i + 1, part_names[i],
					 part_list(d, list, sizeof(list)));
		if (!streq(dp->uuid, ip->uuid))
			return log_error("%s: partition %u '%s' has GUID %s, node '%s' has %s: not this "
					 "node's %s partition; nothing was written",
					 dev, dp->partno, dp->name, dp->uuid, node, ip->uuid,
					 dp->name);
		if (i < 2 && !streq(dp->type, ip->type))
			return log_error("%s: partition %u '%s' is of type %s, the image's is %s (was "
					 "the node's board changed?); reimage it without --keep-data; "
					 "nothing was written",
					 dev, dp->partno, dp->name, dp->type, ip->type);
		if (dp->start != ip->start)
			return log_error("%s: partition %u '%s' starts at byte %" PRIu64
					 ", the image's "
					 "at %" PRIu64
					 ": --keep-data never moves partitions; nothing "
					 "was written",
					 dev, dp->partno, dp->name, dp->start, ip->start);
	}
	if (x->dpart[0]->size != x->ipart[0]->size)
		return log_error("%s: the boot partition has %" PRIu64
				 " bytes, the image's %" PRIu64
				 " (was the board's boot size changed?); nothing was written",
				 dev, x->dpart[0]->size, x->ipart[0]->size);
	if (x->ipart[1]->size > x->dpart[1]->size) {
		char a[32], b[32];
		return log_error("%s: the new root (%s) does not fit the disk's root partition (%s), "
				 "and the data partition follows it (--keep-data never moves it): set "
				 "'root-size: %" PRIu64
				 "MiB' on node '%s' in %s and rebuild, or flash "
				 "without --keep-data (the data is lost); nothing was written",
				 dev, format_size(x->ipart[1]->size, a, sizeof(a)),
				 format_size(x->dpart[1]->size, b, sizeof(b)),
				 x->dpart[1]->size / MiB, node, x->o->config);
	}
	for (int i = 0; i < 2; i++) {
		x->write_start[i] = x->ipart[i]->start;
		x->write_end[i] = x->ipart[i]->start + x->ipart[i]->size;
	}
	return 0;
}

static int confirm(struct flash_ctx *x, int fd)
{
	char line[64];
	const struct config_node *n = x->node;

	log_print(stdout, "About to write node '%s' (%s, %s, cluster '%s') from %s onto\n",
		  n->name.v, n->board.v, n->role.v, x->config.cluster.name.v, x->img);
	flash_target_describe(stdout, &x->target, fd, &x->disk);
	if (x->o->keep_data) {
		printf("Partitions 1 (boot) and 2 (root) are rewritten; 3 (data)");
		for (size_t i = 0; i < x->disk.n_parts; i++)
			if (x->disk.parts[i].partno > 3)
				log_print(stdout, ", %u (%s)", x->disk.parts[i].partno,
					  x->disk.parts[i].name);
		printf(" and the partition table are kept as they are.\n");
	} else
		log_print(stdout, "Everything on %s is overwritten.\n", x->o->device);
	fflush(stdout);
	if (!isatty(STDIN_FILENO))
		return log_error("Not asking: standard input is not a terminal. Pass --yes to write "
				 "%s; nothing was written",
				 x->o->device);
	printf("Type 'yes' to go on: ");
	fflush(stdout);
	if (!fgets(line, sizeof(line), stdin) || !streq(line, "yes\n"))
		return log_error("Not confirmed; nothing was written");
	return 0;
}

static int open_disk(const struct flash_ctx *x, bool *direct)
{
	int fl = O_RDWR | O_CLOEXEC | (x->target.blockdev ? O_EXCL : 0);
	int fd = open(x->o->device, fl | O_DIRECT);

	*direct = fd >= 0;
	if (fd < 0 && errno == EINVAL)
		fd = open(x->o->device, fl);
	if (fd < 0 && errno == EBUSY)
		return log_error("%s is in use: the kernel will not give it exclusively (mounted, or "
				 "held by another program); nothing was written",
				 x->o->device);
	if (fd < 0)
		return log_error_errno(errno, "Cannot open %s for writing: %m; nothing was written",
				       x->o->device);
	return fd;
}

/* The kernel's view of the partitions, after a block device was written. */
static void reread_partitions(const char *dev)
{
	int fd = open(dev, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return;
	if (ioctl(fd, BLKRRPART) < 0 && errno != EINVAL)
		log_warning("The kernel could not read the new partition table of %s (%s): "
			    "unplug and plug it again before using its partitions",
			    dev, strerror(errno));
	close(fd);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int write_disk(struct flash_ctx *x)
{
	const struct flash_opts *o = x->o;
	struct flash_copy c = {
		.bmap = &x->bmap,
		.src = x->src,
		.image = x->img,
		.device = o->device,
		.lss = x->target.lss,
		.blockdev = x->target.blockdev,
		.mode = o->keep_data ? FLASH_KEEP_DATA : FLASH_WHOLE,
		.hold_head = ALIGN_UP(x->image.first_usable, 4096),
		.hold_tail = x->image.end_usable / 4096 * 4096,
		.interrupted = &interrupted,
		.what = o->node,
	};
	_cleanup_close_ int rfd = -1;
	bool direct;
	uint64_t t0;
	char a[32], rate[32];
	int fd, r;

	rfd = open(o->device, O_RDONLY | O_CLOEXEC);
	if (rfd < 0)
		return log_error_errno(errno, "Cannot open %s: %m; nothing was written", o->device);
	r = flash_table_of_disk(rfd, x->target.size, x->target.lss, &x->disk);
	if (r < 0)
		return log_error_errno(r,
				       "Cannot read the partition table of %s: %m; nothing was "
				       "written",
				       o->device);
	if (o->keep_data) {
		r = check_keep_data(x);
		if (r < 0)
			return r;
		memcpy(c.write_start, x->write_start, sizeof(c.write_start));
		memcpy(c.write_end, x->write_end, sizeof(c.write_end));
	}
	fd = open_disk(x, &direct);
	if (fd < 0)
		return fd;
	c.fd = fd;
	if (!o->yes) {
		r = confirm(x, rfd);
		if (r < 0) {
			close(fd);
			return r;
		}
	}

	interrupt_catch(NULL);
	t0 = now_ms();
	/* From here on the disk does not boot until everything is verified. */
	r = o->keep_data ? flash_gpt_mark(fd, &x->disk, true)
			 : flash_gpt_wipe(fd, x->target.size, x->target.lss, c.hold_head,
					  streq(x->disk.label, "gpt") ? &x->disk : NULL);
	if (r < 0) {
		close(fd);
		return log_error_errno(r, "Cannot %s %s: %m; nothing else was written",
				       o->keep_data ? "mark the GPT of"
						    : "wipe the partition table of",
				       o->device);
	}
	r = flash_copy_run(&c);
	if (r >= 0 && o->keep_data) {
		r = flash_gpt_mark(fd, &x->disk, false);
		if (r < 0)
			log_error_errno(r, "Cannot restore the GPT of %s: %m", o->device);
	}
	close(fd);
	if (r < 0)
		return log_error("%s is left unbootable on purpose: %s. Run the same command again "
				 "to finish",
				 o->device,
				 o->keep_data
					 ? "its GPT headers keep the mark of an unfinished reimage "
					   "(its data partition is untouched)"
					 : "it has no valid partition table");
	if (x->target.blockdev)
		reread_partitions(o->device);
	{
		uint64_t ms = MAX(now_ms() - t0, (uint64_t)1);
		log_print(stdout,
			  "%s: %s %s of %s onto %s and verified it in %.1f s (%s/s, %s)%s\n",
			  o->node, o->keep_data ? "reimaged boot and root: wrote" : "wrote",
			  format_size(c.written, a, sizeof(a)), x->img, o->device,
			  (double)ms / 1000, format_size(c.written * 1000 / ms, rate, sizeof(rate)),
			  c.direct ? "direct I/O" : "through the page cache",
			  o->keep_data ? "; data kept" : "");
	}
	return 0;
}

static int flash(const struct flash_opts *o)
{
	struct flash_ctx x = { .o = o };
	const char *why;
	char a[32], b[32];
	int r;

	r = config_load(o->config, &x.config);
	if (r < 0)
		return r;
	x.node = config_find_node(&x.config, o->node);
	if (!x.node) {
		r = log_error("%s: there is no node '%s'", o->config, o->node);
		goto out;
	}
	x.board = board_ops_find(x.node->board.v);
	if (!x.board) {
		r = log_error("%s: node '%s' has an unknown board '%s'", o->config, o->node,
			      x.node->board.v);
		goto out;
	}
	r = load_image(&x);
	if (r < 0)
		goto out;
	r = flash_target_inspect(o->device, &x.target);
	if (r < 0)
		goto out;
	why = board_sector_size_problem(x.board, x.target.lss, x.image.ss);
	if (why) {
		r = log_error("%s has %u-byte logical sectors: %s; nothing was written", o->device,
			      x.target.lss, why);
		goto out;
	}
	if (x.target.size < x.bmap.image_size) {
		r = log_error("%s is too small for the image of node '%s': %s (%" PRIu64 " bytes), "
			      "the image has %s (%" PRIu64 " bytes); nothing was written",
			      o->device, o->node, format_size(x.target.size, a, sizeof(a)),
			      x.target.size, format_size(x.bmap.image_size, b, sizeof(b)),
			      x.bmap.image_size);
		goto out;
	}
	r = write_disk(&x);
out:
	flash_source_free(x.src);
	flash_table_free(&x.image);
	flash_table_free(&x.disk);
	flash_target_free(&x.target);
	bmap_free(&x.bmap);
	free(x.img);
	free(x.bmap_path);
	config_free(&x.config);
	return r;
}

int cmd_flash(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node", required_argument, NULL, 'n' },
		{ "device", required_argument, NULL, 'd' },
		{ "out", required_argument, NULL, 'o' },
		{ "config", required_argument, NULL, 'c' },
		{ "keep-data", no_argument, NULL, 'k' },
		{ "yes", no_argument, NULL, 'y' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct flash_opts o = { .out = "out", .config = DEFAULT_CONFIG };
	int c;

	while ((c = getopt_long(argc, argv, ":n:d:o:c:kyh", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			if (o.node)
				return usage_error("flash", "--node given twice, again as", optarg);
			o.node = optarg;
			break;
		case 'd':
			o.device = optarg;
			break;
		case 'o':
			o.out = optarg;
			break;
		case 'c':
			o.config = optarg;
			break;
		case 'k':
			o.keep_data = true;
			break;
		case 'y':
			o.yes = true;
			break;
		case 'h':
			printf("Usage: farm-image " FLASH_USAGE "\n\n" FLASH_SUMMARY "\n");
			return 0;
		default:
			return usage_option_error("flash", c, argv, opts);
		}
	}
	if (optind < argc)
		return usage_error("flash", "unexpected argument", argv[optind]);
	if (!o.node || !o.device)
		return usage_error("flash", "give --node NAME and --device PATH", NULL);
	return flash(&o) < 0 ? 1 : 0;
}
