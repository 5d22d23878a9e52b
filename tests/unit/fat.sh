#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The FAT32 writer (builder/fat.c), through tests/helpers/fatwrite, checked
# with standard tools: fsck.fat (dosfstools), mdir/mcopy/mlabel (mtools),
# blkid and file. FATWRITE=path overrides the helper.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

FATWRITE=${FATWRITE:-$HELPERS/fatwrite}
EPOCH=1700000000 # 2023-11-14 22:13:20 UTC
SERIAL=1234abcd
LABEL=farmboot

if [ ! -x "$FATWRITE" ]; then
	fail fat-helper "$FATWRITE not built"
	exit 1
fi
mktmp
have fsck.fat && HAVE_FSCK=1 || HAVE_FSCK=
have mdir && have mcopy && have mlabel && HAVE_MTOOLS=1 || HAVE_MTOOLS=
# mtools converts long names with the locale's charset.
if locale -a 2>/dev/null | grep -qix 'c\.utf-\?8'; then
	export LC_ALL=C.UTF-8
	UTF8=1
else
	UTF8=
fi

# --- the source tree --------------------------------------------------------
SRC=$TMP/src
mkdir -p "$SRC"/a/b/c "$SRC"/emptydir "$SRC"/overlays
printf 'arm_64bit=1\nkernel=kernel_2712.img\n' >"$SRC"/config.txt # plain 8.3, lower case
echo 'console=serial0,115200 root=LABEL=root' >"$SRC"/cmdline.txt
echo readme >"$SRC"/README.md                # upper base, lower extension
echo mixed >"$SRC"/Mixed.Txt                 # mixed case: needs a long name
head -c 40000 /dev/urandom >"$SRC"/bcm2712-rpi-5-b.dtb # these three collide
head -c 40001 /dev/urandom >"$SRC"/bcm2712-rpi-cm5-cm5io.dtb # as BCM2712.DTB
head -c 39999 /dev/urandom >"$SRC"/bcm2712d0-rpi-5-b.dtb
echo literal >"$SRC"/KERNEL~1.IMG            # takes the alias kernel_2712.img would get
head -c $((6 * 1024 * 1024 + 123)) /dev/urandom >"$SRC"/kernel_2712.img
: >"$SRC"/empty.bin
head -c 4096 /dev/urandom >"$SRC"/one-cluster.bin # one cluster at 512 MiB
echo space >"$SRC/with space.txt"
echo dot >"$SRC"/.profile
[ -n "$UTF8" ] && echo unicode >"$SRC/café-ü.txt"
echo deep >"$SRC"/a/b/c/deep.txt
echo b >"$SRC"/a/b/b.txt
for i in $(seq 1 150); do # several directory clusters even at 4 KiB
	echo "$i" >"$SRC/overlays/overlay-with-long-name-$i.dtbo"
done
for i in $(seq 1 120); do # and the root directory too
	echo "$i" >"$SRC/root-file-$i.txt"
done

# --- helpers ----------------------------------------------------------------
# fsck_clean IMG: fsck.fat -n exits 0 and prints nothing but its banner and
# the summary line.
fsck_clean() {
	local out rc extra
	out=$(fsck.fat -n "$1" 2>&1)
	rc=$?
	extra=$(printf '%s\n' "$out" | grep -v -e '^fsck\.fat [0-9.]* (' \
		-e "^$1: [0-9]* files, [0-9]*/[0-9]* clusters\$")
	if [ "$rc" -ne 0 ] || [ -n "$extra" ]; then
		printf 'fsck.fat exit %s\n%s\n' "$rc" "$out"
		return 1
	fi
}

# same_names IMG[@@OFF] SRC: mdir's recursive listing is exactly SRC's tree.
same_names() {
	local want got
	want=$(cd "$2" && find . -mindepth 1 \( -type d -printf '::/%P/\n' \) -o -printf '::/%P\n' |
		LC_ALL=C sort)
	got=$( (mdir -i "$1" -/ -b ::; echo) | sed '/^$/d' | LC_ALL=C sort) || return 1
	if [ "$want" != "$got" ]; then
		diff <(echo "$want") <(echo "$got")
		return 1
	fi
}

