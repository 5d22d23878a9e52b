#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The k3s stand-in's kubectl (tests/helpers/standin): the verbs farm-node's
# cluster module runs for the stack and the power cycle, answered with
# kubectl v1.33's output shapes and exit codes (tests/helpers/standin/
# verbs.c cites their sources in kubernetes/kubectl and cli-runtime
# v0.33.5): get, apply, wait, rollout status, patch, scale, annotate,
# label, cordon, uncordon, drain, taint, delete; NotFound and unknown
# kinds; an API that does not answer.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
mktmp
source "$(dirname "${BASH_SOURCE[0]}")/node.lib"
trap 'standin_stop; rm -rf "$TMP"' EXIT
API_PORT=$(free_port)
data=$TMP/data
printf 'rollout deployment/default/slow never\n' >"$TMP/scenario"
standin_start "$data" cow "$TMP/scenario" || { fail "start the stand-in" "see above"; exit 0; }

# is NAME WANT-STATUS WANT-STDOUT [WANT-STDERR] -- ARGS: one kubectl call.
is() {
	local name=$1 st=$2 out=$3 err=$4 rc
	shift 5
	kc "$data" "$@" >"$TMP/o" 2>"$TMP/e" <"${IN:-/dev/null}"
	rc=$?
	check_eq "$name" "$st|$out|$err" "$rc|$(cat "$TMP/o")|$(cat "$TMP/e")"
}

IN=$TMP/deploy.yaml
cat >"$IN" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: default
spec:
  replicas: 2
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: slow
spec:
  replicas: 1
---
apiVersion: v1
kind: Pod
metadata:
  name: web-1
  namespace: default
spec:
  nodeName: cow
YAML
is "apply: created (client-side)" 0 $'deployment.apps/app created\ndeployment.apps/slow created\npod/web-1 created' "" -- apply -f -
is "apply again: unchanged" 0 $'deployment.apps/app unchanged\ndeployment.apps/slow unchanged\npod/web-1 unchanged' "" -- apply -f -
is "apply --server-side" 0 $'deployment.apps/app serverside-applied\ndeployment.apps/slow serverside-applied\npod/web-1 serverside-applied' "" -- apply --server-side --field-manager=farm-node -f -
IN=
is "get -o jsonpath" 0 "2" "" -- get deployment app -o 'jsonpath={.spec.replicas}'
is "get -o name of a list" 0 $'deployment.apps/app\ndeployment.apps/slow' "" -- get deploy -n default -o name
is "get a missing object" 1 "" 'Error from server (NotFound): deployments.apps "nope" not found' -- get deployment nope
is "get an unknown kind" 1 "" 'error: the server doesn'"'"'t have a resource type "widgets"' -- get widgets
is "rollout status, done" 0 'deployment "app" successfully rolled out' "" -- rollout status deployment/app --timeout=5s
is "rollout status that never finishes" 1 'Waiting for deployment "slow" rollout to finish: 0 of 1 updated replicas are available...' \
	"error: timed out waiting for the condition" -- rollout status deployment/slow --timeout=5s
is "wait, met" 0 "deployment.apps/app condition met" "" -- wait --for=condition=Available deployment/app --timeout=5s
is "wait that times out" 1 "" "error: timed out waiting for the condition on deployments/slow" -- wait --for=condition=Available deployment/slow --timeout=5s
is "scale" 0 "deployment.apps/app scaled" "" -- scale deployment/app --replicas=0
is "... recorded" 0 "0" "" -- get deployment app -o 'jsonpath={.spec.replicas}'
is "annotate" 0 "deployment.apps/app annotated" "" -- annotate --overwrite deployment/app farm/replicas=2
is "annotate without --overwrite of another value" 1 "" \
	"error: --overwrite is false but found the following declared annotation(s): 'farm/replicas' already has a value (2)" -- annotate deployment/app farm/replicas=3
is "... the annotation kept" 0 "2" "" -- get deployment app -o 'jsonpath={.metadata.annotations.farm/replicas}'
is "remove an annotation" 0 "deployment.apps/app annotated" "" -- annotate --overwrite deployment/app farm/replicas-
is "patch (merge)" 0 "deployment.apps/app patched" "" -- patch deployment/app --type=merge -p '{"spec":{"replicas":3}}'
is "patch without a change" 0 "deployment.apps/app patched (no change)" "" -- patch deployment/app --type=merge -p '{"spec":{"replicas":3}}'
is "patch (json)" 0 "deployment.apps/app patched" "" -- patch deployment/app --type=json -p '[{"op":"replace","path":"/spec/replicas","value":1}]'
is "label" 0 "node/cow labeled" "" -- label node cow farm/power=on
is "taint" 0 "node/cow tainted" "" -- taint nodes cow dns-unready=true:NoExecute --overwrite
is "... the taint" 0 "dns-unready true NoExecute" "" -- get node cow -o 'jsonpath={.spec.taints[0].key} {.spec.taints[0].value} {.spec.taints[0].effect}'
is "untaint" 0 "node/cow untainted" "" -- taint nodes cow dns-unready:NoExecute-
is "untaint what is not there" 1 "" 'error: taint "dns-unready:NoExecute" not found' -- taint nodes cow dns-unready:NoExecute-
is "cordon" 0 "node/cow cordoned" "" -- cordon cow
is "cordon again" 0 "node/cow already cordoned" "" -- cordon cow
is "drain" 0 $'node/cow already cordoned\nevicting pod default/web-1\npod/web-1 evicted\nnode/cow drained' "" -- drain cow --ignore-daemonsets --delete-emptydir-data --timeout=30s
is "uncordon" 0 "node/cow uncordoned" "" -- uncordon cow
is "delete" 0 'deployment.apps "slow" deleted' "" -- delete deployment slow
is "delete what is gone" 1 "" 'Error from server (NotFound): deployments.apps "slow" not found' -- delete deployment slow
is "wait --for=delete of what is gone" 0 "" "" -- wait --for=delete deployment/slow --timeout=5s
standin_stop
is "no API" 1 "" "The connection to the server 127.0.0.1:$((API_PORT + 1)) was refused - did you specify the right host or port?" -- get nodes
