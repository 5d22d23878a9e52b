# Untrusted input (SECURITY.md, "Reading untrusted input"): every bad archive
# or missing input ends in one clear message naming the entry, exit status
# 1, and no output file (not even a temporary one) left behind.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
mktmp

while IFS='|' read -r kind message; do
	fixture "$kind" "$TMP/$kind.tar" || { fail "$kind" "no fixture"; continue; }
	refused "$kind" "$TMP/$kind.tar" "farm-image: $TMP/$kind.tar: $message"
done <<'LIST'
traversal|entry '../escape': path contains '..'
traversal-inner|entry 'etc/../../escape': path contains '..'
absolute|entry '/etc/passwd': absolute path
symlink-parent|entry 'evil/owned': its parent 'evil' is a symlink; refusing to write through it
symlink-ancestor|entry 'evil/deeper/owned': its ancestor 'evil' is a symlink; refusing to write through it
hardlink-missing|entry 'etc/a': hardlink to 'etc/nothing', which is not earlier in the archive
hardlink-self|entry 'etc/a': hardlink to itself
hardlink-later|entry 'a': hardlink to 'b', which is not earlier in the archive
hardlink-dir|entry 'x': hardlink to 'd', which is not a regular file
duplicate|entry 'etc/a': the archive holds this path twice
file-over-dir|entry 'etc': the archive holds this path twice
device-outside-dev|entry 'etc/null': device node outside /dev; a rootfs has no reason to carry one
overflow|entry 'overflow.img': its size (1099511627776 bytes) is larger than the whole root filesystem can be
LIST

fixture long-name "$TMP/long.tar"
build sheep "$TMP/long.tar" "$TMP/out-long"
check_eq "long-name" "1 a name in the path is longer than 255 bytes" \
	"$? $(grep -o 'a name in the path is longer than 255 bytes' "$TMP/out-long.log")"
fixture deep "$TMP/deep.tar"
build sheep "$TMP/deep.tar" "$TMP/out-deep"
check_eq "deep" "1 path is deeper than 64 directories" \
	"$? $(grep -o 'path is deeper than 64 directories' "$TMP/out-deep.log")"

fixture full "$TMP/full.tar"
head -c 2000 "$TMP/full.tar" >"$TMP/truncated.tar"
refused truncated "$TMP/truncated.tar" \
	"farm-image: $TMP/truncated.tar: the archive is damaged or truncated after 3 entries: Truncated input file (needed 512 bytes, only 464 available)"
head -c 1000000 "$TMP/full.tar" | zstd -q >"$TMP/truncated.tar.zst"
build sheep "$TMP/truncated.tar.zst" "$TMP/out-tz"
check_eq "truncated compressed archive" "1 0" "$? $(ls -A "$TMP/out-tz" | wc -l)"
echo "hello, this is not an archive" >"$TMP/text.tar"
refused not-an-archive "$TMP/text.tar" \
	"farm-image: $TMP/text.tar: not a rootfs archive: Unrecognized archive format"
refused missing-base "$TMP/nope.tar" \
	"farm-image: Cannot read the base rootfs $TMP/nope.tar: No such file or directory"

# A root that does not fit: a node with a fixed 40 MiB root and 48 MiB of data.
mkdir -p "$TMP/big/etc"
for i in 1 2 3 4 5 6; do head -c $((8 << 20)) /dev/urandom >"$TMP/big/etc/blob$i"; done
bsdtar -cf "$TMP/big.tar" -C "$TMP/big" .
sed 's/^    disk: nvme0n1$/    disk: nvme0n1\n    root-size: 40MiB/' "$TOP/configs/cluster.yaml" >"$TMP/small.yaml"
ln -s "$TOP/configs/boards" "$TMP/boards"
ln -s "$TOP/configs/stack" "$TMP/stack"
"$FARM_IMAGE" build --node sheep --config "$TMP/small.yaml" --base "$TMP/big.tar" --secrets "$(secrets)" $(artifacts) \
	--overlays "$TOP/overlays" --out "$TMP/out-small" >"$TMP/out-small.log" 2>&1
check_eq "disk too small" "1 the root filesystem is full" \
	"$? $(grep -o 'the root filesystem is full' "$TMP/out-small.log")"
check_eq "disk too small leaves nothing" "0" "$(ls -A "$TMP/out-small" | wc -l)"

# An interrupt (Ctrl-C) during the stream: one message, nothing left.
fixture bomb-count "$TMP/many.tar"
"$FARM_IMAGE" build --node sheep --config "$TOP/configs/cluster.yaml" --base "$TMP/many.tar" --secrets "$(secrets)" $(artifacts) \
	--out "$TMP/out-int" >"$TMP/out-int.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
	[ -e "$TMP/out-int/.sheep.lock" ] && break # the build is writing
	sleep 0.1
done
sleep 0.5
kill -INT $pid
wait $pid
rc=$?
check_eq "interrupt: exit status and message" "1 farm-image: sheep: interrupted; no output was written" \
	"$rc $(cat "$TMP/out-int.log")"
check_eq "interrupt leaves nothing" "0" "$(ls -A "$TMP/out-int" | wc -l)"

