/* SPDX-License-Identifier: MIT */
/* x86-64 with UEFI: systemd-boot at the removable-media path of the EFI
 * System Partition (\EFI\BOOT\BOOTX64.EFI, so no NVRAM entry is needed), a
 * loader.conf and one entry for the newest kernel of the base with its
 * initrd, booting the root partition by PARTUUID, read-only. */
#include "board.h"
#include "fat.h"
#include "log.h"
#include "pathmap.h"
#include "plan.h"
#include "template.h"

struct newest {
	const struct pathmap *files;
	char *version;
};

static void find_kernel(const char *key, uint64_t value, void *ud)
{
	struct newest *n = ud;
	_cleanup_free_ char *initrd = NULL;

	/* The version goes into the boot entry's lines: only what Debian's
	 * kernel versions are made of (a name from the base with a line
	 * break or a space would add options of its own). */
	if (!startswith(key, "vmlinuz-") || !key[8] ||
	    strspn(key + 8,
		   "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._+~-") !=
		    strlen(key + 8))
		return;
	initrd = xasprintf("initrd.img-%s", key + 8);
	if (!pathmap_get(n->files, initrd, NULL))
		return;
	if (!n->version || strverscmp(key + 8, n->version) > 0) {
		free(n->version);
		n->version = xstrdup(key + 8);
	}
}

static int x86_finish(struct board_finish *f)
{
	struct newest k = { .files = f->boot_files };
	_cleanup_free_ char *entry = NULL;
	const char *loader = "# systemd-boot, written by farm-image (builder/board-x86.c).\n"
			     "default farm.conf\n"
			     "timeout 0\n"
			     "editor no\n";
	int r;

	if (!pathmap_get(f->boot_files, "EFI/BOOT/BOOTX64.EFI", NULL))
		return log_error("%s: the base has no systemd-boot "
				 "(/usr/lib/systemd/boot/efi/systemd-bootx64.efi): add the package "
				 "systemd-boot-efi to the base",
				 f->base);
	pathmap_each(f->boot_files, find_kernel, &k);
	if (!k.version)
		return log_error("%s: the base has no kernel with its initrd in /boot "
				 "(vmlinuz-VERSION and initrd.img-VERSION): add linux-image-amd64 "
				 "and initramfs-tools to the base",
				 f->base);
	entry = xasprintf("# The node's only boot entry, written by farm-image.\n"
			  "title   farm %s (%s)\n"
			  "linux   /vmlinuz-%s\n"
			  "initrd  /initrd.img-%s\n"
			  "options root=PARTUUID=%s rootfstype=ext4 ro rootwait console=tty0 "
			  "console=ttyS0,115200\n",
			  vars_get(f->vars, "node"), k.version, k.version, k.version,
			  vars_get(f->vars, "root_partuuid"));
	free(k.version);
	r = fat_add_file(f->fat, "loader/loader.conf", loader, strlen(loader), f->plan->epoch);
	if (r >= 0)
		r = fat_add_file(f->fat, "loader/entries/farm.conf", entry, strlen(entry),
				 f->plan->epoch);
	return r < 0 ? log_error_errno(r, "Cannot write the boot entry into the ESP: %m") : 0;
}

const struct board_ops board_x86 = {
	.name = "x86",
	.arch = "amd64",
	.qemu_arch = "x86_64",
	.va_bits = 48,
	.finish = x86_finish,
};
