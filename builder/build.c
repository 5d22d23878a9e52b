/* SPDX-License-Identifier: MIT */
/* A node's build, phase by phase: load (build-load.c), plan, stream,
 * finish the filesystems, derive the outputs, commit. */
#include "build-internal.h"
#include "derive.h"
#include "basefit.h"
#include "ext4.h"
#include "fat.h"
#include "fileio.h"
#include "gpt.h"
#include "log.h"
#include "manifest.h"
#include "nodevars.h"
#include "output.h"
#include "overlay.h"
#include "personalize.h"
#include "plan.h"
#include "power.h"
#include "secrets.h"
#include "source.h"
#include "stack-render.h"
#include "stream.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int mkdir_parents(struct ext4_writer *w, const char *path, time_t epoch, const char *origin)
{
	_cleanup_free_ char *dir = NULL;
	uint32_t mode = 0;
	int r = ext4_mkdir_parents(w, path, epoch, &dir, &mode);

	if (r >= 0)
		return 0;
	if (mode)
		return log_error("%s: /%s in the base rootfs is not a directory", origin, dir);
	return log_error_errno(r, "%s: %s", origin, ext4_last_error(w));
}

/* The plan's own files, on top of the base. */
static int write_plan_files(const struct plan *p, struct ext4_writer *w)
{
	_cleanup_free_ uint8_t *buf = xmalloc(1 << 20);

	for (size_t i = 0; i < p->n_files; i++) {
		const struct plan_file *f = &p->files[i];
		struct ext4_meta m = { .uid = f->uid, .gid = f->gid, .mtime = p->epoch };
		int r;
		if (f->kind == PLAN_ABSENT)
			continue;
		r = mkdir_parents(w, f->path, p->epoch, f->origin);
		if (r < 0)
			return r;
		if (f->kind == PLAN_DIR) {
			uint32_t mode;
			if (ext4_lookup(w, f->path, &mode) == 0 && S_ISDIR(mode))
				continue; /* the base's own directory stays as it is */
			m.mode = S_IFDIR | f->mode;
			r = ext4_mkdir(w, f->path, &m);
		} else if (f->kind == PLAN_SYMLINK) {
			m.mode = S_IFLNK | 0777;
			r = ext4_symlink(w, f->path, f->target, &m);
		} else if (f->source) {
			_cleanup_close_ int fd = open_regular(AT_FDCWD, f->source, 0, false);
			struct stat st;
			uint64_t pos = 0;
			if (fd < 0)
				return log_error_errno(fd, "Cannot read %s: %s", f->source,
						       open_error(fd));
			if (fstat(fd, &st) < 0)
				return log_error_errno(errno, "Cannot read %s: %m", f->source);
			m.mode = S_IFREG | f->mode;
			r = ext4_file_begin(w, f->path, &m, (uint64_t)st.st_size, NULL, 0);
			while (r >= 0 && pos < (uint64_t)st.st_size) {
				ssize_t n = read(fd, buf, 1 << 20);
				if (n <= 0)
					return log_error_errno(n < 0 ? errno : EIO,
							       "Cannot read %s: %m", f->source);
				r = ext4_file_write(w, pos, buf, (size_t)n);
				pos += (uint64_t)n;
			}
			if (r >= 0)
				r = ext4_file_end(w);
		} else {
			m.mode = S_IFREG | f->mode;
			r = ext4_file_begin(w, f->path, &m, f->size, NULL, 0);
			if (r >= 0 && f->size)
				r = ext4_file_write(w, 0, f->data, f->size);
			if (r >= 0)
				r = ext4_file_end(w);
		}
		if (r < 0)
			return log_error_errno(r, "%s: cannot add /%s to the root filesystem: %s",
					       f->origin, f->path, ext4_last_error(w));
	}
	return 0;
}

/* The boot partition's mount point (/boot/firmware, /efi) exists in the
 * read-only root even when the base has no such directory. */
