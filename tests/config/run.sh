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
