# Boot the Raspberry Pi 5 nodes, cow (server) and sheep (agent), together in
# QEMU's virt machine with a Cortex-A76 (the Pi 5's core): the images' own
# root partitions, booted with the base's Debian arm64 kernel and initrd (a
# Pi 5 boots Raspberry Pi's kernel, which virt cannot run; the image's
# structure is checked by the image tests). cow's base is Debian arm64
# (tests/boot/arm64-virt.yaml, built under qemu-user, cached); sheep's is
# Pi-OS-like (tests/boot/pios-virt.yaml: that base plus NetworkManager,
# cloud-init, swap, the first-boot wizard and units, sshd disabled, no
# systemd-resolved), so that one boot shows that any base ends as the same
# node. Both get a synthesized Pi boot file set.
#
# The two nodes share one virtual LAN (QEMU socket networking on loopback
# multicast) on which each has its static addresses, on the NIC the config
# names by MAC; a second NIC (QEMU user networking) is the test's way in
# over SSH, configured by a test overlay. Each node must reach the other
# over both families. cow installs the whole stack against the k3s
# stand-in (tests/helpers/standin), which plays the cluster: a power cut in
# the middle of it (at farm-node's console line for cert-manager) leads to a
# boot that resumes from that component; every component ends done, sheep
# registered and Ready. Then the power cycle (farm-node shutdown, startup):
# with an SSH lock held the daily timer fires and nothing stops; without it
# the timer powers both off, cow only once sheep has reported; both boot
# again and the startup restores what the shutdown scaled down, and for
# sheep's storage that boot changes nothing.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../image/image.lib"
source "$(dirname "$0")/boot.lib"
boot_prereqs aarch64
mktmp
export FARM_VM_DIR=$TMP/vms
pi_base pios || exit 0
[ -x "$TOP/$FARM_BUILD/aarch64/tests/helpers/k3s-standin" ] ||
	{ skip "aarch64 boot" "the k3s stand-in for aarch64 is not built (make: the cross compiler and arm64 -dev packages of scripts/install-deps)"; exit 0; }
pi_cluster
boot_artifacts arm64 || { fail "k3s stand-in for arm64" "see above"; exit 0; }
pi_overlays
# What the stand-in's helm-controller installs for each chart (its
# scenario): what the stack's definitions wait for. cert-manager's install
# Job completes late, so that a power cut at its console line falls in the
# middle of it.
mkdir -p "$TMP/overlays/common/etc/rancher/k3s"
# For the power cycle's startup, workloads have pods (CoreDNS's among
# them) and the stand-in answers DNS as CoreDNS at its service address
# (node.yaml cluster-dns), which the test puts on cow's loopback and routes
# to from sheep over the LAN (no kube-proxy here to do it).
python3 "$TOP/tests/boot/standin-scenario.py" "$TOP/configs/stack" "job cert-manager complete-after 12" \
	"pods on" "dns 10.43.0.10:53" >"$TMP/overlays/common/etc/rancher/k3s/standin.scenario"
mkdir -p "$TMP/overlays/role/server/etc/systemd/network" \
	"$TMP/overlays/role/agent/etc/systemd/network/10-farm-lan.network.d"
printf '# Boot tests only: CoreDNS'"'"'s service address, where the stand-in answers DNS.\n[Match]\nName=lo\n\n[Network]\nAddress=10.43.0.10/32\n' \
	>"$TMP/overlays/role/server/etc/systemd/network/80-test-dns.network"
printf '# Boot tests only: CoreDNS'"'"'s service address is on cow.\n[Route]\nDestination=10.43.0.10/32\nGateway=192.168.14.11\n' \
	>"$TMP/overlays/role/agent/etc/systemd/network/10-farm-lan.network.d/80-test-dns.conf"
pi_images cow sheep:pios || exit 0
check_eq "sheep: the LAN file matches its MAC" "MACAddress=$mac_sheep" \
	"$(image_file "$TMP/out/sheep.img" /etc/systemd/network/10-farm-lan.network | grep '^MACAddress=')"
mid_sheep=$(image_file "$TMP/out/sheep.img" /etc/machine-id)
mid_cow=$(image_file "$TMP/out/cow.img" /etc/machine-id)
trap '"$VM" kill cow >/dev/null 2>&1; "$VM" kill sheep >/dev/null 2>&1; rm -rf "$TMP"' EXIT
# Each VM's life bound: the join, then the power cycle.
export PI_TIMEOUT=${PI_TIMEOUT:-3600}

start=$SECONDS
for node in cow sheep; do
	pi_boot $node || { fail "start $node" "$(cat "$TMP/start-$node.log")"; exit 0; }
done
echo "    accelerator: $("$VM" accel --arch aarch64)"
# A power cut on cow while it installs the stack (its first boot).
if "$VM" kill-at cow "Stack: installing cert-manager" --timeout 1500 >"$TMP/kill.log" 2>&1; then
	pass "cow: power cut in the middle of the stack install ($(tr -d '\r' <"$TMP/kill.log" | sed 's/^.*farm-node\[[0-9]*\]: //'))"
	pi_boot cow --reuse-disk || { fail "start cow again" "$(cat "$TMP/start-cow.log")"; exit 0; }