# same_content IMG[@@OFF] SRC: mcopy of every file equals the source.
same_content() {
	local f n=0 bad=0
	while IFS= read -r -d '' f; do
		n=$((n + 1))
		if ! mcopy -n -i "$1" "::/$f" - 2>&1 | cmp -s - "$2/$f"; then
			echo "differs: $f"
			bad=1
		fi
	done < <(cd "$2" && find . -type f -printf '%P\0')
	echo "$n files compared"
	[ "$bad" -eq 0 ] && [ "$n" -gt 0 ]
}

# boot_u8 IMG OFFSET / boot_u32 IMG OFFSET: boot sector fields.
boot_u8() { od -An -tu1 -j"$2" -N1 "$1" | tr -d ' '; }
boot_u32() { od -An -tu4 -j"$2" -N4 "$1" | tr -d ' '; }

# --- images -----------------------------------------------------------------
IMG=$TMP/512m.img
IMG64=$TMP/64m.img
check fat-build-512m "$FATWRITE" "$IMG" 512MiB $SERIAL $LABEL $EPOCH "$SRC"
check fat-build-64m "$FATWRITE" "$IMG64" 64MiB $SERIAL $LABEL $EPOCH "$SRC"
[ -s "$IMG" ] && [ -s "$IMG64" ] && BUILT=1 || BUILT=
check_eq fat-sparse-512m yes "$([ -n "$BUILT" ] &&
	[ "$(du -k "$IMG" | cut -f1)" -lt $((64 * 1024)) ] && echo yes || echo no)"

# Cluster size rule: the largest cluster <= 4 KiB that keeps >= 65525
# clusters: 4 KiB at 512 MiB, 512 bytes at 64 MiB.
if [ -n "$BUILT" ]; then
	check_eq fat-cluster-512m 8 "$(boot_u8 "$IMG" 13)"
	check_eq fat-cluster-64m 1 "$(boot_u8 "$IMG64" 13)"
	check_eq fat-data-aligned 0 $(($(boot_u8 "$IMG" 14) + 2 * $(boot_u32 "$IMG" 36) & 7))
else
	skip fat-cluster "images not built"
fi

if [ -z "$HAVE_FSCK" ]; then
	skip fat-fsck "fsck.fat (dosfstools) not installed"
elif [ -n "$BUILT" ]; then
	check fat-fsck-512m fsck_clean "$IMG"
	check fat-fsck-64m fsck_clean "$IMG64"
	for img in "$IMG" "$IMG64"; do
		n=$(fsck.fat -n -v "$img" 2>/dev/null | sed -n 's/^ *\([0-9]*\) data clusters.*/\1/p')
		check_eq "fat-fat32-clusters-$(basename "$img" .img)" yes \
			"$([ "${n:-0}" -ge 65525 ] && echo yes || echo "no ($n)")"
	done
fi

if [ -z "$HAVE_MTOOLS" ]; then
	skip fat-mtools "mtools not installed"
