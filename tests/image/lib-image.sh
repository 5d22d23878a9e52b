# Helpers for the image tests (sourced after tests/lib.sh).

MKARCHIVE="$HELPERS/mkarchive"

# fixture KIND FILE: a fixture archive made by tests/helpers/mkarchive.
fixture() {
	"$MKARCHIVE" "$1" "$2" || { echo "mkarchive $1 failed" >&2; return 1; }
}

# build NODE ARCHIVE OUTDIR [ARGS...]: farm-image build with the example
# config; output and errors go to OUTDIR.log.
build() {
	local node=$1 archive=$2 out=$3
	shift 3
	"$FARM_IMAGE" build --node "$node" --config "$TOP/configs/cluster.yaml" \
		--base "$archive" --out "$out" "$@" >"$out.log" 2>&1
}

# manifest_get JSON EXPR: a value from a manifest (python3 expression on m).
manifest_get() {
	python3 -c "import json,sys; m=json.load(open(sys.argv[1])); print($2)" "$1"
}

# extract IMG JSON N FILE: partition N (1-based) into FILE, keeping holes.
extract() {
	local off size
	off=$(manifest_get "$2" "m['partitions'][$3-1]['offset']")
	size=$(manifest_get "$2" "m['partitions'][$3-1]['size']")
	dd if="$1" of="$4" bs=1M iflag=skip_bytes,count_bytes skip="$off" count="$size" \
		conv=sparse status=none
}

# dfs FS CMD: debugfs output without its banner.
dfs() { debugfs -R "$2" "$1" 2>/dev/null; }

# stat_field FS PATH REGEX: the first match of REGEX in debugfs stat.
stat_line() { dfs "$1" "stat $2" | grep -E -o -m1 "$3"; }

need_tools() {
	local t missing=
	for t in "$@"; do have "$t" || missing="$missing $t"; done
	if [ -n "$missing" ]; then
		skip "$(basename "$0")" "missing tools:$missing (run .ci/run or install them)"
		exit 0
	fi
}
