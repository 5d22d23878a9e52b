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
# duck's server (cow) is not in this test: its join waits, bounded, and
# says what for (the unit is still running, not failed).
check "duck: farm-node join waits for its server, saying so" grep -Eq \
	"^  k3s-api +running .*waiting for the API of https://k3s.farm.home.arpa:6443 .*k3s-agent has not had its certificates signed by the server" \
	<<<"$(on duck sudo farm-node status)"
table=$(parts duck vda)
subvols=$(subvolumes duck)
check_eq "partition table read back" "vda1 vda2 vda3" "$(awk '{print $1}' <<<"$table" | tr '\n' ' ' | sed 's/ $//')"
fp=$(on duck sudo ssh-keygen -l -f /var/lib/farm/ssh/ssh_host_ed25519_key)
steps=

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
	# What a reimage must keep: files in /var and /home, the step journal.
	on duck 'echo kept-var | sudo tee /var/lib/farm-reimage-test >/dev/null && echo kept-home >~/reimage-test && sync'
	steps=$(on duck 'sudo sh -c "cd /var/lib/farm/steps && for f in *; do echo == \$f; cat \$f; done"')
else
	fail "second boot reachable" "no SSH"
fi
"$VM" stop duck >/dev/null 2>&1

# Reimage keeping the data: duck rebuilt with a changed overlay file (so its
# root differs) and flashed with --keep-data onto the VM's disk (a raw copy
# of its qcow2, and back). Boot: the data, the identity and the step
# journal are as they were, the new root is there, nothing is done again.
cp -r "${BOOT_OVERLAYS:-$TOP/overlays}" "$TMP/overlays2"
echo "# reimage test: release 2" >>"$TMP/overlays2/common/etc/profile.d/farm-aliases.sh"
BOOT_OVERLAYS=$TMP/overlays2 boot_build duck "$base" "$TMP/out2"
check "rebuild duck with a changed overlay file" test -f "$TMP/out2/duck.img"
disk=$FARM_VM_DIR/duck/disk.qcow2
if [ -f "$TMP/out2/duck.img" ] && qemu-img convert -O raw "$disk" "$TMP/duck-disk.raw"; then
	"$FARM_IMAGE" flash --config "$TMP/cluster.yaml" --node duck --out "$TMP/out2" \
		--device "$TMP/duck-disk.raw" --keep-data --yes >"$TMP/reimage.log" 2>&1
	check_eq "flash --keep-data onto duck's disk" 0 $?
	sed 's/^/    /' "$TMP/reimage.log"
	qemu-img convert -O qcow2 "$TMP/duck-disk.raw" "$disk" && rm -f "$TMP/duck-disk.raw"
	"$VM" start duck --image "$TMP/out2/duck.img" --arch x86_64 --disk-size 6G --mem 2048 "${net[@]}" \
		--timeout 900 --reuse-disk >"$TMP/start3.log" 2>&1 || fail "reimaged boot" "$(cat "$TMP/start3.log")"
	if "$VM" wait-ssh duck --key "$TMP/key" --user k3s --timeout 600 >/dev/null 2>&1; then
		check_eq "reimaged: the new root (the changed overlay file)" "# reimage test: release 2" \
			"$(on duck tail -1 /etc/profile.d/farm-aliases.sh)"
		check_eq "reimaged: the file in /var kept" "kept-var" "$(on duck cat /var/lib/farm-reimage-test)"
		check_eq "reimaged: the file in /home kept" "kept-home" "$(on duck cat '~/reimage-test')"
		check_eq "reimaged: machine-id kept" "$mid" "$(on duck cat /etc/machine-id)"
		check_eq "reimaged: host key kept" "$fp" "$(on duck sudo ssh-keygen -l -f /var/lib/farm/ssh/ssh_host_ed25519_key)"
		check_eq "reimaged: partition table unchanged" "$table" "$(parts duck vda)"
		check_eq "reimaged: subvolumes unchanged" "$subvols" "$(subvolumes duck)"
		# The journal: first-boot steps untouched (same records, same
		# times: none ran again); storage records each boot, and what it
		# found must be what the second boot found.
		now=$(on duck 'sudo sh -c "cd /var/lib/farm/steps && for f in *; do echo == \$f; cat \$f; done"')
		check_eq "reimaged: first-boot step journal unchanged" \
			"$(awk '/^== /{keep = ($2 != "storage")} keep' <<<"$steps")" \
			"$(awk '/^== /{keep = ($2 != "storage")} keep' <<<"$now")"
		check_eq "reimaged: storage step found everything in place, as before" \
			"$(awk '/^== storage/{getline; getline; print}' <<<"$steps")" \
			"$(awk '/^== storage/{getline; getline; print}' <<<"$now")"
		did=$(on duck sudo journalctl -b -o cat -u farm-storage.service -u farm-firstboot.service --no-pager |
			grep -E '^(Removing|Creating|Seeding|Created|Grew)|^(ssh-host-keys|home|k3s-ca|k3s-images|kubelet-dropin): ' | tr '\n' ';')
		check_eq "reimaged: no first-boot work repeated" "" "$did"
		check_eq "reimaged: no failed units" "" "$(on duck systemctl --failed --no-legend --plain)"
	else
		fail "reimaged duck comes up" "no SSH ($(uptime | sed 's/.*load/host load/'))"
		serial_report duck
	fi
	"$VM" stop duck >/dev/null 2>&1
else
	fail "reimage duck's disk" "no rebuilt image, or qemu-img cannot convert $disk"
fi

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
