# The four outputs as files: the .zst's format (one frame, with the image's
# size in its header), and what the commit promises: nothing in the way,
# one build of a node into a directory at a time, nothing left by a killed
# build, a full disk named, and never a mix of two builds.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools zstd bsdcat python3
mktmp
fixture full "$TMP/full.tar" || exit 1
ln -s "$TOP/configs/boards" "$TMP/boards"

# errors LOG: the log without the notices every build of the fixture prints.
errors() { grep -v "left out the base's\|in the base are not listed\|the image carries secrets" "$1"; }
# files DIR: what DIR holds, hidden files included, one line.
files() { ls -A "$1" | tr '\n' ' ' | sed 's/ $//'; }
# same_as DIR REF: the four outputs in DIR are REF's, byte for byte.
same_as() {
	local f
	for f in sheep.img sheep.img.bmap sheep.img.zst sheep.json; do
		cmp -s "$1/$f" "$2/$f" || return 1
	done
}

# --- the .zst --------------------------------------------------------------
ref=$TMP/ref
build sheep "$TMP/full.tar" "$ref" || { fail "build sheep" "$(cat "$ref.log")"; exit 1; }
size=$(stat -c %s "$ref/sheep.img")
check "zstd -t accepts the .zst" zstd -q -t "$ref/sheep.img.zst"
check_eq "zstd -l shows the image's size" "Decompressed Size: $size B" \
	"$(zstd -lv "$ref/sheep.img.zst" 2>/dev/null | sed -n 's/^Decompressed Size: .*(\([0-9]*\) B)$/Decompressed Size: \1 B/p')"
check_eq "the .zst is one frame" "# Zstandard Frames: 1" \
	"$(zstd -lv "$ref/sheep.img.zst" 2>/dev/null | grep '^# Zstandard Frames:')"
check "libarchive decompresses it to the image (as Raspberry Pi Imager does)" \
	cmp <(bsdcat "$ref/sheep.img.zst") "$ref/sheep.img"
check_eq "the build's lock is gone" "sheep.img sheep.img.bmap sheep.img.zst sheep.json" "$(files "$ref")"

# --- the .bmap does not depend on the host's memory pages -------------------
# The GPT is laid out in a memfd, whose data comes in whole pages (2 MiB
# with shmem huge pages): only the label's own sectors may reach the image,
# or the .bmap maps the pages' zeros too.
check_eq "the .bmap's first range is the MBR and the GPT's header and entries" "0-4" \
	"$(sed -n 's/.*<Range chksum="[0-9a-f]*"> \([0-9-]*\) <\/Range>.*/\1/p' "$ref/sheep.img.bmap" | head -1)"
thp=/sys/kernel/mm/transparent_hugepage/shmem_enabled
if [ "$(id -u)" != 0 ] || ! [ -w "$thp" ]; then
	skip "with shmem huge pages: the same .bmap" "changing $thp needs root and a kernel with transparent huge pages"
else
	was=$(sed 's/.*\[\([a-z_]*\)\].*/\1/' "$thp")
	trap 'echo "$was" >"$thp"; rm -rf "$TMP"' EXIT
	echo always >"$thp"
	build sheep "$TMP/full.tar" "$TMP/huge"
	echo "$was" >"$thp"
	trap 'rm -rf "$TMP"' EXIT
	check "with shmem huge pages: the same .bmap" cmp "$TMP/huge/sheep.img.bmap" "$ref/sheep.img.bmap"
	rm -rf "$TMP/huge"
fi

# --- something in the way of a target --------------------------------------
out=$TMP/in-the-way
cp -a "$ref" "$out"
rm "$out/sheep.img.zst"
mkdir "$out/sheep.img.zst"
build sheep "$TMP/full.tar" "$out"
check_eq "a directory in the way: refused before writing" \
	"1 farm-image: sheep: $out/sheep.img.zst is a directory, where the build writes a file: remove it, or choose another --out" \
	"$? $(cat "$out.log")"
