/* SPDX-License-Identifier: MIT */
/* A regular file of the base as it streams in (see stream.c): its data
 * copied into the root and the boot partition (holes kept in the root,
 * filled in FAT), or captured into memory for the build; and the
 * architecture a program or dpkg's status shows, checked against the
 * board's before the rest of the base is read. */
#include "stream-internal.h"
#include "arch.h"
#include "board.h"
#include "log.h"

#define MAX_CAPTURE (32 * MiB)

static int boot_write_error(struct stream *s, const char *path, int r)
{
	if ((r == -ENOSPC || r == -EDQUOT) && s->sink->out)
		return outputs_write_failed(s->sink->out, OUT_IMG, r);
	return log_error_errno(r, "%s: entry '%s': writing it to the boot partition: %m",
			       s->archive, path);
}

static int copy_data(struct stream *s, const char *path, uint64_t size, struct fat_file *boot,
		     bool to_root)
{
	uint64_t pos = 0;
	static const uint8_t zeros[65536];

	for (;;) {
		const void *buf;
		size_t len;
		uint64_t off;
		int r = s->src->ops->read(s->src, &buf, &len, &off);

		if (r == 0)
			break;
		if (r < 0)
			return stream_entry_error(s, path, "%s", source_error(s->src));
		if (s->sink->interrupted && *s->sink->interrupted)
			return -EINTR;
		if (off < pos || off + len > size || off + len < off)
			return stream_entry_error(s, path,
						  "data at offset %llu is outside the entry's size %llu",
						  (unsigned long long)off,
						  (unsigned long long)size);
		if (s->want_head && off < sizeof(s->head))
			memcpy(s->head + off, buf, MIN(len, sizeof(s->head) - (size_t)off));
		if (boot) {
			/* FAT has no holes: fill the gap with zeros. */
			while (pos < off) {
				size_t n = (size_t)MIN((uint64_t)sizeof(zeros), off - pos);
				r = fat_file_write(boot, zeros, n);
				if (r < 0)
					return boot_write_error(s, path, r);
				pos += n;
			}
			r = fat_file_write(boot, buf, len);
			if (r < 0)
				return boot_write_error(s, path, r);
		}
		if (to_root && len) {
			r = ext4_file_write(s->sink->ext4, off, buf, len);
			if (r < 0)
				return stream_write_error(s, path, r);
		}
		pos = off + len;
		s->stats->bytes += len;
		if (s->sink->progress)
			progress_update(s->sink->progress, s->src->done, s->src->total,
					s->stats->entries, ext4_used_bytes(s->sink->ext4));
	}
	if (boot) {
		while (pos < size) {
			size_t n = (size_t)MIN((uint64_t)sizeof(zeros), size - pos);
			int r = fat_file_write(boot, zeros, n);
			if (r < 0)
				return boot_write_error(s, path, r);
			pos += n;
		}
	}
	return 0;
}

int stream_capture_file(struct stream *s, const char *path, const struct source_entry *e,
			struct ext4_meta *m, struct capture *c)
{
	uint64_t size = e->size;
	int r;

	if (!e->size_known || size > MAX_CAPTURE)
		return stream_entry_error(s, path, "larger than the %llu MiB the build reads of it",
					  (unsigned long long)(MAX_CAPTURE / MiB));
	free(c->data);
	c->data = xcalloc(1, size + 1);
	c->size = (size_t)size;
	c->found = true;
	for (;;) {
		const void *buf;
		size_t len;
		uint64_t off;
		r = s->src->ops->read(s->src, &buf, &len, &off);
		if (r == 0)
			break;
		if (r < 0)
			return stream_entry_error(s, path, "%s", source_error(s->src));
		if (off + len > size || off + len < off)
			return stream_entry_error(s, path, "data past the entry's size");
		memcpy(c->data + off, buf, len);
	}
	s->stats->files++;
	if (!c->keep)
		return 0;
	r = ext4_file_begin(s->sink->ext4, path, m, size, NULL, 0);
	if (r >= 0 && size)
		r = ext4_file_write(s->sink->ext4, 0, c->data, (size_t)size);
	if (r >= 0)
		r = ext4_file_end(s->sink->ext4);
	return r < 0 ? stream_write_error(s, path, r) : 0;
}

/* The base's architecture as entry PATH shows it (ARCH; NULL: not a
 * Debian one): the board's, or the build is refused here, before the rest
 * of the base is streamed. WHAT says how PATH shows it. */
