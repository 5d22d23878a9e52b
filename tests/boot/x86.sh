# Boot the x86 node (duck) in QEMU through OVMF, from an image built from the
# real Debian base, on a disk larger than the image: first boot prepares
# storage and identity; assert on the running node; a second boot changes
# nothing; power cuts at four points of first-boot storage work converge.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../image/image.lib"
source "$(dirname "$0")/boot.lib"
boot_prereqs x86_64
mktmp
export FARM_VM_DIR=$TMP/vms
cfg=$TOP/configs/cluster.yaml
if ! base=$("$FARM_IMAGE" rootfs --board x86 --config "$cfg" --print-path 2>/dev/null); then
	skip "x86 boot" "no cached x86 base: run 'farm-image rootfs --board x86' (CI sets FARM_TEST_ROOTFS=1 and the image tests build it)"
	exit 0
fi
boot_cluster
boot_artifacts amd64
check "build duck" boot_build duck "$base" "$TMP/out"
[ -f "$TMP/out/duck.img" ] || { sed 's/^/    /' "$TMP/out.log"; exit 0; }
img=$TMP/out/duck.img
net=(--user-net 192.168.14.0/26 --user-host 192.168.14.1 --guest-ip 192.168.14.13)
trap 'for v in duck cut-start cut-mkfs cut-seed cut-var; do "$VM" kill $v >/dev/null 2>&1; done; rm -rf "$TMP"' EXIT

start=$SECONDS
"$VM" start duck --image "$img" --arch x86_64 --disk-size 6G --mem 2048 "${net[@]}" --timeout 900 \
	>"$TMP/start.log" 2>&1 || { fail "start duck" "$(cat "$TMP/start.log")"; exit 0; }
echo "    accelerator: $("$VM" accel --arch x86_64)"
if ! "$VM" wait-ssh duck --key "$TMP/key" --user k3s --timeout 600 >"$TMP/wait.log" 2>&1; then
	fail "duck reachable over SSH" "$(tail -30 "$TMP/wait.log")"
	exit 0
fi
pass "duck reachable over SSH as the admin user ($((SECONDS - start)) s)"

mid=$(image_file "$img" /etc/machine-id)
assert_node duck vda 192.168.14.13/26 fd12:3456:789a:14::13/64 192.168.14.1 fd12:3456:789a:14::1 "$mid"
assert_k3s duck k3s-agent.service /var/lib/rancher/k3s/agent/etc/kubelet.conf.d/50-farm-image-gc.conf
table=$(parts duck vda)
subvols=$(subvolumes duck)
check_eq "partition table read back" "vda1 vda2 vda3" "$(awk '{print $1}' <<<"$table" | tr '\n' ' ' | sed 's/ $//')"
fp=$(on duck sudo ssh-keygen -l -f /var/lib/farm/ssh/ssh_host_ed25519_key)

# Second boot: storage is a no-op, nothing changes.
"$VM" stop duck >/dev/null 2>&1
"$VM" start duck --image "$img" --arch x86_64 --disk-size 6G --mem 2048 "${net[@]}" --timeout 900 --reuse-disk \
	>"$TMP/start2.log" 2>&1 || { fail "second boot" "$(cat "$TMP/start2.log")"; exit 0; }
if "$VM" wait-ssh duck --key "$TMP/key" --user k3s --timeout 600 >/dev/null 2>&1; then
	check_eq "second boot: partition table unchanged" "$table" "$(parts duck vda)"
	check_eq "second boot: subvolumes unchanged" "$subvols" "$(subvolumes duck)"
	check "second boot: storage ran and kept everything" grep -q "btrfs kept, 0 subvolumes created" <<<"$(on duck sudo farm-node status)"
	check_eq "second boot: host key kept" "$fp" "$(on duck sudo ssh-keygen -l -f /var/lib/farm/ssh/ssh_host_ed25519_key)"
	check_eq "second boot: machine-id kept" "$mid" "$(on duck cat /etc/machine-id)"
	check_eq "second boot: no failed units" "" "$(on duck systemctl --failed --no-legend --plain)"
else
	fail "second boot reachable" "no SSH"
fi
"$VM" stop duck >/dev/null 2>&1

