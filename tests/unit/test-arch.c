/* SPDX-License-Identifier: MIT */
/* What a base's dpkg status and ELF headers say of its architecture. */
#include "arch.h"
#include "unit.h"
#include "util.h"

static const char *status_arch(const char *text, const char **package)
{
	static char buf[64];
	char *arch = NULL;

	*package = NULL;
	if (arch_of_dpkg_status(text, strlen(text), &arch, package) == 0)
		return "(none)";
	snprintf(buf, sizeof(buf), "%s", arch);
	free(arch);
	return buf;
}

int main(void)
{
	const char *pkg;
	struct elf_arch a;
	uint8_t h[64] = { 0x7f, 'E', 'L', 'F', 2, 1, 1 };

	/* dpkg wins over libc6, whatever the order; a multiarch libc6 is no
	 * answer alone; packages whose files are gone say nothing. */
	CHECK_STR("dpkg's Architecture", "arm64",
		  status_arch("Package: libc6\nStatus: install ok installed\nArchitecture: i386\n\n"
			      "Package: dpkg\nArchitecture: arm64\nStatus: install ok installed\n",
			      &pkg));
	CHECK_STR("named package", "dpkg", pkg);
	CHECK_STR("field names in any case, blanks around values", "amd64",
		  status_arch("package: dpkg\nstatus:  install ok installed \narchitecture:\tamd64 \n",
			      &pkg));
	CHECK_STR("libc6 when dpkg is not listed", "amd64",
		  status_arch("Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n",
			      &pkg));
	CHECK_STR("libc6 named", "libc6", pkg);
	CHECK_STR("multiarch libc6 alone: no answer", "(none)",
		  status_arch("Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n\n"
			      "Package: libc6\nStatus: install ok installed\nArchitecture: i386\n",
			      &pkg));
	CHECK_STR("removed dpkg says nothing", "(none)",
		  status_arch("Package: dpkg\nStatus: deinstall ok config-files\nArchitecture: amd64\n",
			      &pkg));
	CHECK_STR("no Architecture: no answer", "(none)",
		  status_arch("Package: dpkg\nStatus: install ok installed\n", &pkg));
	CHECK_STR("a Package line inside another field is no package", "(none)",
		  status_arch("Package: bash\nDescription: x\n Package: dpkg\nStatus: install ok "
			      "installed\nArchitecture: amd64\n",
			      &pkg));
	CHECK_STR("empty status", "(none)", status_arch("", &pkg));

	h[18] = 183;
	CHECK("AArch64 ELF", arch_of_elf(h, sizeof(h), &a) && a.arch && streq(a.arch, "arm64"));
	h[18] = 62;
	CHECK("x86-64 ELF", arch_of_elf(h, sizeof(h), &a) && a.arch && streq(a.arch, "amd64") &&
				    streq(a.machine, "x86-64"));
	h[4] = 1;
	CHECK("x86-64 machine, 32-bit class: x32",
	      arch_of_elf(h, sizeof(h), &a) && streq(a.arch, "x32"));
	h[4] = 2;
	h[18] = 0x34, h[19] = 0x12;
	CHECK("unknown machine",
	      arch_of_elf(h, sizeof(h), &a) && !a.arch && streq(a.machine, "4660, 64-bit"));
	CHECK("short header", !arch_of_elf(h, ARCH_ELF_HEADER - 1, &a));
	CHECK("not ELF", !arch_of_elf((const uint8_t *)"#!/bin/sh\nexec true\n\n\n", 20, &a));
	CHECK("paths that tell",
	      arch_program("usr/bin/dpkg") && arch_program("usr/sbin/sshd") &&
		      !arch_program("usr/bin/ls") &&
		      !arch_program("usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"));
	return UNIT_EXIT();
}
