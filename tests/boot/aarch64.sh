# Boot the aarch64 node (sheep, pi5 board) in QEMU's virt machine with a
# Cortex-A76 (the Pi 5's core): the image's own root partition, booted with
# the base's Debian arm64 kernel and initrd (a Pi 5 boots Raspberry Pi's
# kernel, which virt cannot run; the image's structure is checked by the image
# tests). The base is Debian arm64 (tests/boot/arm64-virt.yaml, built under
# qemu-user, cached) with a synthesized Pi boot file set.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../image/image.lib"
source "$(dirname "$0")/boot.lib"
boot_prereqs aarch64
mktmp
export FARM_VM_DIR=$TMP/vms
recipe=$TOP/tests/boot/arm64-virt.yaml
rootfs=("$FARM_IMAGE" rootfs --board pi5 --recipe "$recipe" --config "$TOP/configs/cluster.yaml")
if ! base=$("${rootfs[@]}" --print-path 2>/dev/null); then
	if [ "${FARM_TEST_ROOTFS:-}" != 1 ]; then
		skip "aarch64 boot" "no cached arm64 test base: set FARM_TEST_ROOTFS=1 to build it (qemu-user, 10-25 minutes)"
		exit 0
	fi
	if [ ! -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
		skip "aarch64 boot" "building an arm64 base needs qemu-user's binfmt handler (qemu-user-static, binfmt-support)"
		exit 0
	fi
	"${rootfs[@]}" >"$TMP/rootfs.log" 2>&1 || { fail "build the arm64 base" "$(tail -5 "$TMP/rootfs.log")"; exit 0; }
	base=$("${rootfs[@]}" --print-path)
fi
have aarch64-linux-gnu-gcc || { skip "aarch64 boot" "no aarch64 cross compiler for the k3s stand-in"; exit 0; }

# The Pi boot file set the pi5 board requires, added to the base.
mkdir -p "$TMP/pi/boot/firmware/overlays"
head -c 65536 /dev/urandom >"$TMP/pi/boot/firmware/kernel_2712.img"
head -c 4096 /dev/urandom >"$TMP/pi/boot/firmware/bcm2712-rpi-5-b.dtb"
head -c 1024 /dev/urandom >"$TMP/pi/boot/firmware/overlays/bcm2712d0.dtbo"
bsdtar -cf "$TMP/base.tar" @"$base" -C "$TMP/pi" ./boot/firmware/kernel_2712.img \
	./boot/firmware/bcm2712-rpi-5-b.dtb ./boot/firmware/overlays/bcm2712d0.dtbo
boot_cluster
boot_artifacts
aarch64-linux-gnu-gcc -O2 -o "$TMP/artifacts/k3s-arm64" "$TOP/tests/helpers/k3s-standin.c"
python3 - "$TMP/artifacts.lock" "$TMP/artifacts/k3s-arm64" <<'PY'
import hashlib, re, sys
lock, path = sys.argv[1], sys.argv[2]
digest = hashlib.sha256(open(path, 'rb').read()).hexdigest()
text = open(lock).read()
text = re.sub(r'(  - name: k3s\n    arch: arm64\n(?:    .*\n)*?    sha256: )\S+', r'\g<1>' + digest, text)
open(lock, 'w').write(text)
PY
check "build sheep" boot_build sheep "$TMP/base.tar" "$TMP/out"
[ -f "$TMP/out/sheep.img" ] || { sed 's/^/    /' "$TMP/out.log"; exit 0; }
rm -f "$TMP/base.tar"
img=$TMP/out/sheep.img
extract "$img" "$TMP/out/sheep.json" 2 "$TMP/root.ext4"
kver=$(dfs "$TMP/root.ext4" "ls /boot" | tr -s ' ' '\n' | sed -n 's/^vmlinuz-//p' | sort -V | tail -1)
dfs "$TMP/root.ext4" "dump /boot/vmlinuz-$kver $TMP/vmlinuz"
dfs "$TMP/root.ext4" "dump /boot/initrd.img-$kver $TMP/initrd"
rm -f "$TMP/root.ext4"
root_uuid=$(manifest_get "$TMP/out/sheep.json" "m['partitions'][1]['uuid']")
net=(--user-net 192.168.14.0/26 --user-host 192.168.14.1 --guest-ip 192.168.14.12)
trap '"$VM" kill sheep >/dev/null 2>&1; rm -rf "$TMP"' EXIT

start=$SECONDS
"$VM" start sheep --image "$img" --arch aarch64 --disk-size 6G --mem 2048 "${net[@]}" --timeout 900 \
	--kernel "$TMP/vmlinuz" --initrd "$TMP/initrd" \
	--append "root=PARTUUID=$root_uuid rootfstype=ext4 ro rootwait console=ttyAMA0 cgroup_enable=memory" \
	>"$TMP/start.log" 2>&1 || { fail "start sheep" "$(cat "$TMP/start.log")"; exit 0; }
echo "    accelerator: $("$VM" accel --arch aarch64)"
if ! "$VM" wait-ssh sheep --key "$TMP/key" --user k3s --timeout 700 >"$TMP/wait.log" 2>&1; then
	fail "sheep reachable over SSH" "$(tail -30 "$TMP/wait.log")"
	exit 0
fi
pass "sheep reachable over SSH as the admin user ($((SECONDS - start)) s)"
check_eq "sheep: aarch64" "aarch64" "$(on sheep uname -m)"
assert_node sheep vda 192.168.14.12/26 fd12:3456:789a:14::12/64 192.168.14.1 fd12:3456:789a:14::1
table=$(parts sheep vda)
subvols=$(subvolumes sheep)
"$VM" stop sheep >/dev/null 2>&1
"$VM" start sheep --image "$img" --arch aarch64 --disk-size 6G --mem 2048 "${net[@]}" --timeout 900 \
	--kernel "$TMP/vmlinuz" --initrd "$TMP/initrd" --reuse-disk \
	--append "root=PARTUUID=$root_uuid rootfstype=ext4 ro rootwait console=ttyAMA0 cgroup_enable=memory" \
	>"$TMP/start2.log" 2>&1
if "$VM" wait-ssh sheep --key "$TMP/key" --user k3s --timeout 700 >/dev/null 2>&1; then
	check_eq "sheep, second boot: partition table unchanged" "$table" "$(parts sheep vda)"
	check_eq "sheep, second boot: subvolumes unchanged" "$subvols" "$(subvolumes sheep)"
	check_eq "sheep, second boot: no failed units" "" "$(on sheep systemctl --failed --no-legend --plain)"
else
	fail "sheep: second boot reachable" "no SSH"
fi
"$VM" stop sheep >/dev/null 2>&1
