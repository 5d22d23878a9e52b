#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `farm-node join` against the k3s stand-in (tests/helpers/standin): an
# agent waits for its credentials from the server, for the API at
# node.yaml's api-server, for its node to be registered and Ready, and gives
# up after its timeout saying what it waited for; the server waits for its
# API (which does not answer for its first requests) and its node, installs
# a one-component stack, and is Ready; a second run resumes from the step
# that failed. And kubectl's classes as the stand-in gives them.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
mktmp
source "$(dirname "${BASH_SOURCE[0]}")/node.lib"
AGENT_PID=
trap 'standin_stop; [ -n "$AGENT_PID" ] && kill $AGENT_PID 2>/dev/null; wait 2>/dev/null; rm -rf "$TMP"' EXIT

API_PORT=$(free_port)
LB_PORT=$(free_port)
cow=$TMP/cow
sheep=$TMP/sheep
node_root "$cow" cow server 20s
node_root "$sheep" sheep agent 3s
data=$cow/var/lib/rancher/k3s

# A one-component stack: the CNI's chart (the stand-in makes nodes Ready once
# a HelmChart named cilium is installed).
values=$'ipam:\n  mode: cluster-pool\n'
cat >"$cow/usr/lib/farm/stack/01-cilium.yaml" <<YAML
# the CNI
---
apiVersion: helm.cattle.io/v1
kind: HelmChart
metadata:
  name: cilium
  namespace: kube-system
spec:
  targetNamespace: kube-system
  bootstrap: true
  chartContent: aGVsbG8=
  valuesContent: |
    ipam:
      mode: cluster-pool
YAML
cat >"$cow/usr/lib/farm/stack/plan.yaml" <<YAML
components:
  - name: cilium
    file: 01-cilium.yaml
    sha256: "0001"
    timeout: 20
    namespace: kube-system
    chart: cilium
    job-hash: "$(job_hash cilium aGVsbG8= "$values")"
    rollout: [daemonset/cilium]
YAML
# pods on: the workloads get pods, beside the chart's helm-install Job and
# its pod (which has no owner), as in the boot test's scenario.
printf 'release cilium daemonset/kube-system/cilium deployment/kube-system/cilium-operator\npods on\n' >"$TMP/scenario"

# --- an agent before its server exists ---------------------------------------
start=$SECONDS
"$FARM_NODE" --root "$sheep" join >"$TMP/out" 2>"$TMP/err"
check_eq "agent without a server: join fails" "1" "$?"
check "... after its timeout (3 s), not at once, not forever" test $((SECONDS - start)) -ge 3 -a $((SECONDS - start)) -le 20
check "... saying what it waited for" grep -q "Gave up after [0-9]* s waiting for the API of https://127.0.0.1:$API_PORT: .*kubelet.kubeconfig is not there yet (k3s-agent has not had its certificates signed by the server)" "$TMP/err"
check "... and that the step runs again" grep -q "Step k3s-api failed; it runs again at the next start" "$TMP/err"
"$FARM_NODE" --root "$sheep" status >"$TMP/status"
check "status: k3s-api failed" grep -Eq "^  k3s-api +failed " "$TMP/status"
check "status: node-ready pending" grep -Eq "^  node-ready +pending" "$TMP/status"

# --- its k3s joins: credentials, registered, not Ready without a CNI ---------
standin_start "$data" cow "$TMP/scenario" || { fail "start the stand-in" "see above"; exit 0; }
printf 'server: "https://127.0.0.1:%s"\nnode-name: sheep\nnode-ip: "127.0.0.2,::1"\n' "$API_PORT" >"$TMP/agent.yaml"
"$STANDIN" agent --data-dir "$sheep/var/lib/rancher/k3s" --config "$TMP/agent.yaml" \
	--lb-server-port "$LB_PORT" >>"$TMP/standin.log" 2>&1 &
AGENT_PID=$!
for i in $(seq 50); do [ -f "$sheep/var/lib/rancher/k3s/agent/kubelet.kubeconfig" ] && break; sleep 0.1; done
check "the stand-in agent registered sheep" bash -c "'$STANDIN' kubectl --kubeconfig='$data/server/cred/admin.kubeconfig' get node sheep -o name | grep -qx node/sheep"
"$FARM_NODE" --root "$sheep" join >"$TMP/out" 2>"$TMP/err"
check_eq "agent without a CNI: join fails at node-ready" "1" "$?"
check "... naming what it waited for and the kubelet's reason" \
	grep -q "Gave up after [0-9]* s waiting for node sheep to be Ready; last: not Ready: container runtime network not ready: NetworkReady=false reason:NetworkPluginNotReady" "$TMP/err"
