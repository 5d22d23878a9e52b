#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The stack installer (farm-node join's `stack` step) against the k3s
# stand-in (tests/helpers/standin), on a stack farm-image rendered into a
# control plane's image from test definitions: three components listed in
# the wrong order (the order follows the dependencies); a custom resource
# applied only once its CRD is Established (late); a failed install Job
# stops the run naming it, with the Job's and its pod's last state, nothing
# after it applied, and the next run continues from it; a timeout says what
# it waited for and what it saw last; a finished install applies nothing
# again; a component whose manifest changed (a new build) is applied again,
# the others not.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
mktmp
source "$TOP/tests/unit/node.lib"
need_tools debugfs python3
trap 'standin_stop; rm -rf "$TMP"' EXIT
fixture full "$TMP/full.tar" || exit 1
sec=$(secrets) || exit 1

# The test's stack: net (a CNI, with a custom resource after its CRD), dns
# (after net), certs (after dns, a resource with a condition).
conf=$TMP/conf
mkdir -p "$conf/stack"
sed 's/^stack: .*/stack: [certs, dns, net]/' "$TOP/configs/cluster.yaml" >"$conf/cluster.yaml"
ln -s "$TOP/configs/boards" "$conf/boards"
cat >"$conf/stack/net.yaml" <<'EOF'
name: net
namespace: kube-system
cni: true
timeout: 30s
chart:
  artifact: net
  bootstrap: true
  values: |
    pods: ["{{pods_ipv4}}", "{{pods_ipv6}}"]
rollout:
  - object: daemonset/net
crds: [pools.net.example.io]
resources:
  - manifest: |
      apiVersion: net.example.io/v1
      kind: Pool
      metadata:
        name: farm
      spec:
        blocks: {{lb_blocks}}
EOF
cat >"$conf/stack/dns.yaml" <<'EOF'
name: dns
namespace: kube-system
depends: [net]
timeout: 30s
chart:
  artifact: dns
  values: |
    clusterIP: "{{dns_ipv4}}"
rollout:
  - object: deployment/dns
EOF
cat >"$conf/stack/certs.yaml" <<'EOF'
name: certs
namespace: certs
depends: [dns]
timeout: 30s
chart:
  artifact: certs
rollout:
  - object: deployment/certs
crds: [issuers.certs.example.io]
resources:
  - manifest: |
      apiVersion: certs.example.io/v1
      kind: Issuer
      metadata:
        name: farm-ca
      spec: {}
conditions:
  - {object: issuer/farm-ca, condition: Ready}
EOF
# What the stand-in's helm-controller installs for each chart.
cat >"$TMP/releases" <<'EOF'
release net daemonset/kube-system/net crd/pools.net.example.io=Pool/v1/Cluster
release dns deployment/kube-system/dns
release certs deployment/certs/certs crd/issuers.certs.example.io=Issuer/v1/Cluster
cni net
EOF

# The lock: the k3s stand-ins, and the three charts.
artifacts >/dev/null
for c in net dns certs; do
	python3 "$TOP/tests/helpers/mkchart.py" $c 1.0.0 "$TMP/artifacts/$c-1.0.0.tgz"
	printf '  - name: %s\n    version: 1.0.0\n    url: http://127.0.0.1:9/%s-1.0.0.tgz\n    sha256: %s\n' \
		$c $c "$(sha256sum <"$TMP/artifacts/$c-1.0.0.tgz" | cut -d' ' -f1)" >>"$TMP/artifacts.lock"
done

# image OUT: cow built from $conf; its stack into OUT/stack.
image() {
	"$FARM_IMAGE" build --node cow --config "$conf/cluster.yaml" --secrets "$sec" \
		--lock "$TMP/artifacts.lock" --artifacts "$TMP/artifacts" --base "$TMP/full.tar" \
		--overlays "$TOP/overlays" --out "$1" >"$1.log" 2>&1 || { cat "$1.log"; return 1; }
	extract "$1/cow.img" "$1/cow.json" 2 "$1/root.ext4" &&
		dfs "$1/root.ext4" "rdump /usr/lib/farm/stack $1" >/dev/null && rm -f "$1"/cow.img* "$1/root.ext4"
}
check "cow builds with the test stack" image "$TMP/img1" || exit 0
check_eq "the plan's order follows the dependencies" "net dns certs" \
	"$(sed -n 's/^  - name: "\(.*\)"$/\1/p' "$TMP/img1/stack/plan.yaml" | tr '\n' ' ' | sed 's/ $//')"

