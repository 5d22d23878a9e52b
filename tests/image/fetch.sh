# farm-image fetch against a local HTTP server (tests/helpers/httpserver.py)
# with small random fixture artifacts: downloads are verified, a second run
# downloads nothing, a wrong hash leaves nothing behind, a truncated download
# resumes with a Range request, a server ignoring Range still ends with the
# right file, a 404 names the artifact and URL, --from imports, --check
# reports what a build would miss, Ctrl-C keeps a resumable .part, and the
# lock loader points at bad entries. No network beyond 127.0.0.1.
source "$(dirname "$0")/../lib.sh"
mktmp

if ! have python3; then
	skip "fetch" "python3 is missing (needed for the test HTTP server)"
	exit 0
fi

SRV=$TMP/srv
mkdir -p "$SRV"
mk() { head -c "$2" /dev/urandom >"$SRV/$1"; }
mk a.bin 200000
mk b.bin 150000
mk chart.tgz 50000
mk trunc.bin 300000
mk norange.bin 120000
mk wrong.bin 1000
mk gone.bin 1000
mk slow.bin 262144

python3 "$TOP/tests/helpers/httpserver.py" --dir "$SRV" --log "$TMP/http.log" --timeout 120 \
	--truncate trunc.bin=100000 --ignore-range norange.bin --missing gone.bin \
	--slow slow.bin=65536 --redirect evil.bin=file:///etc/hostname \
	>"$TMP/port" 2>"$TMP/server.err" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; rm -rf "$TMP"' EXIT
for _ in $(seq 50); do
	[ -s "$TMP/port" ] && break
	sleep 0.1
done
PORT=$(head -n1 "$TMP/port")
if [ -z "$PORT" ]; then
	fail "http server starts" "no port: $(cat "$TMP/server.err")"
	exit 1
fi
URL=http://127.0.0.1:$PORT
touch "$TMP/http.log"

sha() { sha256sum "$1" | cut -d' ' -f1; }

# entry NAME ARCH|- FILE [URL] [SHA256]: one lock entry for $SRV/FILE.
entry() {
	local name=$1 arch=$2 file=$3 url=${4:-$URL/$3} hash=${5:-}
	[ -n "$hash" ] || hash=$(sha "$SRV/$file")
	echo "  - name: $name"
	[ "$arch" = - ] || echo "    arch: $arch"
	echo "    version: \"1.0\""
	echo "    url: $url"
	echo "    sha256: $hash"
	echo "    size: $(stat -c %s "$SRV/$file")"
}

# fetch NAME ARGS...: farm-image fetch, output in $TMP/NAME.out and .err.
fetch() {
	local name=$1
	shift
	"$FARM_IMAGE" fetch "$@" >"$TMP/$name.out" 2>"$TMP/$name.err"
	RC=$?
	return $RC
}

# cached CACHE FILE: CACHE holds FILE's bytes under their sha256, no .part.
cached() {
	local h
	h=$(sha "$SRV/$2")
	[ -f "$1/$h" ] && [ "$(sha "$1/$h")" = "$h" ] && [ ! -e "$1/$h.part" ]
}

gets() { grep -c '^GET ' "$TMP/http.log"; }

# -- downloads --------------------------------------------------------------
{
	echo "artifacts:"
	entry a amd64 a.bin
	entry b arm64 b.bin
	entry chart - chart.tgz "$URL/r/chart.tgz"
} >"$TMP/good.lock"

C=$TMP/cache1
fetch first --lock "$TMP/good.lock" --cache "$C"
rc=$?
if [ $rc -eq 0 ] && cached "$C" a.bin && cached "$C" b.bin && cached "$C" chart.tgz; then
	pass "fetch downloads and verifies"
else
	fail "fetch downloads and verifies" "exit $rc: $(cat "$TMP/first.err")"
fi
check_eq "fetch summary" "3 artifacts: 3 downloaded (390.6 KiB), 0 imported, 0 already in $C, 0 failed" \
	"$(tail -n1 "$TMP/first.out")"
check "redirect followed" grep -q "^GET /r/chart.tgz range=- status=302" "$TMP/http.log"

before=$(gets)
fetch second --lock "$TMP/good.lock" --cache "$C"
check_eq "second fetch downloads nothing" "0 0 3 artifacts: 0 downloaded (0 B), 0 imported, 3 already in $C, 0 failed" \
	"$RC $(($(gets) - before)) $(cat "$TMP/second.out")"

fetch arch --lock "$TMP/good.lock" --cache "$TMP/cache-arch" --arch amd64
check_eq "--arch amd64 takes amd64 and shared files" "0 2" \
	"$RC $(ls "$TMP/cache-arch" | wc -l)"
