# farm-image flash onto disk image files (and loop devices where the machine
# allows them): the mapped ranges equal the image, the holes keep what the
# disk had, a byte the disk stores wrongly is caught by verify and leaves the
# disk unbootable, every refusal names its reason and writes nothing, and
# --keep-data rewrites boot and root only, refusing another node's disk,
# another cluster's and a foreign table.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools sfdisk sgdisk e2fsck debugfs fsck.fat python3 zstd
mktmp
fixture full "$TMP/full.tar" && fixture full-amd64 "$TMP/full-amd64.tar" || exit 1
cfg=$TOP/configs/cluster.yaml
out=$TMP/out
check "build duck" build duck "$TMP/full-amd64.tar" "$out"
check "build sheep" build sheep "$TMP/full.tar" "$out"
[ -f "$out/duck.img" ] || { cat "$out.log"; exit 1; }
img=$out/duck.img json=$out/duck.json bmap=$out/duck.img.bmap
PRELOAD=$HELPERS/libfaulty-disk.so
# The preload library comes before AddressSanitizer's runtime under D=asan.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0

flash() { "$FARM_IMAGE" flash --config "$cfg" "$@"; }

# compare BMAP IMG DISK [HOLE]: "equal" when DISK holds IMG's bytes over
# every range of BMAP and, given HOLE, every unmapped byte of DISK past the
# first MiB (the old partition table there is wiped) is still HOLE.
compare() {
	python3 - "$@" <<'PY'
import re, sys
bmap, img, disk = sys.argv[1:4]
hole = int(sys.argv[4], 16) if len(sys.argv) > 4 else None
text = open(bmap).read()
bs = int(re.search(r'<BlockSize> *(\d+)', text).group(1))
size = int(re.search(r'<ImageSize> *(\d+)', text).group(1))
i, d = open(img, 'rb'), open(disk, 'rb')
pos, bad = 0, []
for m in re.finditer(r'<Range[^>]*> *(\d+)(?:-(\d+))? *<', text):
    a, z = int(m.group(1)) * bs, min((int(m.group(2) or m.group(1)) + 1) * bs, size)
    pos = max(pos, 1 << 20)
    if hole is not None and a > pos:
        d.seek(pos)
        n = a - pos
        while n > 0:
            chunk = d.read(min(n, 1 << 24))
            if chunk.count(hole) != len(chunk):
                bad.append('hole at %d changed' % pos)
                break
            n -= len(chunk)
    i.seek(a); d.seek(a)
    if i.read(z - a) != d.read(z - a):
        bad.append('range %d-%d differs' % (a, z))
    pos = z
print('; '.join(bad[:3]) if bad else 'equal')
PY
}

# a disk file of SIZE filled with the byte 0xa5
patterned() { head -c "$2" /dev/zero | tr '\0' '\245' >"$1"; }

# --- a whole flash onto a file ----------------------------------------------
disk=$TMP/disk.raw
patterned "$disk" 1200M
flash --node duck --out "$out" --device "$disk" --yes >"$TMP/flash.log" 2>&1
check_eq "flash duck onto a file: exit 0" 0 $?
check "it says what it wrote and that it verified it" \
	grep -q "^duck: wrote .* of $img onto $disk and verified it in" "$TMP/flash.log"
check_eq "the mapped ranges equal the image, the holes keep the disk's old bytes" "equal" \
	"$(compare "$bmap" "$img" "$disk" a5)"
check "sgdisk verifies the flashed table" sgdisk -v "$disk"
extract "$disk" "$json" 1 "$TMP/p1"
extract "$disk" "$json" 2 "$TMP/p2"
check "boot checks clean over the old bytes (fsck.fat -n)" fsck.fat -n "$TMP/p1"
check "root checks clean over the old bytes (e2fsck -fn)" e2fsck -fn "$TMP/p2"

# From the .zst, when there is no .img (onto a sparse disk file from here on).
mkdir -p "$TMP/zout"
cp "$out/duck.img.zst" "$bmap" "$json" "$TMP/zout/"
rm -f "$disk"
truncate -s 1200M "$disk"
flash --node duck --out "$TMP/zout" --device "$disk" --yes >"$TMP/flash.log" 2>&1
check_eq "flash from the .zst: exit 0" 0 $?
check_eq "from the .zst: the mapped ranges equal the image" "equal" \
	"$(compare "$bmap" "$img" "$disk")"