API_PORT=$(free_port)
# run NAME SCENARIO-RULES...: a fresh control plane root (the image's stack,
# the stand-in server started with the releases plus RULES); $root, $data.
fresh() {
	standin_stop
	root=$TMP/$1
	data=$root/var/lib/rancher/k3s
	node_root "$root" cow server 30s
	cp -r "$TMP/img1/stack/." "$root/usr/lib/farm/stack/"
	shift
	{ cat "$TMP/releases"; printf '%s\n' "$@"; } >"$root.scenario"
	standin_start "$data" cow "$root.scenario"
}
# restart [RULES...]: the same server again, with the releases plus RULES.
restart() {
	standin_stop
	{ cat "$TMP/releases"; printf '%s\n' "$@"; } >"$root.scenario"
	standin_start "$data" cow "$root.scenario"
}
log() { cat "$data/standin/requests.log"; }
# The objects applied (kind/name), in order, since MARK lines of the log.
applied_since() { tail -n +$(($1 + 1)) "$data/standin/requests.log" | sed -n 's/^applied //p' | tr '\n' ' ' | sed 's/ $//'; }
join() { "$FARM_NODE" --root "$root" join >"$TMP/out" 2>"$TMP/err"; }
states() {
	"$FARM_NODE" --root "$root" status --json | python3 -c "
import json, sys
print(' '.join(c['component'] + ':' + c['state'] for c in json.load(sys.stdin)['stack']))"
}

# --- the whole stack, a CRD Established late ------------------------------------
fresh ok "crd pools.net.example.io established-after 4" || { fail "start the stand-in"; exit 0; }
join
check_eq "the stack installs" "0" "$?"
check_eq "... in dependency order, each resource after its chart" \
	"helmchart.helm.cattle.io/net pool.net.example.io/farm helmchart.helm.cattle.io/dns helmchart.helm.cattle.io/certs issuer.certs.example.io/farm-ca" \
	"$(applied_since 0)"
first_pool=$(grep -n "^applied pool.net.example.io/farm" "$data/standin/requests.log" | head -1 | cut -d: -f1)
established=$(grep -n "wait --for=condition=Established crd/pools.net.example.io" "$data/standin/requests.log" | tail -1 | cut -d: -f1)
check "the Pool was applied only after its CRD was waited for (Established)" test "$first_pool" -gt "$established"
check "... which took more than one wait" test "$(grep -c "wait --for=condition=Established crd/pools.net.example.io" "$data/standin/requests.log")" -gt 1
check "the console line of each component" bash -c "grep -c 'Stack: installing' '$TMP/err' | grep -qx 3"
check_eq "status: every component done" "net:done dns:done certs:done" "$(states)"
mark=$(wc -l <"$data/standin/requests.log")
join
check_eq "a second run succeeds" "0" "$?"
check_eq "... and applies nothing" "" "$(tail -n +$((mark + 1)) "$data/standin/requests.log" | grep -E ' apply |^applied ')"
check "... it says so" grep -q "stack: 3 components: 0 installed now, 3 already installed" "$TMP/err"

# --- a failed install Job stops the run; the next one continues ---------------
fresh failed "job dns fail Error: INSTALLATION FAILED: the test's dns chart refuses" ||
	{ fail "start the stand-in"; exit 0; }
join
check_eq "a failed component fails the run" "1" "$?"
check "... naming the component and the Job's failure" \
	grep -q "Stack component dns failed: the install Job kube-system/helm-install-dns failed: BackoffLimitExceeded: Job has reached the specified backoff limit; pod helm-install-dns-standin waiting: CrashLoopBackOff: back-off 5m0s restarting failed container=helm" "$TMP/err"
