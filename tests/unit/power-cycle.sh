#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The power cycle against the k3s stand-in (node/powercycle.h): a whole
# cluster shuts down in order (the worker only after the control plane
# released its lock, the control plane last), every replica count recorded
# before anything is scaled, and comes back with exactly those counts;
# without Argo CD, CloudNativePG and Rook-Ceph it does the rest and says
# what it skipped; status shows where each node is.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
mktmp
source "$(dirname "${BASH_SOURCE[0]}")/node.lib"
source "$(dirname "${BASH_SOURCE[0]}")/power.lib"
trap 'standin_stop; wait 2>/dev/null; rm -rf "$TMP"' EXIT
if ! have openssl; then
	skip "$(basename "$0")" "openssl(1) is missing"
	exit 0
fi

power_setup "ceph rook-ceph/rook-ceph HEALTH_OK after 0
attachment pvc-pg for statefulset/apps/postgres" || { fail "setup" "$(tail -3 "$TMP/standin.log")"; exit 0; }
power_workloads || { fail "workloads" "apply failed"; exit 0; }
kc "$data" get nodes >/dev/null # a tick: pods, attachments
check_eq "before: the workloads' pods run" "3 2 1 2 1" \
	"$(pods apps app=web) $(pods apps app=postgres) $(pods argocd app.kubernetes.io/name=argocd-application-controller) $(pods apps cnpg.io/cluster=pg) $(pods kube-system app.kubernetes.io/name=coredns)"

# --- shutdown: the worker first waits, the control plane leads --------------
"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err" &
sheep_pid=$!
sleep 1
check_eq "the worker waits for the control plane (no poweroff yet)" "-" "$(systemctl_calls "$sheep")"
"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
check_eq "control plane: shutdown exits 0" "0" "$?"
wait $sheep_pid
check_eq "worker: shutdown exits 0" "0" "$?"

check_eq "replicas recorded, then scaled to 0 (the idle app: left, no record)" \
	"0 3|0 2|0 1|0 -" \
	"$(replicas apps/deployment/web)|$(replicas apps/statefulset/postgres)|$(replicas argocd/statefulset/argocd-application-controller)|$(replicas apps/deployment/idle)"
check_eq "their pods are gone, the CloudNativePG cluster's too" "0 0 0 0" \
	"$(pods apps app=web) $(pods apps app=postgres) $(pods argocd app.kubernetes.io/name=argocd-application-controller) $(pods apps cnpg.io/cluster=pg)"
check_eq "CloudNativePG hibernated, marked as farm-node's" "on true" \
	"$(kc "$data" get clusters.postgresql.cnpg.io pg -n apps -o jsonpath='{.metadata.annotations.cnpg\.io/hibernation} {.metadata.annotations.farm/hibernated}')"
check_eq "the Ceph volume detached" "" "$(kc "$data" get volumeattachments -o name 2>/dev/null)"
check_eq "the control plane's lock: released, owned, with an expiry" "released cow True" \
	"$(annotation cow farm/shutdown-lock | python3 -c 'import json,sys; l=json.load(sys.stdin); print(l["phase"], l["owner"], l["until"] > l["started"])')"