# refused NAME WANT ARGS...: exit 1, the one message WANT (a pattern), and
# the disk file ($disk) not written (its size and mtime unchanged).
refused() {
	local name=$1 want=$2 before after rc
	shift 2
	before=$(stat -c '%s %y' "$disk")
	flash "$@" >"$TMP/refused.log" 2>&1 </dev/null
	rc=$?
	after=$(stat -c '%s %y' "$disk")
	if [ $rc -ne 1 ]; then
		fail "$name" "exit status $rc, expected 1"
		sed 's/^/    /' "$TMP/refused.log"
	elif [[ $(tail -1 "$TMP/refused.log") != $want ]]; then
		fail "$name" "message differs"
		diff <(echo "$want") "$TMP/refused.log" | sed 's/^/    /'
	elif [ "$before" != "$after" ]; then
		fail "$name" "the disk file changed"
	else
		pass "$name"
	fi
}

# --- refusals ----------------------------------------------------------------
mkfifo "$TMP/fifo"
mkdir "$TMP/dir"
truncate -s 100M "$TMP/small.raw"
refused "refuses a FIFO" "farm-image: $TMP/fifo is a FIFO, neither a block device nor a regular file; nothing was written" \
	--node duck --out "$out" --device "$TMP/fifo" --yes
refused "refuses a directory" "farm-image: $TMP/dir is a directory, neither a block device nor a regular file; nothing was written" \
	--node duck --out "$out" --device "$TMP/dir" --yes
refused "refuses a character device" "farm-image: /dev/null is a character device, neither a block device nor a regular file; nothing was written" \
	--node duck --out "$out" --device /dev/null --yes
refused "refuses a path that does not exist" "farm-image: $TMP/nothing does not exist: give the disk*; nothing was written" \
	--node duck --out "$out" --device "$TMP/nothing" --yes
refused "refuses a disk too small" "farm-image: $TMP/small.raw is too small for the image of node 'duck': 100.0 MiB (104857600 bytes), the image has * (* bytes); nothing was written" \
	--node duck --out "$out" --device "$TMP/small.raw" --yes
check_eq "the small disk is untouched" "0" "$(tr -d '\0' <"$TMP/small.raw" | wc -c)"
refused "without --yes and without a terminal it does not ask and writes nothing" \
	"farm-image: Not asking: standard input is not a terminal. Pass --yes to write $disk; nothing was written" \
	--node duck --out "$out" --device "$disk"
# The running system's root disk; without --yes and with no terminal, so
# that a refusal that failed would still not write it.
rootdev=$(findmnt -no SOURCE / 2>/dev/null | sed 's/\[.*//')
if [ -b "$rootdev" ]; then
	rootdisk=/dev/$(lsblk -no PKNAME "$rootdev" 2>/dev/null | head -1)
	[ "$rootdisk" = /dev/ ] && rootdisk=$rootdev
	flash --node duck --out "$out" --device "$rootdisk" </dev/null >"$TMP/root.log" 2>&1
	check_eq "refuses the disk the running root is on ($rootdisk), writing nothing" \
		"farm-image: $rootdisk is the disk the running system's root (/) is on: farm-image flash never writes it; nothing was written" \
		"$(tail -1 "$TMP/root.log")"
else
	skip "refuses the disk the running root is on" "/ is not on a block device here (${rootdev:-none})"
fi
# A damaged block map, and an image of another cluster.
mkdir -p "$TMP/bad"
cp "$img" "$json" "$TMP/bad/"
sed 's/\(<Range chksum="\)./\10/' "$bmap" >"$TMP/bad/duck.img.bmap"
cmp -s "$bmap" "$TMP/bad/duck.img.bmap" && sed -i 's/\(<Range chksum="\)./\11/' "$TMP/bad/duck.img.bmap"
refused "refuses a block map changed after it was written" \
	"farm-image: $TMP/bad/duck.img.bmap: the file's checksum does not match its content*" \
	--node duck --out "$TMP/bad" --device "$disk" --yes
sed 's/^  name: farm$/  name: barn/' "$cfg" >"$TMP/barn.yaml"
ln -sf "$TOP/configs/boards" "$TMP/boards"
ln -sfn "$TOP/configs/stack" "$TMP/stack"
"$FARM_IMAGE" secrets init --dir "$TMP/barn-secrets" --config "$TMP/barn.yaml" >/dev/null
# shellcheck disable=SC2046
"$FARM_IMAGE" build --node duck --config "$TMP/barn.yaml" --secrets "$TMP/barn-secrets" \
	$(artifacts) --base "$TMP/full-amd64.tar" --overlays "$TOP/overlays" --out "$TMP/barn" >"$TMP/barn.log" 2>&1