check "... and that nothing after it was applied" grep -q "Nothing after it was applied; the next run starts from it" "$TMP/err"
check_eq "... nothing after it was" "helmchart.helm.cattle.io/net pool.net.example.io/farm helmchart.helm.cattle.io/dns" "$(applied_since 0)"
check_eq "status: net done, dns failed, certs pending" "net:done dns:failed certs:pending" "$(states)"
"$FARM_NODE" --root "$root" status >"$TMP/status"
check "status says why dns failed" grep -Eq "^    dns +failed .*the install Job kube-system/helm-install-dns failed: BackoffLimitExceeded" "$TMP/status"
check "status: the stack step failed" grep -Eq "^  stack +failed " "$TMP/status"
# The chart fixed (here: the Job no longer fails; helm-controller makes a
# new Job once the old one is gone).
restart
kc "$data" delete job helm-install-dns -n kube-system >/dev/null
mark=$(wc -l <"$data/standin/requests.log")
join
check_eq "the next run succeeds" "0" "$?"
check_eq "... starting from the failed component" "helmchart.helm.cattle.io/certs issuer.certs.example.io/farm-ca" \
	"$(applied_since "$mark")"
check "... re-applying dns's HelmChart (unchanged) first" \
	bash -c "tail -n +$((mark + 1)) '$data/standin/requests.log' | grep -m1 ' apply ' | grep -q -- '--server-side'"
check_eq "status: every component done" "net:done dns:done certs:done" "$(states)"

# --- a rollout that never finishes: the component's timeout ---------------------
fresh timeout "rollout deployment/kube-system/dns never" || { fail "start the stand-in"; exit 0; }
python3 - "$root/usr/lib/farm/stack/plan.yaml" <<'PY'
import re, sys
p = sys.argv[1]
t = open(p).read()
t = re.sub(r'(name: "dns"\n(?:    .*\n)*?    timeout: )\d+', r'\g<1>3', t)
open(p, 'w').write(t)
PY
start=$SECONDS
join
check_eq "a component that does not become ready fails" "1" "$?"
check "... after its timeout (3 s)" test $((SECONDS - start)) -ge 3 -a $((SECONDS - start)) -le 30
check "... saying what it waited for and what it last saw" \
	grep -q "Stack component dns failed: timed out after [0-9]* s waiting for deployment/dns in kube-system to roll out; last seen: Waiting for deployment \"dns\" rollout to finish: 0 of 1 updated replicas are available..." "$TMP/err"
check_eq "status: dns failed, certs pending" "net:done dns:failed certs:pending" "$(states)"

# --- a changed manifest is applied again, the rest not ------------------------------
root=$TMP/ok
data=$root/var/lib/rancher/k3s
restart
sed -i 's|^    clusterIP: "{{dns_ipv4}}"$|    clusterIP: "{{dns_ipv4}}"\n    replicas: 2|' "$conf/stack/dns.yaml"
check "cow builds again with dns's values changed" image "$TMP/img2"
cmp -s "$TMP/img1/stack/01-net.yaml" "$TMP/img2/stack/01-net.yaml"
check_eq "... net's manifest is the same, dns's not" "0 1" "$? $(cmp -s "$TMP/img1/stack/02-dns.yaml" "$TMP/img2/stack/02-dns.yaml"; echo $?)"
cp -r "$TMP/img2/stack/." "$root/usr/lib/farm/stack/"
mark=$(wc -l <"$data/standin/requests.log")
join
check_eq "the run after a reimage succeeds" "0" "$?"
check_eq "... applying only the changed component" "helmchart.helm.cattle.io/dns" "$(applied_since "$mark")"
check "... saying so" grep -q "Stack: installing dns (2 of 3), its manifest changed" "$TMP/err"
check "... and waiting for helm-controller's new Job, not the old one" \
	grep -q "the Job is another version's\|stack: 3 components: 1 installed now, 2 already installed" "$TMP/err"
standin_stop
