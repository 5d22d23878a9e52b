# SPDX-License-Identifier: MIT
# farm-image's command lines: one message per usage error (exit status 2),
# the same help text from 'help CMD' and 'CMD --help', and what the user
# typed shown with its control characters made visible.
source "$(dirname "$0")/../lib.sh"
cd "$TOP"

# usage CHECK EXPECTED ARGS...: farm-image ARGS exits 2 printing EXPECTED
# (stderr) and nothing on stdout.
usage() {
	local name=$1 want=$2 out err rc
	shift 2
	mktmp_once
	"$FARM_IMAGE" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	out=$(cat "$TMP/out") err=$(cat "$TMP/err")
	if [ $rc -ne 2 ]; then
		fail "$name" "exit status $rc, expected 2"
	elif [ -n "$out" ]; then
		fail "$name" "printed on stdout: $out"
	else
		check_eq "$name" "$want" "$err"
	fi
}
mktmp_once() { [ -n "${TMP:-}" ] || mktmp; }

for cmd in validate build fetch rootfs secrets flash; do
	opt=--config
	[ $cmd = fetch ] && opt=--lock
	usage "$cmd: a missing option argument, once" \
		"farm-image $cmd: missing argument of option '$opt'
Try 'farm-image $cmd --help'." "$cmd" $opt
done
usage "a missing argument of a short option" \
	"farm-image build: missing argument of option '-n'
Try 'farm-image build --help'." build -n
usage "an unknown long option" "farm-image build: unknown option '--nodes'
Try 'farm-image build --help'." build --nodes=cow
usage "an unknown short option" "farm-image validate: unknown option '-x'
Try 'farm-image validate --help'." validate -x
usage "an ambiguous abbreviation" "farm-image build: ambiguous option '--a'
Try 'farm-image build --help'." build --a
usage "an argument to an option that takes none" \
	"farm-image build: option takes no argument '--all'
Try 'farm-image build --help'." build --all=yes
usage "an unexpected argument, escaped" \
	"farm-image validate: unexpected argument 'x\\x1b[2J\\r'
Try 'farm-image validate --help'." validate $'x\e[2J\r'
usage "help of an unknown command, escaped" "farm-image help: unknown command 'bu\\nild'
Try 'farm-image help --help'." help $'bu\nild'
"$FARM_IMAGE" $'bu\rild' >/dev/null 2>"$TMP/err"
check_eq "an unknown command, escaped" "2 farm-image: unknown command 'bu\\rild'" "$? $(head -1 "$TMP/err")"

for cmd in validate build rootfs secrets fetch flash help; do
	check_eq "help $cmd is $cmd --help" "$("$FARM_IMAGE" help $cmd)" "$("$FARM_IMAGE" $cmd --help)"
done

usage "flash: an unknown option, once" "farm-image flash: unknown option '--nope'
Try 'farm-image flash --help'." flash --nope
# One build, one flash is one node: a second --node would silently win.
usage "build: --node given twice" "farm-image build: --node given twice (one node, or --all), again as 'cow'
Try 'farm-image build --help'." build --node sheep -n cow
usage "flash: --node given twice" "farm-image flash: --node given twice, again as 'cow'
Try 'farm-image flash --help'." flash --node sheep --node cow --device /dev/null

out=$("$FARM_IMAGE" build --node nope 2>&1)
check_eq "--node names every node" \
	"farm-image: configs/cluster.yaml: there is no node 'nope' (nodes: cow, sheep, duck)" "$out"
