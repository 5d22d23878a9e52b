#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The power cycle fails closed (node/powercycle.h, NODE-SPEC.md "Power
# cycle" and the seed's defects it must not copy), against the k3s
# stand-in: a valid SSH lock holds every node up and changes nothing, an
# expired one does not and is cleaned up; an API error at each step (the
# lock lookup, a scale, the hibernation, the drain) leaves the cluster
# running with what was scaled down put back; every wait gives up with
# a message naming what it waited for; a shutdown cut at each state
# resumes and converges, the recorded replicas intact; a worker with no
# shutdown lock in sight stays up unless the control plane's API is gone.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
mktmp
source "$(dirname "${BASH_SOURCE[0]}")/node.lib"
source "$(dirname "${BASH_SOURCE[0]}")/power.lib"
trap 'standin_stop; wait 2>/dev/null; rm -rf "$TMP"' EXIT
if ! have openssl; then
	skip "$(basename "$0")" "openssl(1) is missing"
	exit 0
fi

# fresh [SCENARIO-LINES]: a new cluster with the workloads.
fresh() {
	standin_stop
	rm -rf "$TMP/cow" "$TMP/sheep"
	power_setup "ceph rook-ceph/rook-ceph HEALTH_OK after 0
attachment pvc-pg for statefulset/apps/postgres
${1:-}" || { fail "setup" "$(tail -3 "$TMP/standin.log")"; exit 0; }
	power_workloads || { fail "workloads" "apply failed"; exit 0; }
	kc "$data" get nodes >/dev/null 2>&1
}

# says NAME FILE TEXT: FILE has the line TEXT (fixed string).
says() {
	if grep -q -F -- "$3" "$2"; then pass "$1"; else fail "$1" "no '$3' in: $(tail -3 "$2" | tr '\n' '|')"; fi
}

# cut_cow: cow's shutdown runs until the stand-in hangs on the scenario's
# request (the power is cut while it waits), then is killed.
cut_cow() {
	local pid
	"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err" &
	pid=$!
	for _ in $(seq 150); do
		grep -q "hanging on" "$data/standin/requests.log" 2>/dev/null && break
		sleep 0.2
	done
	{ kill -KILL $pid; wait $pid; } 2>/dev/null
}

# untouched NAME: nothing of the cluster was changed.
untouched() {
	check_eq "$1: nothing changed" "3 -|2 -|1 -|-|-|-|-|-" \
		"$(replicas apps/deployment/web)|$(replicas apps/statefulset/postgres)|$(replicas argocd/statefulset/argocd-application-controller)|$(annotation cow farm/shutdown-lock)|$(node_state cow)|$(node_state sheep)|$(systemctl_calls "$cow")|$(systemctl_calls "$sheep")"
}

# --- SSH locks --------------------------------------------------------------
fresh
"$FARM_NODE" --root "$sheep" lock --for 1h >"$TMP/lock.out" 2>&1
check_eq "lock on the worker: exits 0" "0" "$?"
check_eq "the lock is on the worker's Node, with an expiry" "True" \
	"$(annotation sheep farm/ssh-lock-manual | python3 -c 'import json,sys,datetime; l=json.load(sys.stdin); print(datetime.datetime.fromisoformat(l["until"].replace("Z","+00:00")) > datetime.datetime.now(datetime.timezone.utc))')"
"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
check_eq "a live lock: the control plane's shutdown exits 0" "0" "$?"
"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err"
check_eq "a live lock: the worker's shutdown exits 0" "0" "$?"
untouched "a live lock on the worker"
says "the control plane says which lock held it" "$TMP/cow.err" "Shutdown held off: SSH lock sheep/manual"
check_eq "both positions: held" "held held" "$(position "$cow") $(position "$sheep")"
"$FARM_NODE" --root "$cow" status --json >"$TMP/status.json"
check_eq "status lists the lock" "sheep manual True" \
	"$(python3 -c 'import json,sys; l=json.load(open(sys.argv[1]))["power"]["locks"][0]; print(l["node"], l["name"], l["valid"])' "$TMP/status.json" 2>&1)"
"$FARM_NODE" --root "$sheep" unlock >/dev/null 2>&1
check_eq "unlock: the lock is gone" "-" "$(annotation sheep farm/ssh-lock-manual)"

