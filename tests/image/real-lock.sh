# The control plane (cow) builds with the project's real lock
# (configs/artifacts.lock): every chart of the stack pinned, the real
# archives of cilium, cert-manager and trust-manager from ../shared/charts
# (hash-verified) baked byte for byte into the rendered stack, and the
# manifest listing every chart with its sha256. Stand-ins replace only
# what is not available here: the k3s binary and air-gap images (they
# cannot be downloaded), and the coredns, traefik and argo-cd charts
# (published only as release downloads; see ../shared/charts/README.md).
# Their entries keep the real URLs and versions; only their sha256 is the
# stand-in's.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools debugfs python3 sha256sum
CHARTS=$SHARED/charts
if [ ! -f "$CHARTS/SHA256SUMS" ]; then
	skip "$(basename "$0")" "no real chart archives in $CHARTS (../shared/charts beside the project)"
	exit 0
fi
mktmp
check "the real chart archives match their sums" bash -c "cd '$CHARTS' && sha256sum -c --quiet SHA256SUMS"
LOCK=$TOP/configs/artifacts.lock
A=$TMP/artifacts
mkdir -p "$A"

# Every stack component of the example cluster has a chart in the lock.
check_eq "every stack component's chart is pinned" "" "$(python3 - "$TOP/configs/cluster.yaml" "$LOCK" <<'PY'
import sys, yaml
stack = yaml.safe_load(open(sys.argv[1]))["stack"]
names = {a["name"] for a in yaml.safe_load(open(sys.argv[2]))["artifacts"]}
chart = {"argocd": "argo-cd"}
print(" ".join(c for c in stack if chart.get(c, c) not in names))
PY
)"

# The artifacts: real charts, stand-ins for the rest, under their URL's
# file names (what --artifacts looks for).
url() { python3 -c 'import sys, yaml; print([a["url"] for a in yaml.safe_load(open(sys.argv[1]))["artifacts"] if a["name"] == sys.argv[2] and a.get("arch", "") == sys.argv[3]][0])' "$LOCK" "$1" "${2:-}"; }
for c in cilium cert-manager trust-manager; do
	f=$(basename "$(url $c)")
	cp "$CHARTS/$f" "$A/$f" || { fail "real chart $c" "no $CHARTS/$f"; exit 0; }
done
for c in coredns traefik argo-cd; do
	f=$(basename "$(url $c)")
	v=$(python3 -c 'import sys, yaml; print([a["version"] for a in yaml.safe_load(open(sys.argv[1]))["artifacts"] if a["name"] == sys.argv[2]][0])' "$LOCK" $c)
	standin_chart $c "$v" "$A/$f"
done
printf '#!/bin/sh\necho "k3s stand-in (arm64)"\n' >"$A/$(basename "$(url k3s arm64)")"
head -c 65536 /dev/urandom | zstd -q >"$A/$(basename "$(url k3s-airgap-images arm64)")"
echo "    stand-ins: k3s and its air-gap images (arm64), charts coredns, traefik, argo-cd"

# The lock: the real one, with the stand-ins' sha256 in their entries.
python3 - "$LOCK" "$A" "$TMP/test.lock" <<'PY'
import hashlib, os, re, sys
lock, adir, out = sys.argv[1:]
text = open(lock).read()
def sub(m):
    entry = m.group(0)
    name = re.search(r"name: (\S+)", entry).group(1)
    if name not in ("k3s", "k3s-airgap-images", "coredns", "traefik", "argo-cd"):
        return entry
    path = os.path.join(adir, re.search(r"url: (\S+)", entry).group(1).rsplit("/", 1)[1])
    if not os.path.exists(path):
        return entry
    digest = hashlib.sha256(open(path, "rb").read()).hexdigest()
    entry = re.sub(r"\n    size: \d+", "", entry)
    return re.sub(r"sha256: [0-9a-f]{64}", "sha256: " + digest, entry)
open(out, "w").write(re.sub(r"  - name: .*?(?=\n\n|\n*\Z)", sub, text, flags=re.S))
PY
check_eq "the test lock is the real one but for the stand-ins' sha256" "k3s k3s-airgap-images coredns traefik argo-cd" \
	"$(python3 - "$LOCK" "$TMP/test.lock" <<'PY'
import sys, yaml
a, b = (yaml.safe_load(open(p))["artifacts"] for p in sys.argv[1:])
same_but_hash = len(a) == len(b) and all(
    {k: v for k, v in x.items() if k not in ("sha256", "size")} ==
    {k: v for k, v in y.items() if k != "sha256"} for x, y in zip(a, b))
print(" ".join(dict.fromkeys(x["name"] for x, y in zip(a, b) if x != y)) if same_but_hash else "other changes")
PY
)"

fixture full "$TMP/full.tar" || exit 1
sec=$(secrets) || exit 1
"$FARM_IMAGE" build --node cow --config "$TOP/configs/cluster.yaml" --secrets "$sec" \
	--lock "$TMP/test.lock" --artifacts "$A" --base "$TMP/full.tar" --out "$TMP/out" >"$TMP/out.log" 2>&1
check "cow builds with the real lock" test -f "$TMP/out/cow.img"
[ -f "$TMP/out/cow.img" ] || { sed 's/^/    /' "$TMP/out.log"; exit 0; }
extract "$TMP/out/cow.img" "$TMP/out/cow.json" 2 "$TMP/cow.ext4"
# The charts travel in the rendered stack (/usr/lib/farm/stack/NN-NAME.yaml),
# each the chartContent of its component's HelmChart.
stack=$(dfs "$TMP/cow.ext4" "ls /usr/lib/farm/stack" | tr -s ' ' '\n')
for c in cilium cert-manager trust-manager; do
	f=$(basename "$(url $c)")
	m=$(grep -m1 -E "^[0-9]+-$c\.yaml$" <<<"$stack")
	check "cow carries the real $f in its stack ($m), byte for byte" cmp <(dfs "$TMP/cow.ext4" "cat /usr/lib/farm/stack/$m" |
		python3 -c 'import base64, sys, yaml; sys.stdout.buffer.write(base64.b64decode(next(d for d in yaml.safe_load_all(sys.stdin) if d and d["kind"] == "HelmChart")["spec"]["chartContent"]))') "$CHARTS/$f"
done
check_eq "the manifest lists every chart with its sha256" \
	"$(python3 - "$TMP/test.lock" <<'PY'
import sys, yaml
for a in yaml.safe_load(open(sys.argv[1]))["artifacts"]:
    if not a["name"].startswith("k3s"):
        print(a["name"], a["version"], a["sha256"])
PY
)" "$(manifest_get "$TMP/out/cow.json" "'\n'.join(' '.join([a['name'], a['version'], a['sha256']]) for a in m['inputs']['artifacts'] if not a['name'].startswith('k3s'))")"
check_eq "the real charts' hashes in the manifest are the pins" \
	"$(cd "$CHARTS" && sha256sum cilium-*.tgz cert-manager-*.tgz trust-manager-*.tgz | awk '{print $1}' | sort | tr '\n' ' ')" \
	"$(manifest_get "$TMP/out/cow.json" "' '.join(sorted(a['sha256'] for a in m['inputs']['artifacts'] if a['name'] in ('cilium', 'cert-manager', 'trust-manager'))) + ' '")"
