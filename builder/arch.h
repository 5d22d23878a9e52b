/* SPDX-License-Identifier: MIT */
/* What architecture a base is for, from what a Debian system records of it:
 * the Architecture of dpkg's own package in /var/lib/dpkg/status (dpkg runs
 * natively, so its architecture is the system's: `dpkg --print-architecture`)
 * and the ELF header of programs that exist only natively (dpkg, init,
 * sshd). Other programs and the dynamic loaders are no evidence: a multiarch
 * system legitimately carries those of a foreign architecture too. Pure:
 * stream.c compares what these return with the board's architecture as the
 * base streams. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Bytes of a file's start that arch_of_elf() reads. */
#define ARCH_ELF_HEADER 20

struct elf_arch {
	const char *arch; /* Debian architecture ("amd64"); NULL when unknown */
	char machine[32]; /* the ELF machine, for messages ("x86-64") */
};

/* True for the paths of a rootfs whose ELF header tells its architecture. */
bool arch_program(const char *path);

/* Reads the ELF header at H (LEN bytes). Returns true and fills *A when it
 * is one, false when H does not start with an ELF header. */
bool arch_of_elf(const uint8_t *h, size_t len, struct elf_arch *a);

/* The architecture /var/lib/dpkg/status (TEXT, LEN bytes) gives: that of the
 * installed dpkg, else that of libc6 when every installed instance has the
 * same. Returns 1 with *ARCH (allocated) and *PACKAGE ("dpkg", "libc6"), or 0
 * when the status tells none. */
int arch_of_dpkg_status(const char *text, size_t len, char **arch, const char **package);
