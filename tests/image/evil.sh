# Untrusted input (SECURITY.md, "Reading untrusted input"): every bad archive
# or missing input ends in one clear message naming the entry, exit status
# 1, and no output file (not even a temporary one) left behind.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
mktmp

while IFS='|' read -r kind message; do
	fixture "$kind" "$TMP/$kind.tar" || { fail "$kind" "no fixture"; continue; }
	refused "$kind" "$TMP/$kind.tar" "farm-image: $TMP/$kind.tar: $message"
done <<'LIST'
traversal|entry '../escape': path contains '..'
traversal-inner|entry 'etc/../../escape': path contains '..'
absolute|entry '/etc/passwd': absolute path
symlink-parent|entry 'evil/owned': its parent 'evil' is a symlink; refusing to write through it
hardlink-missing|entry 'etc/a': hardlink to 'etc/nothing', which is not earlier in the archive
hardlink-self|entry 'etc/a': hardlink to itself
hardlink-later|entry 'a': hardlink to 'b', which is not earlier in the archive
hardlink-dir|entry 'x': hardlink to 'd', which is not a regular file
duplicate|entry 'etc/a': the archive holds this path twice
file-over-dir|entry 'etc': the archive holds this path twice
device-outside-dev|entry 'etc/null': device node outside /dev; a rootfs has no reason to carry one
overflow|entry 'overflow.img': its size (1099511627776 bytes) is larger than the whole root filesystem can be
LIST

fixture long-name "$TMP/long.tar"
build sheep "$TMP/long.tar" "$TMP/out-long"
check_eq "long-name" "1 a name in the path is longer than 255 bytes" \
	"$? $(grep -o 'a name in the path is longer than 255 bytes' "$TMP/out-long.log")"
fixture deep "$TMP/deep.tar"
build sheep "$TMP/deep.tar" "$TMP/out-deep"
check_eq "deep" "1 path is deeper than 64 directories" \
	"$? $(grep -o 'path is deeper than 64 directories' "$TMP/out-deep.log")"

fixture full "$TMP/full.tar"
head -c 2000 "$TMP/full.tar" >"$TMP/truncated.tar"
refused truncated "$TMP/truncated.tar" \
	"farm-image: $TMP/truncated.tar: the archive is damaged or truncated after 3 entries: Truncated input file (needed 512 bytes, only 464 available)"
head -c 1000000 "$TMP/full.tar" | zstd -q >"$TMP/truncated.tar.zst"
build sheep "$TMP/truncated.tar.zst" "$TMP/out-tz"
check_eq "truncated compressed archive" "1 0" "$? $(ls -A "$TMP/out-tz" | wc -l)"
echo "hello, this is not an archive" >"$TMP/text.tar"
refused not-an-archive "$TMP/text.tar" \
	"farm-image: $TMP/text.tar: not a rootfs archive: Unrecognized archive format"
refused missing-base "$TMP/nope.tar" \
	"farm-image: Cannot read the base rootfs $TMP/nope.tar: No such file or directory"

# A root that does not fit: a node with a fixed 40 MiB root and 48 MiB of data.
mkdir -p "$TMP/big/etc"
for i in 1 2 3 4 5 6; do head -c $((8 << 20)) /dev/urandom >"$TMP/big/etc/blob$i"; done
bsdtar -cf "$TMP/big.tar" -C "$TMP/big" .
sed 's/^    disk: nvme0n1$/    disk: nvme0n1\n    root-size: 40MiB/' "$TOP/configs/cluster.yaml" >"$TMP/small.yaml"
ln -s "$TOP/configs/boards" "$TMP/boards"
"$FARM_IMAGE" build --node sheep --config "$TMP/small.yaml" --base "$TMP/big.tar" --secrets "$(secrets)" $(artifacts) \
	--overlays "$TOP/overlays" --out "$TMP/out-small" >"$TMP/out-small.log" 2>&1
check_eq "disk too small" "1 the root filesystem is full" \
	"$? $(grep -o 'the root filesystem is full' "$TMP/out-small.log")"
check_eq "disk too small leaves nothing" "0" "$(ls -A "$TMP/out-small" | wc -l)"

# An interrupt (Ctrl-C) during the stream: one message, nothing left.
fixture bomb-count "$TMP/many.tar"
"$FARM_IMAGE" build --node sheep --config "$TOP/configs/cluster.yaml" --base "$TMP/many.tar" --secrets "$(secrets)" $(artifacts) \
	--out "$TMP/out-int" >"$TMP/out-int.log" 2>&1 &
pid=$!
for _ in $(seq 50); do
	ls "$TMP/out-int"/.sheep.img.* >/dev/null 2>&1 && break
	sleep 0.1
done
sleep 0.5
kill -INT $pid
wait $pid
rc=$?
check_eq "interrupt: exit status and message" "1 farm-image: sheep: interrupted; no output was written" \
	"$rc $(cat "$TMP/out-int.log")"
check_eq "interrupt leaves nothing" "0" "$(ls -A "$TMP/out-int" | wc -l)"
