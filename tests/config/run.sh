# Config validation: every good-*.yaml passes; every bad-*.yaml fails with
# exactly the diagnostics in bad-*.expected (file:line:col, source line, caret).
source "$(dirname "$0")/../lib.sh"
cd "$TOP"

for f in tests/config/good-*.yaml configs/cluster.yaml; do
	check "valid $(basename "$f")" "$FARM_IMAGE" validate --config "$f"
done

for f in tests/config/bad-*.yaml; do
	name=$(basename "$f" .yaml)
	expected=${f%.yaml}.expected
	if [ ! -f "$expected" ]; then
		fail "$name" "no $expected"
		continue
	fi
	actual=$("$FARM_IMAGE" validate --config "$f" 2>&1 >/dev/null)
	rc=$?
	if [ $rc -ne 1 ]; then
		fail "$name" "exit status $rc, expected 1"
	elif [ "$actual" != "$(cat "$expected")" ]; then
		fail "$name" "diagnostics differ"
		diff <(cat "$expected") <(printf '%s\n' "$actual") | sed 's/^/    /'
	else
		pass "$name"
	fi
done

# A missing file and an empty file are single clear errors too.
out=$("$FARM_IMAGE" validate --config tests/config/does-not-exist.yaml 2>&1)
check_eq "missing config" "farm-image: Cannot read config tests/config/does-not-exist.yaml: No such file or directory" "$out"
mktmp
: >"$TMP/empty.yaml"
out=$("$FARM_IMAGE" validate --config "$TMP/empty.yaml" 2>&1)
check_eq "empty config" "$TMP/empty.yaml:1:1: the file is empty" "$out"

# What comes from the user's files and command line reaches the terminal
# with its control characters made visible.
out=$("$FARM_IMAGE" validate --config $'tests/config/\e[2Jnope\r.yaml' 2>&1)
check_eq "config path escaped" \
	"farm-image: Cannot read config tests/config/\\x1b[2Jnope\\r.yaml: No such file or directory" "$out"

# The power schedule's time zone against tzdata ($TZDIR, as glibc reads it):
# a machine without tzdata cannot check it and says so (the build checks it
# in the base); one with tzdata refuses a zone it lacks; UTC needs none.
mkdir -p "$TMP/notz" "$TMP/tz/Europe"
sed 's/^nodes:/power:\n  shutdown: "01:30"\n  timezone: Europe\/Berlin\nnodes:/' \
	tests/config/good-example.yaml >"$TMP/tz.yaml"
ln -s "$TOP/tests/config/boards" "$TMP/boards"
ln -s "$TOP/tests/config/stack" "$TMP/stack"
ln -s "$TOP/tests/config/artifacts.lock" "$TMP/artifacts.lock"
out=$(TZDIR=$TMP/notz "$FARM_IMAGE" validate --config "$TMP/tz.yaml" 2>&1 >/dev/null)
check_eq "no tzdata here: a warning" "0 $TMP/tz.yaml:27:13: warning: power: cannot check timezone 'Europe/Berlin' here, this machine has no tzdata ($TMP/notz); the build checks it in the base" \
	"$? $(head -1 <<<"$out")"
touch "$TMP/tz/zone1970.tab"
printf 'TZif2' >"$TMP/tz/Europe/Berlin"
check "a zone of this machine's tzdata" env TZDIR="$TMP/tz" "$FARM_IMAGE" validate --config "$TMP/tz.yaml"
rm "$TMP/tz/Europe/Berlin"
out=$(TZDIR=$TMP/tz "$FARM_IMAGE" validate --config "$TMP/tz.yaml" 2>&1 >/dev/null)
check_eq "a zone this machine's tzdata lacks" "1 $TMP/tz.yaml:27:13: power: timezone 'Europe/Berlin' is not a tzdata time zone (there is no $TMP/tz/Europe/Berlin; the names are in $TMP/tz/zone1970.tab)" \
	"$? $(head -1 <<<"$out")"
sed -i 's/timezone: Europe\/Berlin/timezone: UTC/' "$TMP/tz.yaml"
check "UTC needs no tzdata" env TZDIR="$TMP/notz" "$FARM_IMAGE" validate --config "$TMP/tz.yaml"

# A config that repeats itself: each duplicate once, against its first use;
# the source line shown as a window; at most 100 messages, then a count
# (a 25 KB config once wrote 620 MB of errors).
python3 - "$TMP/dups.yaml" <<'PY'
import sys
base = open("tests/config/good-example.yaml").read()
s = base.replace("stack: [cilium]", "stack: [" + ", ".join(["cilium"] * 3000) + "]")
s += "".join("  - name: one\n    board: x86\n    role: agent\n    ipv4: 10.1.0.%d\n    ipv6: fd00:1::%x\n"
             % (20 + i, 20 + i) for i in range(3))
open(sys.argv[1], "w").write(s)
PY
"$FARM_IMAGE" validate --config "$TMP/dups.yaml" >/dev/null 2>"$TMP/dups.err"
check_eq "duplicates: exit status, then the count of what was left out" \
	"1 $TMP/dups.yaml: 2902 more problems not shown (the first 100 are above)" "$? $(tail -1 "$TMP/dups.err")"
check_eq "duplicates: each against the first" \
	"$TMP/dups.yaml:31:11: node 'one': name already used on line 26
$TMP/dups.yaml:36:11: node 'one': name already used on line 26
$TMP/dups.yaml:41:11: node 'one': name already used on line 26
$TMP/dups.yaml:24:17: stack: component 'cilium' is already listed on line 24
$TMP/dups.yaml:24:25: stack: component 'cilium' is already listed on line 24" \
	"$(grep -v '^    ' "$TMP/dups.err" | head -5)"
check "duplicates: the output stays small (under 50 KB)" test "$(wc -c <"$TMP/dups.err")" -lt 50000
check_eq "duplicates: source lines cut to a window" "" "$(awk 'length > 120' "$TMP/dups.err")"

# validate's summary line shows the path as typed, made visible.
cp tests/config/good-example.yaml "$TMP/"$'odd\rname.yaml'
out=$("$FARM_IMAGE" validate --config "$TMP/"$'odd\rname.yaml' 2>&1)
check_eq "summary with the path escaped" "$TMP/odd\\rname.yaml: 1 nodes: one (x86, server)" "$(head -1 <<<"$out")"
check "... the stack's line too" grep -qxF "$TMP/odd\\rname.yaml: stack, in install order: cilium" <<<"$out"
