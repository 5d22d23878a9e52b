# A Raspberry Pi OS Lite disk image as the base (--base IMAGE): the builder
# reads its MBR, FAT bootfs and ext4 rootfs directly. mkrpiimg makes such an
# image from the `full` fixture; the node built from it (raw and .xz) must
# hold what the node built from the fixture tar holds, and damaged images
# are refused with one message and no output.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools e2fsck mdir mcopy python3
mktmp
fixture full "$TMP/full.tar" || exit 1
img=$TMP/rpi.img
if ! "$HELPERS/mkrpiimg" "$TMP/full.tar" "$img" 2>"$TMP/mk.err"; then
	fail "mkrpiimg" "$(cat "$TMP/mk.err")"
	exit 1
fi
check_eq "mkrpiimg: Raspberry Pi OS layout" "dos c 83" \
	"$(sfdisk -d "$img" | sed -n 's/^label: //p;s/.*type=\([0-9a-f]*\).*/\1/p' | tr '\n' ' ' | sed 's/ $//')"

# root_tree DIR: the ext4tree listing of DIR/sheep.img's root partition.
root_tree() {
	extract "$1/sheep.img" "$1/sheep.json" 2 "$1/root.ext4" && "$HELPERS/ext4tree" "$1/root.ext4"
}

# built NAME BASE OUT: builds sheep; on failure the log is shown.
built() {
	if build sheep "$2" "$3"; then
		pass "$1"
	else
		fail "$1" "farm-image build failed"
		sed 's/^/    /' "$3.log" | head -40
	fi
}

# --- (a) tar, (b) .img, (c) .img.xz ---------------------------------------
built "build from the tar" "$TMP/full.tar" "$TMP/a"
built "build from the .img" "$img" "$TMP/b"
if ! have xz; then
	skip "build from the .img.xz" "xz is missing (install xz-utils)"
else
	xz -T0 -1 -k "$img"
	built "build from the .img.xz" "$img.xz" "$TMP/c"
	if [ -f "$TMP/b/sheep.img" ] && [ -f "$TMP/c/sheep.img" ]; then
		for f in sheep.img sheep.img.bmap sheep.img.zst; do
			check ".img and .img.xz give the same $f" cmp "$TMP/b/$f" "$TMP/c/$f"
		done
		check_eq ".img and .img.xz give the same manifest, but for the base" \
			"$(manifest_get "$TMP/b/sheep.json" "{k: v for k, v in m.items() if k != 'inputs'}")" \
			"$(manifest_get "$TMP/c/sheep.json" "{k: v for k, v in m.items() if k != 'inputs'}")"
		check_eq "manifest: sha256 of the .img.xz as given" \
			"$(sha256sum <"$img.xz" | cut -d' ' -f1)" \
			"$(manifest_get "$TMP/c/sheep.json" "m['inputs']['base']['sha256']")"
	fi
	rm -f "$img.xz"
