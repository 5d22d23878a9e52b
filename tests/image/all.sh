# --all builds every node of the config, in parallel, each image the same as
# when built alone; a node that fails does not stop the others, and the
# command fails. One base serves one architecture: --board picks the nodes
# it is for.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
mktmp
fixture full "$TMP/full.tar" && fixture full-amd64 "$TMP/full-amd64.tar" || exit 1
sec=$(secrets) && art=$(artifacts) || exit 1
all() { # OUT ARGS...: farm-image build --all with the example config
	local out=$1
	shift
	# shellcheck disable=SC2086
	"$FARM_IMAGE" build --all --config "$TOP/configs/cluster.yaml" --secrets "$sec" $art \
		--out "$out" "$@" >"$out.log" 2>&1
}
listing() { ls "$1" | tr '\n' ' ' | sed 's/ $//'; }

all "$TMP/pi5" --board pi5 --base "$TMP/full.tar"
check_eq "--all --board pi5 succeeds" "0" "$?"
check_eq "--all --board pi5 summary" "2 of 2 images built" "$(tail -1 "$TMP/pi5.log")"
check_eq "--all --board pi5 writes the pi5 nodes" "cow.img cow.img.bmap cow.img.zst cow.json sheep.img sheep.img.bmap sheep.img.zst sheep.json" \
	"$(listing "$TMP/pi5")"
all "$TMP/x86" --board x86 --base "$TMP/full-amd64.tar"
check_eq "--all --board x86 builds duck" "0 1 of 1 images built|duck.img duck.img.bmap duck.img.zst duck.json" \
	"$? $(tail -1 "$TMP/x86.log")|$(listing "$TMP/x86")"
build sheep "$TMP/full.tar" "$TMP/one"
check "--all gives the same image as --node" cmp "$TMP/pi5/sheep.img.zst" "$TMP/one/sheep.img.zst"
all "$TMP/none" --board nope --base "$TMP/full.tar"
check_eq "--all --board without nodes refused" "1 farm-image: $TOP/configs/cluster.yaml: no node has board 'nope' (--board)" \
	"$? $(cat "$TMP/none.log")"

# One arm64 base for every node: the x86 node is refused for it, the
# others are built.
all "$TMP/mixed" --base "$TMP/full.tar"
check_eq "--all from an arm64 base fails" "1" "$?"
check_eq "--all from an arm64 base: duck refused" "farm-image: $TMP/full.tar: entry 'var/lib/dpkg/status': the base is for arm64 (its dpkg package is), but board x86 runs amd64 programs: pass a base for amd64
2 of 3 images built; failed: duck" "$(grep -e 'dpkg' -e 'images built' "$TMP/mixed.log")"
check_eq "--all from an arm64 base: nothing of duck" "" "$(ls -A "$TMP/mixed" | grep duck)"

# A node whose root cannot hold the content fails; the others are built.
mkdir -p "$TMP/big/etc"
for i in 1 2 3 4 5 6; do head -c $((8 << 20)) /dev/urandom >"$TMP/big/etc/blob$i"; done
bsdtar -cf "$TMP/big.tar" @"$TMP/full.tar" -C "$TMP/big" ./etc/blob1 \
	./etc/blob2 ./etc/blob3 ./etc/blob4 ./etc/blob5 ./etc/blob6
awk '{print} /^  - name: sheep$/ {sheep=1} sheep && /^    disk:/ {print "    root-size: 40MiB"; sheep=0}' \
	"$TOP/configs/cluster.yaml" >"$TMP/small.yaml"
ln -s "$TOP/configs/boards" "$TMP/boards"
ln -s "$TOP/configs/stack" "$TMP/stack"
# shellcheck disable=SC2086
"$FARM_IMAGE" build --all --board pi5 --config "$TMP/small.yaml" --overlays "$TOP/overlays" \
	--secrets "$sec" $art --base "$TMP/big.tar" --out "$TMP/some" >"$TMP/some.log" 2>&1
check_eq "a failing node fails --all" "1" "$?"
check_eq "the others are built, the failed one named" "1 of 2 images built; failed: sheep" "$(tail -1 "$TMP/some.log")"
check_eq "nothing of the failed node" "" "$(ls -A "$TMP/some" | grep sheep)"
check "the failure says why" grep -q "larger than the whole root filesystem can be" "$TMP/some.log"
