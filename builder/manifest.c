/* SPDX-License-Identifier: MIT */
#include "manifest.h"
#include "artifacts.h"
#include "json.h"

#define FARM_VERSION "0.1.0"

static void input(struct json *j, const char *key, const struct manifest_input *in)
{
	json_key(j, key);
	json_object_open(j);
	json_kv_string(j, "path", in->path);
	json_kv_string(j, "sha256", in->sha256);
	json_object_close(j);
}

static const char *base_name(const char *path)
{
	const char *s = strrchr(path, '/');
	return s ? s + 1 : path;
}

/* What the build read: the config, the board profile, the base and the
 * pinned artifacts baked in. */
static void write_inputs(struct json *j, const struct manifest *m)
{
	json_key(j, "inputs");
	json_object_open(j);
	input(j, "config", &m->config_file);
	input(j, "board", &m->board_file);
	input(j, "base", &m->base);
	json_key(j, "artifacts");
	json_array_open(j);
	for (size_t i = 0; i < m->n_artifacts; i++) {
		const struct artifact *a = m->artifacts[i];
		json_object_open(j);
		json_kv_string(j, "name", a->name);
		if (a->arch)
			json_kv_string(j, "arch", a->arch);
		if (a->version)
			json_kv_string(j, "version", a->version);
		json_kv_string(j, "url", a->url);
		json_kv_string(j, "sha256", a->sha256);
		json_object_close(j);
	}
	json_array_close(j);
	json_object_close(j);
}

/* What the build put on top of the base, and where it came from. Secrets
 * are listed without a hash. */
static void write_files(struct json *j, const struct plan *p)
{
	json_key(j, "files");
	json_array_open(j);
	for (size_t i = 0; i < p->n_files; i++) {
		const struct plan_file *pf = &p->files[i];
		char sha[SHA256_HEX_LEN] = "", *path = xasprintf("/%s", pf->path);
		uint8_t d[SHA256_LEN];
		json_object_open(j);
		json_kv_string(j, "path", path);
		json_kv_string(j, "from", pf->origin);
		if (pf->kind == PLAN_SYMLINK) {
			json_kv_string(j, "symlink", pf->target);
		} else if (pf->kind == PLAN_DIR) {
			json_kv_bool(j, "directory", true);
		} else if (pf->kind == PLAN_ABSENT) {
			json_kv_bool(j, "removed", true);
		} else if (pf->secret) {
			json_kv_bool(j, "secret", true);
		} else {
			if (pf->source) {
				if (sha256_file(pf->source, sha) < 0)
					sha[0] = 0;
			} else {
				sha256_buf(pf->data, pf->size, d);
				hex_encode(d, SHA256_LEN, sha);
			}
			json_kv_string(j, "sha256", sha);
		}
		free(path);
		json_object_close(j);
	}
	json_array_close(j);
}

/* The image file, its bmap and zst. */
static void write_image(struct json *j, const struct manifest *m)
{
	const struct plan *p = m->plan;
	char uuid[37];

	json_key(j, "image");
	json_object_open(j);
	json_kv_string(j, "file", base_name(p->out[OUT_IMG]));
	json_kv_uint(j, "size", p->disk_size);
	json_kv_uint(j, "mapped_bytes", m->out->mapped_bytes);
	json_kv_string(j, "bmap", base_name(p->out[OUT_BMAP]));
	json_key(j, "zst");
	json_object_open(j);
	json_kv_string(j, "file", base_name(p->out[OUT_ZST]));
	json_kv_uint(j, "size", m->out->zst_size);
	json_kv_string(j, "sha256", m->out->zst_sha256);
	json_object_close(j);
	json_kv_string(j, "partition_table", "gpt");
	json_kv_uint(j, "sector_size", p->sector_size);
	uuid_format(p->disk_uuid, uuid);
	json_kv_string(j, "disk_guid", uuid);
	json_object_close(j);
}

/* The filesystem of partition I. */
static void write_filesystem(struct json *j, const struct manifest *m, int i)
{
	const struct plan *p = m->plan;
	char uuid[37], serial[16];

	json_key(j, "filesystem");
	json_object_open(j);
	switch (i) {
	case PART_BOOT:
		json_kv_string(j, "type", "vfat");
		snprintf(serial, sizeof(serial), "%04X-%04X", p->boot_serial >> 16,
			 p->boot_serial & 0xffff);
		json_kv_string(j, "uuid", serial);
		json_kv_string(j, "label", p->boot_label);
		json_kv_uint(j, "files", m->rootfs->boot_files);
		break;
	case PART_ROOT:
		json_kv_string(j, "type", "ext4");
		uuid_format(p->root_fs_uuid, uuid);
		json_kv_string(j, "uuid", uuid);
		json_kv_bool(j, "sized_from_content", p->root_from_content);
		json_kv_uint(j, "used_bytes", m->root_used);
		json_kv_uint(j, "entries", m->rootfs->entries);
		break;
	default:
		json_kv_string(j, "type", "btrfs");
		json_kv_string(j, "created", "first boot, grown to fill the disk");
	}
	json_object_close(j);
}

static void write_partitions(struct json *j, const struct manifest *m)
{
	const struct plan *p = m->plan;
	char uuid[37];

	json_key(j, "partitions");
	json_array_open(j);
	for (int i = 0; i < PART_COUNT; i++) {
		const struct plan_partition *pp = &p->part[i];
		json_object_open(j);
		json_kv_uint(j, "number", (uint64_t)i + 1);
		json_kv_string(j, "name", pp->name);
		json_kv_string(j, "type", pp->type_name);
		json_kv_string(j, "type_guid", pp->type_guid);
		uuid_format(pp->uuid, uuid);
		json_kv_string(j, "uuid", uuid);
		json_kv_uint(j, "offset", pp->start);
		json_kv_uint(j, "size", pp->size);
		write_filesystem(j, m, i);
		json_object_close(j);
	}
	json_array_close(j);
}

int manifest_write(int fd, const struct manifest *m)
{
	const struct plan *p = m->plan;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	struct json j;
	int r;

	if (!f)
		return -errno;
	json_begin(&j, f);
	json_object_open(&j);
	json_kv_uint(&j, "format", 1);
	json_kv_string(&j, "generator", "farm-image " FARM_VERSION);
	json_kv_string(&j, "cluster", p->cluster);
	json_kv_string(&j, "node", p->node);
	json_kv_string(&j, "board", m->board->name.v);
	json_kv_string(&j, "arch", m->board->arch.v);
	json_kv_string(&j, "role", m->node->role.v);
	json_kv_uint(&j, "source_date_epoch", (uint64_t)p->epoch);
	write_inputs(&j, m);
	write_files(&j, p);
	write_image(&j, m);
	write_partitions(&j, m);
	json_object_close(&j);
	json_end(&j);
	if (fclose(f) != 0) {
		free(text);
		return -errno;
	}
	r = write_full(fd, text, len);
	free(text);
	return r;
}
