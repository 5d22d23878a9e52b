#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# `farm-image validate` on the stack's definitions (configs/stack/): an
# unknown component in stack:, one listed twice, an unknown dependency, a
# dependency the stack lacks, a cycle, a chart with no pin, a template with
# an unknown variable or that renders into something that is not YAML, a
# `when` that is not a boolean: each reported once at its FILE:LINE:COL,
# with the source line and a caret. And the example's install order.
source "$(dirname "$0")/../lib.sh"
mktmp
cd "$TMP"

# A cluster (tests/config/good-example.yaml) with stack: $1, its
# definitions written by the caller into stack/.
setup() {
	rm -rf "$TMP/c"
	mkdir -p "$TMP/c/stack"
	cd "$TMP/c"
	sed "s/^stack: .*/stack: $1/" "$TOP/tests/config/good-example.yaml" >cluster.yaml
	ln -s "$TOP/configs/boards" boards
	printf 'artifacts: []\n' >artifacts.lock
}
pin() {
	sed -i 's/^artifacts: \[\]$/artifacts:/' artifacts.lock
	printf '  - name: %s\n    version: "1"\n    url: http://127.0.0.1:9/%s.tgz\n    sha256: %s\n' \
		"$1" "$1" 0000000000000000000000000000000000000000000000000000000000000000 >>artifacts.lock
}
def() { cat >"stack/$1.yaml"; }

# expect NAME: validate fails with exactly the text on stdin (stderr).
expect() {
	local got rc want
	want=$(cat)
	got=$("$FARM_IMAGE" validate --config cluster.yaml 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 1 ]; then
		fail "$1" "exit status $rc, expected 1; stderr: $got"
	elif [ "$got" != "$want" ]; then
		fail "$1" "diagnostics differ (< expected, > got)"
		diff <(printf '%s\n' "$want") <(printf '%s\n' "$got") | sed 's/^/    /'
	else
		pass "$1"
	fi
	cd "$TMP"
}

setup "[a, b, nope, a]"
def a <<'EOF'
name: a
namespace: kube-system
cni: true
timeout: 1m
resources:
  - manifest: |
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: a
EOF
def b <<'EOF'
name: b
namespace: kube-system
depends: [a, zzz]
timeout: 1m
resources:
  - manifest: |
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: b
EOF
expect "an unknown component, a duplicate, an unknown dependency" <<'EOF'
cluster.yaml:24:15: stack: unknown component 'nope' (stack has: a, b)
    stack: [a, b, nope, a]
                  ^
cluster.yaml:24:21: stack: component 'a' is already listed on line 24
    stack: [a, b, nope, a]
                        ^
stack/b.yaml:3:14: component 'b' depends on 'zzz', which is not a component (no stack/zzz.yaml)
    depends: [a, zzz]
                 ^
EOF

setup "[b]"
def a <<'EOF'
name: a
namespace: kube-system
cni: true
timeout: 1m
resources:
  - manifest: |
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: a
EOF
def b <<'EOF'
name: b
namespace: kube-system
cni: true
depends: [a]
timeout: 1m
resources:
  - manifest: |
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: b
EOF
expect "a dependency the stack does not have" <<'EOF'
cluster.yaml:24:9: stack: component 'b' depends on 'a' (stack/b.yaml:4), which the stack does not have: add it
    stack: [b]
            ^
EOF

setup "[a, b, c]"
for x in a b c; do
	case $x in a) deps=c ;; b) deps=a ;; c) deps=b ;; esac
	def $x <<EOF
name: $x
namespace: kube-system
cni: true
depends: [$deps]
timeout: 1m
resources:
  - manifest: |
      apiVersion: v1
      kind: ConfigMap
      metadata:
        name: $x
EOF
done
expect "a cycle, with its path" <<'EOF'
stack/b.yaml:4:11: component 'b' depends on 'a': a cycle (a -> c -> b -> a)
    depends: [a]
              ^
EOF

setup "[a]"
def a <<'EOF'
name: a
namespace: kube-system
cni: true
timeout: 1m
chart:
  artifact: achart
  values: |
    cidr: "{{pods_ipv4}}"
    dns: {{dns_ipv6}}
    x: {{no_such_value}}
rollout:
  - object: deployment/a
  - {object: deployment/b, when: cluster}
  - {object: daemonset/c, when: nope}
EOF
expect "a chart without a pin; a template's unknown variable; a when that is no boolean" <<'EOF'
stack/a.yaml:6:13: component 'a': chart 'achart' has no pin in artifacts.lock: add it with its URL and sha256, or remove 'a' from the stack
      artifact: achart
                ^
stack/a.yaml:10:8: unknown variable 'no_such_value'
        x: {{no_such_value}}
           ^
stack/a.yaml:13:34: when: variable 'cluster' is 'mini', not true or false
      - {object: deployment/b, when: cluster}
                                     ^
stack/a.yaml:14:33: when: unknown variable 'nope'
      - {object: daemonset/c, when: nope}
                                    ^
EOF

setup "[a]"
pin achart
def a <<'EOF'
name: a
namespace: kube-system
cni: true
timeout: 1m
chart:
  artifact: achart
  values: |
    ok: true
    list: [{{pods_ipv4}}, unclosed
resources:
  - manifest: |
      kind: ConfigMap
      metadata:
        name: x
EOF
expect "a template that is not YAML once rendered; a resource without apiVersion" <<'EOF'
stack/a.yaml:9:11: component 'a': once rendered, not YAML: did not find expected ',' or ']' (while parsing a flow sequence)
        list: [{{pods_ipv4}}, unclosed
              ^
stack/a.yaml:12:7: component 'a': a resource needs apiVersion, kind and metadata.name
          kind: ConfigMap
          ^
EOF

setup "[a]"
def a <<'EOF'
name: b
namespace: Kube_System
timeout: 1 minute
rollout:
  - object: pod/x
EOF
expect "definition errors: its name, a namespace, a timeout, a rollout" <<'EOF'
stack/a.yaml:3:10: timeout '1 minute' is not a duration (examples: 90s, 15m, 1h30m)
    timeout: 1 minute
             ^
stack/a.yaml:1:7: name 'b' is not the file's name: call the file b.yaml
    name: b
          ^
stack/a.yaml:2:12: namespace 'Kube_System' is not a DNS label
    namespace: Kube_System
               ^
stack/a.yaml:5:13: rollout: 'pod/x' is not deployment/NAME, daemonset/NAME or statefulset/NAME
      - object: pod/x
                ^
stack/a.yaml:1:1: a component needs a chart or resources
    name: b
    ^
stack/a.yaml:1:1: rollout: a component without a chart has no workloads to wait for
    name: b
    ^
EOF

# The example: every definition valid, the install order.
cd "$TOP"
out=$("$FARM_IMAGE" validate --config configs/cluster.yaml 2>&1)
check_eq "the example's stack, in install order" \
	"configs/cluster.yaml: stack, in install order: cilium, coredns, cert-manager, trust-manager, traefik, argocd" \
	"$(grep 'stack, in install order' <<<"$out")"
