#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# The stack rendered into the control plane's image (/usr/lib/farm/stack),
# checked without booting against the real upstream schemas
# (../shared/schemas, tests/image/stack-check.py): the real cilium,
# cert-manager and trust-manager archives of ../shared/charts embedded (and
# small enough for helm-controller's ConfigMap); coredns, traefik and
# argo-cd are stand-in charts (published only as release downloads, see
# ../shared/charts/README.md), so their values are checked against
# traefik's schema only (coredns and argo-cd have none). Built twice: the
# example cluster (pi5 nodes: Envoy off), and one with other pod and
# service ranges, node mask, pool, x86 nodes only and a GitOps repository:
# the manifests follow the config.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools debugfs python3 sha256sum
CHARTS=$SHARED/charts
SCHEMAS=$SHARED/schemas
if [ ! -f "$CHARTS/SHA256SUMS" ] || [ ! -f "$SCHEMAS/SHA256SUMS" ]; then
	skip "$(basename "$0")" "no real charts or schemas in $SHARED (../shared beside the project)"
	exit 0
fi
python3 -c 'import jsonschema, yaml' 2>/dev/null ||
	{ skip "$(basename "$0")" "python3-jsonschema or python3-yaml missing (scripts/install-deps)"; exit 0; }
mktmp
fixture full "$TMP/full.tar" && fixture full-amd64 "$TMP/full-amd64.tar" || exit 1
sec=$(secrets) || exit 1
artifacts >/dev/null

