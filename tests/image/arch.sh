# A base of another architecture than the board's is refused while it
# streams, naming the entry that shows it, what it is for and what the board
# runs, with nothing left behind (issue 13, item 14). The evidence: the
# Architecture of dpkg (else libc6) in /var/lib/dpkg/status, and the ELF
# header of /usr/bin/dpkg, systemd and sshd. A base that shows none is
# refused too.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools python3
mktmp
fixture full "$TMP/full.tar" && fixture full-amd64 "$TMP/full-amd64.tar" || exit 1

refused amd64-base "$TMP/full-amd64.tar" \
	"farm-image: $TMP/full-amd64.tar: entry 'var/lib/dpkg/status': the base is for amd64 (its dpkg package is), but board pi5 runs arm64 programs: pass a base for arm64"

# duck (x86) from the arm64 base.
build duck "$TMP/full.tar" "$TMP/out-duck"
check_eq "arm64 base for x86 refused" "1 farm-image: $TMP/full.tar: entry 'var/lib/dpkg/status': the base is for arm64 (its dpkg package is), but board x86 runs amd64 programs: pass a base for amd64" \
	"$? $(cat "$TMP/out-duck.log")"
check_eq "arm64 base for x86 leaves nothing" "" "$(ls -A "$TMP/out-duck" 2>/dev/null)"

# variant NAME STATUS [PATH=MACHINE...]: the full fixture with another
# /var/lib/dpkg/status (STATUS: "dpkg" keeps it, "libc6-amd64" lists libc6
# instead of dpkg, "none" neither) and programs at the end, in place of the
# fixture's stand-ins at those paths (MACHINE: an ELF header for x86-64,
# aarch64 or a machine number, or "script").
variant() {
	python3 - "$TMP/full.tar" "$TMP/$1.tar" "${@:2}" <<'PY'
import io, re, struct, sys, tarfile
src, out, status = sys.argv[1:4]
machines = {"x86-64": 62, "aarch64": 183}
def entry(name, data, mode=0o644):
    ti = tarfile.TarInfo(name); ti.size = len(data); ti.mode = mode; ti.mtime = 1600000000
    return ti, io.BytesIO(data)
def elf(machine):
    # ELF64, little-endian, ET_DYN, then e_machine; the rest of a header.
    return b"\x7fELF\x02\x01\x01" + bytes(9) + struct.pack("<HH", 3, machine) + bytes(44)
programs = {"./" + a.split("=")[0] for a in sys.argv[4:]}
with tarfile.open(src) as s, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
    for m in s:
        if m.issparse() or m.name in programs:
            continue
        f = s.extractfile(m) if m.isreg() else None
        if m.name == "./var/lib/dpkg/status" and status != "dpkg":
            text = f.read().decode()
            libc = ("Package: libc6\nStatus: install ok installed\nArchitecture: amd64\n"
                    "Version: 2.41-12\n\n" if status == "libc6-amd64" else "")
            text = re.sub(r"Package: dpkg\n.*?\n\n", libc, text, flags=re.S)
            m.size = len(text.encode()); f = io.BytesIO(text.encode())
        t.addfile(m, f)
    for arg in sys.argv[4:]:
        path, machine = arg.split("=")
        data = b"#!/bin/sh\n" if machine == "script" else elf(machines.get(machine) or int(machine))
        t.addfile(*entry("./" + path, data, 0o755))
PY
}

variant elf-amd64 dpkg usr/bin/dpkg=x86-64
refused elf-amd64 "$TMP/elf-amd64.tar" \
	"farm-image: $TMP/elf-amd64.tar: entry 'usr/bin/dpkg': an ELF program for x86-64, so the base is for amd64, but board pi5 runs arm64 programs: pass a base for arm64"
variant sshd-amd64 none usr/lib/systemd/systemd=aarch64 usr/sbin/sshd=x86-64
refused sshd-amd64 "$TMP/sshd-amd64.tar" \
	"farm-image: $TMP/sshd-amd64.tar: entry 'usr/sbin/sshd': an ELF program for x86-64, so the base is for amd64, but board pi5 runs arm64 programs: pass a base for arm64"
variant elf-unknown none usr/bin/dpkg=4660
refused elf-unknown "$TMP/elf-unknown.tar" \
	"farm-image: $TMP/elf-unknown.tar: entry 'usr/bin/dpkg': a program for ELF machine 4660, 64-bit, which is no Debian architecture, but board pi5 runs arm64 programs: pass a base for arm64"
variant libc6-amd64 libc6-amd64
refused libc6-amd64 "$TMP/libc6-amd64.tar" \
	"farm-image: $TMP/libc6-amd64.tar: entry 'var/lib/dpkg/status': the base is for amd64 (its libc6 package is), but board pi5 runs arm64 programs: pass a base for arm64"
variant no-evidence none
refused no-evidence "$TMP/no-evidence.tar" \
	"farm-image: $TMP/no-evidence.tar: nothing in the base tells its architecture (no dpkg or libc6 in /var/lib/dpkg/status, no ELF /usr/bin/dpkg, /usr/lib/systemd/systemd or /usr/sbin/sshd), and board pi5 runs only arm64 programs: pass a Debian-based base for arm64"

# The programs alone are evidence enough; a script is none.
variant elf-arm64 none usr/bin/dpkg=aarch64
check "arm64 programs, no dpkg record: built" build sheep "$TMP/elf-arm64.tar" "$TMP/out-elf-arm64"
variant script none usr/bin/dpkg=script
refused script "$TMP/script.tar" \
	"farm-image: $TMP/script.tar: nothing in the base tells its architecture (no dpkg or libc6 in /var/lib/dpkg/status, no ELF /usr/bin/dpkg, /usr/lib/systemd/systemd or /usr/sbin/sshd), and board pi5 runs only arm64 programs: pass a Debian-based base for arm64"

# A Raspberry Pi OS image of the other architecture: the same refusal.
if "$HELPERS/mkrpiimg" "$TMP/full-amd64.tar" "$TMP/amd64.img" 2>"$TMP/mk.err"; then
	refused amd64-image "$TMP/amd64.img" \
		"farm-image: $TMP/amd64.img: entry 'var/lib/dpkg/status': the base is for amd64 (its dpkg package is), but board pi5 runs arm64 programs: pass a base for arm64"
else
	fail "mkrpiimg" "$(cat "$TMP/mk.err")"
fi