static int arch_seen(struct stream *s, const char *path, const char *arch, const char *what)
{
	const struct board *b = s->sink->board;

	if (arch && streq(arch, b->arch.v)) {
		if (!s->arch_from)
			s->arch_from = xstrdup(path);
		return 0;
	}
	return stream_entry_error(s, path, "%s, but board %s runs %s programs: pass a base for %s",
				  what, b->name.v, b->arch.v, b->arch.v);
}

static int check_elf(struct stream *s, const char *path)
{
	_cleanup_free_ char *what = NULL;
	struct elf_arch a;

	if (!arch_of_elf(s->head, sizeof(s->head), &a))
		return 0; /* not a program: no evidence */
	what = a.arch ? xasprintf("an ELF program for %s, so the base is for %s", a.machine, a.arch)
		      : xasprintf("a program for ELF machine %s, which is no Debian architecture",
				  a.machine);
	return arch_seen(s, path, a.arch, what);
}

int stream_check_dpkg_status(struct stream *s, const char *path, const struct capture *c)
{
	_cleanup_free_ char *arch = NULL, *what = NULL;
	const char *package;

	if (arch_of_dpkg_status((const char *)c->data, c->size, &arch, &package) == 0)
		return 0;
	what = xasprintf("the base is for %s (its %s package is)", arch, package);
	return arch_seen(s, path, arch, what);
}

int stream_regular_file(struct stream *s, const char *path, const struct source_entry *e,
			struct ext4_meta *m, bool to_root, const char *boot_rel, bool rewrite)
{
	uint64_t size = e->size, end = 0;
	struct fat_file *boot = NULL;
	int r;

	if (!e->size_known)
		return stream_entry_error(s, path, "the archive does not give the file's size");
	if (size > ext4_capacity(s->sink->ext4))
		return stream_entry_error(s, path,
					  "its size (%llu bytes) is larger than the whole root "
					  "filesystem can be",
					  (unsigned long long)size);
	for (size_t i = 0; i < e->n_regions; i++) {
		const struct ext4_region *g = &e->regions[i];
		if (g->offset < end || g->offset + g->length > size ||
		    g->offset + g->length < g->offset)
			return stream_entry_error(s, path,
						  "its sparse map is inconsistent with its size");
		end = g->offset + g->length;
	}

	if (boot_rel) {
		r = fat_file_open(s->sink->fat, boot_rel, size, (time_t)m->mtime, &boot);
		if (r == -ENOSPC)
			return log_error_errno(r,
					       "%s: entry '%s': the boot partition is full (%llu MiB, "
					       "set by the board profile %s)",
					       s->archive, path,
					       (unsigned long long)(s->sink->board->boot.size.v /
								    MiB),
					       s->sink->board->path);
		if (r == -EMLINK) {
			_cleanup_free_ char *dir = xstrdup(boot_rel);
			*(strrchr(dir, '/') ? strrchr(dir, '/') : dir) = 0;
			return log_error_errno(r,
					       "%s: entry '%s': directory '/%s' of the boot "
					       "partition is full: FAT holds 65536 entries in a "
					       "directory (a long name takes several)",
					       s->archive, path, dir);
		}
		if (r < 0)
			return log_error_errno(r,
					       "%s: entry '%s': cannot add it to the boot partition: %m",
					       s->archive, path);
		s->stats->boot_files++;
		if (s->sink->boot_files)
			pathmap_put(s->sink->boot_files, boot_rel, 1);
	}
	if (to_root) {
		if (rewrite)
			r = ext4_file_rewrite(s->sink->ext4, path, m, size, e->regions,
					      e->n_regions);
		else
			r = ext4_file_begin(s->sink->ext4, path, m, size, e->regions, e->n_regions);
		if (r < 0)
			return stream_write_error(s, path, r);
	}
	s->want_head = to_root && arch_program(path);
	memset(s->head, 0, sizeof(s->head));
	r = copy_data(s, path, size, boot, to_root);
	if (r >= 0 && s->want_head)
		r = check_elf(s, path);
	s->want_head = false;
	if (boot) {
		int r2 = fat_file_close(boot);
		if (r >= 0 && r2 < 0)
			r = log_error_errno(r2,
					    "%s: entry '%s': boot partition copy is incomplete: %m",
					    s->archive, path);
	}
	if (to_root && r >= 0) {
		r = ext4_file_end(s->sink->ext4);
		if (r < 0)
			return stream_write_error(s, path, r);
	}
	if (!rewrite)
		s->stats->files++;
	return r;
}