# An expired lock does not hold anything, and the control plane removes it.
"$FARM_NODE" --root "$sheep" lock --for 1s >/dev/null 2>&1
sleep 2
"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err" &
sheep_pid=$!
"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
check_eq "an expired lock: the control plane goes on" "0 powering-off" "$? $(position "$cow")"
wait $sheep_pid
check_eq "an expired lock: the worker goes on" "0 powering-off" "$? $(position "$sheep")"
check_eq "the expired lock is cleaned up" "-" "$(annotation sheep farm/ssh-lock-manual)"
worker_requests_allowed "every request of the worker (lock, unlock, shutdown) is within its RBAC"

# --- an API error at each step: fail closed ---------------------------------
# The lock lookup: no "no locks" out of an error.
fresh "refuse get nodes"
"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
check_eq "the lock lookup refused: the control plane fails" "1 failed" "$? $(position "$cow")"
"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err"
check_eq "the lock lookup refused: the worker fails" "1 failed" "$? $(position "$sheep")"
power_restart "ceph rook-ceph/rook-ceph HEALTH_OK after 0" || fail "restart" "$(tail -3 "$TMP/standin.log")"
untouched "the lock lookup refused"

# A scale refused midway (the databases, after the apps): the lock is
# aborted, what was scaled comes back, nobody powers off.
fresh "refuse scale statefulset/postgres"
"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err" &
sheep_pid=$!
"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
check_eq "a scale refused: the control plane fails" "1 failed" "$? $(position "$cow")"
wait $sheep_pid
check_eq "... the worker stays up" "1 aborted -" "$? $(position "$sheep") $(systemctl_calls "$sheep")"
check_eq "... the lock says aborted, and why" "aborted the control plane's shutdown failed at the storage databases" \
	"$(annotation cow farm/shutdown-lock | python3 -c 'import json,sys; l=json.load(sys.stdin); print(l["phase"], l["reason"])')"
check_eq "... what was scaled down is back, records dropped" "3 -|2 -|1 -" \
	"$(replicas apps/deployment/web)|$(replicas apps/statefulset/postgres)|$(replicas argocd/statefulset/argocd-application-controller)"
says "... it says what was refused" "$TMP/cow.err" "Cannot scale apps/statefulset/postgres to 0"
check_eq "... nobody tainted, nothing stopped" "-|-|-" "$(node_state cow)|$(node_state sheep)|$(systemctl_calls "$cow")"
# The next shutdown, the API well again, goes all the way.
power_restart "ceph rook-ceph/rook-ceph HEALTH_OK after 0
attachment pvc-pg for statefulset/apps/postgres" || fail "restart" "$(tail -3 "$TMP/standin.log")"
"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err" &
sheep_pid=$!
"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
check_eq "... and the next shutdown goes through" "0 powering-off 0 3|0 2" \
	"$? $(position "$cow") $(replicas apps/deployment/web)|$(replicas apps/statefulset/postgres)" ||
	sed 's/^/    /' "$TMP/cow.err"
wait $sheep_pid

# The hibernation refused.
fresh "refuse annotate clusters.postgresql.cnpg.io/pg"
"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
check_eq "the hibernation refused: the control plane fails, all back" "1 failed 3 -|2 -|1 -" \
	"$? $(position "$cow") $(replicas apps/deployment/web)|$(replicas apps/statefulset/postgres)|$(replicas argocd/statefulset/argocd-application-controller)"
check_eq "... the lock aborted" "aborted" \
	"$(annotation cow farm/shutdown-lock | python3 -c 'import json,sys; print(json.load(sys.stdin)["phase"])')"

