# SPDX-License-Identifier: MIT
# The real x86 base rootfs: `farm-image rootfs --board x86` builds it with
# mmdebstrap from configs/rootfs/x86.yaml and Debian's archive (about two
# minutes) into the user's cache, where `make image` and later runs find it;
# a second run reuses it. Opt-in: FARM_TEST_ROOTFS=1. To force a fresh build,
# point XDG_CACHE_HOME at an empty directory.
source "$(dirname "$0")/../lib.sh"
if [ "${FARM_TEST_ROOTFS:-}" != 1 ]; then
	skip "real x86 base rootfs" "set FARM_TEST_ROOTFS=1 to build a real base (needs the Debian archive)"
	exit 0
fi
for t in mmdebstrap zstd bsdtar; do
	have $t || { skip "real x86 base rootfs" "$t is not installed (scripts/install-deps)"; exit 0; }
done
mktmp

t0=$EPOCHREALTIME
path=$("$FARM_IMAGE" rootfs --board x86 2>"$TMP/err")
rc=$?
t1=$EPOCHREALTIME
check_eq "x86 base builds (or is cached)" 0 "$rc"
if [ $rc -ne 0 ] || [ ! -s "$path" ]; then
	sed 's/^/    /' "$TMP/err"
	exit 1
fi
echo "    $path ($(du -h "$path" | cut -f1)) in $(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.1f", b - a}') s"
check "log next to the archive" test -s "${path%.tar.zst}.log"
check_eq "no temporary files left" "" "$(ls -A "$(dirname "$path")" | grep '^\.' | tr '\n' ' ')"

bsdtar -tf "$path" >"$TMP/list" 2>"$TMP/err" || { fail "archive lists" "$(cat "$TMP/err")"; exit 1; }
has() { grep -qx -- "$2" "$TMP/list" && pass "$1" || fail "$1" "no entry matching $2"; }
has "has systemd" './usr/lib/systemd/systemd'
has "has a kernel" './boot/vmlinuz-[0-9].*-amd64'
has "has an initrd" './boot/initrd.img-[0-9].*-amd64'
has "has sshd" './usr/sbin/sshd'
has "has systemd-networkd" './usr/lib/systemd/systemd-networkd'
has "has systemd-resolved" './usr/lib/systemd/systemd-resolved'
has "has systemd-boot" './usr/lib/systemd/boot/efi/systemd-bootx64.efi'
has "has mkfs.btrfs" './usr/bin/mkfs.btrfs\|./usr/sbin/mkfs.btrfs'
for lib in libfdisk.so.1 libblkid.so.1 libbtrfsutil.so.1 libyaml-0.so.2; do
	has "has $lib" "./usr/lib/x86_64-linux-gnu/$lib"
done
member() { bsdtar -xOf "$path" "./$1" 2>/dev/null; }
check_eq "machine-id is empty" "" "$(member etc/machine-id)"
check_eq "hostname is not the build host's" "localhost" "$(member etc/hostname)"
check_eq "apt sources" "deb http://deb.debian.org/debian trixie main" \
	"$(member etc/apt/sources.list | grep -m1 '^deb ')"
check_eq "zram swap generator masked" "/dev/null" \
	"$(bsdtar -tvf "$path" ./etc/systemd/system-generators/zram-generator 2>/dev/null | sed 's/.* -> //')"
check_eq "apt cache cleaned" "" "$(grep '^./var/cache/apt/archives/.*\.deb$' "$TMP/list")"

t0=$EPOCHREALTIME
again=$("$FARM_IMAGE" rootfs --board x86 2>/dev/null)
t1=$EPOCHREALTIME
check_eq "second run reuses the cache" "$path" "$again"
ms=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%d", (b - a) * 1000}')
if [ "$ms" -lt 1000 ]; then pass "second run under a second ($ms ms)"; else fail "second run under a second" "$ms ms"; fi
check_eq "print-path finds it" "$path" "$("$FARM_IMAGE" rootfs --board x86 --print-path 2>/dev/null)"