fetch badarch --lock "$TMP/good.lock" --cache "$TMP/cache-arch" --arch riscv64
check_eq "--arch with no artifact is a usage error" "2" "$RC"

XDG_CACHE_HOME=$TMP/xdg fetch xdg --lock "$TMP/good.lock" --arch arm64
rc=$?
if [ $rc -eq 0 ] && cached "$TMP/xdg/farm/artifacts" b.bin &&
	cached "$TMP/xdg/farm/artifacts" chart.tgz; then
	pass "default cache under XDG_CACHE_HOME"
else
	fail "default cache under XDG_CACHE_HOME" "exit $rc: $(cat "$TMP/xdg.err")"
fi

# -- failures -----------------------------------------------------------------
bogus=$(echo something else | sha256sum | cut -d' ' -f1)
{
	echo "artifacts:"
	entry wrong amd64 wrong.bin "" "$bogus"
} >"$TMP/wrong.lock"
fetch wrong --lock "$TMP/wrong.lock" --cache "$TMP/cache-wrong"
check_eq "wrong hash refused, naming artifact, URL and both hashes" \
	"1 farm-image: wrong (amd64) 1.0: the sha256 of $URL/wrong.bin differs from the lock: expected $bogus, got $(sha "$SRV/wrong.bin"); nothing was kept" \
	"$RC $(cat "$TMP/wrong.err")"
check_eq "wrong hash leaves nothing in the cache" "0" "$(ls -A "$TMP/cache-wrong" | wc -l)"

{
	echo "artifacts:"
	entry gone - gone.bin
	entry a amd64 a.bin
} >"$TMP/gone.lock"
fetch gone --lock "$TMP/gone.lock" --cache "$TMP/cache-gone"
check_eq "404 names the artifact and URL" "1 farm-image: gone 1.0: $URL/gone.bin answered HTTP 404" \
	"$RC $(cat "$TMP/gone.err")"
check "a failure does not stop the others" cached "$TMP/cache-gone" a.bin
check_eq "404 leaves no .part" "1" "$(ls -A "$TMP/cache-gone" | wc -l)"

# A server sending more than the pinned size is cut off at once.
{
	echo "artifacts:"
	entry big amd64 a.bin | sed 's/^    size: .*/    size: 1000/'
} >"$TMP/big.lock"
fetch big --lock "$TMP/big.lock" --cache "$TMP/cache-big"
check_eq "more bytes than pinned are refused" \
	"1 farm-image: big (amd64) 1.0: $URL/a.bin sends more than the 1000 bytes the lock pins; nothing was kept 0" \
	"$RC $(cat "$TMP/big.err") $(ls -A "$TMP/cache-big" | wc -l)"

# Only http and https, also after a redirect.
mk evil.bin 100
{
	echo "artifacts:"
	entry evil amd64 evil.bin
} >"$TMP/evil.lock"
fetch evil --lock "$TMP/evil.lock" --cache "$TMP/cache-evil"
check_eq "a redirect to file:// is refused" "1 0" "$RC $(ls -A "$TMP/cache-evil" | wc -l)"
check "a redirect to file:// names the protocol" grep -q "evil (amd64) 1.0: downloading $URL/evil.bin failed: .*file" "$TMP/evil.err"

# -- resuming -----------------------------------------------------------------
{
	echo "artifacts:"
	entry trunc amd64 trunc.bin
} >"$TMP/trunc.lock"
T=$TMP/cache-trunc
part=$T/$(sha "$SRV/trunc.bin").part
fetch trunc1 --lock "$TMP/trunc.lock" --cache "$T"
check_eq "truncated download fails and keeps a .part" "1 100000" \
	"$RC $(stat -c %s "$part" 2>/dev/null)"
check "truncation message says it resumes" grep -q "97.7 KiB received are kept and the next 'farm-image fetch' resumes" "$TMP/trunc1.err"
fetch trunc2 --lock "$TMP/trunc.lock" --cache "$T"
rc=$?
if [ $rc -eq 0 ] && cached "$T" trunc.bin &&
	grep -q "^GET /trunc.bin range=bytes=100000- status=206" "$TMP/http.log"; then
	pass "second fetch resumes with a Range request"
else
	fail "second fetch resumes with a Range request" "exit $rc: $(cat "$TMP/trunc2.err")"
fi