# A CloudNativePG cluster that cannot be woken keeps no other asleep:
# the startup wakes the rest, restores everything, says which and fails;
# the next startup wakes it.
fresh
kc "$data" apply --server-side -f - >/dev/null <<'EOF2'
apiVersion: postgresql.cnpg.io/v1
kind: Cluster
metadata: {name: pg2, namespace: apps}
spec: {instances: 1}
EOF2
"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err" &
sheep_pid=$!
"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
wait $sheep_pid
hib() { kc "$data" get clusters.postgresql.cnpg.io "$1" -n apps -o jsonpath='{.metadata.annotations.cnpg\.io/hibernation}'; }
check_eq "two CloudNativePG clusters hibernated" "0 on on" "$? $(hib pg) $(hib pg2)"
power_restart "ceph rook-ceph/rook-ceph HEALTH_OK after 0
refuse annotate clusters.postgresql.cnpg.io/pg" || fail "restart" "$(tail -3 "$TMP/standin.log")"
echo "boot-2" >"$cow/proc/sys/kernel/random/boot_id"
echo "boot-2" >"$sheep/proc/sys/kernel/random/boot_id"
"$FARM_NODE" --root "$sheep" startup >/dev/null 2>&1
"$FARM_NODE" --root "$cow" startup >"$TMP/cow-up.out" 2>"$TMP/cow-up.err"
check_eq "one cluster cannot be woken: the startup fails, the other woken, the rest restored" \
	"1 on off 3 -|2 -|1 -" \
	"$? $(hib pg) $(hib pg2) $(replicas apps/deployment/web)|$(replicas apps/statefulset/postgres)|$(replicas argocd/statefulset/argocd-application-controller)"
says "... it says which" "$TMP/cow-up.err" "Cannot end the hibernation of apps/pg"
power_restart "ceph rook-ceph/rook-ceph HEALTH_OK after 0" || fail "restart" "$(tail -3 "$TMP/standin.log")"
"$FARM_NODE" --root "$cow" startup >"$TMP/cow-up.out" 2>"$TMP/cow-up.err"
check_eq "... the next startup wakes it" "0 off" "$? $(hib pg)"

# The worker's drain refused: it stays up, schedulable again.
fresh "refuse drain sheep"
"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err" &
sheep_pid=$!
"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
wait $sheep_pid
check_eq "the drain refused: the worker fails and stays up" "1 failed - -" \
	"$? $(position "$sheep") $(systemctl_calls "$sheep") $(node_state sheep)"
says "... it says so" "$TMP/sheep.err" "Cannot drain node sheep"
says "the control plane waited for its report, then went" "$TMP/cow.err" "waiting for every worker's report"
check_eq "... the control plane went" "stop k3s.service,poweroff" "$(systemctl_calls "$cow")"

# --- every wait gives up, saying what it waited for --------------------------
fresh "terminate deployment/apps/web never"
"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
check_eq "pods that never go: the control plane fails, all back" "1 failed 3 -" \
	"$? $(position "$cow") $(replicas apps/deployment/web)"
says "... it says what it waited for" "$TMP/cow.err" "Gave up after"
grep -F "Gave up after" "$TMP/cow.err" | grep -q "web" &&
	pass "... naming the workload" || fail "... naming the workload" "$(grep -F 'Gave up' "$TMP/cow.err")"

fresh "attachment pvc-stuck for statefulset/apps/postgres never"
"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
check_eq "a Ceph volume that never detaches: the control plane fails" "1 failed" "$? $(position "$cow")"
says "... it says so" "$TMP/cow.err" "waiting for the Ceph volumes to be detached"

# A worker, the control plane up but not shutting down: it stays up.
fresh
"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err"
check_eq "no shutdown lock in sight: the worker stays up" "1 aborted -" \
	"$? $(position "$sheep") $(systemctl_calls "$sheep")"
says "... it says why" "$TMP/sheep.err" "the control plane is up but not shutting down, so this node stays up"
untouched "no shutdown lock in sight"
# A boot that followed no shutdown: the startup leaves the node, and the
# operator's cordon, alone.
kc "$data" cordon sheep >/dev/null
"$FARM_NODE" --root "$sheep" startup >"$TMP/sheep-up.out" 2>"$TMP/sheep-up.err"
check_eq "startup without a shutdown before it: done, the operator's cordon kept" "0 cordoned" \
	"$? $(node_state sheep)"
says "... it says why" "$TMP/sheep-up.err" "Node sheep has no dns-unready taint: nothing to bring back on it"
kc "$data" uncordon sheep >/dev/null

# A worker, the control plane's API gone for all of lock-wait: it goes on
# its own.
standin_stop
"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err"
check_eq "the control plane down: the worker goes on its own" "0 powering-off stop k3s-agent.service,poweroff" \
	"$? $(position "$sheep") $(systemctl_calls "$sheep")"