# A fixed root runs out of inodes (one per 8 KiB) before space with many
# empty files: that is what is said, not that the root is full.
"$FARM_IMAGE" build --node sheep --config "$TMP/small.yaml" --base "$TMP/many.tar" --secrets "$(secrets)" $(artifacts) \
	--overlays "$TOP/overlays" --out "$TMP/out-inodes" >"$TMP/out-inodes.log" 2>&1
check_eq "out of inodes" "1 farm-image: $TMP/many.tar: entry 'f/005108': the root filesystem has no inode left (allocating an inode for f/005108: Could not allocate inode in ext2 filesystem): a root of 40 MiB has 5120 (one per 8 KiB) and the base has more entries: set a larger root-size for the node" \
	"$? $(cat "$TMP/out-inodes.log")"
check_eq "out of inodes leaves nothing" "0" "$(ls -A "$TMP/out-inodes" | wc -l)"

# Bases that mean something the image cannot hold, refused rather than
# changed to fit: a variant of the full fixture (as Python's tarfile writes
# it, its sparse file left out) with one entry added.
fixture full "$TMP/full.tar"
variant() { # KIND: $TMP/KIND.tar (tests/helpers/variants.py)
	python3 "$TOP/tests/helpers/variants.py" "$1" "$TMP/full.tar" "$TMP/$1.tar"
}
while IFS='|' read -r kind message; do
	variant "$kind" || { fail "$kind" "no fixture"; continue; }
	refused "$kind" "$TMP/$kind.tar" "farm-image: $TMP/$kind.tar: $message"
done <<LIST
twice-captured|entry 'etc/passwd': the archive holds this path twice
twice-replaced|entry 'etc/hostname': the archive holds this path twice
twice-boot|entry 'boot/firmware/config.txt': the archive holds this path twice
twice-hostkey|entry 'etc/ssh/ssh_host_ed25519_key': the archive holds this path twice
xattr-name|entry 'etc/longx': extended attribute name 'user.nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn...' is longer than 255 bytes (305)
xattr-count|entry 'etc/manyx': more than 64 extended attributes (65)
dev-major|entry 'dev/big2': device number 5000:1 is out of range (majors go to 4095, minors to 1048575)
dev-minor|entry 'dev/big3': device number 8:2000000 is out of range (majors go to 4095, minors to 1048575)
link-replaced|entry 'etc/name': hardlink to 'etc/hostname', which the build replaces with a file of its own, so a second name cannot share it
link-captured|entry 'etc/pw': hardlink to 'etc/passwd', which the build replaces with a file of its own, so a second name cannot share it
link-left-out|entry 'etc/k': hardlink to 'etc/ssh/ssh_host_ed25519_key', which the build leaves out of the root filesystem (an SSH host key, or a file of the boot partition), so a second name cannot share it
uid-wrap|entry 'etc/owned': owner 4294967296:0 is out of range (uids and gids go from 0 to 4294967294)
gid-none|entry 'etc/owned': owner 0:4294967295 is out of range (uids and gids go from 0 to 4294967294)
LIST

# A directory may be given again (its last owner and mode win, as tar's
# extraction does); a file may not.
variant dir-twice || fail "dir-twice" "no fixture"
if build sheep "$TMP/dir-twice.tar" "$TMP/out-dir-twice"; then
	extract "$TMP/out-dir-twice/sheep.img" "$TMP/out-dir-twice/sheep.json" 2 "$TMP/dir-twice.root"
	check_eq "directory given twice: the last owner and mode" "0700 3" \
		"$(dfs "$TMP/dir-twice.root" "stat /usr/share" | grep -o -m1 'Mode: *[0-7]*' | grep -o '[0-7]*$') $(stat_line "$TMP/dir-twice.root" /usr/share 'User: *[0-9]*' | grep -o '[0-9]*')"
else
	fail "directory given twice builds" "$(cat "$TMP/out-dir-twice.log")"
fi

# No rootfs has a quarter of a million names in one directory; FAT has room
# for 65536 entries in one (a long name takes two or more).
variant dir-bomb || fail "dir-bomb" "no fixture"
refused dir-bomb "$TMP/dir-bomb.tar" \
	"farm-image: $TMP/dir-bomb.tar: entry 'f/250000': directory '/f' has more than 250000 entries; no rootfs has that many, refusing the archive"
# Nor two million entries in all: reached cheaply, with one directory given
# again and again (the archive is 90 KB as .zst; the build stops at the cap in
# seconds).
fixture bomb-entries "$TMP/entries.tar.zst"
refused bomb-entries "$TMP/entries.tar.zst" \
	"farm-image: $TMP/entries.tar.zst: the archive holds more than 2000000 entries; no rootfs has that many, refusing it"
variant fat-dir || fail "fat-dir" "no fixture"
refused fat-dir "$TMP/fat-dir.tar" \
	"farm-image: $TMP/fat-dir.tar: entry 'boot/firmware/overlays/o32765.dtbo': directory '/overlays' of the boot partition is full: FAT holds 65536 entries in a directory (a long name takes several)"
