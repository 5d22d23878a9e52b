# Boot the Raspberry Pi 5 nodes, cow (server) and sheep (agent), together in
# QEMU's virt machine with a Cortex-A76 (the Pi 5's core): the images' own
# root partitions, booted with the base's Debian arm64 kernel and initrd (a
# Pi 5 boots Raspberry Pi's kernel, which virt cannot run; the image's
# structure is checked by the image tests). The base is Debian arm64
# (tests/boot/arm64-virt.yaml, built under qemu-user, cached) with a
# synthesized Pi boot file set.
#
# The two nodes share one virtual LAN (QEMU socket networking on loopback
# multicast) on which each has its static addresses, on the NIC the config
# names by MAC; a second NIC (QEMU user networking) is the test's way in
# over SSH, configured by a test overlay. Each node must reach the other
# over both families. Then sheep boots a second time: nothing changes.
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
[ -x "$TOP/$FARM_BUILD/aarch64/tests/helpers/k3s-standin" ] ||
	{ skip "aarch64 boot" "the k3s stand-in for aarch64 is not built (make: the cross compiler and arm64 -dev packages of scripts/install-deps)"; exit 0; }

# The Pi boot file set the pi5 board requires, added to the base.
mkdir -p "$TMP/pi/boot/firmware/overlays"
head -c 65536 /dev/urandom >"$TMP/pi/boot/firmware/kernel_2712.img"
head -c 4096 /dev/urandom >"$TMP/pi/boot/firmware/bcm2712-rpi-5-b.dtb"
head -c 1024 /dev/urandom >"$TMP/pi/boot/firmware/overlays/bcm2712d0.dtbo"
bsdtar -cf "$TMP/base.tar" @"$base" -C "$TMP/pi" ./boot/firmware/kernel_2712.img \
	./boot/firmware/bcm2712-rpi-5-b.dtb ./boot/firmware/overlays/bcm2712d0.dtbo
boot_cluster
# The LAN NICs by MAC, as a node with several ports would name its own.
mac_cow=52:54:00:14:00:11
mac_sheep=52:54:00:14:00:12
awk -v cow=$mac_cow -v sheep=$mac_sheep '
	{print}
	/^  - name: cow$/ {print "    interface: " cow}
	/^  - name: sheep$/ {print "    interface: " sheep}' "$TMP/cluster.yaml" >"$TMP/cluster.new" &&
	mv "$TMP/cluster.new" "$TMP/cluster.yaml"
boot_artifacts arm64 || { fail "k3s stand-in for arm64" "see above"; exit 0; }
# The test's management NIC (QEMU user networking, 10.0.2.15): every wired
# NIC the LAN file leaves.
cp -r "$TOP/overlays" "$TMP/overlays"
cat >"$TMP/overlays/common/etc/systemd/network/90-test-mgmt.network" <<'EOF'
# Boot tests only: the NIC QEMU's user networking forwards SSH to.
[Match]
Name=en* eth*

[Network]
Address=10.0.2.15/24
LinkLocalAddressing=no
IPv6AcceptRA=no
EOF
export BOOT_OVERLAYS=$TMP/overlays
for node in cow sheep; do
	check "build $node" boot_build $node "$TMP/base.tar" "$TMP/out"
	[ -f "$TMP/out/$node.img" ] || { sed 's/^/    /' "$TMP/out.log"; exit 0; }
done
rm -f "$TMP/base.tar"
extract "$TMP/out/sheep.img" "$TMP/out/sheep.json" 2 "$TMP/root.ext4"
check_eq "sheep: the LAN file matches its MAC" "MACAddress=$mac_sheep" \
	"$(dfs "$TMP/root.ext4" "cat /etc/systemd/network/10-farm-lan.network" | grep '^MACAddress=')"
kver=$(dfs "$TMP/root.ext4" "ls /boot" | tr -s ' ' '\n' | sed -n 's/^vmlinuz-//p' | sort -V | tail -1)
dfs "$TMP/root.ext4" "dump /boot/vmlinuz-$kver $TMP/vmlinuz"
dfs "$TMP/root.ext4" "dump /boot/initrd.img-$kver $TMP/initrd"
mid_sheep=$(dfs "$TMP/root.ext4" "cat /etc/machine-id")
rm -f "$TMP/root.ext4"
mid_cow=$(image_file "$TMP/out/cow.img" /etc/machine-id)
trap '"$VM" kill cow >/dev/null 2>&1; "$VM" kill sheep >/dev/null 2>&1; rm -rf "$TMP"' EXIT