says "... it says so" "$TMP/sheep.err" "it is down; this node shuts down on its own"

# The startup gives up when CoreDNS never answers.
power_restart "ceph rook-ceph/rook-ceph HEALTH_OK after 0
refuse get pods" || fail "restart" "$(tail -3 "$TMP/standin.log")"
echo "boot-2" >"$sheep/proc/sys/kernel/random/boot_id"
kc "$data" taint nodes sheep dns-unready=true:NoExecute >/dev/null
"$FARM_NODE" --root "$sheep" startup >"$TMP/sheep-up.out" 2>"$TMP/sheep-up.err"
check_eq "startup, CoreDNS unseen: fails, the node still tainted" "1 dns-unready=true:NoExecute" "$? $(node_state sheep)"
says "... it says what it waited for" "$TMP/sheep-up.err" "CoreDNS"

# --- a shutdown cut at each state resumes and converges ----------------------
# The stand-in stops answering at a step (the power is cut while farm-node
# waits on it); farm-node is killed; the next run, the API back, resumes
# from the recorded position.
# HANG:POSITION:WORKER (the worker goes in the first run, before the cut,
# or in the second).
for cut in "scale statefulset/postgres:apps-down:second" \
	"annotate clusters.postgresql.cnpg.io/pg:dbs-down:second" "drain cow:tainted:first"; do
	IFS=: read -r hang want worker <<<"$cut"
	fresh "hang $hang"
	if [ "$worker" = first ]; then
		"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err" &
		sheep_pid=$!
	fi
	cut_cow
	check_eq "cut at '$hang': the position" "$want" "$(position "$cow")"
	power_restart "ceph rook-ceph/rook-ceph HEALTH_OK after 0
attachment pvc-pg for statefulset/apps/postgres" || fail "restart" "$(tail -3 "$TMP/standin.log")"
	[ "$worker" = second ] && {
		"$FARM_NODE" --root "$sheep" shutdown >"$TMP/sheep.out" 2>"$TMP/sheep.err" &
		sheep_pid=$!
	}
	"$FARM_NODE" --root "$cow" shutdown >"$TMP/cow.out" 2>"$TMP/cow.err"
	check_eq "cut at '$hang': the next run converges, the records intact" "0 powering-off 0 3|0 2|0 1" \
		"$? $(position "$cow") $(replicas apps/deployment/web)|$(replicas apps/statefulset/postgres)|$(replicas argocd/statefulset/argocd-application-controller)"
	says "cut at '$hang': it resumed" "$TMP/cow.err" "Resuming shutdown"
	wait $sheep_pid
	check_eq "cut at '$hang': the worker went too" "0 powering-off" "$? $(position "$sheep")"
	echo "boot-2" >"$cow/proc/sys/kernel/random/boot_id"
	echo "boot-2" >"$sheep/proc/sys/kernel/random/boot_id"
	"$FARM_NODE" --root "$sheep" startup >/dev/null 2>&1
	"$FARM_NODE" --root "$cow" startup >/dev/null 2>&1
	check_eq "cut at '$hang': the startup restores exactly" "3 -|2 -|1 -" \
		"$(replicas apps/deployment/web)|$(replicas apps/statefulset/postgres)|$(replicas argocd/statefulset/argocd-application-controller)"
done

# An interrupted shutdown that never came back (the control plane cut
# after it scaled down, then simply rebooted): the startup repairs it.
fresh "hang scale statefulset/postgres"
cut_cow
power_restart "ceph rook-ceph/rook-ceph HEALTH_OK after 0" || fail "restart" "$(tail -3 "$TMP/standin.log")"
echo "boot-2" >"$cow/proc/sys/kernel/random/boot_id"
"$FARM_NODE" --root "$cow" startup >"$TMP/cow-up.out" 2>"$TMP/cow-up.err"
check_eq "cut, then a reboot: the startup puts it all back and drops the lock" "0 3 -|2 -|1 -|-" \
	"$? $(replicas apps/deployment/web)|$(replicas apps/statefulset/postgres)|$(replicas argocd/statefulset/argocd-application-controller)|$(annotation cow farm/shutdown-lock)"
check_eq "... the shutdown is marked finished" "finished" "$(position "$cow")"
