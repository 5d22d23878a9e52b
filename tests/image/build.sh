# Builds the example pi5 and x86 nodes from the `full` fixture (every entry
# type; `full-amd64` for x86) and checks the images with standard tools only: sfdisk, e2fsck,
# debugfs, fsck.fat, mtools, bmaptool, zstd.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools sfdisk e2fsck debugfs fsck.fat mdir mcopy bmaptool zstd python3 bsdtar
mktmp
fixture full "$TMP/full.tar" && fixture full-amd64 "$TMP/full-amd64.tar" || exit 1
zstd -q "$TMP/full.tar" -o "$TMP/full.tar.zst"

# --- pi5: sheep, from a zstd-compressed archive ---------------------------
out=$TMP/out
check "build sheep" build sheep "$TMP/full.tar.zst" "$out" --board pi5
img=$out/sheep.img json=$out/sheep.json
[ -f "$img" ] || { fail "sheep image" "not written"; cat "$out.log"; exit 1; }

check_eq "output files" "sheep.img sheep.img.bmap sheep.img.zst sheep.json" \
	"$(ls -A "$out" | tr '\n' ' ' | sed 's/ $//')"
check_eq "images with secrets are 0600" "600 600 600 600" "$(stat -c %a "$out"/* | tr '\n' ' ' | sed 's/ $//')"
check_eq "the build says so" "1" "$(grep -c 'the image carries secrets' "$out.log")"

dump=$(sfdisk -d "$img")
check_eq "gpt label" "label: gpt" "$(grep '^label:' <<<"$dump")"
check_eq "gpt first lba" "first-lba: 2048" "$(grep '^first-lba:' <<<"$dump")"
parts=$(grep '^/\|img[0-9]' <<<"$dump" | sed 's/.*: //')
check_eq "partition names" 'name="boot" name="root" name="data"' \
	"$(grep -o 'name="[a-z]*"' <<<"$parts" | tr '\n' ' ' | sed 's/ $//')"
check_eq "pi5 partition types" \
	"EBD0A0A2-B9E5-4433-87C0-68B6B72699C7 B921B045-1DF0-41C3-AF44-4C6F280D3FAE 0FC63DAF-8483-4772-8E79-3D69D8477DE4" \
	"$(grep -o 'type=[0-9A-F-]*' <<<"$parts" | cut -d= -f2 | tr '\n' ' ' | sed 's/ $//')"
check_eq "partition uuids match the manifest" \
	"$(manifest_get "$json" "' '.join(p['uuid'].upper() for p in m['partitions'])")" \
	"$(grep -o 'uuid=[0-9A-F-]*' <<<"$parts" | cut -d= -f2 | tr '\n' ' ' | sed 's/ $//')"
