# Reproducible: the same inputs and SOURCE_DATE_EPOCH give byte-identical
# .img, .bmap, .zst and .json, whatever the output directory; another epoch
# gives another image; and the programs hold no path of the checkout, so
# the image does not depend on where farm was built either.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
mktmp
fixture full "$TMP/full.tar" && fixture full-amd64 "$TMP/full-amd64.tar" || exit 1
zstd -q "$TMP/full.tar" -o "$TMP/full.tar.zst"
zstd -q "$TMP/full-amd64.tar" -o "$TMP/full-amd64.tar.zst"

for node in sheep duck; do
	base=$TMP/full.tar.zst
	[ "$node" = duck ] && base=$TMP/full-amd64.tar.zst
	build "$node" "$base" "$TMP/a" || { fail "$node first build" "$(cat "$TMP/a.log")"; continue; }
	build "$node" "$base" "$TMP/b" || { fail "$node second build" "$(cat "$TMP/b.log")"; continue; }
	for f in "$node.img" "$node.img.bmap" "$node.img.zst" "$node.json"; do
		check_eq "$node: $f identical" "$(sha256sum <"$TMP/a/$f")" "$(sha256sum <"$TMP/b/$f")"
	done
done

SOURCE_DATE_EPOCH=1700000001 build sheep "$TMP/full.tar.zst" "$TMP/c"
if cmp -s "$TMP/a/sheep.img" "$TMP/c/sheep.img"; then
	fail "another epoch changes the image" "identical images for different SOURCE_DATE_EPOCH"
else
	pass "another epoch changes the image"
fi
check_eq "another epoch keeps the derived ids" \
	"$(manifest_get "$TMP/a/sheep.json" "[p['uuid'] for p in m['partitions']]")" \
	"$(manifest_get "$TMP/c/sheep.json" "[p['uuid'] for p in m['partitions']]")"

# The programs carry no path of the checkout (the compiler's directory in
# their debug information): farm-node is copied into every image, so a
# path in it would make the image depend on where farm was built.
for prog in "$TOP/$FARM_BUILD/farm-node" "$TOP/$FARM_BUILD/aarch64/farm-node" "$TOP/$FARM_BUILD/farm-image"; do
	[ -e "$prog" ] || { skip "${prog#"$TOP"/}: no checkout path" "not built"; continue; }
	check_eq "${prog#"$TOP"/}: no checkout path in it" 0 "$(grep -caF -- "$TOP" "$prog")"
done
