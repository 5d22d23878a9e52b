/* SPDX-License-Identifier: MIT */
#include "fileio.h"
#include "build.h"
#include "artifacts.h"
#include "base.h"
#include "ext4.h"
#include "fat.h"
#include "gpt.h"
#include "log.h"
#include "derive.h"
#include "manifest.h"
#include "nodevars.h"
#include "output.h"
#include "overlay.h"
#include "personalize.h"
#include "plan.h"
#include "stream.h"
#include "secrets.h"
#include "source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>

static double seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int mkdir_parents(struct ext4_writer *w, const char *path, time_t epoch,
			 const char *origin)
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
		int r = mkdir_parents(w, f->path, p->epoch, f->origin);
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
						 "partition is mounted", mount);
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
		.final = { p->out_img, p->out_bmap, p->out_zst, p->out_json },
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
	uint64_t root_size = 0;
	int r;

	r = fat_finish(fat);
	if (r < 0)
		return r == -ENOSPC || r == -EDQUOT
			       ? outputs_write_failed(out, OUT_IMG, r)
			       : log_error_errno(r, "%s: cannot write the boot filesystem: %m", name);
	*root_used = ext4_used_bytes(ext4);
	r = ext4_finish(ext4, p->root_headroom, &root_size);
	if (r < 0)
		return ext4_host_error(ext4) < 0
			       ? outputs_write_failed(out, OUT_IMG, ext4_host_error(ext4))
			       : log_error_errno(r, "%s: cannot finish the root filesystem: %s", name,
						 ext4_last_error(ext4));
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
	r = gpt_write(outputs_path(out, OUT_IMG), outputs_name(out, OUT_IMG), p);
	if (r < 0)
		return r;
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
	r = status ? base_facts_from_dpkg((const char *)status->data, status->size, &facts) : -ENOENT;
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

/* The chart each stack component is installed from. */
static const struct {
	const char *component, *chart;
} stack_charts[] = {
	{ "cilium", "cilium" },
	{ "coredns", "coredns" },
	{ "cert-manager", "cert-manager" },
	{ "trust-manager", "trust-manager" },
	{ "traefik", "traefik" },
	{ "argocd", "argo-cd" },
	{ "rook-ceph", "rook-ceph" },
	{ "cloudnative-pg", "cloudnative-pg" },
	{ "monitoring", "kube-prometheus-stack" },
};

struct node_artifacts {
	struct artifacts lock;
	char *k3s, *airgap, *airgap_name;
	struct blob *charts;
	size_t n_charts;
};

static void node_artifacts_free(struct node_artifacts *na)
{
	artifacts_free(&na->lock);
	free(na->k3s);
	free(na->airgap);
	free(na->airgap_name);
	for (size_t i = 0; i < na->n_charts; i++) {
		free((char *)na->charts[i].name);
		free((uint8_t *)na->charts[i].data);
	}
	free(na->charts);
}

/* Finds and verifies every artifact the node needs; reports all that are
 * missing or wrong before failing. */
static int load_artifacts(const struct build_opts *o, const struct config *c,
			  const struct config_node *n, const struct board *b,
			  struct node_artifacts *na)
{
	const struct artifact *k3s;
	unsigned failed = 0;
	int r;

	r = artifacts_load(o->lock, &na->lock);
	if (r < 0)
		return r;
	k3s = artifacts_find(&na->lock, "k3s", b->arch.v);
	if (k3s && k3s->version && !streq(k3s->version, c->k3s.version.v))
		return log_error("%s asks for k3s %s, but %s pins %s: change one of them",
				 o->config_path, c->k3s.version.v, o->lock, k3s->version);
	failed += artifact_path(&na->lock, "k3s", b->arch.v, o->artifacts, &na->k3s) < 0;
	failed += artifact_path(&na->lock, "k3s-airgap-images", b->arch.v, o->artifacts,
				&na->airgap) < 0;
	{
		const struct artifact *a = artifacts_find(&na->lock, "k3s-airgap-images", b->arch.v);
		if (a)
			na->airgap_name = artifact_file_name(a);
	}
	if (streq(n->role.v, "server")) {
		na->charts = xcalloc(c->stack.n, sizeof(*na->charts));
		for (size_t i = 0; i < c->stack.n; i++) {
			const char *chart = NULL;
			const struct artifact *a;
			char *path = NULL;
			for (size_t j = 0; j < ELEMENTSOF(stack_charts); j++)
				if (streq(stack_charts[j].component, c->stack.v[i]))
					chart = stack_charts[j].chart;
			a = chart ? artifacts_find(&na->lock, chart, NULL) : NULL;
			if (!a) {
				log_error("%s: no chart '%s' for stack component '%s': add it to the "
					  "lock with its URL and sha256, or remove the component from "
					  "the stack",
					  o->lock, chart ? chart : "?", c->stack.v[i]);
				failed++;
				continue;
			}
			if (artifact_path(&na->lock, chart, NULL, o->artifacts, &path) < 0) {
				failed++;
				continue;
			}
			na->charts[na->n_charts++] =
				(struct blob){ artifact_file_name(a), (const uint8_t *)path, 0 };
		}
	}
	return failed ? -ENOENT : 0;
}