id=$(annotation cow farm/shutdown-lock | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
check_eq "the worker reported done for this shutdown" "$id done" \
	"$(annotation sheep farm/power | python3 -c 'import json,sys; r=json.load(sys.stdin); print(r["id"], r["state"])')"
check_eq "both nodes tainted and cordoned" "dns-unready=true:NoExecute cordoned|dns-unready=true:NoExecute cordoned" \
	"$(node_state cow)|$(node_state sheep)"
check_eq "worker: k3s-agent stopped, then power off" "stop k3s-agent.service,poweroff" "$(systemctl_calls "$sheep")"
check_eq "control plane: k3s stopped, then power off" "stop k3s.service,poweroff" "$(systemctl_calls "$cow")"
t_sheep=$(grep poweroff "$sheep/systemctl.log" | cut -d' ' -f1)
t_cow=$(grep poweroff "$cow/systemctl.log" | cut -d' ' -f1)
check "the control plane powers off last" python3 -c "import sys; sys.exit(0 if $t_sheep < $t_cow else 1)"
# The worker took no step before the release: its taint came after it.
check "the worker went only after the release" python3 - "$data/standin/requests.log" <<'EOF'
import sys
lines = open(sys.argv[1]).read().splitlines()
rel = [i for i, l in enumerate(lines) if 'farm/shutdown-lock={' in l and '"released"' in l]
taint = [i for i, l in enumerate(lines) if ' taint nodes sheep dns-unready=true:NoExecute' in l]
sys.exit(0 if rel and taint and taint[0] > rel[0] else 1)
EOF
check_eq "both positions: powering-off" "powering-off powering-off" "$(position "$cow") $(position "$sheep")"
check_eq "the control plane said what it did" "1" \
	"$(grep -c 'storage apps (storage=rook-ceph,shutdown=app): 1 scaled to 0' "$TMP/cow.err")"

# --- startup: both come back, the counts exactly -----------------------------
echo "boot-2" >"$cow/proc/sys/kernel/random/boot_id"
echo "boot-2" >"$sheep/proc/sys/kernel/random/boot_id"
"$FARM_NODE" --root "$sheep" startup >"$TMP/sheep-up.out" 2>"$TMP/sheep-up.err"
check_eq "worker: startup exits 0" "0" "$?"
check_eq "worker: untainted, uncordoned" "-" "$(node_state sheep)"
"$FARM_NODE" --root "$cow" startup >"$TMP/cow-up.out" 2>"$TMP/cow-up.err"
check_eq "control plane: startup exits 0" "0" "$?"
check_eq "replicas restored exactly, records dropped; the idle app still at 0" "3 -|2 -|1 -|0 -" \
	"$(replicas apps/deployment/web)|$(replicas apps/statefulset/postgres)|$(replicas argocd/statefulset/argocd-application-controller)|$(replicas apps/deployment/idle)"
check_eq "CloudNativePG woken, the mark gone" "off -" \
	"$(kc "$data" get clusters.postgresql.cnpg.io pg -n apps -o jsonpath='{.metadata.annotations.cnpg\.io/hibernation}') $(kc "$data" get clusters.postgresql.cnpg.io pg -n apps -o json | python3 -c 'import json,sys; print((json.load(sys.stdin)["metadata"].get("annotations") or {}).get("farm/hibernated","-"))')"
check_eq "the shutdown lock is gone" "-" "$(annotation cow farm/shutdown-lock)"
check_eq "control plane: untainted, uncordoned" "-" "$(node_state cow)"
kc "$data" get nodes >/dev/null
check_eq "the pods run again" "3 2 1 2" \
	"$(pods apps app=web) $(pods apps app=postgres) $(pods argocd app.kubernetes.io/name=argocd-application-controller) $(pods apps cnpg.io/cluster=pg)"
"$FARM_NODE" --root "$cow" status --json >"$TMP/status.json"
check_eq "status: startup done this boot, the shutdown finished, no lock" "done True finished []" \
	"$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["power"]; print(p["startup"]["state"], p["startup"]["done"], p["shutdown"]["state"], p["locks"])' "$TMP/status.json")"
check_eq "status: what the startup restored" "1" \
	"$(python3 -c 'import json,sys; p=json.load(open(sys.argv[1]))["power"]; print(int("storage apps (storage=rook-ceph,shutdown=app): 1 restored" in p["startup"]["detail"]))' "$TMP/status.json")"
"$FARM_NODE" --root "$sheep" status >"$TMP/status.txt"
check_eq "status (text) of the worker" "startup done" \
	"$(grep -o '^  startup *done' "$TMP/status.txt" | tr -s ' ' | sed 's/^ //')"
# Startup again (a restart of the unit): nothing changes.
"$FARM_NODE" --root "$cow" startup >/dev/null 2>&1
check_eq "a second startup changes nothing" "3 -|2 -" \
	"$(replicas apps/deployment/web)|$(replicas apps/statefulset/postgres)"

# The worker did all of it as farm-power:sheep, within its ClusterRoles.
worker_requests_allowed "every request of the worker's shutdown and startup is within its RBAC"

# --- a cluster without the optional components -------------------------------
standin_stop
rm -rf "$TMP/cow" "$TMP/sheep"
power_setup || { fail "setup (no optional components)" "$(tail -3 "$TMP/standin.log")"; exit 0; }
WITHOUT=optional power_workloads || fail "workloads (no optional components)"
"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err" &
sheep_pid=$!
"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
check_eq "no Argo CD, CloudNativePG, Rook-Ceph: the shutdown goes on" "0 powering-off" "$? $(position "$cow")"
wait $sheep_pid
for what in "Argo CD's application controller: none in this cluster" "CloudNativePG: not installed" \
	"no Ceph volume attached" "storage databases (storage=rook-ceph,shutdown=db): 1 scaled to 0"; do
	check_eq "it says: $what" "1" "$(grep -c -F "$what" "$TMP/cow.err" | sed 's/^[1-9][0-9]*$/1/')"
done
"$FARM_NODE" --root "$sheep" startup >/dev/null 2>&1
"$FARM_NODE" --root "$cow" startup >"$TMP/cow-up.err" 2>&1
check_eq "... and comes back without them" "0 3 -|2 -" \
	"$? $(replicas apps/deployment/web)|$(replicas apps/statefulset/postgres)"
check_eq "it says: Rook-Ceph not installed" "1" "$(grep -c 'Rook-Ceph: not installed' "$TMP/cow-up.err" | sed 's/^[1-9][0-9]*$/1/')"