static int ensure_mount_point(struct ext4_writer *w, const char *mount, time_t epoch)
{
	const char *path = mount + strspn(mount, "/");
	struct ext4_meta m = { .mode = S_IFDIR | 0755, .mtime = epoch };
	uint32_t mode;
	int r;

	if (ext4_lookup(w, path, &mode) == 0)
		return S_ISDIR(mode) ? 0
				     : log_error("The base rootfs has a file at %s, where the boot "
						 "partition is mounted",
						 mount);
	r = mkdir_parents(w, path, epoch, mount);
	if (r >= 0)
		r = ext4_mkdir(w, path, &m);
	return r < 0 ? log_error_errno(r, "Cannot create the mount point %s: %s", mount,
				       ext4_last_error(w))
		     : 0;
}

static int zero_range(int fd, uint64_t off, uint64_t len)
{
	static const uint8_t zeros[1 << 16];

	while (len) {
		size_t n = (size_t)MIN(len, (uint64_t)sizeof(zeros));
		int r = pwrite_full(fd, zeros, n, off);
		if (r < 0)
			return r;
		off += n;
		len -= n;
	}
	return 0;
}

/* What the outputs need on their disk at least, known before anything is
 * written: the files the node adds, the data partition's zeros, and about
 * the base's size (an archive's content is at least about its size; a
 * disk image's used part is not known before it is read). */
static uint64_t estimate_need(const struct plan *p, const char *base)
{
	uint64_t need = p->part[PART_DATA].size;
	struct stat st;
	int fd;

	for (size_t i = 0; i < p->n_files; i++) {
		const struct plan_file *f = &p->files[i];
		if (f->source && stat(f->source, &st) == 0)
			need += (uint64_t)st.st_size;
		else if (!f->source)
			need += f->size;
	}
	/* What is not a regular file is refused, with its message, when the
	 * stream opens it. */
	fd = open_regular(AT_FDCWD, base, 0, false);
	if (fd >= 0) {
		if (fstat(fd, &st) == 0 && !source_image_probe(fd))
			need += (uint64_t)st.st_blocks * 512 / 10 * 9;
		close(fd);
	}
	return need;
}

/* The image's file and the outputs beside it, before anything is written:
 * the node's lock, the targets and the room on the disk checked. */
static int open_outputs(const struct build_opts *o, const struct plan *p, const char *name,
			const char *base, struct outputs **ret)
{
	struct outputs_params op = {
		.dir = o->out_dir,
		.node = name,
		.final = p->out,
		.need = estimate_need(p, base),
		.need_what = "about the base's size, the files the node adds and the data "
			     "partition",
	};
	int r = outputs_open(&op, ret);

	if (r >= 0 && ftruncate(outputs_fd(*ret, OUT_IMG), (off_t)p->disk_size) < 0)
		r = outputs_write_failed(*ret, OUT_IMG, -errno);
	return r;
}

/* After the content: the filesystems' metadata, the root cut to its size,
 * the data partition and the GPT. Then the whole image is final, and its
 * writeback to the disk starts while the derived outputs are computed. */
static int finish_image(struct outputs *out, struct plan *p, const char *name,
			struct fat_writer *fat, struct ext4_writer *ext4, uint64_t *root_used)
{
	int img = outputs_fd(out, OUT_IMG);
	struct gpt_label label = { .fd = -1 };
	uint64_t root_size = 0;
	int r;

	r = fat_finish(fat);
	if (r < 0)
		return r == -ENOSPC || r == -EDQUOT
			       ? outputs_write_failed(out, OUT_IMG, r)
			       : log_error_errno(r, "%s: cannot write the boot filesystem: %m",
						 name);
	*root_used = ext4_used_bytes(ext4);
	r = ext4_finish(ext4, p->root_headroom, &root_size);
	if (r < 0)
		return ext4_host_error(ext4) < 0
			       ? outputs_write_failed(out, OUT_IMG, ext4_host_error(ext4))
			       : log_error_errno(r, "%s: cannot finish the root filesystem: %s",
						 name, ext4_last_error(ext4));
	/* The root now knows its size: place the data partition after it, cut
	 * the provisional space off, and write the data partition's zeros
	 * explicitly (they are what a flash must put on the disk, so that no
	 * old filesystem signature survives there). */
	plan_place(p, root_size);
	if (ftruncate(img, (off_t)p->disk_size) < 0)
		return outputs_write_failed(out, OUT_IMG, -errno);
	r = zero_range(img, p->part[PART_DATA].start, p->part[PART_DATA].size);
	if (r < 0)
		return outputs_write_failed(out, OUT_IMG, r);
	r = gpt_make(outputs_name(out, OUT_IMG), p, &label);
	if (r < 0)
		return r;
	r = gpt_copy(&label, img, p);
	close(label.fd);
	if (r < 0)
		return outputs_write_failed(out, OUT_IMG, r);
	outputs_writeback(out, OUT_IMG);
	return 0;
}

