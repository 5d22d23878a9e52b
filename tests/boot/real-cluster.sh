#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The real cluster: cow and sheep (both pi5) booted together in QEMU as in
# aarch64.sh, but with the real k3s and the real charts instead of the
# stand-ins, built with the project's own lock (configs/artifacts.lock,
# every file hash-verified). It shows what the stand-in cannot
# (tests/helpers/standin/README.md): that k3s runs on the images, the
# charts install and their pods run, and the network works. Both nodes
# Ready with addresses of both families, every stack component ready
# (farm-node status, and each workload rolled out by kubectl itself), and a
# test Service with a cluster IP of each family that answers on both.
# Then the same power cycle as aarch64.sh's (pi_power_cycle): by the
# timer, with and without an SSH lock, down in order and back with the
# storage app's replicas, on the real CoreDNS and API.
#
# It runs only when the real artifacts are given: FARM_REAL_ARTIFACTS=DIR,
# a directory holding every artifact of configs/artifacts.lock for arm64
# (k3s-arm64, k3s-airgap-images-arm64.tar.zst and the stack's charts),
# named as the last component of each URL (what `farm-image build
# --artifacts DIR` takes; `farm-image fetch --from` fills the cache from
# such a directory). Under TCG it takes hours; with KVM on an arm64 host,
# minutes. The container images of the charts (Cilium, cert-manager, ...)
# are pulled from their registries: the VMs need that access.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/../image/image.lib"
source "$(dirname "$0")/boot.lib"
if [ -z "${FARM_REAL_ARTIFACTS:-}" ]; then
	skip "real cluster" "FARM_REAL_ARTIFACTS is not set: it names a directory with the real k3s, air-gap images and charts of configs/artifacts.lock (README, 'Boot tests'); none can be downloaded here"
	exit 0
fi
boot_prereqs aarch64
mktmp
export FARM_VM_DIR=$TMP/vms
pi_base || exit 0
pi_cluster
pi_overlays
boot_build() {
	"$FARM_IMAGE" build --node "$1" --config "$TMP/cluster.yaml" --secrets "$(secrets)" \
		--lock "$TOP/configs/artifacts.lock" --artifacts "$FARM_REAL_ARTIFACTS" \
		--overlays "$BOOT_OVERLAYS" --base "$2" --out "$3" >"$3.log" 2>&1
}
pi_images cow sheep || exit 0
trap '"$VM" kill cow >/dev/null 2>&1; "$VM" kill sheep >/dev/null 2>&1; rm -rf "$TMP"' EXIT
export PI_MEM=4096 PI_TIMEOUT=14400
for node in cow sheep; do
	pi_boot $node || { fail "start $node" "$(cat "$TMP/start-$node.log")"; exit 0; }
done
for node in cow sheep; do
	"$VM" wait-ssh $node --key "$TMP/key" --user k3s --timeout 3600 >"$TMP/wait.log" 2>&1 ||
		{ fail "$node reachable over SSH" "$(tail -20 "$TMP/wait.log")"; exit 0; }
done
kc() { on cow sudo k3s kubectl --kubeconfig=/var/lib/rancher/k3s/server/cred/admin.kubeconfig "$@"; }

check_eq "cow: farm-join done (the stack installed)" "active" "$(join_done cow 10800)"
check_eq "sheep: farm-join done (Ready)" "active" "$(join_done sheep 3600)"
[ "$(on cow systemctl show -p ActiveState --value farm-join.service)" = active ] ||
	on cow sudo journalctl -b -u farm-join.service --no-pager | tail -30 | sed 's/^/    /'
check_eq "cow: every component done" "cilium:done coredns:done cert-manager:done trust-manager:done traefik:done argocd:done" \
	"$(on cow sudo farm-node status --json | python3 -c "import json,sys; print(' '.join(c['component']+':'+c['state'] for c in json.load(sys.stdin)['stack']))")"

# The nodes: both Ready, each with an InternalIP of each family.
for node in cow sheep; do
	check_eq "$node: Ready" "True" "$(kc get node $node -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')"
	addrs=$(kc get node $node -o 'jsonpath={range .status.addresses[?(@.type=="InternalIP")]}{.address}{" "}{end}')
	check "$node: an IPv4 and an IPv6 node address ($addrs)" bash -c "grep -q '\.' <<<'$addrs' && grep -q ':' <<<'$addrs'"
done

# Every workload of the stack rolled out, as kubectl itself says.
for w in kube-system/daemonset/cilium kube-system/deployment/cilium-operator kube-system/deployment/coredns \
	cert-manager/deployment/cert-manager cert-manager/deployment/cert-manager-webhook \
	cert-manager/deployment/trust-manager traefik/deployment/traefik argocd/deployment/argocd-server \
	argocd/statefulset/argocd-application-controller; do
	check "$w rolled out" kc rollout status "${w#*/}" -n "${w%%/*}" --timeout=60s
done
check_eq "the farm CA issuer Ready" "True" "$(kc get clusterissuer farm-ca -o 'jsonpath={.status.conditions[?(@.type=="Ready")].status}')"
check "traefik has LoadBalancer addresses from the pool" bash -c \
	"'$VM' ssh cow --key '$TMP/key' --user k3s -- sudo k3s kubectl --kubeconfig=/var/lib/rancher/k3s/server/cred/admin.kubeconfig get svc traefik -n traefik -o 'jsonpath={.status.loadBalancer.ingress[*].ip}' | grep -q '192.168.14.5'"

# A test Service of both families, in front of busybox's httpd (the image is
# in k3s's air-gap archive: nothing to pull).
kc apply -f - >/dev/null <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata: {name: farm-test, namespace: default}
spec:
  replicas: 2
  selector: {matchLabels: {app: farm-test}}
  template:
    metadata: {labels: {app: farm-test}}
    spec:
      containers:
        - name: httpd
          image: rancher/mirrored-library-busybox:1.36.1
          command: [sh, -c, 'echo farm-test >/tmp/index.html && httpd -f -p 8080 -h /tmp']
---
apiVersion: v1
kind: Service
metadata: {name: farm-test, namespace: default}
spec:
  ipFamilyPolicy: RequireDualStack
  ipFamilies: [IPv4, IPv6]
  selector: {app: farm-test}
  ports: [{port: 80, targetPort: 8080}]
EOF
check "the test Deployment rolls out" kc rollout status deployment/farm-test --timeout=600s
ips=$(kc get svc farm-test -o 'jsonpath={.spec.clusterIPs[*]}')
read -r ip4 ip6 <<<"$ips"
check "the test Service has a cluster IP of each family ($ips)" bash -c "[[ '$ip4' == *.* && '$ip6' == *:* ]]"
# get IP: an HTTP GET from sheep, by bash's /dev/tcp (the base has no curl).
get() { on sheep "timeout 10 bash -c 'exec 3<>/dev/tcp/$1/80 && printf \"GET / HTTP/1.0\\r\\n\\r\\n\" >&3 && cat <&3'" | tail -1 | tr -d '\r'; }
check_eq "it answers on its IPv4 cluster IP" "farm-test" "$(get "$ip4")"
check_eq "it answers on its IPv6 cluster IP" "farm-test" "$(get "$ip6")"
check_eq "no failed units" "" "$(on cow systemctl --failed --no-legend --plain)$(on sheep systemctl --failed --no-legend --plain)"
PI_SLOW=4 pi_power_cycle || exit 0
"$VM" stop sheep >/dev/null 2>&1
"$VM" stop cow >/dev/null 2>&1