{
	echo "artifacts:"
	entry norange amd64 norange.bin
} >"$TMP/norange.lock"
N=$TMP/cache-norange
mkdir -p "$N"
head -c 5000 /dev/urandom >"$N/$(sha "$SRV/norange.bin").part"
fetch norange --lock "$TMP/norange.lock" --cache "$N"
rc=$?
if [ $rc -eq 0 ] && cached "$N" norange.bin &&
	grep -q "^GET /norange.bin range=bytes=5000- status=200" "$TMP/http.log"; then
	pass "server ignoring Range still gives the right file"
else
	fail "server ignoring Range still gives the right file" "exit $rc: $(cat "$TMP/norange.err")"
fi

# A damaged .part on a server that honours Range: the result does not
# verify, the .part goes, and the next run starts from zero.
D=$TMP/cache-damaged
mkdir -p "$D"
head -c 5000 /dev/urandom >"$D/$(sha "$SRV/a.bin").part"
{
	echo "artifacts:"
	entry a amd64 a.bin
} >"$TMP/a.lock"
fetch damaged1 --lock "$TMP/a.lock" --cache "$D"
check_eq "damaged .part refused and removed" "1 0" "$RC $(ls -A "$D" | wc -l)"
fetch damaged2 --lock "$TMP/a.lock" --cache "$D"
check_eq "next fetch after a damaged .part succeeds" "0" "$RC"

# Ctrl-C during a slow download: exit 1, a resumable .part, then resumed.
{
	echo "artifacts:"
	entry slow amd64 slow.bin
} >"$TMP/slow.lock"
S=$TMP/cache-slow
part=$S/$(sha "$SRV/slow.bin").part
"$FARM_IMAGE" fetch --lock "$TMP/slow.lock" --cache "$S" >"$TMP/int.out" 2>"$TMP/int.err" &
pid=$!
for _ in $(seq 100); do
	[ "$(stat -c %s "$part" 2>/dev/null || echo 0)" -gt 20000 ] && break
	sleep 0.05
done
kill -INT $pid
wait $pid
rc=$?
size=$(stat -c %s "$part" 2>/dev/null || echo 0)
if [ $rc -eq 1 ] && [ "$size" -gt 0 ] && [ "$size" -lt 262144 ] &&
	grep -q "interrupted; .* kept in $part, the next 'farm-image fetch' resumes there" "$TMP/int.err"; then
	pass "interrupt leaves a resumable .part"
else
	fail "interrupt leaves a resumable .part" "exit $rc, .part $size bytes: $(cat "$TMP/int.err")"
fi
fetch slow2 --lock "$TMP/slow.lock" --cache "$S"
rc=$?
if [ $rc -eq 0 ] && cached "$S" slow.bin && grep -q "^GET /slow.bin range=bytes=$size- status=206" "$TMP/http.log"; then
	pass "interrupted download resumes"
else
	fail "interrupted download resumes" "exit $rc: $(cat "$TMP/slow2.err")"
fi

# -- --from and --check (artifact_path) ----------------------------------------
FROM=$TMP/from
mkdir -p "$FROM"
cp "$SRV/a.bin" "$SRV/b.bin" "$SRV/chart.tgz" "$FROM/"
I=$TMP/cache-import
before=$(gets)
fetch import --lock "$TMP/good.lock" --cache "$I" --from "$FROM"
rc=$?
if [ $rc -eq 0 ] && cached "$I" a.bin && cached "$I" b.bin && cached "$I" chart.tgz &&
	[ "$(gets)" = "$before" ]; then
	pass "--from DIR imports without network"
else
	fail "--from DIR imports without network" "exit $rc: $(cat "$TMP/import.err")"
fi
fetch check --lock "$TMP/good.lock" --cache "$I" --check
check_eq "--check verifies the cache" "0 3 verified, 0 missing or damaged" "$RC $(tail -n1 "$TMP/check.out")"

BAD=$TMP/bad-from
mkdir -p "$BAD"
head -c 200000 /dev/urandom >"$BAD/a.bin"
fetch badfrom --lock "$TMP/a.lock" --cache "$TMP/cache-badfrom" --from "$BAD"
check_eq "--from with a wrong file is refused" \
	"1 farm-image: a (amd64) 1.0: the sha256 of $BAD/a.bin differs from the lock: expected $(sha "$SRV/a.bin"), got $(sha "$BAD/a.bin"); nothing was kept" \
	"$RC $(cat "$TMP/badfrom.err")"
check_eq "--from with a wrong file leaves nothing" "0" "$(ls -A "$TMP/cache-badfrom" | wc -l)"