/* Once the base has streamed: its facts complete the variables; templates
 * are rendered and the base's captured files transformed, in the plan. */
static int render_plan(struct plan *p, struct vars *v, struct capture *caps, size_t n_caps,
		       const char *base)
{
	struct base_facts facts;
	const struct capture *status = NULL;
	int r;

	for (size_t i = 0; i < n_caps; i++)
		if (streq(caps[i].path, "var/lib/dpkg/status") && caps[i].found)
			status = &caps[i];
	r = status ? base_facts_from_dpkg((const char *)status->data, status->size, &facts)
		   : -ENOENT;
	if (r == -ENOENT)
		return log_error("%s: the base has no openssh-server (according to "
				 "/var/lib/dpkg/status); nodes are reached over SSH: add it to the "
				 "base",
				 base);
	if (r < 0)
		return log_error("%s: cannot read openssh-server's version in /var/lib/dpkg/status",
				 base);
	r = node_vars_add_facts(v, &facts);
	base_facts_free(&facts);
	if (r < 0)
		return r;

	for (size_t i = 0; i < p->n_files; i++) {
		struct plan_file *f = &p->files[i];
		if (f->kind == PLAN_TEMPLATE) {
			char *out;
			r = template_render(f->origin, (const char *)f->data, v, &out);
			if (r < 0)
				return r;
			free(f->data);
			f->data = (uint8_t *)out;
			f->size = strlen(out);
			f->kind = PLAN_FILE;
		} else if (f->kind == PLAN_TRANSFORM) {
			const struct capture *c = NULL;
			uint8_t *out;
			size_t len;
			for (size_t j = 0; j < n_caps; j++)
				if (streq(caps[j].path, f->path) && caps[j].found)
					c = &caps[j];
			r = personalize_transform(f->transform, f->path, c ? c->data : NULL,
						  c ? c->size : 0, v, p->epoch, &out, &len);
			if (r < 0)
				return r;
			free(f->data);
			f->data = out;
			f->size = len;
			f->kind = PLAN_FILE;
		}
	}
	return 0;
}

static void hash_or_empty(const char *path, char out[SHA256_HEX_LEN])
{
	if (sha256_file(path, out) < 0)
		out[0] = 0;
}

/* Plan: pure, and every template checked before anything is written. */
static int build_plan(struct build *bd)
{
	struct plan *p = &bd->plan;
	unsigned problems = 0;
	int r;

	bd->in = (struct plan_input){ .config = bd->c,
				      .node = bd->n,
				      .board = bd->b,
				      .overlays = bd->overlays,
				      .n_overlays = bd->n_overlays,
				      .modes = bd->modes,
				      .n_modes = bd->n_modes,
				      .out_dir = bd->o->out_dir,
				      .epoch = bd->o->epoch };
	r = plan_make(&bd->in, p);
	if (r >= 0)
		r = personalize_plan(&bd->in, &bd->pi, p);
	if (r < 0)
		return r;
	basefit_plan(p);
	node_vars(bd->c, bd->n, bd->b, p, &bd->vars);
	for (size_t i = 0; i < p->n_files; i++)
		if (p->files[i].kind == PLAN_TEMPLATE)
			problems += template_check(p->files[i].origin,
						   (const char *)p->files[i].data, &bd->vars);
	if (problems)
		return -EINVAL;
	/* The stack, rendered into the control plane's image. */
	if (bd->n->role.i == ROLE_SERVER && bd->o->stack) {
		struct vars sv = { 0 };
		stack_vars(bd->c, &sv);
		r = stack_render(bd->c, bd->o->stack, &sv, bd->na.charts, bd->na.n_charts, p);
		vars_free(&sv);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < p->n_files; i++) {
		pathmap_put(bd->replaced, p->files[i].path, 1);
		bd->secret |= p->files[i].secret;
	}
	return 0;
}