elif [ -n "$BUILT" ]; then
	check fat-names-512m same_names "$IMG" "$SRC"
	check fat-names-64m same_names "$IMG64" "$SRC"
	check fat-content-512m same_content "$IMG" "$SRC"
	check fat-content-64m same_content "$IMG64" "$SRC"
	root=$(mdir -i "$IMG" ::)
	# A lower-case 8.3 name has a long name too (as Linux writes it; Pi 5
	# bootloaders before 2024-01-05 could miss 8.3-only entries), and its
	# exact upper-case basis as the 8.3 name.
	check fat-lowercase-lfn grep -Eq '^CONFIG +TXT +[0-9]+ [0-9-]+ +[0-9:]+ +config\.txt$' <<<"$root"
	check fat-lower-ext-lfn grep -Eq '^README +MD +[0-9]+ [0-9-]+ +[0-9:]+ +README\.md$' <<<"$root"
	check fat-lfn-mixed grep -Eq '^MIXED +TXT .* Mixed\.Txt$' <<<"$root"
	check fat-alias-literal grep -Eq '^KERNEL~1 +IMG +8 [0-9-]+ +[0-9:]+ *$' <<<"$root"
	check fat-alias-kernel grep -Eq '^KERNEL~2 +IMG .* kernel_2712\.img$' <<<"$root"
	check fat-alias-collide-1 grep -Eq '^BCM271~1 +DTB .* bcm2712-rpi-5-b\.dtb$' <<<"$root"
	check fat-alias-collide-2 grep -Eq '^BCM271~2 +DTB .* bcm2712-rpi-cm5-cm5io\.dtb$' <<<"$root"
	check fat-alias-collide-3 grep -Eq '^BCM271~3 +DTB .* bcm2712d0-rpi-5-b\.dtb$' <<<"$root"
	check fat-empty-file grep -Eq '^EMPTY +BIN +0 [0-9-]+ +[0-9:]+ +empty\.bin$' <<<"$root"
	check fat-mtime grep -Eq '^CONFIG +TXT +[0-9]+ 2023-11-14 +22:13' <<<"$root"
	check fat-label-rootdir grep -q 'Volume label is FARMBOOT' <<<"$(mlabel -i "$IMG" -s ::)"
	check fat-serial-mtools grep -q 'Serial Number is 1234-ABCD' <<<"$root"
fi

# Raw 8.3 entries: attribute and case flags of config.txt (archive; none: it
# has a long name), no cluster and size 0 for the empty file.
if [ -n "$BUILT" ]; then
	raw_entry() {
		local off
		off=$(LC_ALL=C grep -obaF -- "$2" "$1" | head -1 | cut -d: -f1)
		[ -n "$off" ] && od -An -tx1 -j"$off" -N32 "$1" | tr -d '\n'
	}
	read -ra e <<<"$(raw_entry "$IMG64" 'CONFIG  TXT')"
	check_eq fat-raw-case-flags "20 00" "${e[11]:-} ${e[12]:-}"
	read -ra e <<<"$(raw_entry "$IMG64" 'EMPTY   BIN')"
	check_eq fat-raw-empty-file "0000 0000 00000000" \
		"${e[20]:-}${e[21]:-} ${e[26]:-}${e[27]:-} ${e[28]:-}${e[29]:-}${e[30]:-}${e[31]:-}"
fi

if ! have blkid; then
	skip fat-blkid "blkid not installed"
elif [ -n "$BUILT" ]; then
	id=$(blkid -p -o export "$IMG")
	check_eq fat-blkid-type TYPE=vfat "$(grep '^TYPE=' <<<"$id")"
	check_eq fat-blkid-version VERSION=FAT32 "$(grep '^VERSION=' <<<"$id")"
	check_eq fat-blkid-label LABEL=FARMBOOT "$(grep '^LABEL=' <<<"$id")"
	check_eq fat-blkid-uuid UUID=1234-ABCD "$(grep '^UUID=' <<<"$id")"
fi
if ! have file; then
	skip fat-file "file not installed"
elif [ -n "$BUILT" ]; then
	out=$(file -s "$IMG")
	check fat-file-fat32 grep -q 'FAT (32 bit)' <<<"$out"
	check fat-file-label grep -q 'label: "FARMBOOT   "' <<<"$out"
	check fat-file-serial grep -q 'serial number 0x1234abcd' <<<"$out"
fi

# --- determinism ------------------------------------------------------------
# (on the 64 MiB image: hashing sparse zeros is what takes the time)
sha() { sha256sum "$1" | cut -d' ' -f1; }
check fat-build-again "$FATWRITE" "$TMP/again.img" 64MiB $SERIAL $LABEL $EPOCH "$SRC"
check fat-build-chunked "$FATWRITE" --chunk 513 "$TMP/chunked.img" 64MiB $SERIAL $LABEL $EPOCH "$SRC"
if [ -n "$BUILT" ] && [ -s "$TMP/again.img" ] && [ -s "$TMP/chunked.img" ]; then
	sum=$(sha "$IMG64")
	check_eq fat-reproducible "$sum" "$(sha "$TMP/again.img")"
	check_eq fat-streaming-same "$sum" "$(sha "$TMP/chunked.img")"
