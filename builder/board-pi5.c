/* SPDX-License-Identifier: MIT */
/* Raspberry Pi 5: the firmware reads config.txt and cmdline.txt from the
 * FAT boot partition, loads the kernel (kernel_2712.img, else kernel8.img)
 * with the BCM2712 device tree, and boots the root partition named by
 * PARTUUID. Both text files are written here, from the node's config. */
#include "board.h"
#include "fat.h"
#include "log.h"
#include "pathmap.h"
#include "plan.h"
#include "template.h"

static int add_text(struct board_finish *f, const char *name, const char *text)
{
	int r = fat_add_file(f->fat, name, text, strlen(text), f->plan->epoch);

	return r < 0 ? log_error_errno(r, "Cannot write %s into the boot partition: %m", name)
		     : 0;
}

static int pi5_finish(struct board_finish *f)
{
	const char *kernel = NULL, *node = vars_get(f->vars, "node");
	const char *gen = vars_get(f->vars, "pcie_gen");
	_cleanup_free_ char *config = NULL, *cmdline = NULL;
	int r;

	if (pathmap_get(f->boot_files, "kernel_2712.img", NULL))
		kernel = "kernel_2712.img";
	else if (pathmap_get(f->boot_files, "kernel8.img", NULL))
		kernel = "kernel8.img";
	if (!kernel || !pathmap_get(f->boot_files, "bcm2712-rpi-5-b.dtb", NULL) ||
	    !pathmap_get(f->boot_files, "overlays/bcm2712d0.dtbo", NULL))
		return log_error(
			"%s: the base has no Raspberry Pi 5 %s in /boot/firmware (%s). Debian's own "
			"arm64 kernel cannot boot a Pi 5: build the base with 'farm-image rootfs "
			"--board pi5' (Raspberry Pi archive: linux-image-rpi-2712, raspi-firmware) "
			"or pass a Raspberry Pi OS Lite image with --base",
			f->base, !kernel ? "kernel" : "device tree",
			!kernel ? "kernel_2712.img or kernel8.img"
				: !pathmap_get(f->boot_files, "bcm2712-rpi-5-b.dtb", NULL)
					  ? "bcm2712-rpi-5-b.dtb"
					  : "overlays/bcm2712d0.dtbo");

	config = xasprintf(
		"# config.txt of %s, written by farm-image (builder/board-pi5.c).\n"
		"[all]\n"
		"arm_64bit=1\n"
		"kernel=%s\n"
		"auto_initramfs=1\n"
		"# NVMe on an M.2 HAT that is not a HAT+: enable the external PCIe\n"
		"# connector, at gen %s (set pcie-gen: 3 on the node for gen 3).\n"
		"dtparam=pciex1\n"
		"dtparam=pciex1_gen=%s\n"
		"enable_uart=1\n"
		"disable_splash=1\n",
		node, kernel, gen, gen);
	/* One line. cgroup_enable=memory turns the memory controller on
	 * (Raspberry Pi kernels disable it); no "resize": the data partition
	 * grows, not the root. */
	cmdline = xasprintf("console=serial0,115200 console=tty1 root=PARTUUID=%s rootfstype=ext4 "
			    "ro rootwait cgroup_enable=memory\n",
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
	.finish = pi5_finish,
	.sector_size_problem = pi5_sector_size_problem,
	.base_archives = " and Raspberry Pi's",
	.base_other = " or a Raspberry Pi OS Lite image",
};