fi
if [ -f "$TMP/a/sheep.img" ] && [ -f "$TMP/b/sheep.img" ]; then
	check_eq "manifest: sha256 of the .img" "$(sha256sum <"$img" | cut -d' ' -f1)" \
		"$(manifest_get "$TMP/b/sheep.json" "m['inputs']['base']['sha256']")"
	root_tree "$TMP/a" >"$TMP/a.tree" && root_tree "$TMP/b" >"$TMP/b.tree"
	if diff -u "$TMP/a.tree" "$TMP/b.tree" >"$TMP/tree.diff"; then
		pass "same root filesystem from the tar and the .img ($(wc -l <"$TMP/a.tree") names)"
	else
		fail "same root filesystem from the tar and the .img" "ext4tree listings differ"
		head -40 "$TMP/tree.diff" | sed 's/^/    /'
	fi
	check "e2fsck clean (root from the .img)" e2fsck -fn "$TMP/b/root.ext4"
	# Every kind of xattr a Debian root carries, as debugfs shows them (the
	# bytes on disk: ACLs in ext4's own form): the same in the Pi OS
	# image's root and in the node's. An ACL read in one form and written
	# as the other would differ, or be refused.
	dd if="$img" of="$TMP/src.ext4" bs=1M skip=516 count=256 status=none
	for p in /var/log/journal /usr/bin/ping /etc/user.xattr /etc/big.xattr; do
		src=$(dfs "$TMP/src.ext4" "ea_list $p")
		check_eq "xattrs of $p: the .img's and the node's" "$src" "$(dfs "$TMP/b/root.ext4" "ea_list $p")"
	done
	check_eq "the .img's /var/log/journal has both ACLs" \
		"system.posix_acl_access (28) system.posix_acl_default (28)" \
		"$(dfs "$TMP/src.ext4" "ea_list /var/log/journal" | grep -o 'system.posix_acl_[a-z]* ([0-9]*)' | tr '\n' ' ' | sed 's/ $//')"
	rm -f "$TMP/src.ext4"
	for x in a b; do
		extract "$TMP/$x/sheep.img" "$TMP/$x/sheep.json" 1 "$TMP/$x/boot.vfat"
		mdir -i "$TMP/$x/boot.vfat" -/ -b :: 2>/dev/null | sed 's|^::/||' | sort >"$TMP/$x.boot"
	done
	check_eq "same boot files from the tar and the .img" "$(cat "$TMP/a.boot")" "$(cat "$TMP/b.boot")"
	same=0 total=0
	while read -r f; do
		case $f in */) continue ;; esac
		total=$((total + 1))
		cmp -s <(mcopy -n -i "$TMP/a/boot.vfat" "::$f" -) <(mcopy -n -i "$TMP/b/boot.vfat" "::$f" -) &&
			same=$((same + 1))
	done <"$TMP/a.boot"
	if [ $total -eq 0 ]; then
		fail "same boot file contents" "no boot files"
	else
		check_eq "same boot file contents" "$total of $total" "$same of $total"
	fi
fi
rm -rf "$TMP/a" "$TMP/b" "$TMP/c"

# --- damaged images: one message naming the file, exit 1, no output -------
# refused_image NAME IMAGE MESSAGE: the image is refused (image.lib's
# refused: exit 1, this one message after "farm-image: IMAGE: ", nothing
# left), then removed.
refused_image() {
	refused "$1 refused" "$2" "farm-image: $2: $3"
	rm -f "$2"
}

# damage COPY PYTHON: a copy of the image, changed by PYTHON (f: the open
# file; p1, p2: partition byte offsets; rd(off, fmt), wr(off, fmt, v)).
damage() {
	cp --sparse=always "$img" "$1"
	python3 - "$1" "$2" <<'EOF'
import struct, sys
f = open(sys.argv[1], 'r+b')
def rd(off, fmt):
    f.seek(off)
    return struct.unpack('<' + fmt, f.read(struct.calcsize('<' + fmt)))[0]
def wr(off, fmt, v):
    f.seek(off)
    f.write(struct.pack('<' + fmt, v))
p1, p2 = rd(446 + 8, 'I') * 512, rd(446 + 16 + 8, 'I') * 512
bps, spc, reserved = rd(p1 + 11, 'H'), rd(p1 + 13, 'B'), rd(p1 + 14, 'H')
fat = p1 + reserved * bps
data = fat + 2 * rd(p1 + 36, 'I') * bps
exec(sys.argv[2])
EOF
}

damage "$TMP/nosb.img" "f.seek(p2 + 1024); f.write(bytes(1024))"
refused_image "zeroed ext4 superblock" "$TMP/nosb.img" \
	"cannot read the ext4 filesystem in partition 2: Bad magic number in super-block"

damage "$TMP/rootloop.img" "wr(fat + 4 * 2, 'I', 2)"
refused_image "FAT root directory chain loops" "$TMP/rootloop.img" \
	"the FAT filesystem in partition 1 is damaged: directory '/': the cluster chain from cluster 2 loops"

# kernel_2712.img (64 KiB, several clusters): its second cluster links back
# to its first.
damage "$TMP/fileloop.img" "
d = data
for i in range(0, spc * bps, 32):
    if rd(d + i, '11s') == b'KERNEL~1IMG':
        c = rd(d + i + 26, 'H') | rd(d + i + 20, 'H') << 16
        wr(fat + 4 * (c + 1), 'I', c)
        break
