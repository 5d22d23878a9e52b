/* SPDX-License-Identifier: MIT */
/* ext4tree: prints a canonical listing of an ext4 filesystem, so that two
 * root filesystems built in different ways can be compared with diff.
 *
 *   ext4tree FS [OFFSET]
 *
 * FS is a filesystem image (OFFSET: its byte offset in the file). One line
 * per name, depth first in byte order of names, "/" first:
 *
 *   PATH TYPE MODE UID:GID mtime=T [size=N blocks=N sha256=HEX]
 *        [-> TARGET] [dev=MAJ:MIN] [xattr:NAME=HEX ...]
 *
 * TYPE is dir, file, link, chr, blk, fifo or sock; MODE is octal with the
 * set-id and sticky bits; blocks counts 512-byte units (holes stay out of
 * it); xattrs are sorted by name. A file's later names print
 * "PATH hardlink=FIRST", FIRST being its first name in this order.
 * Directory sizes depend on how a directory was filled and are left out. */
#include <et/com_err.h>
#include <ext2fs/ext2_fs.h>
#include <ext2fs/ext2fs.h>
#include <openssl/evp.h>
#include <sys/stat.h>

#include "hash.h"
#include "pathmap.h"
#include "util.h"

static ext2_filsys fs;
static struct pathmap *first; /* inode -> index in names */
static char **names;
static size_t n_names, cap_names;

static _Noreturn void die(const char *what, errcode_t e)
{
	fprintf(stderr, "ext4tree: %s: %s\n", what, error_message(e));
	exit(1);
}

struct entry {
	char *name;
	ext2_ino_t ino;
};

struct list {
	struct entry *v;
	size_t n, cap;
};

static int collect(ext2_ino_t dir, int kind, struct ext2_dir_entry *d, int offset, int blocksize,
		   char *buf, void *data)
{
	struct list *l = data;
	int len = ext2fs_dirent_name_len(d);

	if (kind != DIRENT_OTHER_FILE)
		return 0;
	ARRAY_PUSH(l->v, l->n, l->cap, ((struct entry){ strndup(d->name, (size_t)len), d->inode }));
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->name, ((const struct entry *)b)->name);
}

static int by_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

struct xlist {
	char **v;
	size_t n, cap;
};

static int xattr_line(char *name, char *value, size_t len, void *data)
{
	struct xlist *x = data;
	char *s = xmalloc(strlen(name) + 2 * len + 8);

	if (streq(name, "system.data"))
		return (free(s), 0);
	hex_encode((const uint8_t *)value, len, stpcpy(stpcpy(s, "xattr:"), name) + 1);
	s[strlen(name) + 6] = '=';
	ARRAY_PUSH(x->v, x->n, x->cap, s);
	return 0;
}

static void print_xattrs(ext2_ino_t ino)
{
	struct ext2_xattr_handle *h;
	struct xlist x = { 0 };
	errcode_t e = ext2fs_xattrs_open(fs, ino, &h);

	if (!e)
		e = ext2fs_xattrs_read(h);
	if (!e)
		e = ext2fs_xattrs_iterate(h, xattr_line, &x);
	if (e)
		die("reading xattrs", e);
	ext2fs_xattrs_close(&h);
	if (x.n)
		qsort(x.v, x.n, sizeof(*x.v), by_str);
	for (size_t i = 0; i < x.n; i++) {
		printf(" %s", x.v[i]);
		free(x.v[i]);
	}
	free(x.v);
}

/* The whole content, read through the file API (holes read as zeros). */
static void print_content(ext2_ino_t ino, struct ext2_inode_large *in, bool link)
{
	uint64_t size = EXT2_I_SIZE(in), done = 0;
	EVP_MD_CTX *md;
	static char buf[1 << 16];
	uint8_t digest[32];
	char hex[65];
	ext2_file_t f;
	unsigned got;
	errcode_t e;

	if (link && !(in->i_flags & EXT4_INLINE_DATA_FL) &&
	    !ext2fs_inode_data_blocks2(fs, (struct ext2_inode *)in)) {
		printf(" -> %.*s", (int)size, (const char *)in->i_block);
		return;
	}
	e = ext2fs_file_open2(fs, ino, (struct ext2_inode *)in, 0, &f);
	if (e)
		die("opening a file", e);
	md = EVP_MD_CTX_new();
	EVP_DigestInit_ex(md, EVP_sha256(), NULL);
	if (link)
		printf(" -> ");
	while (done < size) {
		e = ext2fs_file_read(f, buf, (unsigned)MIN((uint64_t)sizeof(buf), size - done),
				     &got);
		if (e || !got)
			die("reading a file", e ? e : EXT2_ET_SHORT_READ);
		if (link)
			fwrite(buf, 1, got, stdout);
		EVP_DigestUpdate(md, buf, got);
		done += got;
	}
	ext2fs_file_close(f);
	EVP_DigestFinal_ex(md, digest, NULL);
	EVP_MD_CTX_free(md);
	hex_encode(digest, 32, hex);
	if (!link)
		printf(" size=%llu blocks=%llu sha256=%s", (unsigned long long)size,
		       (unsigned long long)ext2fs_get_stat_i_blocks(fs, (struct ext2_inode *)in),
		       hex);
}