check_eq "partition starts match the manifest" \
	"$(manifest_get "$json" "' '.join(str(p['offset']//512) for p in m['partitions'])")" \
	"$(grep -o 'start= *[0-9]*' <<<"$parts" | tr -d ' ' | cut -d= -f2 | tr '\n' ' ' | sed 's/ $//')"
check "partitions 1 MiB aligned" python3 -c "
import json,sys; m=json.load(open('$json'))
assert all(p['offset'] % 1048576 == 0 and p['size'] % 1048576 == 0 for p in m['partitions'])
assert m['partitions'][0]['offset'] == 1048576 and m['partitions'][0]['size'] == 512*1048576"
check "sgdisk verifies the table" sgdisk -v "$img"
check_eq "manifest base sha256" "$(sha256sum <"$TMP/full.tar.zst" | cut -d' ' -f1)" \
	"$(manifest_get "$json" "m['inputs']['base']['sha256']")"
check_eq "manifest .zst sha256" "$(sha256sum <"$out/sheep.img.zst" | cut -d' ' -f1)" \
	"$(manifest_get "$json" "m['image']['zst']['sha256']")"

# Root filesystem.
extract "$img" "$json" 2 "$TMP/root.ext4"
check "e2fsck clean" e2fsck -fn "$TMP/root.ext4"
check_eq "ext4 uuid matches the manifest" "$(manifest_get "$json" "m['partitions'][1]['filesystem']['uuid']")" \
	"$(dumpe2fs -h "$TMP/root.ext4" 2>/dev/null | sed -n 's/^Filesystem UUID: *//p')"
fs=$TMP/root.ext4
check_eq "ping keeps security.capability" \
	"security.capability (20) = 01 00 00 02 00 20 00 00 00 00 00 00 00 00 00 00 00 00 00 00" \
	"$(dfs "$fs" "ea_list /usr/bin/ping" | sed -n 's/^ *//p' | grep capability | sed 's/ *$//')"
check_eq "user xattr" 'user.comment (5) = "hello"' "$(dfs "$fs" "ea_list /etc/user.xattr" | grep comment | sed 's/^ *//;s/ *$//')"
check_eq "setuid" "Mode:  04755" "$(stat_line "$fs" /usr/bin/su 'Mode: +[0-7]+')"
check_eq "setgid and group" "Mode:  02755 Group:     5" \
	"$(stat_line "$fs" /usr/bin/wall 'Mode: +[0-7]+') $(stat_line "$fs" /usr/bin/wall 'Group: +[0-9]+')"
check_eq "hardlink shares the inode" "$(stat_line "$fs" /usr/bin/su 'Inode: [0-9]+')" \
	"$(stat_line "$fs" /usr/bin/hardlinked 'Inode: [0-9]+')"
check_eq "hardlink count" "Links: 2" "$(stat_line "$fs" /usr/bin/su 'Links: [0-9]+')"
check_eq "char device 1,3" "Device major/minor number: 01:03" \
	"$(stat_line "$fs" /dev/null 'Device major/minor number: [0-9]+:[0-9]+')"
check_eq "char device 300,70000 (new encoding)" "Device major/minor number: 300:70000" \
	"$(stat_line "$fs" /dev/big 'Device major/minor number: [0-9]+:[0-9]+')"
check_eq "block device and group" "Type: block special Group:     6" \
	"$(stat_line "$fs" /dev/sda 'Type: block special') $(stat_line "$fs" /dev/sda 'Group: +[0-9]+')"
check_eq "fifo" "Type: FIFO" "$(stat_line "$fs" /run/initctl 'Type: FIFO')"
check_eq "sticky /tmp" "Mode:  01777" "$(stat_line "$fs" /tmp 'Mode: +[0-7]+')"
check_eq "owner of /home/user" "User:  1000 Mode:  0700" \
	"$(stat_line "$fs" /home/user 'User: +[0-9]+') $(stat_line "$fs" /home/user 'Mode: +[0-7]+')"
check_eq "symlink" 'Fast link dest: "../usr/lib/os-release"' \
	"$(dfs "$fs" "stat /etc/os-release" | grep -o 'Fast link dest: ".*"')"
check_eq "mtime kept" "0x5f5e1000" "$(stat_line "$fs" /etc/user.xattr 'mtime: 0x[0-9a-f]+' | cut -d' ' -f2)"
check_eq "mtime clamped to SOURCE_DATE_EPOCH" "$(printf '0x%08x' "$SOURCE_DATE_EPOCH")" \
	"$(stat_line "$fs" /etc/future 'mtime: 0x[0-9a-f]+' | cut -d' ' -f2)"
check_eq "sparse file size" "Size: 67108864" "$(stat_line "$fs" /var/sparse.img 'Size: [0-9]+')"
check_eq "sparse file keeps its holes (4 data blocks)" "4" \
	"$(dfs "$fs" "blocks /var/sparse.img" | wc -w)"
mkdir -p "$TMP/x" && (cd "$TMP/x" && bsdtar -xf "$TMP/full.tar" ./var/sparse.img ./usr/share/big.bin ./usr/bin/ping 2>/dev/null)
for f in var/sparse.img usr/share/big.bin usr/bin/ping; do
	dfs "$fs" "dump /$f $TMP/dumped"
	check "content of /$f" cmp "$TMP/dumped" "$TMP/x/$f"
done
check_eq "directory with 300 entries" "300" "$(dfs "$fs" "ls /usr/share/many" | grep -o 'f[0-9][0-9][0-9]' | sort -u | wc -l)"
check_eq "lost+found" "Mode:  0700" "$(stat_line "$fs" /lost+found 'Mode: +[0-7]+')"
check_eq "overlay file" "$(cat "$TOP/overlays/common/etc/sysctl.d/90-farm.conf")" \
	"$(dfs "$fs" "cat /etc/sysctl.d/90-farm.conf")"
check_eq "overlay file owner and mode" "User:     0 Mode:  0644" \
	"$(stat_line "$fs" /etc/sysctl.d/90-farm.conf 'User: +[0-9]+') $(stat_line "$fs" /etc/sysctl.d/90-farm.conf 'Mode: +[0-7]+')"
check_eq "boot mount point is empty in the root" "" \
	"$(dfs "$fs" "ls /boot/firmware" | tr -s ' ' '\n' | grep -v '^\.*$' | grep -v '^[0-9]' | grep -v '^(' | head -1)"

# Boot partition (pi5: the listed firmware files, only there).
extract "$img" "$json" 1 "$TMP/boot.vfat"
check "fsck.fat clean" fsck.fat -n "$TMP/boot.vfat"
listing=$(mdir -i "$TMP/boot.vfat" -/ -b :: 2>/dev/null | sed 's|^::/||' | sort | tr '\n' ' ')
# What a Pi 5 reads, nothing of a Pi 4's (start4.elf, fixup4.dat,
# bootcode.bin, bcm2711-*.dtb are in the fixture).
check_eq "boot files" "bcm2712-rpi-5-b.dtb cmdline.txt config.txt initramfs8 initramfs_2712 kernel8.img kernel_2712.img overlays/ overlays/bcm2712d0.dtbo " "$listing"
root_uuid=$(manifest_get "$json" "m['partitions'][1]['uuid']")
check_eq "cmdline.txt" "console=serial0,115200 console=tty1 root=PARTUUID=$root_uuid rootfstype=ext4 fsck.repair=yes ro rootwait cgroup_enable=memory" \
	"$(mcopy -n -i "$TMP/boot.vfat" ::cmdline.txt -)"
config=$(mcopy -n -i "$TMP/boot.vfat" ::config.txt -)
for line in "kernel=kernel8.img" "dtparam=pciex1" "dtparam=pciex1_gen=2" "auto_initramfs=1"; do
	check_eq "config.txt: $line" "$line" "$(grep -x -- "$line" <<<"$config")"
done
check_eq "config.txt: no arm_64bit (a Pi 5 is 64-bit only)" "" "$(grep '^arm_64bit' <<<"$config")"
check_eq "config.txt: nothing of the base's" "" "$(grep -x '# fixture' <<<"$config")"
for f in kernel8.img kernel_2712.img overlays/bcm2712d0.dtbo; do
	check "boot content $f" cmp <(mcopy -n -i "$TMP/boot.vfat" "::$f" -) <(bsdtar -xOf "$TMP/full.tar" "./boot/firmware/$f")
done
check_eq "FAT serial matches the manifest" "$(manifest_get "$json" "m['partitions'][0]['filesystem']['uuid']")" \
	"$(blkid -o value -s UUID "$TMP/boot.vfat")"

# kernel: 16k: the Pi 5's own kernel (16 KiB pages) in config.txt; a base
# without the chosen kernel is refused, naming its package.
mkdir -p "$TMP/k16"
ln -s "$TOP/configs/boards" "$TMP/k16/boards"
ln -s "$TOP/configs/stack" "$TMP/k16/stack"
awk '{print} /^  - name: sheep$/ {print "    kernel: 16k"}' "$TOP/configs/cluster.yaml" >"$TMP/k16/cluster.yaml"
k16() { # OUT BASE: sheep with kernel: 16k
	# shellcheck disable=SC2046
	"$FARM_IMAGE" build --node sheep --config "$TMP/k16/cluster.yaml" --secrets "$(secrets)" \
		$(artifacts) --overlays "$TOP/overlays" --base "$2" --out "$1" >"$1.log" 2>&1
}
if k16 "$TMP/k16/out" "$TMP/full.tar"; then
	extract "$TMP/k16/out/sheep.img" "$TMP/k16/out/sheep.json" 1 "$TMP/k16/boot.vfat"
	check_eq "kernel: 16k -> config.txt kernel=kernel_2712.img" "kernel=kernel_2712.img" \
		"$(mcopy -n -i "$TMP/k16/boot.vfat" ::config.txt - | grep '^kernel=')"
else
	fail "build sheep with kernel: 16k" "$(tail -3 "$TMP/k16/out.log")"
fi
for k in kernel8.img:4k:linux-image-rpi-v8:16k kernel_2712.img:16k:linux-image-rpi-2712:4k; do
	IFS=: read -r file size pkg other <<<"$k"
	bsdtar -cf "$TMP/k16/no-$file.tar" --exclude "./boot/firmware/$file" @"$TMP/full.tar"
	if [ "$size" = 4k ]; then
		build sheep "$TMP/k16/no-$file.tar" "$TMP/k16/no-$file"
	else
		k16 "$TMP/k16/no-$file" "$TMP/k16/no-$file.tar"
	fi
	check_eq "kernel: $size without $file refused, naming $pkg" \
		"farm-image: $TMP/k16/no-$file.tar: node sheep runs the Raspberry Pi kernel with $( [ "$size" = 4k ] && echo 4 || echo 16) KiB pages, $file, which the base does not have in /boot/firmware: add the package $pkg to the base (Raspberry Pi OS Lite has it), or set 'kernel: $other' on the node" \
		"$(grep 'Raspberry Pi kernel with' "$TMP/k16/no-$file.log")"
	check_eq "kernel: $size without $file: nothing written" "" "$(ls -A "$TMP/k16/no-$file" 2>/dev/null)"
done
rm -rf "$TMP/k16"

# Derived outputs.
truncate -s "$(stat -c %s "$img")" "$TMP/flash.img"
check "bmaptool copy" bmaptool -q copy --bmap "$out/sheep.img.bmap" "$out/sheep.img.zst" "$TMP/flash.img"
check "bmaptool copy gives the image" cmp "$TMP/flash.img" "$img"
check "the bmap says how to flash the image" grep -qF "Flash it with farm-image's flash command" "$out/sheep.img.bmap"
check_eq "the bmap names no node (its name may hold --, which no XML comment can)" 0 "$(grep -c sheep "$out/sheep.img.bmap")"
check "zstd -d gives the image" cmp <(zstd -dc "$out/sheep.img.zst") "$img"
check "data partition written as zeros" python3 -c "
import json; m=json.load(open('$json')); p=m['partitions'][2]
import re; b=open('$out/sheep.img.bmap').read()
r=[tuple(map(int, x.split('-'))) if '-' in x else (int(x),int(x)) for x in re.findall(r'> ([0-9-]+) </Range', b)]
first, last = p['offset']//4096, (p['offset']+p['size'])//4096 - 1
assert any(a <= first and last <= z for a, z in r), 'data partition not mapped'"
rm -f "$TMP/flash.img" "$TMP/root.ext4" "$TMP/boot.vfat"

# --- x86: duck, ESP holds kernel and initrd, /boot keeps them -------------
out=$TMP/out86
check "build duck" build duck "$TMP/full-amd64.tar" "$out"
img=$out/duck.img json=$out/duck.json
check_eq "x86 partition types" \
	"C12A7328-F81F-11D2-BA4B-00A0C93EC93B 4F68BCE3-E8CD-4DB1-96E7-FBCAF984B709 0FC63DAF-8483-4772-8E79-3D69D8477DE4" \
	"$(sfdisk -d "$img" | grep -o 'type=[0-9A-F-]*' | cut -d= -f2 | tr '\n' ' ' | sed 's/ $//')"
extract "$img" "$json" 1 "$TMP/esp.vfat"
check "ESP fsck.fat clean" fsck.fat -n "$TMP/esp.vfat"
check_eq "ESP files" "EFI/ EFI/BOOT/ EFI/BOOT/BOOTX64.EFI initrd.img-6.1.0-9-amd64 initrd.img-6.12.0-1-amd64 loader/ loader/entries/ loader/entries/farm.conf loader/loader.conf vmlinuz-6.1.0-9-amd64 vmlinuz-6.12.0-1-amd64 vmlinuz-6.13.0-0-amd64 " \
	"$(mdir -i "$TMP/esp.vfat" -/ -b :: 2>/dev/null | sed 's|^::/||' | sort | tr '\n' ' ')"
check "systemd-boot at the removable path" cmp <(mcopy -n -i "$TMP/esp.vfat" ::EFI/BOOT/BOOTX64.EFI -) \
	<(bsdtar -xOf "$TMP/full.tar" ./usr/lib/systemd/boot/efi/systemd-bootx64.efi)
root_uuid=$(manifest_get "$json" "m['partitions'][1]['uuid']")
check_eq "loader entry (newest kernel with an initrd)" "title   farm duck (6.12.0-1-amd64)
linux   /vmlinuz-6.12.0-1-amd64
initrd  /initrd.img-6.12.0-1-amd64
options root=PARTUUID=$root_uuid rootfstype=ext4 ro rootwait console=tty0 console=ttyS0,115200" \
	"$(mcopy -n -i "$TMP/esp.vfat" ::loader/entries/farm.conf - | grep -v '^#')"
check_eq "loader.conf" "default farm.conf
timeout 0
editor no" "$(mcopy -n -i "$TMP/esp.vfat" ::loader/loader.conf - | grep -v '^#')"
extract "$img" "$json" 2 "$TMP/root.ext4"
check "x86 e2fsck clean" e2fsck -fn "$TMP/root.ext4"
check "kernel stays in /boot" cmp <(dfs "$TMP/root.ext4" "cat /boot/vmlinuz-6.12.0-1-amd64") \
	<(mcopy -n -i "$TMP/esp.vfat" ::vmlinuz-6.12.0-1-amd64 -)

# A node whose name holds "--" (a valid DNS label: xn--...): its block map
# is XML still, which bmaptool (ElementTree) and farm-image flash (expat)
# parse.
sed 's/^  - name: duck$/  - name: xn--duck/' "$TOP/configs/cluster.yaml" >"$TMP/xn.yaml"
ln -sfn "$TOP/configs/boards" "$TMP/boards"
ln -sfn "$TOP/configs/stack" "$TMP/stack"
"$FARM_IMAGE" secrets init --dir "$TMP/xn-secrets" --config "$TMP/xn.yaml" >/dev/null
# shellcheck disable=SC2046
check "build a node named xn--duck" "$FARM_IMAGE" build --node xn--duck --config "$TMP/xn.yaml" \
	--secrets "$TMP/xn-secrets" $(artifacts) --overlays "$TOP/overlays" --base "$TMP/full-amd64.tar" \
	--out "$TMP/xn"
check "its bmap is XML" python3 -c "import sys, xml.etree.ElementTree as E; E.parse(sys.argv[1])" "$TMP/xn/xn--duck.img.bmap"
truncate -s "$(stat -c %s "$TMP/xn/xn--duck.img")" "$TMP/xn/disk.raw"
check "bmaptool copy takes it" bmaptool -q copy --bmap "$TMP/xn/xn--duck.img.bmap" "$TMP/xn/xn--duck.img.zst" "$TMP/xn/disk.raw"
check "farm-image flash takes it" "$FARM_IMAGE" flash --config "$TMP/xn.yaml" --node xn--duck --out "$TMP/xn" --device "$TMP/xn/disk.raw" --yes
rm -rf "$TMP/xn"

# --board must match the config.
"$FARM_IMAGE" build --node duck --board pi5 --base "$TMP/full.tar" --out "$TMP/wrong" \
	--config "$TOP/configs/cluster.yaml" >/dev/null 2>"$TMP/err"
line=$(grep -n 'board: x86' "$TOP/configs/cluster.yaml" | cut -d: -f1)
check_eq "--board mismatch refused" "$TOP/configs/cluster.yaml:$line:12: node 'duck' has board 'x86', not 'pi5' as --board says" \
	"$(head -1 "$TMP/err")"
check_eq "--board mismatch writes nothing" "" "$(ls -A "$TMP/wrong" 2>/dev/null)"