/* Write: the outputs opened, the filesystems created, the base streamed
 * into them. */
static int build_stream(struct build *bd)
{
	const struct plan *p = &bd->plan;
	int r = open_outputs(bd->o, p, bd->name, bd->base, &bd->out);

	if (r < 0)
		return r;
	{
		struct fat_params fp = {
			.offset = p->part[PART_BOOT].start,
			.size = p->part[PART_BOOT].size,
			.serial = p->boot_serial,
			.label = p->boot_label,
			.mtime = p->epoch,
		};
		r = fat_new(outputs_fd(bd->out, OUT_IMG), &fp, &bd->fat);
		if (r < 0)
			return log_error_errno(r, "%s: cannot create the boot filesystem: %m",
					       bd->name);
	}
	{
		struct ext4_params ep = {
			.path = outputs_path(bd->out, OUT_IMG),
			.fd = outputs_fd(bd->out, OUT_IMG),
			.offset = p->part[PART_ROOT].start,
			.size = p->root_size,
			.shrink = p->root_from_content,
			.label = "root",
			.epoch = p->epoch,
		};
		memcpy(ep.uuid, p->root_fs_uuid, 16);
		memcpy(ep.hash_seed, p->root_hash_seed, 16);
		r = ext4_new(&ep, &bd->ext4);
		if (r < 0)
			return log_error_errno(r, "%s: cannot create the root filesystem: %s",
					       bd->name, ext4_last_error(bd->ext4));
	}
	{
		struct stream_sink sink = {
			.ext4 = bd->ext4,
			.fat = bd->fat,
			.board = bd->b,
			.replaced_paths = bd->replaced,
			.captures = bd->caps,
			.n_captures = bd->n_caps,
			.boot_files = bd->boot_files,
			.epoch = p->epoch,
			.interrupted = bd->o->interrupted,
			.progress = &bd->prog,
			.out = bd->out,
		};
		progress_init(&bd->prog, bd->name);
		r = stream_base(bd->base, &sink, &bd->stats);
		if (r < 0)
			return r;
	}
	bd->t_stream = seconds();
	if (bd->stats.host_keys)
		log_notice("%s: left out the base's %llu SSH host key files: each node makes its "
			   "own at first boot",
			   bd->name, (unsigned long long)bd->stats.host_keys);
	if (bd->stats.left_out)
		log_notice("%s: %llu entries below %s in the base are not listed in board %s's "
			   "profile and were left out",
			   bd->name, (unsigned long long)bd->stats.left_out, bd->b->boot.mount.v,
			   bd->b->name.v);
	return 0;
}

/* Write: the build's own files on top of the base and the board's boot
 * files, then the filesystems, the data partition and the GPT made final. */
static int build_finish_fs(struct build *bd)
{
	const struct board *b = bd->b;
	struct board_finish bf = { .board = b,
				   .plan = &bd->plan,
				   .vars = &bd->vars,
				   .fat = bd->fat,
				   .boot_files = bd->boot_files,
				   .base = bd->base };
	int r = power_check_base(bd->c, bd->ext4, bd->base);

	if (r >= 0)
		r = basefit_finish(&bd->plan, bd->ext4, b, &bd->vars, bd->base);
	if (r >= 0)
		r = render_plan(&bd->plan, &bd->vars, bd->caps, bd->n_caps, bd->base);
	if (r >= 0)
		r = write_plan_files(&bd->plan, bd->ext4);
	if (r >= 0)
		r = ensure_mount_point(bd->ext4, b->boot.mount.v, bd->plan.epoch);
	if (r >= 0)
		r = b->ops->finish(&bf);
	if (r >= 0)
		r = finish_image(bd->out, &bd->plan, bd->name, bd->fat, bd->ext4, &bd->root_used);
	if (r < 0)
		return r;
	bd->t_fs = seconds();
	return bd->o->interrupted && *bd->o->interrupted ? -EINTR : 0;
}

