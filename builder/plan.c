/* SPDX-License-Identifier: MIT */
#include "plan.h"
#include "ext4.h"
#include "hash.h"
#include "log.h"
#include "overlay.h"

#define DEFAULT_HEADROOM (256 * MiB)

static int cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct plan_file *)a)->path, ((const struct plan_file *)b)->path);
}

static void free_file(struct plan_file *f)
{
	free(f->path);
	free(f->source);
	free(f->target);
	free(f->data);
	free(f->origin);
}

struct plan_file *plan_add(struct plan *p, enum plan_file_kind kind, const char *path,
			   uint32_t mode, const char *origin)
{
	struct plan_file f = {
		.path = xstrdup(path), .kind = kind, .mode = mode, .origin = xstrdup(origin)
	};
	size_t lo = 0, hi = p->n_files;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(p->files[mid].path, path);
		if (c == 0) {
			free_file(&p->files[mid]);
			p->files[mid] = f;
			return &p->files[mid];
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	p->files = xrealloc(p->files, (p->n_files + 1) * sizeof(*p->files));
	memmove(&p->files[lo + 1], &p->files[lo], (p->n_files - lo) * sizeof(*p->files));
	p->files[lo] = f;
	p->n_files++;
	return &p->files[lo];
}

struct plan_file *plan_add_data(struct plan *p, const char *path, uint32_t mode, const char *origin,
				const void *data, size_t size)
{
	struct plan_file *f = plan_add(p, PLAN_FILE, path, mode, origin);

	f->data = xmalloc(size ? size : 1);
	memcpy(f->data, data, size);
	f->size = size;
	return f;
}

struct plan_file *plan_add_text(struct plan *p, const char *path, uint32_t mode, const char *origin,
				const char *text)
{
	return plan_add_data(p, path, mode, origin, text, strlen(text));
}

void plan_add_link(struct plan *p, const char *path, const char *target, const char *origin)
{
	plan_add(p, PLAN_SYMLINK, path, 0777, origin)->target = xstrdup(target);
}

void plan_add_source(struct plan *p, const char *path, uint32_t mode, const char *origin,
		     const char *host)
{
	plan_add(p, PLAN_FILE, path, mode, origin)->source = xstrdup(host);
}

static void add_overlays(const struct plan_input *in, struct plan *p)
{
	size_t cap = 0;

	/* Layers come in order (common, board, role): a later layer's file
	 * replaces an earlier one's at the same path. */
	for (size_t i = 0; i < in->n_overlays; i++) {
		const struct overlay_entry *o = &in->overlays[i];
		struct plan_file f = {
			.path = xstrdup(o->rel),
			.kind = o->symlink ? PLAN_SYMLINK
				: o->text  ? PLAN_TEMPLATE
					   : PLAN_FILE,
			.mode = o->mode & 07777,
			.source = o->symlink || o->text ? NULL : xstrdup(o->host),
			.target = o->symlink ? xstrdup(o->target) : NULL,
			.data = o->text ? (uint8_t *)xstrdup(o->text) : NULL,
			.size = o->text ? strlen(o->text) : 0,
			.origin = xasprintf("overlays/%s/%s%s", o->layer, o->rel,
					    o->text ? ".in" : ""),
		};
		size_t j;
		for (j = 0; j < p->n_files; j++)
			if (streq(p->files[j].path, f.path))
				break;
		if (j < p->n_files) {
			free_file(&p->files[j]);
			p->files[j] = f;
		} else
			ARRAY_PUSH(p->files, p->n_files, cap, f);
	}
	if (p->n_files)
		qsort(p->files, p->n_files, sizeof(*p->files), cmp_file);
	/* Explicit owners and modes. */
	for (size_t i = 0; i < in->n_modes; i++) {
		struct plan_file *f = (struct plan_file *)plan_find_file(p, in->modes[i].path);
		if (f) {
			f->mode = in->modes[i].mode;
			f->uid = in->modes[i].uid;
			f->gid = in->modes[i].gid;
		}
	}
}

static int check_files(struct plan *p)
{
	/* A file cannot also be the parent of another planned file. */
	for (size_t i = 0; i + 1 < p->n_files; i++) {
		size_t n = strlen(p->files[i].path);
		if (strncmp(p->files[i].path, p->files[i + 1].path, n) == 0 &&
		    p->files[i + 1].path[n] == '/')
			return log_error("%s is a file, but %s needs it to be a directory",
					 p->files[i].origin, p->files[i + 1].origin);
	}
	return 0;
}

int plan_make(const struct plan_input *in, struct plan *p)
{
	const struct config *c = in->config;
	const struct config_node *n = in->node;
	const struct board *b = in->board;
	const char *cl = c->cluster.name.v, *nn = n->name.v;
	static const char *const names[PART_COUNT] = { "boot", "root", "data" };

	*p = (struct plan){ 0 };
	p->cluster = xstrdup(cl);
	p->node = xstrdup(nn);
	p->sector_size = 512;
	p->epoch = in->epoch;
	uuid_derive(cl, nn, "disk", p->disk_uuid);

	for (int i = 0; i < PART_COUNT; i++) {
		char role[32];
		snprintf(role, sizeof(role), "partition-%s", names[i]);
		p->part[i].name = names[i];
		uuid_derive(cl, nn, role, p->part[i].uuid);
	}
	p->part[PART_BOOT].type_name = b->boot.type.v;
	p->part[PART_ROOT].type_name = b->root.type.v;
	p->part[PART_DATA].type_name = "linux-filesystem";
	for (int i = 0; i < PART_COUNT; i++)
		p->part[i].type_guid = partition_type_guid(p->part[i].type_name);

	uuid_derive(cl, nn, "filesystem-root", p->root_fs_uuid);
	uuid_derive(cl, nn, "filesystem-root-hash-seed", p->root_hash_seed);
	p->boot_serial = serial_derive(cl, nn, "filesystem-boot");
	snprintf(p->boot_label, sizeof(p->boot_label), "%s", b->boot.label.v);

	p->part[PART_BOOT].start = PLAN_ALIGN;
	p->part[PART_BOOT].size = b->boot.size.v;
	p->part[PART_ROOT].start = p->part[PART_BOOT].start + p->part[PART_BOOT].size;

	if (n->root_size.m.set && n->root_size.v) {
		p->root_size = ALIGN_UP(n->root_size.v, PLAN_ALIGN);
	} else if (b->root.size.m.set && b->root.size.v) {
		p->root_size = b->root.size.v;
	} else {
		p->root_from_content = true;
		p->root_size = EXT4_MAX_PROVISIONAL;
	}
	p->root_headroom = b->root.headroom.m.set ? b->root.headroom.v : DEFAULT_HEADROOM;
	p->part[PART_DATA].size = b->data.size.v;
	plan_place(p, p->root_size);

	for (int i = 0; i < OUT_COUNT; i++)
		p->out[i] = xasprintf("%s/%s%s", in->out_dir, nn, output_suffix(i));

	add_overlays(in, p);
	return check_files(p);
}

void plan_place(struct plan *p, uint64_t root_size)
{
	p->part[PART_ROOT].size = ALIGN_UP(root_size, PLAN_ALIGN);
	p->part[PART_DATA].start = p->part[PART_ROOT].start + p->part[PART_ROOT].size;
	/* 1 MiB after the data partition holds the backup GPT (33 sectors). */
	p->disk_size = p->part[PART_DATA].start + p->part[PART_DATA].size + PLAN_ALIGN;
}

const struct plan_file *plan_find_file(const struct plan *p, const char *path)
{
	struct plan_file key = { .path = (char *)path };

	if (!p->n_files)
		return NULL;
	return bsearch(&key, p->files, p->n_files, sizeof(*p->files), cmp_file);
}

void plan_free(struct plan *p)
{
	for (size_t i = 0; i < p->n_files; i++)
		free_file(&p->files[i]);
	free(p->files);
	free(p->cluster);
	free(p->node);
	for (int i = 0; i < OUT_COUNT; i++)
		free(p->out[i]);
	*p = (struct plan){ 0 };
}