check "build duck of another cluster (barn)" test -f "$TMP/barn/duck.img"
refused "refuses an image that is not this node's (another cluster's build)" \
	"farm-image: $TMP/barn/duck.img is not the image of node 'duck' of cluster 'farm': its disk GUID is *, the node's is *; rebuild it (farm-image build --node duck)" \
	--node duck --out "$TMP/barn" --device "$disk" --yes

# --- verify ------------------------------------------------------------------
# A byte in a mapped range of root, and one in the GPT: the disk stores
# them inverted (LD_PRELOAD), verify reads them back.
root_at=$(python3 -c "
import json, re
m = json.load(open('$json')); r = m['partitions'][1]
t = open('$bmap').read()
for a, z in re.findall(r'<Range[^>]*> *(\d+)(?:-(\d+))? *<', t):
    a = int(a) * 4096
    if a >= r['offset'] + 65536:
        print(a + 100); break")
corrupt() {
	FARM_TEST_DISK=$disk FARM_TEST_CORRUPT_AT=$1 LD_PRELOAD=$PRELOAD "$FARM_IMAGE" flash \
		--config "$cfg" "${@:2}" >"$TMP/corrupt.log" 2>&1
}
corrupt "$root_at" --node duck --out "$out" --device "$disk" --yes
check_eq "a byte the disk stores wrongly fails the flash" 1 $?
check "verify names the byte" grep -q "^farm-image: Verify failed: $disk holds 0x.. at byte $root_at where 0x.. was written" "$TMP/corrupt.log"
check "and says the disk is left unbootable" grep -q "is left unbootable on purpose: it has no valid partition table" "$TMP/corrupt.log"
check_eq "the disk has no partition table (the GPT was never written)" "" "$(blkid -p -o value -s PTTYPE "$disk" 2>/dev/null)"
corrupt 600 --node duck --out "$out" --device "$disk" --yes
check_eq "a GPT byte stored wrongly fails the flash" 1 $?
check "verify reads the GPT back" grep -q "^farm-image: Verify failed: the GPT read back from $disk (bytes 0-[0-9]*) differs" "$TMP/corrupt.log"
check_eq "the GPT written last is wiped again" "" "$(blkid -p -o value -s PTTYPE "$disk" 2>/dev/null)"
# A damaged image: the bytes do not match the bmap's checksum.
cp "$img" "$TMP/bad/duck.img"
cp "$bmap" "$TMP/bad/duck.img.bmap"
printf '\x5a' | dd of="$TMP/bad/duck.img" bs=1 seek="$root_at" conv=notrunc status=none
flash --node duck --out "$TMP/bad" --device "$disk" --yes >"$TMP/bad.log" 2>&1
check_eq "a damaged image fails the flash" 1 $?
check "verify names the range and the image" grep -q "^farm-image: Verify failed: bytes [0-9]*-[0-9]* have sha256 [0-9a-f]*, the block map says [0-9a-f]*: $TMP/bad/duck.img is damaged" "$TMP/bad.log"
# A truncated .zst.
head -c 200000 "$out/duck.img.zst" >"$TMP/zout/duck.img.zst"
flash --node duck --out "$TMP/zout" --device "$disk" --yes >"$TMP/trunc.log" 2>&1
check_eq "a truncated .zst fails the flash" 1 $?
check "and says so" grep -q "^farm-image: $TMP/zout/duck.img.zst: the stream ends after [0-9]* of the image's [0-9]* bytes: the file is truncated" "$TMP/trunc.log"
check_eq "leaving no partition table" "" "$(blkid -p -o value -s PTTYPE "$disk" 2>/dev/null)"

# --- the question ------------------------------------------------------------
flash --node duck --out "$out" --device "$disk" --yes >/dev/null 2>&1
if have script; then
	echo no | script -qec "$FARM_IMAGE flash --config $cfg --node duck --out $out --device $disk" /dev/null >"$TMP/ask.log" 2>&1
	check "without --yes it shows the disk and its partitions" grep -q "^     2  root .*Linux root (x86-64), ext4" "$TMP/ask.log"
	check "and what it is (size, sector size)" grep -q "^$disk: a regular file, 1.2 GiB (1258291200 bytes), 512-byte sectors" "$TMP/ask.log"
	check "and asks" grep -q "Type 'yes' to go on" "$TMP/ask.log"
	check "anything but yes writes nothing" grep -q "Not confirmed; nothing was written" "$TMP/ask.log"
	echo yes | script -qec "$FARM_IMAGE flash --config $cfg --node duck --out $out --device $disk" /dev/null >"$TMP/ask.log" 2>&1
	check "yes writes" grep -q "duck: wrote .* and verified it" "$TMP/ask.log"
else
	skip "the question" "script (util-linux) is not installed"
fi

# --- --keep-data -------------------------------------------------------------
# duck's disk after its first boot: grown, with a Ceph partition, data in
# the data partition (farm-node's own growing code, tests/helpers/diskgrow).
flash --node duck --out "$out" --device "$disk" --yes >/dev/null 2>&1
"$HELPERS/diskgrow" "$disk" 3 100M >/dev/null
table=$(sfdisk -d "$disk" | grep '^/')
data_start=$(sfdisk -d "$disk" | awk -F'[=,]' '/disk.raw3/ {gsub(/ /, "", $2); print $2}')
head -c 4M /dev/urandom >"$TMP/data"
dd if="$TMP/data" of="$disk" bs=512 seek="$data_start" conv=notrunc status=none
# duck rebuilt with a changed overlay file.
cp -r "$TOP/overlays" "$TMP/overlays2"
mkdir -p "$TMP/overlays2/common/etc/farm-test"
echo "release 2" >"$TMP/overlays2/common/etc/farm-test/release"
out2=$TMP/out2
check "rebuild duck with a changed overlay" build duck "$TMP/full-amd64.tar" "$out2" --overlays "$TMP/overlays2"
flash --node duck --out "$out2" --device "$disk" --keep-data --yes >"$TMP/keep.log" 2>&1
check_eq "--keep-data: exit 0" 0 $?
check "it says it kept the data" grep -q "^duck: reimaged boot and root: wrote .* data kept" "$TMP/keep.log"
check_eq "--keep-data: the partition table is unchanged (data grown, Ceph kept)" "$table" "$(sfdisk -d "$disk" | grep '^/')"
check "--keep-data: the data partition's bytes are unchanged" \
	cmp "$TMP/data" <(dd if="$disk" bs=512 skip="$data_start" count=8192 status=none)
extract "$disk" "$out2/duck.json" 2 "$TMP/p2"
check_eq "--keep-data: the new root is on the disk" "release 2" "$(dfs "$TMP/p2" "cat /etc/farm-test/release")"
check "--keep-data: root checks clean" e2fsck -fn "$TMP/p2"
python3 - "$out2/duck.img.bmap" "$out2/duck.img" "$disk" "$out2/duck.json" >"$TMP/cmp.log" <<'PY'
import json, re, sys
bmap, img, disk, man = sys.argv[1:]
m = json.load(open(man))
parts = [(p['offset'], p['offset'] + p['size']) for p in m['partitions'][:2]]
t = open(bmap).read()
i, d = open(img, 'rb'), open(disk, 'rb')
for a, z in re.findall(r'<Range[^>]*> *(\d+)(?:-(\d+))? *<', t):
    a, z = int(a) * 4096, (int(z or a) + 1) * 4096
    for s, e in parts:
        lo, hi = max(a, s), min(z, e)
        if lo < hi:
            i.seek(lo); d.seek(lo)
            if i.read(hi - lo) != d.read(hi - lo):
                print('differs at', lo); sys.exit(1)
print('equal')
PY
check_eq "--keep-data: boot and root equal the new image over its mapped ranges" "equal" "$(cat "$TMP/cmp.log")"

# Interrupted: killed (as by a power cut) while writing root.
(FARM_TEST_DISK=$disk FARM_TEST_KILL_AT=$root_at LD_PRELOAD=$PRELOAD "$FARM_IMAGE" flash --config "$cfg" \
	--node duck --out "$out2" --device "$disk" --keep-data --yes >"$TMP/killed.log"; exit $?) 2>/dev/null
check_eq "killed mid-reimage" 137 $?
check_eq "killed mid-reimage: the GPT headers carry the mark" "FARM WIP" "$(dd if="$disk" bs=1 skip=512 count=8 status=none)"
check "killed mid-reimage: no GPT a firmware or kernel would read" bash -c "! sgdisk -v '$disk' >/dev/null 2>&1 || ! blkid -p -o value -s PTTYPE '$disk' | grep -q gpt"
flash --node duck --out "$out2" --device "$disk" --keep-data --yes >"$TMP/again.log" 2>&1
check_eq "the same command again finishes the reimage" 0 $?
check_eq "the partition table is back, unchanged" "$table" "$(sfdisk -d "$disk" | grep '^/')"
check "the data is still there" cmp "$TMP/data" <(dd if="$disk" bs=512 skip="$data_start" count=8192 status=none)

# A corrupted byte during a reimage leaves the marks too.
corrupt "$root_at" --node duck --out "$out2" --device "$disk" --keep-data --yes
check_eq "a byte stored wrongly during a reimage fails it" 1 $?
check "and leaves the marks, the data untouched" grep -q "its GPT headers keep the mark of an unfinished reimage (its data partition is untouched)" "$TMP/corrupt.log"
flash --node duck --out "$out2" --device "$disk" --keep-data --yes >/dev/null 2>&1
check_eq "the next run finishes it" "$table" "$(sfdisk -d "$disk" | grep '^/')"

# Refusals of --keep-data.
flash --node sheep --out "$out" --device "$disk" --yes >/dev/null 2>&1
refused "--keep-data refuses another node's disk" \
	"farm-image: $disk is the disk of node 'sheep' (cluster 'farm'), not of 'duck': --keep-data keeps a node's own data only; nothing was written" \
	--node duck --out "$out2" --device "$disk" --keep-data --yes
flash --node duck --config "$TMP/barn.yaml" --out "$TMP/barn" --device "$disk" --yes >/dev/null 2>&1
refused "--keep-data refuses another cluster's disk" \
	"farm-image: $disk carries a farm node's layout (boot, root, data) but of another cluster, or of a node that is not in $cfg: its disk GUID is *, node 'duck' of cluster 'farm' has *; nothing was written" \
	--node duck --out "$out2" --device "$disk" --keep-data --yes
sfdisk -q "$disk" >/dev/null 2>&1 <<'EOF'
label: gpt
size=100MiB, type=C12A7328-F81F-11D2-BA4B-00A0C93EC93B, name="EFI system partition"
type=0FC63DAF-8483-4772-8E79-3D69D8477DE4, name="Linux"
EOF
refused "--keep-data refuses a foreign GPT" \
	"farm-image: $disk carries a GPT that is not a farm node's (disk GUID *; partitions: 1 'EFI system partition', 2 'Linux'): a farm disk has boot, root and data with GUIDs derived from the cluster and node names; nothing was written" \
	--node duck --out "$out2" --device "$disk" --keep-data --yes
printf 'label: dos\n,100MiB,c\n' | sfdisk -q "$disk" >/dev/null 2>&1
refused "--keep-data refuses a DOS table" \
	"farm-image: $disk carries a DOS (MBR) partition table, not a farm node's GPT: refusing --keep-data; nothing was written" \
	--node duck --out "$out2" --device "$disk" --keep-data --yes
head -c 2M /dev/zero | dd of="$disk" conv=notrunc status=none
refused "--keep-data refuses a disk without a table" \
	"farm-image: $disk carries no partition table: it is not a farm node's disk and holds no data to keep; flash it without --keep-data; nothing was written" \
	--node duck --out "$out2" --device "$disk" --keep-data --yes

# --- without --keep-data the rebuilt node is the same node -------------------
flash --node duck --out "$out2" --device "$disk" --yes >/dev/null 2>&1
extract "$img" "$json" 2 "$TMP/old.ext4"
extract "$disk" "$out2/duck.json" 2 "$TMP/new.ext4"
for f in /etc/hostname /etc/machine-id /etc/rancher/node/password /etc/rancher/k3s/config.yaml; do
	check_eq "rebuilt from scratch, the same node: $f" "$(dfs "$TMP/old.ext4" "cat $f" | sha256sum)" \
		"$(dfs "$TMP/new.ext4" "cat $f" | sha256sum)"
done
check_eq "the same disk and partition GUIDs" "$(sfdisk -d "$img" 2>/dev/null | grep -o 'uuid=[^,]*\|label-id.*')" \
	"$(sfdisk -d "$disk" 2>/dev/null | grep -o 'uuid=[^,]*\|label-id.*')"

# --- a file that refuses O_DIRECT (ramfs) ------------------------------------
mkdir -p "$TMP/ramfs"
if [ "$(id -u)" -eq 0 ] && mount -t ramfs ramfs "$TMP/ramfs" 2>/dev/null; then
	truncate -s 1200M "$TMP/ramfs/disk.raw"
	flash --node duck --out "$out" --device "$TMP/ramfs/disk.raw" --yes >"$TMP/ramfs.log" 2>&1
	check_eq "onto a file that refuses O_DIRECT: exit 0" 0 $?
	check "it writes and verifies through the page cache" grep -q "verified it in .*through the page cache" "$TMP/ramfs.log"
	check_eq "and the file holds the image" "equal" "$(compare "$bmap" "$img" "$TMP/ramfs/disk.raw")"
	FARM_TEST_DISK=$TMP/ramfs/disk.raw FARM_TEST_CORRUPT_AT=$root_at LD_PRELOAD=$PRELOAD \
		"$FARM_IMAGE" flash --config "$cfg" --node duck --out "$out" --device "$TMP/ramfs/disk.raw" --yes >"$TMP/ramfs.log" 2>&1
	check "verify catches a wrong byte there too" grep -q "^farm-image: Verify failed: $TMP/ramfs/disk.raw holds 0x.. at byte $root_at" "$TMP/ramfs.log"
	rm -f "$TMP/ramfs/disk.raw"
	umount "$TMP/ramfs"
else
	skip "onto a file that refuses O_DIRECT" "needs root to mount a ramfs"
fi

# --- block devices (loop) ----------------------------------------------------
if [ "$(id -u)" -ne 0 ] || ! have losetup; then
	skip "flash onto loop devices" "needs root and losetup"
	exit 0
fi
loop=$(losetup -f --show "$disk" 2>/dev/null) || { skip "flash onto loop devices" "losetup cannot attach a loop device here"; exit 0; }
trap 'umount "$TMP/mnt" 2>/dev/null; losetup -d "$loop" 2>/dev/null; rm -rf "$TMP"' EXIT
refused "refuses a file attached to a loop device" \
	"farm-image: $disk is attached to $loop: detach it first (losetup -d $loop); nothing was written" \
	--node duck --out "$out" --device "$disk" --yes
flash --node duck --out "$out" --device "$loop" --yes >"$TMP/loop.log" 2>&1
check_eq "flash onto a loop device: exit 0" 0 $?
check "through direct I/O" grep -q "verified it in .*direct I/O" "$TMP/loop.log"
check_eq "the loop device holds the image over the mapped ranges" "equal" "$(compare "$bmap" "$img" "$loop")"
# Its partitions, as the kernel sees them (partx: this kernel may not
# scan them itself), one of them mounted.
partx -a "$loop" 2>/dev/null
n=${loop#/dev/}
if [ -e "/sys/block/$n/${n}p2/dev" ]; then
	[ -b "${loop}p2" ] || mknod "${loop}p2" b $(tr ':' ' ' <"/sys/block/$n/${n}p2/dev")
	mkdir -p "$TMP/mnt"
	if mount -o ro "${loop}p2" "$TMP/mnt" 2>/dev/null; then
		refused "refuses a disk whose partition is mounted" \
			"farm-image: $loop: /dev/${n}p2 is mounted on $TMP/mnt: unmount it first (umount $TMP/mnt); nothing was written" \
			--node duck --out "$out" --device "$loop" --yes
		umount "$TMP/mnt"
	else
		skip "refuses a disk whose partition is mounted" "cannot mount ${loop}p2 here"
	fi
	refused "refuses a partition" \
		"farm-image: ${loop}p2 is partition 2 of $loop, not a disk: give the whole disk ($loop); nothing was written" \
		--node duck --out "$out" --device "${loop}p2" --yes
	partx -d "$loop" 2>/dev/null
else
	skip "refuses a disk whose partition is mounted" "the kernel shows no partitions of $loop (partx -a failed)"
fi
losetup -d "$loop"
loop=$(losetup -f --show --sector-size 4096 "$disk" 2>/dev/null)
if [ -n "$loop" ] && [ "$(cat "/sys/block/${loop#/dev/}/queue/logical_block_size")" = 4096 ]; then
	refused "refuses 4 KiB logical sectors for a pi5 (the board's rule)" \
		"farm-image: $loop has 4096-byte logical sectors: the Raspberry Pi 5 boots from 512-byte sectors*; nothing was written" \
		--node sheep --out "$out" --device "$loop" --yes
	refused "refuses 4 KiB logical sectors for a 512-byte image (x86)" \
		"farm-image: $loop has 4096-byte logical sectors: the image is laid out in 512-byte sectors*; nothing was written" \
		--node duck --out "$out" --device "$loop" --yes
else
	skip "refuses 4 KiB logical sectors" "losetup --sector-size 4096 does not work here"
	[ -z "$loop" ] && loop=$(losetup -f --show "$disk")
fi