# Power cuts during first-boot storage work, each on a fresh disk: the
# moment systemd starts farm-storage, and at farm-node's own console lines
# (it logs to the console too; kill-at cuts within milliseconds of a line):
# mkfs.btrfs running, @var being seeded, @var done and the other subvolumes
# to come. Then boot again: the node converges
# to the same end state, and btrfs check finds the filesystem clean.
cuts=(
	"start|farm-storage\.service|systemd starting farm-storage"
	"mkfs|Creating the Btrfs filesystem|mkfs.btrfs running"
	"seed|Seeding subvolume @var|@var being seeded"
	"var|Created subvolume @var\b|@var done, the other subvolumes to come"
)
for cut in "${cuts[@]}"; do
	IFS='|' read -r name marker what <<<"$cut"
	name=cut-$name
	"$VM" start $name --image "$img" --arch x86_64 --disk-size 6G --mem 2048 "${net[@]}" --timeout 900 \
		>"$TMP/$name.log" 2>&1 || { fail "start $name" "$(cat "$TMP/$name.log")"; continue; }
	if ! "$VM" kill-at $name "$marker" --timeout 600 >/dev/null 2>"$TMP/$name.err"; then
		fail "power cut: $what" "/$marker/ never showed on the serial console: $(tail -3 "$TMP/$name.err")"
		"$VM" kill $name >/dev/null 2>&1
		continue
	fi
	pass "power cut: $what"
	# Where the cut really fell: farm-node's last console line.
	last=$(grep -a 'farm-node\[' "$FARM_VM_DIR/$name/serial.log" | tail -1 | tr -d '\r' | sed 's/^.*farm-node\[[0-9]*\]: //')
	echo "    farm-node's last line before the cut: ${last:-(none yet)}"
	"$VM" start $name --image "$img" --arch x86_64 --disk-size 6G --mem 2048 "${net[@]}" --timeout 900 \
		--reuse-disk >"$TMP/$name-2.log" 2>&1
	if "$VM" wait-ssh $name --key "$TMP/key" --user k3s --timeout 600 >/dev/null 2>&1; then
		check_eq "$name: same subvolumes" "$(awk '{print $2}' <<<"$subvols")" \
			"$(subvolumes $name | awk '{print $2}')"
		check "$name: /var seeded" on $name test -s /var/lib/dpkg/status
		check_eq "$name: same partition layout" "$table" "$(parts $name vda)"
		check "$name: farm-node status: storage done" grep -q '^  storage *done' <<<"$(on $name sudo farm-node status)"
		failed=$(on $name systemctl --failed --no-legend --plain)
		check_eq "$name: no failed units" "" "$failed"
		[ -z "$failed" ] || on $name sudo journalctl -b -u "$(awk '{print $1; exit}' <<<"$failed")" --no-pager | tail -15 | sed 's/^/    /'
		did=$(on $name sudo journalctl -b -o cat -u farm-storage.service --no-pager | grep -E 'Removing|Creating|Seeding|Created|Grew' | tr '\n' ';' | sed 's/;$//')
		echo "    farm-node in the boot after the cut: ${did:-nothing left to do}"
		"$VM" stop $name >/dev/null 2>&1
		# btrfs check needs the filesystem unmounted: from the host, on
		# the VM's disk (root only: a loop device).
		if [ "$(id -u)" -eq 0 ] && have btrfs && have qemu-img; then
			qemu-img convert -O raw "$FARM_VM_DIR/$name/disk.qcow2" "$TMP/$name.raw"
			loop=$(losetup -f --show -P "$TMP/$name.raw")
			partx -a "$loop" 2>/dev/null
			p=/sys/block/${loop#/dev/}/${loop#/dev/}p3
			rm -f "${loop}p3"
			mknod "${loop}p3" b $(tr ':' ' ' <"$p/dev")
			check "$name: btrfs check clean" btrfs check --readonly "${loop}p3"
			rm -f "${loop}p3"
			losetup -d "$loop"
			rm -f "$TMP/$name.raw"
		else
			skip "$name: btrfs check clean" "needs root, btrfs-progs and qemu-img"
		fi
	else
		fail "$name: the node comes up" "no SSH after the cut ($(uptime | sed 's/.*load/host load/'))"
		serial_report $name
		"$VM" kill $name >/dev/null 2>&1
	fi
done
