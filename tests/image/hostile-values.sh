# SPDX-License-Identifier: MIT
# What a build makes of values that are valid but unlucky, or that come
# from the base: each lands in its file as that file's format wants it, or
# is refused with its position, before anything is written (issue 13,
# items 5, 7 and 15).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools debugfs python3
FARM_NODE="$TOP/$FARM_BUILD/farm-node"
mktmp
fixture full "$TMP/full.tar" || exit 1
art=$(artifacts) || exit 1
ln -s "$TOP/configs/boards" "$TMP/boards"
ln -s "$TOP/configs/stack" "$TMP/stack"

# hbuild NAME CONFIG NODE [ARGS...]: builds NODE of CONFIG into $TMP/NAME
# (its own secrets), output in $TMP/NAME.log.
hbuild() {
	local name=$1 config=$2 node=$3
	shift 3
	[ -d "$TMP/sec-$name" ] || "$FARM_IMAGE" secrets init --dir "$TMP/sec-$name" \
		--config "$config" >/dev/null || return 1
	# shellcheck disable=SC2086
	"$FARM_IMAGE" build --node "$node" --config "$config" --secrets "$TMP/sec-$name" $art \
		--overlays "$TOP/overlays" --base "$TMP/full.tar" --out "$TMP/$name" "$@" \
		>"$TMP/$name.log" 2>&1
}

# A node named "null" (a valid host name, and YAML's null when unquoted).
sed 's/- name: sheep$/- name: "null"/' "$TOP/configs/cluster.yaml" >"$TMP/null.yaml"
hbuild null "$TMP/null.yaml" null
check_eq "node 'null' builds" "0" "$?"
extract "$TMP/null/null.img" "$TMP/null/null.json" 2 "$TMP/null.ext4"
mkdir "$TMP/root"
dfs "$TMP/null.ext4" "rdump / $TMP/root" >/dev/null
check_eq "farm-node reads its node.yaml: node null" "node null (agent, cluster farm)" \
	"$("$FARM_NODE" --root "$TMP/root" status 2>&1 | head -1)"
check_eq "the power timer, as the config says" "OnCalendar=*-*-* 01:30:00 Europe/Berlin" \
	"$(grep '^OnCalendar=' "$TMP/root/etc/systemd/system/farm-shutdown.timer")"

# farm-node status --json is JSON whatever a step record holds.
mkdir -p "$TMP/root/var/lib/farm/steps"
printf 'done 1700000000\nbtrfs \xff\xfe created \x1b[2J "q" \\ \x01\n' >"$TMP/root/var/lib/farm/steps/storage"
"$FARM_NODE" --root "$TMP/root" status --json >"$TMP/status.json"
check "status --json with a damaged detail is valid JSON" python3 -m json.tool "$TMP/status.json"
check_eq "the detail, bytes that are not UTF-8 replaced" \
	'"btrfs \ufffd\ufffd created \u001b[2J \"q\" \\ \u0001"' \
	"$(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["steps"]; print(json.dumps([x for x in s if x["step"] == "storage"][0]["detail"]))' "$TMP/status.json")"

# The manifest is JSON whatever the base's path holds.
base=$TMP/$'b\xffse\x1b.tar'
cp "$TMP/full.tar" "$base"
sec=$(secrets) || exit 1
# shellcheck disable=SC2086
"$FARM_IMAGE" build --node sheep --config "$TOP/configs/cluster.yaml" --secrets "$sec" $art \
	--base "$base" --out "$TMP/odd" >"$TMP/odd.log" 2>&1
check_eq "a base path that is not UTF-8 builds" "0" "$?"
check "its manifest is valid JSON" python3 -m json.tool "$TMP/odd/sheep.json"
check "the path's bad byte is U+FFFD, the escape \\u001b" grep -qF 'b\ufffdse\u001b.tar' "$TMP/odd/sheep.json"

# A time zone this machine knows but the base lacks: the node's tzdata is
# what systemd reads, so the build refuses it, before writing anything.
sed 's|timezone: Europe/Berlin|timezone: America/New_York|' "$TOP/configs/cluster.yaml" >"$TMP/ny.yaml"
hbuild ny "$TMP/ny.yaml" sheep
check_eq "a zone the base lacks is refused" "1 farm-image: $TMP/full.tar: the base has no time zone 'America/New_York' (/usr/share/zoneinfo/America/New_York), which the power schedule's timer needs: add tzdata to the base (tzdata-legacy for the old names such as US/Eastern), or use a name of its zone1970.tab" \
	"$? $(grep -v 'left out' "$TMP/ny.log")"
check_eq "nothing written" "" "$(ls -A "$TMP/ny")"

# overlays/modes: an owner past 32 bits would wrap to root; refused with
# its position, as is junk after the path.
cp -r "$TOP/overlays" "$TMP/ov"
printf '0600 0 0 etc/ssh/sshd_config.d/00-farm.conf\n0440 4294967296 0 etc/sudoers.d/farm\n0644 0 0 etc/hostname junk\n0800 0 0 etc/hosts\n' >"$TMP/ov/modes"
sec=$(secrets) || exit 1
# shellcheck disable=SC2086
"$FARM_IMAGE" build --node sheep --config "$TOP/configs/cluster.yaml" --secrets "$sec" $art \
	--overlays "$TMP/ov" --base "$TMP/full.tar" --out "$TMP/modes" >"$TMP/modes.log" 2>&1
check_eq "a uid that wraps, junk, a bad mode: refused with positions" "1 $TMP/ov/modes:2:6: UID '4294967296' is not a number from 0 to 4294967294
    0440 4294967296 0 etc/sudoers.d/farm
         ^
$TMP/ov/modes:3:23: expected MODE UID GID PATH, and nothing after the path
    0644 0 0 etc/hostname junk
                          ^
$TMP/ov/modes:4:1: MODE '0800' is not an octal mode up to 7777
    0800 0 0 etc/hosts
    ^" "$? $(cat "$TMP/modes.log")"
check_eq "nothing written" "" "$(ls -A "$TMP/modes" 2>/dev/null)"
