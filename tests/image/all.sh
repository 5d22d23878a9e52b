# --all builds every node of the config, in parallel, each image the same as
# when built alone; a node that fails does not stop the others, and the
# command fails.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
mktmp
fixture full "$TMP/full.tar" || exit 1
sec=$(secrets) && art=$(artifacts) || exit 1

# shellcheck disable=SC2086
"$FARM_IMAGE" build --all --config "$TOP/configs/cluster.yaml" --secrets "$sec" $art \
	--base "$TMP/full.tar" --out "$TMP/all" >"$TMP/all.log" 2>&1
check_eq "--all succeeds" "0" "$?"
check_eq "--all summary" "3 of 3 images built" "$(tail -1 "$TMP/all.log")"
check_eq "--all writes every node" "cow.img cow.img.bmap cow.img.zst cow.json duck.img duck.img.bmap duck.img.zst duck.json sheep.img sheep.img.bmap sheep.img.zst sheep.json" \
	"$(ls "$TMP/all" | tr '\n' ' ' | sed 's/ $//')"
build sheep "$TMP/full.tar" "$TMP/one"
check "--all gives the same image as --node" cmp "$TMP/all/sheep.img.zst" "$TMP/one/sheep.img.zst"

# A node whose root cannot hold the content fails; the others are built.
mkdir -p "$TMP/big/etc"
for i in 1 2 3 4 5 6; do head -c $((8 << 20)) /dev/urandom >"$TMP/big/etc/blob$i"; done
bsdtar -cf "$TMP/big.tar" @"$TMP/full.tar" -C "$TMP/big" ./etc/blob1 \
	./etc/blob2 ./etc/blob3 ./etc/blob4 ./etc/blob5 ./etc/blob6
awk '{print} /^  - name: duck$/ {duck=1} duck && /^    disk:/ {print "    root-size: 40MiB"; duck=0}' \
	"$TOP/configs/cluster.yaml" >"$TMP/small.yaml"
ln -s "$TOP/configs/boards" "$TMP/boards"
# shellcheck disable=SC2086
"$FARM_IMAGE" build --all --config "$TMP/small.yaml" --overlays "$TOP/overlays" --secrets "$sec" \
	$art --base "$TMP/big.tar" --out "$TMP/some" >"$TMP/some.log" 2>&1
check_eq "a failing node fails --all" "1" "$?"
check_eq "the others are built, the failed one named" "2 of 3 images built; failed: duck" "$(tail -1 "$TMP/some.log")"
check_eq "nothing of the failed node" "" "$(ls -A "$TMP/some" | grep duck)"
check "the failure says why" grep -q "larger than the whole root filesystem can be" "$TMP/some.log"