E=$TMP/cache-empty
fetch checkbad --lock "$TMP/good.lock" --cache "$E" --from "$BAD" --check
check_eq "artifact_path: a wrong file in the artifacts directory" \
	"1 farm-image: a (amd64) 1.0: the sha256 of $BAD/a.bin differs from the lock: expected $(sha "$SRV/a.bin"), got $(sha "$BAD/a.bin")" \
	"$RC $(grep "^farm-image: a " "$TMP/checkbad.err")"
check_eq "artifact_path: a missing file names the two ways" \
	"farm-image: b (arm64) 1.0 is neither in $BAD nor in the cache $E: run 'farm-image fetch' with internet access, or pass --artifacts DIR holding b.bin" \
	"$(grep "^farm-image: b " "$TMP/checkbad.err")"
check_eq "artifact_path: one message per artifact" "3" "$(wc -l <"$TMP/checkbad.err")"

# -- the lock loader ----------------------------------------------------------
cat >"$TMP/badsha.lock" <<EOF
artifacts:
  - name: a
    version: "1"
    url: http://127.0.0.1/a
    sha256: xyz
EOF
fetch badsha --lock "$TMP/badsha.lock" --cache "$E"
check_eq "lock: bad sha256 with FILE:LINE:COL" \
	"1 $TMP/badsha.lock:5:13: artifact 'a': sha256 'xyz' is not 64 hexadecimal digits" \
	"$RC $(head -n1 "$TMP/badsha.err")"

h=$(sha "$SRV/a.bin")
cat >"$TMP/bad.lock" <<EOF
artifacts:
  - name: a
    arch: amd64
    version: "1"
    url: ftp://example.org/a
    sha256: $h
  - name: a
    arch: amd64
    version: "1"
    url: https://example.org/dir/
    sha256: $h
  - name: b
    arch: sparc
    version: "1"
    url: https://user:pw@example.org/b
    sha256: $h
    colour: red
EOF
fetch badlock --lock "$TMP/bad.lock" --cache "$E"
sort_pos() { sort -t: -k2,2n -k3,3n; }
expected="$TMP/bad.lock:5:10: artifact 'a' (amd64): url 'ftp://example.org/a' must start with https:// or http://
$TMP/bad.lock:7:11: artifact 'a' (amd64) is listed twice (first on line 2)
$TMP/bad.lock:10:10: artifact 'a' (amd64): url 'https://example.org/dir/' does not end in a file name
$TMP/bad.lock:13:11: artifact 'b': arch 'sparc' is not one of: arm64, amd64
$TMP/bad.lock:15:10: artifact 'b': url 'https://user:pw@example.org/b' carries a user name or password; the lock is no place for credentials
$TMP/bad.lock:17:5: artifact 'b': unknown key 'colour'"
check_eq "lock: every problem reported, with its position" "1 $expected" \
	"$RC $(grep -E "^$TMP/bad.lock:[0-9]+:[0-9]+: " "$TMP/badlock.err" | sort_pos)"

# The real lock file loads; --check reads no network and reports each
# artifact as missing from the empty cache.
fetch real --lock "$TOP/configs/artifacts.lock" --cache "$E" --check
entries=$(grep -c '^  - name: ' "$TOP/configs/artifacts.lock")
check_eq "configs/artifacts.lock loads" "1 0 $entries" \
	"$RC $(grep -c 'artifacts.lock:[0-9]*:[0-9]*:' "$TMP/real.err") $(grep -c "run 'farm-image fetch' with internet access" "$TMP/real.err")"

# libcurl is loaded only by fetch (dlopen): farm-image itself does not
# link it, and without it fetch says so once and fails.
if ldd "$FARM_IMAGE" | grep -q libcurl; then
	fail "farm-image does not link libcurl" "$(ldd "$FARM_IMAGE" | grep libcurl)"
else
	pass "farm-image does not link libcurl"
fi
lib=$(ldconfig -p | awk '$1 == "libcurl.so.4" { print $NF; exit }')
if [ "$(id -u)" != 0 ] || ! have unshare || [ -z "$lib" ]; then
	skip "fetch without libcurl" "hiding $lib needs root and unshare(1)"
else
	: >"$TMP/empty.so"
	unshare -m sh -c 'mount --bind "$1" "$2" && shift 2 && exec "$@"' sh "$TMP/empty.so" "$lib" \
		"$FARM_IMAGE" fetch --lock "$TOP/configs/artifacts.lock" --cache "$E" \
		>"$TMP/nocurl.out" 2>"$TMP/nocurl.err"
	check_eq "fetch without libcurl: one message, exit 1" \
		"1 1 farm-image: fetch needs libcurl:" \
		"$? $(wc -l <"$TMP/nocurl.err") $(head -c 32 "$TMP/nocurl.err")"
fi