/* The derived outputs: bmap and zst of the final image, then the manifest. */
static int build_derive(struct build *bd)
{
	const struct build_opts *o = bd->o;
	struct manifest man = {
		.plan = &bd->plan,
		.config = bd->c,
		.node = bd->n,
		.board = bd->b,
		.config_file.path = o->config_path,
		.board_file.path = bd->b->path,
		.base.path = bd->base,
		.artifacts = bd->na.used,
		.n_artifacts = bd->na.n_used,
		.rootfs = &bd->stats,
		.root_used = bd->root_used,
		.out = &bd->res,
	};
	int r;

	bd->img_name = xasprintf("%s.img", bd->name);
	progress_init(&bd->prog, "compress");
	r = derive_outputs(bd->out, bd->img_name, bd->plan.disk_size, o->interrupted, &bd->prog,
			   &bd->res);
	if (r < 0)
		return r;
	hash_or_empty(o->config_path, man.config_file.sha256);
	hash_or_empty(bd->b->path, man.board_file.sha256);
	memcpy(man.base.sha256, bd->stats.sha256, sizeof(bd->stats.sha256));
	r = manifest_write(outputs_fd(bd->out, OUT_JSON), &man);
	return r < 0 ? outputs_write_failed(bd->out, OUT_JSON, r) : 0;
}

/* The outputs given their names, all at once, and what was written said. */
static int build_commit(struct build *bd)
{
	const struct plan *p = &bd->plan;
	char a[32], bb[32], cc[32];
	int r;

	if (bd->o->interrupted && *bd->o->interrupted)
		return -EINTR;
	/* An image with secrets in it is for its owner's eyes only. */
	r = outputs_commit(bd->out, bd->secret ? 0600 : 0644);
	if (r < 0)
		return r;
	if (bd->secret)
		log_notice("%s: the image carries secrets (the join token, the node password%s): "
			   "its files are mode 0600; keep them private",
			   bd->name,
			   bd->n->role.i == ROLE_SERVER ? ", the cluster CA keys"
			   : bd->pi.power_key		? ", its power-cycle key"
							: "");
	log_debug("%s: %.2f s: stream %.2f s (%llu entries, %s), metadata and GPT %.2f s, "
		  "bmap and zst %.2f s",
		  bd->name, seconds() - bd->t0, bd->t_stream - bd->t0,
		  (unsigned long long)bd->stats.entries, bd->base, bd->t_fs - bd->t_stream,
		  seconds() - bd->t_fs);
	log_print(stdout, "%s: wrote %s (%s, %s of data), %s.bmap, %s (%s), %s\n", bd->name,
		  p->out[OUT_IMG], format_size(p->disk_size, a, sizeof(a)),
		  format_size(bd->res.mapped_bytes, bb, sizeof(bb)), p->out[OUT_IMG],
		  p->out[OUT_ZST], format_size(bd->res.zst_size, cc, sizeof(cc)), p->out[OUT_JSON]);
	return 0;
}

static void build_free(struct build *bd)
{
	fat_free(bd->fat);
	ext4_free(bd->ext4);
	outputs_free(bd->out);
	overlay_free(bd->overlays, bd->n_overlays);
	overlay_modes_free(bd->modes, bd->n_modes);
	personalize_captures_reset(bd->caps, bd->n_caps);
	pathmap_free(bd->boot_files);
	vars_free(&bd->vars);
	secrets_free(bd->sec);
	node_artifacts_free(&bd->na);
	free(bd->base_cached);
	free(bd->farm_node);
	pathmap_free(bd->replaced);
	plan_free(&bd->plan);
	free(bd->img_name);
}

/* The phases of DESIGN.md, in order; nothing is written before the plan is
 * complete, nothing named before every output is. */
int build_node(const struct build_opts *o, const struct config *c, const struct config_node *n,
	       const struct board *b)
{
	struct build bd = { .o = o,
			    .c = c,
			    .n = n,
			    .b = b,
			    .name = n->name.v,
			    .t0 = seconds(),
			    .replaced = pathmap_new(),
			    .boot_files = pathmap_new() };
	int r;

	bd.caps = personalize_captures(&bd.n_caps);
	r = build_load(&bd);
	if (r >= 0)
		r = build_plan(&bd);
	if (r >= 0)
		r = build_stream(&bd);
	if (r >= 0)
		r = build_finish_fs(&bd);
	if (r >= 0)
		r = build_derive(&bd);
	if (r >= 0)
		r = build_commit(&bd);
	if (r == -EINTR)
		log_error("%s: interrupted; no output was written", bd.name);
	build_free(&bd);
	return r;
}