# The test lock: the stand-in artifacts, with the real archives of the three
# charts that are here (by their own names and sums).
for f in "$CHARTS"/*.tgz; do cp "$f" "$TMP/artifacts/"; done
python3 - "$TMP/artifacts.lock" "$CHARTS" <<'PY'
import glob, hashlib, os, re, sys, tarfile, yaml
lock, charts = sys.argv[1:]
text = open(lock).read()
for f in sorted(glob.glob(charts + '/*.tgz')):
    with tarfile.open(f) as t:
        meta = yaml.safe_load(t.extractfile([m for m in t.getmembers() if m.name.endswith('/Chart.yaml') and m.name.count('/') == 1][0]))
    name, version = meta['name'], meta['version']
    digest = hashlib.sha256(open(f, 'rb').read()).hexdigest()
    entry = '  - name: %s\n    version: %s\n    url: http://127.0.0.1:9/%s\n    sha256: %s\n' % (name, version, os.path.basename(f), digest)
    text, n = re.subn(r'  - name: %s\n(    .*\n)*' % re.escape(name), entry, text)
    if n != 1:
        sys.exit('no entry for ' + name)
open(lock, 'w').write(text)
PY
check "the real charts are what their sums say" bash -c "cd '$CHARTS' && sha256sum -c --quiet SHA256SUMS"

# config DIR: DIR/cluster.yaml (from stdin) with the boards and the stack's
# definitions beside it.
config() {
	mkdir -p "$1"
	cat >"$1/cluster.yaml"
	ln -s "$TOP/configs/boards" "$1/boards"
	ln -s "$TOP/configs/stack" "$1/stack"
}

# build_stack DIR NAME [BASE]: cow from DIR/cluster.yaml into DIR/out, its
# stack into DIR/img/stack; check NAME passes or fails.
build_stack() {
	local d=$1
	"$FARM_IMAGE" build --node cow --config "$d/cluster.yaml" --secrets "$sec" \
		--lock "$TMP/artifacts.lock" --artifacts "$TMP/artifacts" --base "${3:-$TMP/full.tar}" \
		--overlays "$TOP/overlays" --out "$d/out" >"$d/build.log" 2>&1 ||
		{ fail "$2" "$(tail -5 "$d/build.log")"; return 1; }
	extract "$d/out/cow.img" "$d/out/cow.json" 2 "$d/root.ext4" &&
		mkdir -p "$d/img" && dfs "$d/root.ext4" "rdump /usr/lib/farm/stack $d/img" >/dev/null &&
		rm -f "$d/root.ext4" "$d/out/cow.img" "$d/out/cow.img.zst" && pass "$2"
}

# check_stack DIR EXPECT NAME: stack-check.py's lines, named NAME: ...
check_stack() {
	python3 "$TOP/tests/image/stack-check.py" "$1/img/stack" "$SCHEMAS" "$TMP/artifacts.lock" "$2" |
		sed "s/^ok /ok $3: /; s/^not ok /not ok $3: /; s/^skip /skip $3: /"
}

# --- the example cluster -------------------------------------------------------
ex=$TMP/example
config "$ex" <"$TOP/configs/cluster.yaml"
if build_stack "$ex" "cow builds with the real charts embedded"; then
	cat >"$TMP/expect1.json" <<'JSON'
{"order": ["cilium", "coredns", "cert-manager", "trust-manager", "traefik", "argocd"],
 "pods4": "10.42.0.0/16", "pods6": "fd22:2025:6a6a:42::/104", "mask6": 120,
 "server4": "192.168.14.11", "dns4": "10.43.0.10", "dns6": "fd22:2025:6a6a:43::a",
 "pool": [["192.168.14.50", "192.168.14.54"], ["fd12:3456:789a:14::50", "fd12:3456:789a:14::54"]],
 "l7": false, "gitops": []}
JSON
	check_stack "$ex" "$TMP/expect1.json" example
	check "the manifest lists every chart with its sha256" python3 - "$ex/out/cow.json" "$TMP/artifacts.lock" <<'PY'
import json, sys, yaml
m = json.load(open(sys.argv[1]))
pins = {a['name']: a['sha256'] for a in yaml.safe_load(open(sys.argv[2]))['artifacts']}
listed = {a['name']: a['sha256'] for a in m['inputs']['artifacts']}
for c in ('cilium', 'coredns', 'cert-manager', 'trust-manager', 'traefik', 'argo-cd'):
    assert listed.get(c) == pins[c], c
PY
fi

# --- other ranges, x86 nodes only, a GitOps repository -------------------------
other=$TMP/other
sed -e 's|ipv4: 10.42.0.0/16|ipv4: 10.60.0.0/17|; s|ipv6: fd22:2025:6a6a:42::/104|ipv6: fd22:99::/100|' \
	-e 's|ipv6-node-mask: 120|ipv6-node-mask: 112|' \
	-e 's|ipv4: 10.43.0.0/16|ipv4: 10.70.0.0/20|; s|ipv6: fd22:2025:6a6a:43::/112|ipv6: fd22:98::/108|' \
	-e 's|ipv4: 192.168.14.50-192.168.14.54|ipv4: 192.168.14.40-192.168.14.48|' \
	-e 's|ipv6: fd12:3456:789a:14::50-fd12:3456:789a:14::54|ipv6: fd12:3456:789a:14::40-fd12:3456:789a:14::48|' \
	-e 's|board: pi5|board: x86|' \
	-e 's|^stack:|gitops:\n  repository: https://git.example.org/farm/cluster.git\n  path: apps\nstack:|' \
	"$TOP/configs/cluster.yaml" | config "$other"
if build_stack "$other" "cow builds from a config with other values" "$TMP/full-amd64.tar"; then
	cat >"$TMP/expect2.json" <<'JSON'
{"order": ["cilium", "coredns", "cert-manager", "trust-manager", "traefik", "argocd"],
 "pods4": "10.60.0.0/17", "pods6": "fd22:99::/100", "mask6": 112,
 "server4": "192.168.14.11", "dns4": "10.70.0.10", "dns6": "fd22:98::a",
 "pool": [["192.168.14.40", "192.168.14.48"], ["fd12:3456:789a:14::40", "fd12:3456:789a:14::48"]],
 "l7": true, "gitops": ["https://git.example.org/farm/cluster.git"]}
JSON
	check_stack "$other" "$TMP/expect2.json" other
fi
