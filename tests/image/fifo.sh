# A FIFO, a device or a directory where a file is meant is refused at once
# with a message naming it, never waited on (open() of a FIFO blocks until
# a writer comes; /dev/zero never ends): every reader of a file the user
# names opens it through common/'s open_regular().
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
mktmp
mkfifo "$TMP/fifo"
fixture full "$TMP/full.tar"
CONFIG=$TOP/configs/cluster.yaml

# expect NAME MESSAGE COMMAND...: COMMAND ends within 20 s with exit status 1
# and MESSAGE (a pattern) as its output.
expect() {
	local name=$1 want=$2 out rc
	shift 2
	out=$(timeout 20 "$@" 2>&1)
	rc=$?
	if [ $rc -eq 124 ]; then
		fail "$name" "still waiting after 20 s"
	elif [ $rc -ne 1 ]; then
		fail "$name" "exit status $rc, expected 1: $out"
	elif [[ $out != $want ]]; then
		fail "$name" "message differs"
		diff <(echo "$want") <(echo "$out") | sed 's/^/    /'
	else
		pass "$name"
	fi
}

expect "--config FIFO" "farm-image: Cannot read config $TMP/fifo: not a regular file" \
	"$FARM_IMAGE" validate --config "$TMP/fifo"
expect "--config /dev/zero" "farm-image: Cannot read config /dev/zero: not a regular file" \
	"$FARM_IMAGE" validate --config /dev/zero
expect "--config directory" "farm-image: Cannot read config $TMP: not a regular file" \
	"$FARM_IMAGE" validate --config "$TMP"

sec=$(secrets)
art=$(artifacts)
# shellcheck disable=SC2086
expect "--base FIFO" "farm-image: Cannot read the base rootfs $TMP/fifo: not a regular file" \
	"$FARM_IMAGE" build --node sheep --config "$CONFIG" --secrets "$sec" $art \
	--base "$TMP/fifo" --out "$TMP/out-base"
expect "--base /dev/zero" "farm-image: Cannot read the base rootfs /dev/zero: not a regular file" \
	"$FARM_IMAGE" build --node sheep --config "$CONFIG" --secrets "$sec" $art \
	--base /dev/zero --out "$TMP/out-zero"
expect "--lock FIFO" "farm-image: Cannot read config $TMP/fifo: not a regular file" \
	"$FARM_IMAGE" build --node sheep --config "$CONFIG" --secrets "$sec" --lock "$TMP/fifo" \
	--artifacts "$TMP/artifacts" --base "$TMP/full.tar" --out "$TMP/out-lock"
check_eq "nothing written" "0 0 0" \
	"$(ls -A "$TMP/out-base" 2>/dev/null | wc -l) $(ls -A "$TMP/out-zero" 2>/dev/null | wc -l) $(ls -A "$TMP/out-lock" 2>/dev/null | wc -l)"

# A secret that is a FIFO.
cp -a "$sec" "$TMP/sec-fifo"
rm "$TMP/sec-fifo/token"
mkfifo -m 600 "$TMP/sec-fifo/token"
expect "secrets: token FIFO" "farm-image: Cannot read $TMP/sec-fifo/token: not a regular file" \
	"$FARM_IMAGE" build --node sheep --config "$CONFIG" --secrets "$TMP/sec-fifo" $art \
	--base "$TMP/full.tar" --out "$TMP/out-sec"

# fetch --from a directory whose k3s is a FIFO: that one artifact fails,
# named; the command ends.
mkdir "$TMP/from"
mkfifo "$TMP/from/k3s"
out=$(timeout 20 "$FARM_IMAGE" fetch --lock "$TMP/artifacts.lock" --cache "$TMP/cache" \
	--from "$TMP/from" --arch amd64 2>&1)
rc=$?
check_eq "fetch --from FIFO" "1 farm-image: k3s (amd64) v1.33.5+k3s1: $TMP/from/k3s is not a regular file" \
	"$rc $(grep 'k3s (amd64)' <<<"$out")"
# An overlay's modes file that is a FIFO.
mkdir -p "$TMP/overlays"
cp -a "$TOP/overlays/." "$TMP/overlays/"
rm -f "$TMP/overlays/modes"
mkfifo "$TMP/overlays/modes"
expect "overlays/modes FIFO" "farm-image: Cannot read $TMP/overlays/modes: not a regular file" \
	"$FARM_IMAGE" build --node sheep --config "$CONFIG" --secrets "$sec" $art \
	--overlays "$TMP/overlays" --base "$TMP/full.tar" --out "$TMP/out-ov"