else
	skip fat-reproducible "images not built"
fi
rm -f "$TMP/again.img" "$TMP/chunked.img"

# --- sizes --------------------------------------------------------------------
small_err=$("$FATWRITE" "$TMP/small.img" 32MiB $SERIAL $LABEL $EPOCH 2>&1)
check_eq fat-too-small-refused "1 fatwrite:" "$? ${small_err%% *}"
check fat-build-33m "$FATWRITE" "$TMP/33m.img" 33MiB $SERIAL $LABEL $EPOCH
check fat-build-8g "$FATWRITE" "$TMP/8g.img" 8GiB $SERIAL $LABEL $EPOCH "$SRC/a"
check fat-build-nolabel "$FATWRITE" "$TMP/nolabel.img" 64MiB 0 "" 0 "$SRC/a"
check fat-build-offset "$FATWRITE" --offset 1MiB "$TMP/offset.img" 64MiB $SERIAL $LABEL $EPOCH "$SRC"
if [ -n "$HAVE_FSCK" ]; then
	check fat-fsck-33m fsck_clean "$TMP/33m.img"
	check fat-fsck-8g fsck_clean "$TMP/8g.img"
	check fat-fsck-nolabel fsck_clean "$TMP/nolabel.img"
	dd if="$TMP/offset.img" of="$TMP/part.img" bs=1M skip=1 status=none
	check fat-fsck-offset fsck_clean "$TMP/part.img"
	check_eq fat-offset-hidden-sectors 2048 "$(boot_u32 "$TMP/part.img" 28)"
	rm -f "$TMP/part.img"
fi
if [ -n "$HAVE_MTOOLS" ]; then
	check fat-content-8g same_content "$TMP/8g.img" "$SRC/a"
	check fat-content-offset same_content "$TMP/offset.img@@1048576" "$SRC"
	dates=$(mdir -i "$TMP/nolabel.img" ::)
	check fat-mtime-clamp-1980 grep -Eq '^B +<DIR> +1980-01-01 +0:00 +b$' <<<"$dates"
	check fat-nolabel grep -q 'has no label' <<<"$(mlabel -i "$TMP/nolabel.img" -s ::)"
	check fat-build-2108 "$FATWRITE" "$TMP/late.img" 64MiB 0 "" 9999999999 "$SRC/a"
	check fat-mtime-clamp-2107 grep -Eq '^B +<DIR> +2107-12-31 +23:59 +b$' <<<"$(mdir -i "$TMP/late.img" ::)"
fi
rm -f "$TMP"/33m.img "$TMP"/8g.img "$TMP"/nolabel.img "$TMP"/offset.img "$TMP"/late.img

# --- names FAT cannot hold ------------------------------------------------------
# refused NAME FILE...: fatwrite fails with a "fatwrite:" message on a tree
# holding FILEs.
refused() {
	local name=$1 dir=$TMP/bad out
	shift
	rm -rf "$dir"
	mkdir -p "$dir"
	for f in "$@"; do echo x >"$dir/$f"; done
	if out=$("$FATWRITE" "$TMP/bad.img" 64MiB 0 "" 0 "$dir" 2>&1); then
		fail "$name" "accepted: $*"
	elif [[ $out != fatwrite:* ]]; then
		fail "$name" "unexpected output: $out"
	else
		pass "$name"
	fi
}
refused fat-refuse-colon 'a:b'
refused fat-refuse-star 'a*b'
refused fat-refuse-backslash 'a\b'
refused fat-refuse-invalid-utf8 $'bad\xff.txt'
refused fat-refuse-non-bmp $'\xf0\x9f\x98\x80.txt'
refused fat-refuse-trailing-dot 'name.'
refused fat-refuse-case-duplicate Foo.txt foo.TXT

# --- the API's error paths (leaves a completely full filesystem) --------------
"$FATWRITE" --selftest "$TMP/full.img" || fail fat-selftest "exited with status $?"
[ -n "$HAVE_FSCK" ] && check fat-fsck-full fsck_clean "$TMP/full.img"
exit 0