"$FARM_NODE" --root "$sheep" status --json >"$TMP/a.json"
check_eq "agent: api and registered done, Ready failed" "k3s-api:done node-registered:done node-ready:failed" \
	"$(python3 -c "import json; print(' '.join(s['step']+':'+s['state'] for s in json.load(open('$TMP/a.json'))['steps'] if s['step'] in ('k3s-api','node-registered','node-ready')))")"

# --- the server: its stack's CNI makes the nodes Ready ------------------------
"$FARM_NODE" --root "$cow" join >"$TMP/out" 2>"$TMP/err"
check_eq "server: join succeeds" "0" "$?"
check "... the component installed" grep -q "Stack: cilium ready (chart installed, 1 rolled out" "$TMP/err"
"$FARM_NODE" --root "$cow" status --json >"$TMP/s.json"
check_eq "server: every join step recorded, the component too" "k3s-api node-registered stack node-ready | cilium:done" \
	"$(python3 -c "
import json; d = json.load(open('$TMP/s.json'))
print(' '.join(s['step'] for s in d['steps'] if s['done'] and s['step'] in ('k3s-api','node-registered','stack','node-ready')), '|', ' '.join(c['component']+':'+c['state'] for c in d['stack']))")"
"$FARM_NODE" --root "$cow" join >"$TMP/out" 2>"$TMP/err"
check_eq "a second join of a joined server applies nothing" "0 stack: 1 components: 0 installed now, 1 already installed" \
	"$? $(sed "s/^farm-node: //" "$TMP/err" | grep -v "^power-rbac: ")"
"$FARM_NODE" --root "$sheep" join >"$TMP/out" 2>"$TMP/err"
check_eq "agent: the next run succeeds" "0" "$?"
check_eq "... resuming at node-ready (nothing else ran)" "node-ready: node sheep Ready" \
	"$(sed -n 's/^farm-node: \(.*\) (after .*/\1/p' "$TMP/err")"

# --- kubectl's answers, as farm-node's cluster module classifies them ---------
kc "$data" get node nope >"$TMP/out" 2>"$TMP/err"
check_eq "kubectl: a missing object" "1 Error from server (NotFound): nodes \"nope\" not found" "$? $(cat "$TMP/err")"
kc "$data" get nosuchkind >"$TMP/out" 2>"$TMP/err"
check_eq "kubectl: an unknown kind" "1 error: the server doesn't have a resource type \"nosuchkind\"" "$? $(cat "$TMP/err")"
kc "$data" wait --for=condition=Ready node/cow --timeout=1s >"$TMP/out" 2>"$TMP/err"
check_eq "kubectl: a condition met" "0 node/cow condition met" "$? $(cat "$TMP/out")"
kc "$data" wait --for=condition=Ready node/nope --timeout=1s >"$TMP/out" 2>"$TMP/err"
check_eq "kubectl: waiting for a missing object" "1 Error from server (NotFound): nodes \"nope\" not found" "$? $(cat "$TMP/err")"
standin_stop
kc "$data" get node cow >"$TMP/out" 2>"$TMP/err"
check_eq "kubectl: no API" "1 The connection to the server 127.0.0.1:$((API_PORT + 1)) was refused - did you specify the right host or port?" "$? $(cat "$TMP/err")"

# --- a server whose API does not answer for its first requests -----------------
cow2=$TMP/cow2
node_root "$cow2" cow2 server 20s
printf 'components: []\n' >"$cow2/usr/lib/farm/stack/plan.yaml"
printf 'api-down 3\ncni -\n' >"$TMP/scenario2"
standin_start "$cow2/var/lib/rancher/k3s" cow2 "$TMP/scenario2" || { fail "start the stand-in" "see above"; exit 0; }
"$FARM_NODE" --root "$cow2" join >"$TMP/out" 2>"$TMP/err"
check_eq "server: join succeeds once the API answers" "0" "$?"
check "... after waiting, saying for what and what it saw" \
	grep -q "Waiting for the API of the local k3s server (.*): The connection to the server 127.0.0.1:$((API_PORT + 1)) was refused" "$TMP/err"
check "... and it answered within the wait" grep -q "k3s-api: the API of the local k3s server answers (after [1-9][0-9]* s)" "$TMP/err"
standin_stop
