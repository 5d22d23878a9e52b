/* SPDX-License-Identifier: MIT */
/* Raspberry Pi 5: the bootloader in the EEPROM (which also holds the
 * firmware: a Pi 5 reads no start*.elf, fixup*.dat or bootcode.bin) reads
 * config.txt and cmdline.txt from the FAT boot partition, loads the kernel
 * config.txt names with its initramfs (auto_initramfs) and the BCM2712
 * device tree, and boots the root partition named by PARTUUID. Both text
 * files are written here, from the node's config.
 *
 * The kernel: Raspberry Pi's 64-bit kernel with 4 KiB pages, kernel8.img
 * (linux-image-rpi-v8), unless the node sets `kernel: 16k` for the Pi 5's
 * own, kernel_2712.img (linux-image-rpi-2712, 16 KiB pages), which the
 * firmware would otherwise prefer. 4 KiB is the default because a k3s node
 * runs other people's container images, and software built for 4 KiB
 * pages (jemalloc with its page size compiled in, some databases and
 * runtimes) fails on 16 KiB ones; the 16 KiB kernel is somewhat faster. The
 * page size does not change the Envoy question: both kernels have less
 * than the 48-bit address space tcmalloc needs (39 bits with 4 KiB pages,
 * 47 with 16 KiB), so Cilium's Envoy stays off on a cluster with a Pi 5
 * either way. Both kernels go to the boot partition when the base has them
 * (Raspberry Pi OS Lite does), so a node can switch by editing config.txt. */
#include "board.h"
#include "fat.h"
#include "log.h"
#include "pathmap.h"
#include "plan.h"
#include "template.h"

static const struct pi5_kernel {
	const char *page_size, *file, *package;
} pi5_kernels[] = {
	{ "4k", "kernel8.img", "linux-image-rpi-v8" },
	{ "16k", "kernel_2712.img", "linux-image-rpi-2712" },
};

static int add_text(struct board_finish *f, const char *name, const char *text)
{
	int r = fat_add_file(f->fat, name, text, strlen(text), f->plan->epoch);

	return r < 0 ? log_error_errno(r, "Cannot write %s into the boot partition: %m", name) : 0;
}

static int pi5_finish(struct board_finish *f)
{
	const char *node = vars_get(f->vars, "node"), *page = vars_get(f->vars, "kernel_page_size");
	const char *gen = vars_get(f->vars, "pcie_gen");
	const struct pi5_kernel *k = NULL;
	_cleanup_free_ char *config = NULL, *cmdline = NULL;
	const char *missing = NULL;
	int r;

	for (size_t i = 0; i < ELEMENTSOF(pi5_kernels); i++)
		if (streq(pi5_kernels[i].page_size, page))
			k = &pi5_kernels[i];
	if (!k)
		return log_error("%s: unknown kernel page size '%s'", node, page);
	if (!pathmap_get(f->boot_files, "bcm2712-rpi-5-b.dtb", NULL))
		missing = "device tree (bcm2712-rpi-5-b.dtb)";
	else if (!pathmap_get(f->boot_files, "overlays/bcm2712d0.dtbo", NULL))
		missing = "device tree overlay for the D0 stepping (overlays/bcm2712d0.dtbo)";
	if (missing)
		return log_error("%s: the base has no Raspberry Pi 5 %s in /boot/firmware. Debian's "
				 "own arm64 kernel cannot boot a Pi 5: build the base with "
				 "'farm-image rootfs --board pi5' (Raspberry Pi archive: "
				 "linux-image-rpi-v8 or linux-image-rpi-2712, raspi-firmware) or "
				 "pass a Raspberry Pi OS Lite image with --base",
				 f->base, missing);
	if (!pathmap_get(f->boot_files, k->file, NULL))
		return log_error("%s: node %s runs the Raspberry Pi kernel with %s pages, %s, which "
				 "the base does not have in /boot/firmware: add the package %s to "
				 "the base (Raspberry Pi OS Lite has it), or set 'kernel: %s' on "
				 "the node",
				 f->base, node, streq(page, "4k") ? "4 KiB" : "16 KiB", k->file,
				 k->package, streq(page, "4k") ? "16k" : "4k");

	config = xasprintf("# config.txt of %s, written by farm-image (builder/board-pi5.c).\n"
			   "[all]\n"
			   "# Raspberry Pi's kernel with %s pages (kernel: %s on the node).\n"
			   "kernel=%s\n"
			   "auto_initramfs=1\n"
			   "# NVMe on an M.2 HAT that is not a HAT+: enable the external PCIe\n"
			   "# connector, at gen %s (set pcie-gen: 3 on the node for gen 3).\n"
			   "dtparam=pciex1\n"
			   "dtparam=pciex1_gen=%s\n"
			   "enable_uart=1\n"
			   "disable_splash=1\n",
			   node, streq(page, "4k") ? "4 KiB" : "16 KiB", page, k->file, gen, gen);
	/* One line. cgroup_enable=memory turns the memory controller on
	 * (Raspberry Pi kernels disable it); fsck.repair=yes lets
	 * systemd-fsck repair the root before it is used, as Raspberry Pi OS
	 * does; no "resize": the data partition grows, not the root. */
	cmdline = xasprintf("console=serial0,115200 console=tty1 root=PARTUUID=%s rootfstype=ext4 "
			    "fsck.repair=yes ro rootwait cgroup_enable=memory\n",
			    vars_get(f->vars, "root_partuuid"));
	r = add_text(f, "config.txt", config);
	if (r >= 0)
		r = add_text(f, "cmdline.txt", cmdline);
	return r;
}

/* The bootloader in the Pi 5's EEPROM reads 512-byte sectors ("nvme: error
 * 10", unsupported block size) before the 2025-10-08 release, whose note
 * calls its 4 KiB-sector NVMe support preliminary and keeps USB boot at 512
 * bytes; 2025-10-17 fixed its reading of a 4Kn GPT, the default release
 * since 2025-11-09 has both (rpi-eeprom firmware-2712/release-notes.md,
 * issue #577). farm's pi5 images are laid out in 512-byte sectors, so it
 * refuses anything else. */
static const char *pi5_sector_size_problem(unsigned lss)
{
	if (lss == 512)
		return NULL;
	return "the Raspberry Pi 5 boots from 512-byte sectors (its bootloader reads 4 KiB-sector "
	       "NVMe drives only since its 2025-10 releases, as a preliminary feature, and never "
	       "over USB) and farm lays pi5 images out in 512-byte sectors; reformat the "
	       "drive to 512-byte sectors (nvme format --lbaf=N, N a 512-byte format of "
	       "'nvme id-ns -H')";
}

const struct board_ops board_pi5 = {
	.name = "pi5",
	.arch = "arm64",
	.qemu_arch = "aarch64",
	/* Raspberry Pi's kernels: 39 bits with 4K pages, 47 with 16K
	 * (raspberrypi/linux#5354). */
	.va_bits = 39,
	.finish = pi5_finish,
	.sector_size_problem = pi5_sector_size_problem,
	.base_archives = " and Raspberry Pi's",
	.base_other = " or a Raspberry Pi OS Lite image",
};