check_eq "a directory in the way: nothing changed" "sheep.img sheep.img.bmap sheep.img.zst sheep.json" "$(files "$out")"
check "a directory in the way: the previous files are intact" \
	cmp "$out/sheep.json" "$ref/sheep.json"

# The same, when the directory appears while the build runs: the commit
# checks again, before the first rename.
sec=$(secrets) art=$(artifacts)
# stopped OUT BASE: starts a build of sheep into OUT from BASE and stops it
# (SIGSTOP) once its four anonymous output files are open, every check
# before writing behind it; $pid is the build. Fails if the build ended
# first.
stopped() {
	# shellcheck disable=SC2086
	"$FARM_IMAGE" build --node sheep --config "$TOP/configs/cluster.yaml" --secrets "$sec" $art \
		--base "$2" --out "$1" >"$1.log" 2>&1 &
	pid=$!
	for _ in $(seq 400); do
		[ "$(find "/proc/$pid/fd" -lname "$1/#* (deleted)" 2>/dev/null | wc -l)" -ge 4 ] && break
		sleep 0.01
	done
	kill -STOP $pid 2>/dev/null && return 0
	wait $pid
	return 1
}
tmpfile=1
python3 -c 'import os,sys; os.close(os.open(sys.argv[1], os.O_TMPFILE | os.O_RDWR, 0o600))' "$TMP" 2>/dev/null || tmpfile=0
out=$TMP/appears
cp -a "$ref" "$out"
if [ $tmpfile = 0 ]; then
	skip "a directory that appears during the build" "$TMP has no O_TMPFILE, which the test uses to see the build writing"
elif stopped "$out" "$TMP/full.tar"; then
	rm "$out/sheep.img.bmap"
	mkdir "$out/sheep.img.bmap"
	kill -CONT $pid
	wait $pid
	check_eq "a directory that appears during the build: refused at the commit" \
		"1 farm-image: sheep: $out/sheep.img.bmap is a directory, where the build writes a file: remove it, or choose another --out" \
		"$? $(errors "$out.log")"
	check_eq "... nothing replaced" "sheep.img sheep.img.bmap sheep.img.zst sheep.json" "$(files "$out")"
	check "... the previous image and manifest are intact" \
		sh -c "cmp '$out/sheep.img' '$ref/sheep.img' && cmp '$out/sheep.json' '$ref/sheep.json'"
else
	fail "a directory that appears during the build" "the build ended before it could be stopped"
fi

# --- a rename that fails in the middle of the commit -----------------------
# The old manifest goes first, the previous files come back: never a mix.
# (Another epoch makes another build.)
out=$TMP/rename
cp -a "$ref" "$out"
SOURCE_DATE_EPOCH=1700000001 ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$HELPERS/librename-fails.so" \
	FARM_TEST_RENAME_FAILS=sheep.img.zst build sheep "$TMP/full.tar" "$out"
rc=$?
check_eq "a failed rename: one message" \
	"1 farm-image: sheep: cannot rename $out/.sheep.img.zst.* to $out/sheep.img.zst: Input/output error; the previous build's files are back in place" \
	"$rc $(errors "$out.log" | sed "s|$out/\.sheep\.img\.zst\.[A-Za-z0-9]*|$out/.sheep.img.zst.*|")"
check_eq "a failed rename: no file of the new build, nothing hidden left" \
	"sheep.img sheep.img.bmap sheep.img.zst sheep.json" "$(files "$out")"
check "a failed rename: the previous build's four files, byte for byte" same_as "$out" "$ref"
out=$TMP/rename-new
ASAN_OPTIONS=verify_asan_link_order=0 LD_PRELOAD="$HELPERS/librename-fails.so" FARM_TEST_RENAME_FAILS=sheep.json \
	build sheep "$TMP/full.tar" "$out"
rc=$?
check_eq "a failed rename of the first build: nothing written" \
	"1 farm-image: sheep: cannot rename $out/.sheep.json.* to $out/sheep.json: Input/output error; nothing was written" \
	"$rc $(errors "$out.log" | sed "s|$out/\.sheep\.json\.[A-Za-z0-9]*|$out/.sheep.json.*|")"
check_eq "a failed rename of the first build: the directory is empty" "" "$(files "$out")"

# --- one build of a node into a directory at a time -----------------------
out=$TMP/locked
cp -a "$ref" "$out"
flock "$out/.sheep.lock" sleep 60 &
holder=$!
for _ in $(seq 100); do [ -e "$out/.sheep.lock" ] && break; sleep 0.01; done
SOURCE_DATE_EPOCH=1700000001 build sheep "$TMP/full.tar" "$out"
check_eq "a second build of the node: refused" \
	"1 farm-image: sheep: another farm-image is building node 'sheep' into $out (it holds $out/.sheep.lock): wait for it to finish" \
	"$? $(cat "$out.log")"
kill $holder
wait $holder 2>/dev/null
check "a second build of the node: the outputs are untouched" same_as "$out" "$ref"
# Two at once: the second is refused, or (if the first was done before it
# began) both run one after the other; either way the outputs are one
# build's.
SOURCE_DATE_EPOCH=1700000001 build sheep "$TMP/full.tar" "$TMP/ref2"
out=$TMP/two
build sheep "$TMP/full.tar" "$out" &
a=$!
# shellcheck disable=SC2086
SOURCE_DATE_EPOCH=1700000001 "$FARM_IMAGE" build --node sheep --config "$TOP/configs/cluster.yaml" \
	--secrets "$sec" $art --base "$TMP/full.tar" --out "$out" >"$out.b.log" 2>&1
rb=$?
wait $a
ra=$?
if [ $ra -eq 0 ] && [ $rb -eq 0 ]; then
	pass "two builds at once: both ran, one after the other"
elif [ $((ra + rb)) -eq 1 ] && grep -q "another farm-image is building node 'sheep'" "$out.log" "$out.b.log"; then
	pass "two builds at once: the second was refused"
else
	fail "two builds at once" "exit statuses $ra and $rb"
	cat "$out.log" "$out.b.log" | sed 's/^/    /'
fi
if same_as "$out" "$ref" || same_as "$out" "$TMP/ref2"; then
	pass "two builds at once: the four files are one build's"
else
	fail "two builds at once: the four files are one build's" "a mix of two builds"
fi

# --- what a killed build leaves --------------------------------------------
# SIGKILL (or a power loss) at any point before the commit: the outputs
# are anonymous files (O_TMPFILE), nothing is left but the empty lock. The
# base is the fixture plus 64 MiB of random data, so that the build takes
# a moment.
mkdir -p "$TMP/big/etc"
for i in 1 2 3 4 5 6 7 8; do head -c $((8 << 20)) /dev/urandom >"$TMP/big/etc/blob$i"; done
bsdtar -cf "$TMP/big.tar" @"$TMP/full.tar" -C "$TMP/big" etc/blob1 etc/blob2 etc/blob3 etc/blob4 \
	etc/blob5 etc/blob6 etc/blob7 etc/blob8
out=$TMP/killed
mkdir -p "$out"
if [ $tmpfile = 0 ]; then
	skip "SIGKILL during the build" "$TMP has no O_TMPFILE: a killed build leaves hidden files there, which the next build removes (below)"
elif stopped "$out" "$TMP/big.tar"; then
	check_eq "a running build shows nothing but its lock" ".sheep.lock" "$(files "$out")"
	kill -KILL $pid
	wait $pid 2>/dev/null
	check_eq "SIGKILL leaves nothing but the empty lock" ".sheep.lock 0" \
		"$(files "$out") $(stat -c %s "$out/.sheep.lock" 2>/dev/null)"
else
	fail "SIGKILL during the build" "the build ended before it could be stopped"
fi
# A build killed by an older farm-image, or where the filesystem has no
# O_TMPFILE, left hidden temporaries: the next build of the node removes
# them, and only them.
for f in .sheep.img.AbC123 .sheep.img.zst.Zz9999 .sheep.json.q1w2e3 .sheep.img.AbC12 .cow.img.AbC123 .sheep.img.keep-me; do
	echo "token" >"$out/$f"
done
build sheep "$TMP/full.tar" "$out"
check_eq "stale temporaries: removed and named" \
	"0 farm-image: sheep: removed 3 temporary files that an interrupted build left in $out: .sheep.img.AbC123, .sheep.img.zst.Zz9999, .sheep.json.q1w2e3" \
	"$? $(grep 'temporary files' "$out.log")"
check_eq "stale temporaries: the others kept, the lock gone" \
	".cow.img.AbC123 .sheep.img.AbC12 .sheep.img.keep-me sheep.img sheep.img.bmap sheep.img.zst sheep.json" \
	"$(files "$out")"

# --- a full disk ------------------------------------------------------------
# A small tmpfs in a mount namespace of our own (no root needed where user
# namespaces are allowed); what the build left there is listed in DIR.files
# before the namespace (and the tmpfs) goes.
small() { # SIZE DIR: builds sheep into a tmpfs of SIZE at DIR; status, DIR.log
	local size=$1 dir=$2
	mkdir -p "$dir"
	# shellcheck disable=SC2016,SC2086
	unshare --mount --map-root-user sh -c 'size=$1 dir=$2; shift 2
		mount -t tmpfs -o size="$size" farm-test "$dir" || exit 99
		"$@" >"$dir.log" 2>&1; rc=$?; ls -A "$dir" | tr "\n" " " | sed "s/ $//" >"$dir.files"; exit $rc' \
		sh "$size" "$dir" "$FARM_IMAGE" build --node sheep --config "$TOP/configs/cluster.yaml" \
		--secrets "$sec" $art --base "$TMP/full.tar" --out "$dir"
}
if ! unshare --mount --map-root-user true 2>/dev/null; then
	skip "a full disk" "cannot make a mount namespace here (unshare --mount --map-root-user)"
else
	small 16m "$TMP/full-before"
	rc=$?
	msg=$(cat "$TMP/full-before.log")
	check_eq "a disk too small: refused before writing" \
		"1 farm-image: sheep: $TMP/full-before has 16.0 MiB free, but the image needs at least * there (about the base's size, the files the node adds and the data partition): make room, or choose another --out" \
		"$rc $(sed -E 's/needs at least [0-9.]+ MiB there/needs at least * there/' <<<"$msg")"
	check_eq "a disk too small: nothing left" "" "$(cat "$TMP/full-before.files")"
	need=$(sed -n 's/.*needs at least \([0-9.]*\) MiB there.*/\1/p' <<<"$msg")
	if [ -n "$need" ]; then
		# Room for the estimate, not for the image: a write fails.
		small "$(awk -v n="$need" 'BEGIN { printf "%dk", n * 1024 + 512 }')" "$TMP/full-during"
		rc=$?
		check_eq "a disk that fills during the build: the directory named, not the root filesystem" \
			"1 farm-image: sheep: cannot write $TMP/full-during/sheep.img*: $TMP/full-during is full (* free; * when the build began, and the image needs at least * there): make room, or choose another --out" \
			"$rc $(sed -E 's/(sheep\.img)(\.zst|\.bmap)?:/\1*:/; s/\(([0-9.]+ [KMGT]iB|[0-9]+ B) free; ([0-9.]+ [KMGT]iB|[0-9]+ B) when/(* free; * when/; s/needs at least [0-9.]+ [KMGT]iB there/needs at least * there/' <(errors "$TMP/full-during.log"))"
		check_eq "a disk that fills during the build: nothing left" "" "$(cat "$TMP/full-during.files")"
	else
		fail "a disk that fills during the build" "no estimate in: $msg"
	fi
fi
