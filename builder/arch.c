/* SPDX-License-Identifier: MIT */
#include "arch.h"
#include "util.h"

#include <elf.h>
#include <strings.h>

bool arch_program(const char *path)
{
	static const char *const programs[] = {
		"usr/bin/dpkg",	       "bin/dpkg",	"usr/lib/systemd/systemd",
		"lib/systemd/systemd", "usr/sbin/sshd",
	};

	for (size_t i = 0; i < ELEMENTSOF(programs); i++)
		if (streq(path, programs[i]))
			return true;
	return false;
}

/* Debian's ports by their ELF machine, class and byte order. */
static const struct {
	uint16_t machine;
	uint8_t class, data;
	const char *arch, *name;
} elf_machines[] = {
	{ EM_X86_64, ELFCLASS64, ELFDATA2LSB, "amd64", "x86-64" },
	{ EM_AARCH64, ELFCLASS64, ELFDATA2LSB, "arm64", "AArch64" },
	{ EM_386, ELFCLASS32, ELFDATA2LSB, "i386", "Intel 80386" },
	{ EM_ARM, ELFCLASS32, ELFDATA2LSB, "armhf or armel", "32-bit ARM" },
	{ EM_X86_64, ELFCLASS32, ELFDATA2LSB, "x32", "x86-64, 32-bit" },
	{ EM_RISCV, ELFCLASS64, ELFDATA2LSB, "riscv64", "RISC-V 64-bit" },
	{ EM_PPC64, ELFCLASS64, ELFDATA2LSB, "ppc64el", "PowerPC 64-bit" },
	{ EM_S390, ELFCLASS64, ELFDATA2MSB, "s390x", "IBM S/390" },
	{ EM_MIPS, ELFCLASS64, ELFDATA2LSB, "mips64el", "MIPS 64-bit" },
	{ 258 /* EM_LOONGARCH */, ELFCLASS64, ELFDATA2LSB, "loong64", "LoongArch" },
};

bool arch_of_elf(const uint8_t *h, size_t len, struct elf_arch *a)
{
	uint16_t machine;

	if (len < ARCH_ELF_HEADER || memcmp(h, ELFMAG, SELFMAG) != 0)
		return false;
	machine = h[EI_DATA] == ELFDATA2MSB ? (uint16_t)(h[18] << 8 | h[19])
					    : (uint16_t)(h[18] | h[19] << 8);
	for (size_t i = 0; i < ELEMENTSOF(elf_machines); i++)
		if (elf_machines[i].machine == machine && elf_machines[i].class == h[EI_CLASS] &&
		    elf_machines[i].data == h[EI_DATA]) {
			a->arch = elf_machines[i].arch;
			snprintf(a->machine, sizeof(a->machine), "%s", elf_machines[i].name);
			return true;
		}
	a->arch = NULL;
	snprintf(a->machine, sizeof(a->machine), "%u, %u-bit", machine,
		 h[EI_CLASS] == ELFCLASS64 ? 64 : 32);
	return true;
}

/* The value of field NAME in the stanza [P, END), without surrounding
 * blanks (continuation lines are not needed for these fields). */
static bool field(const char *p, const char *end, const char *name, const char **v, size_t *vlen)
{
	size_t n = strlen(name);

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		if (!eol)
			eol = end;
		if ((size_t)(eol - p) > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
			const char *s = p + n + 1, *e = eol;
			while (s < e && (*s == ' ' || *s == '\t'))
				s++;
			while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r'))
				e--;
			*v = s;
			*vlen = (size_t)(e - s);
			return true;
		}
		p = eol + 1;
	}
	return false;
}

static bool value_is(const char *v, size_t len, const char *want)
{
	return len == strlen(want) && memcmp(v, want, len) == 0;
}

/* Whether the package's files are on the system: the status's last word
 * is neither "not-installed" nor "config-files". */
static bool unpacked(const char *status, size_t len)
{
	const char *last = status + len;

	while (last > status && last[-1] != ' ')
		last--;
	len -= (size_t)(last - status);
	return len > 0 && !value_is(last, len, "not-installed") &&
	       !value_is(last, len, "config-files");
}

int arch_of_dpkg_status(const char *text, size_t len, char **arch, const char **package)
{
	const char *p = text, *end = text + len;
	const char *libc = NULL;
	size_t libc_len = 0;
	bool libc_mixed = false;

	*arch = NULL;
	*package = NULL;
	while (p < end) {
		const char *stop = memmem(p, (size_t)(end - p), "\n\n", 2);
		const char *s_end = stop ? stop + 1 : end;
		const char *name, *status, *a;
		size_t name_len, status_len, a_len;

		if (field(p, s_end, "Package", &name, &name_len) &&
		    field(p, s_end, "Status", &status, &status_len) &&
		    unpacked(status, status_len) && field(p, s_end, "Architecture", &a, &a_len) &&
		    a_len > 0) {
			if (value_is(name, name_len, "dpkg")) {
				*arch = xasprintf("%.*s", (int)a_len, a);
				*package = "dpkg";
				return 1;
			}
			if (value_is(name, name_len, "libc6")) {
				if (libc && (libc_len != a_len || memcmp(libc, a, a_len) != 0))
					libc_mixed = true;
				libc = a;
				libc_len = a_len;
			}
		}
		p = stop ? stop + 2 : end;
	}
	if (!libc || libc_mixed)
		return 0;
	*arch = xasprintf("%.*s", (int)libc_len, libc);
	*package = "libc6";
	return 1;
}