# boot NODE [START OPTIONS]: starts NODE's VM, its LAN NIC on the segment.
lan=socket-mcast:230.0.14.$((RANDOM % 250 + 1)):$((20000 + RANDOM % 30000))
boot() {
	local node=$1 mac uuid
	shift
	mac=mac_$node
	uuid=$(manifest_get "$TMP/out/$node.json" "m['partitions'][1]['uuid']")
	"$VM" start $node --image "$TMP/out/$node.img" --arch aarch64 --disk-size 6G --mem 2048 \
		--net "$lan" --mac "${!mac}" --timeout 1200 --kernel "$TMP/vmlinuz" --initrd "$TMP/initrd" \
		--append "root=PARTUUID=$uuid rootfstype=ext4 ro rootwait console=ttyAMA0 cgroup_enable=memory" \
		"$@" >"$TMP/start-$node.log" 2>&1
}

start=$SECONDS
for node in cow sheep; do
	boot $node || { fail "start $node" "$(cat "$TMP/start-$node.log")"; exit 0; }
done
echo "    accelerator: $("$VM" accel --arch aarch64)"
for node in cow sheep; do
	if ! "$VM" wait-ssh $node --key "$TMP/key" --user k3s --timeout 900 >"$TMP/wait.log" 2>&1; then
		fail "$node reachable over SSH" "$(tail -30 "$TMP/wait.log")"
		exit 0
	fi
	pass "$node reachable over SSH as the admin user ($((SECONDS - start)) s, both booting at once)"
done
check_eq "sheep: aarch64" "aarch64" "$(on sheep uname -m)"
assert_node cow vda 192.168.14.11/26 fd12:3456:789a:14::11/64 192.168.14.1 fd12:3456:789a:14::1 \
	"$mid_cow"
assert_node sheep vda 192.168.14.12/26 fd12:3456:789a:14::12/64 192.168.14.1 fd12:3456:789a:14::1 \
	"$mid_sheep"
assert_k3s cow k3s.service /var/lib/rancher/k3s/server/tls/server-ca.crt
assert_k3s sheep k3s-agent.service /var/lib/rancher/k3s/agent/etc/kubelet.conf.d/50-farm-image-gc.conf
check_eq "cow: kubectl's default kubeconfig links to the one k3s writes" \
	"/var/lib/rancher/k3s/server/cred/farm-admin.kubeconfig" "$(on cow readlink /etc/rancher/k3s/k3s.yaml)"

# The LAN: the static addresses on the NIC named by MAC and on no other;
# each node reaches the other's sshd over both families and is shown the
# other's own host key.
for node in cow sheep; do
	mac=mac_$node
	dev=$(on $node ip -o link | awk -v m="${!mac}" '$0 ~ "link/ether " m {sub(":$", "", $2); print $2}')
	check "$node: the LAN NIC (${!mac}) is there" test -n "$dev"
	check_eq "$node: the LAN addresses are on $dev only" "$dev $dev" \
		"$(on $node ip -o addr show | awk '$4 ~ /^(192\.168\.14\.|fd12:3456:789a:14::)/ {print $2}' | tr '\n' ' ' | sed 's/ $//')"
done
# reach FROM TO ADDRESS: FROM's ssh-keyscan of ADDRESS returns TO's key.
reach() {
	local from=$1 to=$2 addr=$3 want got i
	want=$(on $to sudo cat /var/lib/farm/ssh/ssh_host_ed25519_key.pub | awk '{print $2}')
	for i in 1 2 3 4 5 6; do
		got=$(on $from ssh-keyscan -T 5 -t ed25519 "$addr" 2>/dev/null | awk '!/^#/ {print $3}')
		[ -n "$got" ] && break
		sleep 2 # duplicate address detection may still hold an IPv6 address
	done
	check_eq "$from reaches $to at $addr (and is shown $to's host key)" "$want" "$got"
}
reach cow sheep 192.168.14.12
reach cow sheep fd12:3456:789a:14::12
reach sheep cow 192.168.14.11
reach sheep cow fd12:3456:789a:14::11
"$VM" stop cow >/dev/null 2>&1

# Second boot of sheep: storage is a no-op, nothing changes.
table=$(parts sheep vda)
subvols=$(subvolumes sheep)
"$VM" stop sheep >/dev/null 2>&1
boot sheep --reuse-disk || fail "sheep: second start" "$(cat "$TMP/start-sheep.log")"
if "$VM" wait-ssh sheep --key "$TMP/key" --user k3s --timeout 700 >/dev/null 2>&1; then
	check_eq "sheep, second boot: partition table unchanged" "$table" "$(parts sheep vda)"
	check_eq "sheep, second boot: subvolumes unchanged" "$subvols" "$(subvolumes sheep)"
	check_eq "sheep, second boot: machine-id kept" "$mid_sheep" "$(on sheep cat /etc/machine-id)"
	check "sheep, second boot: storage ran and kept everything" grep -q "btrfs kept, 0 subvolumes created" <<<"$(on sheep sudo farm-node status)"
	check_eq "sheep, second boot: no failed units" "" "$(on sheep systemctl --failed --no-legend --plain)"
else
	fail "sheep: second boot reachable" "no SSH"
fi
"$VM" stop sheep >/dev/null 2>&1