else:
    raise SystemExit('kernel_2712.img not found')"
refused_image "FAT file chain loops" "$TMP/fileloop.img" \
	"the FAT filesystem in partition 1 is damaged: file 'kernel_2712.img': the cluster chain from cluster $(
		python3 -c "
import struct; f = open('$img', 'rb'); f.seek(446 + 8); p1 = struct.unpack('<I', f.read(4))[0] * 512
f.seek(p1); b = f.read(512); bps, spc, res = struct.unpack('<HBH', b[11:16]); fat = struct.unpack('<I', b[36:40])[0]
f.seek(p1 + (res + 2 * fat) * bps); d = f.read(spc * bps)
e = [d[i:i + 32] for i in range(0, len(d), 32) if d[i:i + 11] == b'KERNEL~1IMG'][0]
print(struct.unpack('<H', e[26:28])[0] | struct.unpack('<H', e[20:22])[0] << 16)") loops"

size=$(stat -c %s "$img")
damage "$TMP/pastend.img" "wr(446 + 16 + 12, 'I', rd(446 + 16 + 12, 'I') + 2048)"
refused_image "MBR partition past the end" "$TMP/pastend.img" \
	"partition 2 (bytes $((516 * 1048576)) to $((size + 1048576))) ends past the end of the disk image ($size bytes)"

# A GPT disk image (a node image) is not taken for a Raspberry Pi OS one.
build sheep "$TMP/full.tar" "$TMP/gpt" >/dev/null 2>&1
refused_image "GPT image" "$TMP/gpt/sheep.img" \
	"the disk image has a gpt partition table; a Raspberry Pi OS image has an MBR (dos) one"

# A hostile ext4 root (debugfs keeps the checksums right): a directory
# linked below itself, a name for a reserved inode, overlapping extents.
# debugfs_damage COPY REQUEST
debugfs_damage() {
	local p2=$((516 * 1048576))
	cp --sparse=always "$img" "$1"
	dd if="$img" of="$TMP/p2.ext4" bs=1M iflag=skip_bytes skip=$p2 conv=sparse status=none
	debugfs -w -R "$2" "$TMP/p2.ext4" >/dev/null 2>&1
	dd if="$TMP/p2.ext4" of="$1" bs=1M oflag=seek_bytes seek=$p2 conv=sparse,notrunc status=none
	rm -f "$TMP/p2.ext4"
}
if have debugfs; then
	debugfs_damage "$TMP/loop.img" "link /etc /etc/loop"
	refused_image "ext4 directory loop" "$TMP/loop.img" \
		"the disk image is damaged or truncated after * entries: entry 'etc/loop': directory inode * has a second name (the tree loops)"
	debugfs_damage "$TMP/reserved.img" "link <5> /etc/five"
	refused_image "ext4 name for a reserved inode" "$TMP/reserved.img" \
		"the disk image is damaged or truncated after * entries: entry 'etc/five': inode number 5 is out of range"
	debugfs_damage "$TMP/overlap.img" "sif /var/sparse.img block[6] 0"
	refused_image "ext4 overlapping extents" "$TMP/overlap.img" \
		"the disk image is damaged or truncated after * entries: entry 'var/sparse.img': its extents overlap"
	# An ACL whose last entry is cut short (libext2fs's converter would read
	# past it): refused, naming the entry.
	printf '\001\000\000\000\001\000\007\000\004\000' >"$TMP/acl.bin"
	debugfs_damage "$TMP/badacl.img" "ea_set -r -f $TMP/acl.bin /var/log/journal system.posix_acl_access"
	refused_image "ext4 ACL cut short" "$TMP/badacl.img" \
		"the disk image is damaged or truncated after * entries: entry 'var/log/journal': its system.posix_acl_access is not a valid ext4 ACL"
else
	skip "hostile ext4 roots" "debugfs is missing (install e2fsprogs)"
fi