static void walk(ext2_ino_t dir, const char *path)
{
	struct list l = { 0 };
	errcode_t e = ext2fs_dir_iterate2(fs, dir, 0, NULL, collect, &l);

	if (e)
		die(path, e);
	if (l.n)
		qsort(l.v, l.n, sizeof(*l.v), by_name);
	for (size_t i = 0; i < l.n; i++) {
		_cleanup_free_ char *p = xasprintf("%s/%s", path, l.v[i].name);
		struct ext2_inode_large in = { 0 };
		ext2_ino_t ino = l.v[i].ino;
		const char *type = "?";
		char key[16];
		uint64_t v;

		e = ext2fs_read_inode_full(fs, ino, (struct ext2_inode *)&in, sizeof(in));
		if (e)
			die(p, e);
		snprintf(key, sizeof(key), "%u", ino);
		if (LINUX_S_ISREG(in.i_mode) && pathmap_get(first, key, &v)) {
			printf("%s hardlink=%s\n", p, names[v]);
			free(l.v[i].name);
			continue;
		}
		if (LINUX_S_ISREG(in.i_mode) && in.i_links_count > 1) {
			pathmap_put(first, key, n_names);
			ARRAY_PUSH(names, n_names, cap_names, xstrdup(p));
		}
		switch (in.i_mode & S_IFMT) {
		case S_IFDIR:
			type = "dir";
			break;
		case S_IFREG:
			type = "file";
			break;
		case S_IFLNK:
			type = "link";
			break;
		case S_IFCHR:
			type = "chr";
			break;
		case S_IFBLK:
			type = "blk";
			break;
		case S_IFIFO:
			type = "fifo";
			break;
		case S_IFSOCK:
			type = "sock";
			break;
		}
		printf("%s %s %04o %u:%u mtime=%u", p, type, in.i_mode & 07777, inode_uid(in),
		       inode_gid(in), in.i_mtime);
		if (LINUX_S_ISREG(in.i_mode) || LINUX_S_ISLNK(in.i_mode))
			print_content(ino, &in, LINUX_S_ISLNK(in.i_mode));
		if (LINUX_S_ISCHR(in.i_mode) || LINUX_S_ISBLK(in.i_mode)) {
			uint32_t b0 = in.i_block[0], b1 = in.i_block[1];
			printf(" dev=%u:%u", b0 ? b0 >> 8 & 0xff : (b1 & 0xfff00) >> 8,
			       b0 ? b0 & 0xff : (b1 & 0xff) | (b1 >> 12 & 0xfff00));
		}
		print_xattrs(ino);
		putchar('\n');
		if (LINUX_S_ISDIR(in.i_mode))
			walk(ino, p);
		free(l.v[i].name);
	}
	free(l.v);
}

int main(int argc, char **argv)
{
	struct ext2_inode_large root = { 0 };
	char opt[64];
	errcode_t e;

	if (argc != 2 && argc != 3) {
		fprintf(stderr, "usage: ext4tree FS [OFFSET]\n");
		return 2;
	}
	initialize_ext2_error_table();
	snprintf(opt, sizeof(opt), "offset=%s", argc == 3 ? argv[2] : "0");
	e = ext2fs_open2(argv[1], opt, EXT2_FLAG_64BITS, 0, 0, unix_io_manager, &fs);
	if (e)
		die(argv[1], e);
	first = pathmap_new();
	e = ext2fs_read_inode_full(fs, EXT2_ROOT_INO, (struct ext2_inode *)&root, sizeof(root));
	if (e)
		die("/", e);
	printf("/ dir %04o %u:%u mtime=%u", root.i_mode & 07777, inode_uid(root), inode_gid(root),
	       root.i_mtime);
	print_xattrs(EXT2_ROOT_INO);
	putchar('\n');
	walk(EXT2_ROOT_INO, "");
	for (size_t i = 0; i < n_names; i++)
		free(names[i]);
	free(names);
	pathmap_free(first);
	ext2fs_close_free(&fs);
	return 0;
}