/* farm-node for the board's architecture: DIR/farm-node when it is this
 * machine's, else DIR/<qemu arch>/farm-node (built by the cross compiler). */
static int find_farm_node(const char *dir, const struct board *b, char **ret)
{
	struct utsname u;
	bool native;

	uname(&u);
	native = (streq(u.machine, "x86_64") && streq(b->arch.v, "amd64")) ||
		 (streq(u.machine, "aarch64") && streq(b->arch.v, "arm64"));
	*ret = native ? xasprintf("%s/farm-node", dir)
		      : xasprintf("%s/%s/farm-node", dir, b->ops->qemu_arch);
	if (access(*ret, X_OK) < 0)
		return log_error("farm-node for %s is not built (%s): run make%s", b->arch.v, *ret,
				 native ? "" : "; it needs the cross compiler and the arm64 -dev "
					       "packages that scripts/install-deps installs");
	return 0;
}

static void hash_or_empty(const char *path, char out[SHA256_HEX_LEN])
{
	if (sha256_file(path, out) < 0)
		out[0] = 0;
}

int build_node(const struct build_opts *o, const struct config *c, const struct config_node *n,
	       const struct board *b)
{
	struct outputs *out = NULL;
	struct overlay_entry *overlays = NULL;
	struct overlay_mode *modes = NULL;
	size_t n_overlays = 0, n_modes = 0, n_caps = 0;
	struct capture *caps = personalize_captures(&n_caps);
	struct personal_inputs pi = { 0 };
	struct secrets *sec = NULL;
	struct blob *ca = NULL, power_key, power_crt, server_ca;
	struct node_artifacts na = { 0 };
	const char *base;
	char *base_cached = NULL, *farm_node = NULL;
	struct pathmap *boot_files = pathmap_new();
	struct vars vars = { 0 };
	bool secret = false;
	struct plan plan = { 0 };
	struct plan_input in = { .config = c, .node = n, .board = b, .out_dir = o->out_dir,
				 .epoch = o->epoch };
	struct pathmap *replaced = pathmap_new();
	struct fat_writer *fat = NULL;
	struct ext4_writer *ext4 = NULL;
	struct rootfs_stats stats;
	struct derive_result res = { 0 };
	struct manifest man = { 0 };
	struct progress prog;
	const char *name = n->name.v;
	uint64_t root_used = 0;
	char *img_name = NULL;
	double t0 = seconds(), t_stream = 0, t_fs = 0;
	int r;

	/* Load: everything the write needs must be there before anything is
	 * created; whatever is missing is named, all of it, at once. */
	{
		unsigned missing = 0;
		base = o->base;
		if (!base) {
			base = base_cached = base_cached_path(c->dir, b->name.v);
			if (!base) {
				log_error("%s: no base rootfs for board %s: build it with 'farm-image "
					  "rootfs --board %s' (needs Debian's archive%s), or pass --base "
					  "with a rootfs archive%s",
					  name, b->name.v, b->name.v,
					  b->ops->base_archives ? b->ops->base_archives : "",
					  b->ops->base_other ? b->ops->base_other : "");
				missing++;
			}
		} else if (access(base, R_OK) < 0) {
			log_error_errno(errno, "Cannot read the base rootfs %s: %m", base);
			missing++;
		}
		const char *features[OVERLAY_MAX_FEATURES];
		size_t n_features = overlay_features(c, features, ELEMENTSOF(features));
		r = overlay_scan(o->overlays, b->name.v, n->role.v, features, n_features, &overlays,
				 &n_overlays);
		if (r >= 0)
			r = overlay_read_modes(o->overlays, &modes, &n_modes);
		missing += r < 0;
		missing += secrets_load(o->secrets, c, &sec) < 0;
		missing += load_artifacts(o, c, n, b, &na) < 0;
		missing += find_farm_node(o->farm_node, b, &farm_node) < 0;
		if (missing) {
			r = -ENOENT;
			goto out;
		}
	}
	pi.token = secrets_token(sec);
	pi.agent_token = secrets_agent_token(sec);
	pi.node_password = secrets_node_password(sec, name);
	if (streq(n->role.v, "server")) {
		const struct secret_file *files;
		pi.n_ca = secrets_ca_files(sec, &files);
		ca = xcalloc(pi.n_ca, sizeof(*ca));
		for (size_t i = 0; i < pi.n_ca; i++)
			ca[i] = (struct blob){ files[i].name, files[i].data, files[i].size };
		pi.ca = ca;
	} else {
		const struct secret_file *files, *f = NULL;
		struct secret_file k, crt;
		for (size_t i = 0, n_files = secrets_ca_files(sec, &files); i < n_files; i++)
			if (streq(files[i].name, "server-ca.crt"))
				f = &files[i];
		if (f && secrets_power_identity(sec, name, &k, &crt) == 0) {
			power_key = (struct blob){ k.name, k.data, k.size };
			power_crt = (struct blob){ crt.name, crt.data, crt.size };
			server_ca = (struct blob){ f->name, f->data, f->size };
			pi.power_key = &power_key;
			pi.power_crt = &power_crt;
			pi.server_ca = &server_ca;
		}
	}
	pi.farm_node = farm_node;
	pi.k3s_binary = na.k3s;
	pi.airgap_images = na.airgap;
	pi.airgap_name = na.airgap_name;
	pi.charts = na.charts;
	pi.n_charts = na.n_charts;

	/* Plan. */
	in.overlays = overlays;
	in.n_overlays = n_overlays;
	in.modes = modes;
	in.n_modes = n_modes;
	r = plan_make(&in, &plan);
	if (r >= 0)
		r = personalize_plan(&in, &pi, &plan);
	if (r < 0)
		goto out;
	/* Every template is checked before anything is written. */
	node_vars(c, n, b, &plan, &vars);
	{
		unsigned problems = 0;
		for (size_t i = 0; i < plan.n_files; i++)
			if (plan.files[i].kind == PLAN_TEMPLATE)
				problems += template_check(plan.files[i].origin,
							   (const char *)plan.files[i].data, &vars);
		if (problems) {
			r = -EINVAL;
			goto out;
		}
	}
	for (size_t i = 0; i < plan.n_files; i++) {
		pathmap_put(replaced, plan.files[i].path, 1);
		secret |= plan.files[i].secret;
	}

	/* Write. */
	r = open_outputs(o, &plan, name, base, &out);
	if (r < 0)
		goto out;
	{
		struct fat_params fp = {
			.offset = plan.part[PART_BOOT].start,
			.size = plan.part[PART_BOOT].size,
			.serial = plan.boot_serial,
			.label = plan.boot_label,
			.mtime = plan.epoch,
		};
		r = fat_new(outputs_fd(out, OUT_IMG), &fp, &fat);
		if (r < 0) {
			r = log_error_errno(r, "%s: cannot create the boot filesystem: %m", name);
			goto out;
		}
	}
	{
		struct ext4_params ep = {
			.path = outputs_path(out, OUT_IMG),
			.fd = outputs_fd(out, OUT_IMG),
			.offset = plan.part[PART_ROOT].start,
			.size = plan.root_size,
			.shrink = plan.root_from_content,
			.label = "root",
			.epoch = plan.epoch,
		};
		memcpy(ep.uuid, plan.root_fs_uuid, 16);
		memcpy(ep.hash_seed, plan.root_hash_seed, 16);
		r = ext4_new(&ep, &ext4);
		if (r < 0) {
			r = log_error_errno(r, "%s: cannot create the root filesystem: %s", name,
					    ext4_last_error(ext4));
			goto out;
		}
	}
	{
		struct rootfs_sink sink = {
			.ext4 = ext4,
			.fat = fat,
			.board = b,
			.replaced_paths = replaced,
			.captures = caps,
			.n_captures = n_caps,
			.boot_files = boot_files,
			.epoch = plan.epoch,
			.interrupted = o->interrupted,
			.progress = &prog,
			.out = out,
		};
		progress_init(&prog, name);
		r = rootfs_stream(base, &sink, &stats);
		if (r < 0)
			goto out;
	}
	t_stream = seconds();
	if (stats.host_keys)
		log_notice("%s: left out the base's %llu SSH host key files: each node makes its "
			   "own at first boot",
			   name, (unsigned long long)stats.host_keys);
	if (stats.left_out)
		log_notice("%s: %llu entries below %s in the base are not listed in board %s's "
			   "profile and were left out",
			   name, (unsigned long long)stats.left_out, b->boot.mount.v, b->name.v);
	r = personalize_check_base(c, ext4, base);
	if (r >= 0)
		r = render_plan(&plan, &vars, caps, n_caps, base);
	if (r >= 0)
		r = write_plan_files(&plan, ext4);
	if (r < 0)
		goto out;
	r = ensure_mount_point(ext4, b->boot.mount.v, plan.epoch);
	if (r < 0)
		goto out;
	{
		struct board_finish bf = { .board = b, .plan = &plan, .vars = &vars, .fat = fat,
					   .boot_files = boot_files, .base = base };
		r = b->ops->finish(&bf);
		if (r < 0)
			goto out;
	}
	r = finish_image(out, &plan, name, fat, ext4, &root_used);
	if (r < 0)
		goto out;
	t_fs = seconds();
	if (o->interrupted && *o->interrupted) {
		r = -EINTR;
		goto out;
	}

	/* Derived outputs. */
	img_name = xasprintf("%s.img", name);
	progress_init(&prog, "compress");
	r = derive_outputs(out, img_name, plan.disk_size, o->interrupted, &prog, &res);
	if (r < 0)
		goto out;

	man.plan = &plan;
	man.config = c;
	man.node = n;
	man.board = b;
	man.config_file.path = o->config_path;
	hash_or_empty(o->config_path, man.config_file.sha256);
	man.board_file.path = b->path;
	hash_or_empty(b->path, man.board_file.sha256);
	man.base.path = base;
	memcpy(man.base.sha256, stats.sha256, sizeof(stats.sha256));
	{
		const struct artifact *used[64];
		size_t nu = 0;
		const struct artifact *a;
		if ((a = artifacts_find(&na.lock, "k3s", b->arch.v)))
			used[nu++] = a;
		if ((a = artifacts_find(&na.lock, "k3s-airgap-images", b->arch.v)))
			used[nu++] = a;
		for (size_t i = 0; i < c->stack.n && streq(n->role.v, "server") && nu < 64; i++)
			for (size_t k = 0; k < ELEMENTSOF(stack_charts); k++)
				if (streq(stack_charts[k].component, c->stack.v[i]) &&
				    (a = artifacts_find(&na.lock, stack_charts[k].chart, NULL)))
					used[nu++] = a;
		man.artifacts = used;
		man.n_artifacts = nu;
		man.rootfs = &stats;
		man.root_used = root_used;
		man.out = &res;
		r = manifest_write(outputs_fd(out, OUT_JSON), &man);
	}
	if (r < 0) {
		r = outputs_write_failed(out, OUT_JSON, r);
		goto out;
	}
	if (o->interrupted && *o->interrupted) {
		r = -EINTR;
		goto out;
	}
	/* An image with secrets in it is for its owner's eyes only. */
	r = outputs_commit(out, secret ? 0600 : 0644);
	if (r < 0)
		goto out;
	if (secret)
		log_notice("%s: the image carries secrets (the join token, the node password%s): "
			   "its files are mode 0600; keep them private",
			   name, streq(n->role.v, "server") ? ", the cluster CA keys"
			   : pi.power_key ? ", its power-cycle key" : "");
	log_debug("%s: %.2f s: stream %.2f s (%llu entries, %s), metadata and GPT %.2f s, "
		  "bmap and zst %.2f s",
		  name, seconds() - t0, t_stream - t0, (unsigned long long)stats.entries, base,
		  t_fs - t_stream, seconds() - t_fs);
	{
		char a[32], bb[32], cc[32];
		log_print(stdout, "%s: wrote %s (%s, %s of data), %s.bmap, %s (%s), %s\n", name,
			  plan.out_img,
		       format_size(plan.disk_size, a, sizeof(a)),
		       format_size(res.mapped_bytes, bb, sizeof(bb)), plan.out_img, plan.out_zst,
		       format_size(res.zst_size, cc, sizeof(cc)), plan.out_json);
	}
out:
	if (r == -EINTR)
		log_error("%s: interrupted; no output was written", name);
	fat_free(fat);
	ext4_free(ext4);
	outputs_free(out);
	overlay_free(overlays, n_overlays);
	overlay_modes_free(modes, n_modes);
	personalize_captures_reset(caps, n_caps);
	pathmap_free(boot_files);
	vars_free(&vars);
	secrets_free(sec);
	free(ca);
	node_artifacts_free(&na);
	free(base_cached);
	free(farm_node);
	pathmap_free(replaced);
	plan_free(&plan);
	free(img_name);
	return r;
}