else
	fail "cow: power cut in the middle of the stack install" "$(tail -5 "$TMP/kill.log")"
fi
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
assert_settled cow 192.168.14.11
assert_settled sheep 192.168.14.12
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
	want=${want:-"(no host key read from $to)"}
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
# farm-node join: cow installs the stack (resuming after the cut), sheep
# registers and turns Ready once cow's CNI is in.
check_eq "cow: farm-join done" "active" "$(join_done cow 900)"
status=$(on cow sudo farm-node status --json)
check_eq "cow: farm-node status shows every component done" \
	"cilium:done coredns:done cert-manager:done trust-manager:done traefik:done argocd:done" \
	"$(python3 -c "import json,sys; print(' '.join(c['component']+':'+c['state'] for c in json.load(sys.stdin)['stack']))" <<<"$status")"
check_eq "cow: joined (API, registered, the workers' RBAC, stack, Ready)" "k3s-api node-registered power-rbac stack node-ready" \
	"$(python3 -c "import json,sys; print(' '.join(s['step'] for s in json.load(sys.stdin)['steps'] if s['done'] and s['step'] in ('k3s-api','node-registered','power-rbac','stack','node-ready')))" <<<"$status")"
check_eq "cow: after the cut, the install resumed from cert-manager" "Stack: installing cert-manager (3 of 6)" \
	"$(on cow sudo journalctl -b -o cat -u farm-join.service --no-pager | grep -m1 'Stack: installing')"
# ssh hands the remote shell one line: what holds a space, a $ or a
# parenthesis is quoted for it.
check_eq "cow: cilium and coredns were applied once (not again after the cut)" "1 1" \
	"$(on cow "sudo grep -c '^applied helmchart.helm.cattle.io/cilium\$' /var/lib/rancher/k3s/standin/requests.log") $(on cow "sudo grep -c '^applied helmchart.helm.cattle.io/coredns\$' /var/lib/rancher/k3s/standin/requests.log")"
check "cow: farm-node status, by a person" grep -Eq '^    argocd +done' <<<"$(on cow sudo farm-node status)"
check_eq "sheep: farm-join done" "active" "$(join_done sheep 300)"
check_eq "sheep: registered and Ready" "node-registered:done node-ready:done" \
	"$(on sheep sudo farm-node status --json | python3 -c "import json,sys; print(' '.join(s['step']+':'+s['state'] for s in json.load(sys.stdin)['steps'] if s['step'] in ('node-registered','node-ready')))")"
check_eq "cow sees sheep Ready" "True" \
	"$(on cow "sudo k3s kubectl --kubeconfig=/var/lib/rancher/k3s/server/cred/admin.kubeconfig get node sheep -o 'jsonpath={.status.conditions[?(@.type==\"Ready\")].status}'")"
check_eq "no failed units on either node" "" \
	"$(on cow systemctl --failed --no-legend --plain)$(on sheep systemctl --failed --no-legend --plain)"
for node in cow sheep; do
	check "$node still running after the first-boot checks ($("$VM" status $node))" "$VM" status $node
done

# --- the power cycle --------------------------------------------------------
# The power units: the timer is on everywhere; the startup ran only where
# the join had recorded node-registered when it started (cow's boot after
# the cut), and was skipped at sheep's first boot, before its join.
check_eq "the shutdown timer is active on both" "active active" \
	"$(on cow systemctl is-active farm-shutdown.timer) $(on sheep systemctl is-active farm-shutdown.timer)"
unit_state() { echo "$(on $1 systemctl show -p ActiveState --value $2) $(on $1 systemctl show -p ConditionResult --value $2)"; }
check_eq "farm-startup: ran on cow, skipped by its condition on sheep before the join" "active yes|inactive no" \
	"$(unit_state cow farm-startup.service)|$(unit_state sheep farm-startup.service)"
# The boot after the power cycle is also sheep's second boot onto the same
# disk: storage is a no-op there, nothing changes (one TCG boot fewer than
# a boot of its own).
table=$(parts sheep vda)
subvols=$(subvolumes sheep)
pi_power_cycle || exit 0
check_eq "sheep, second boot: partition table unchanged" "$table" "$(parts sheep vda)"
check_eq "sheep, second boot: subvolumes unchanged" "$subvols" "$(subvolumes sheep)"
check_eq "sheep, second boot: machine-id kept" "$mid_sheep" "$(on sheep cat /etc/machine-id)"
check "sheep, second boot: storage ran and kept everything" grep -q "btrfs kept, 0 subvolumes created" <<<"$(on sheep sudo farm-node status)"
"$VM" stop cow >/dev/null 2>&1
"$VM" stop sheep >/dev/null 2>&1
