# Shared by the shell tests. Each test reports one line per check on stdout:
#   ok NAME | not ok NAME: why | skip NAME: why
# tests/run counts them. Source this file, then call the helpers.
set -u

: "${FARM_BUILD:=build}"
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
FARM_IMAGE="$TOP/$FARM_BUILD/farm-image"
HELPERS="$TOP/$FARM_BUILD/tests/helpers"
export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-1700000000}
# ../shared beside the project (upstream schemas, real chart archives, keys);
# from a git worktree, the one beside the main checkout. FARM_SHARED
# overrides.
if [ -z "${FARM_SHARED:-}" ]; then
	FARM_SHARED=$TOP/../shared
	if [ ! -d "$FARM_SHARED" ] &&
		common=$(git -C "$TOP" rev-parse --path-format=absolute --git-common-dir 2>/dev/null); then
		FARM_SHARED=$(dirname "$common")/../shared
	fi
fi
SHARED=$(cd "$FARM_SHARED" 2>/dev/null && pwd || echo "$FARM_SHARED")

pass() { echo "ok $1"; }
fail() { echo "not ok $1: ${2:-failed}"; }
skip() { echo "skip $1: $2"; }

# check NAME COMMAND...: passes when COMMAND succeeds; on failure the
# command's output is shown indented.
check() {
	local name=$1 out
	shift
	if out=$("$@" 2>&1); then
		pass "$name"
	else
		fail "$name" "command failed: $*"
		printf '%s\n' "$out" | sed 's/^/    /' | head -40
	fi
}

# check_eq NAME EXPECTED ACTUAL
check_eq() {
	if [ "$2" == "$3" ]; then
		pass "$1"
	else
		fail "$1" "expected [$2], got [$3]"
	fi
}

# Temporary directory removed on exit.
mktmp() {
	TMP=$(mktemp -d "${TMPDIR:-/tmp}/farm-test.XXXXXX")
	trap 'rm -rf "$TMP"' EXIT
}

have() { command -v "$1" >/dev/null 2>&1; }
