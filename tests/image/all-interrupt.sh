# SPDX-License-Identifier: MIT
# build --all stopped by SIGTERM or SIGHUP sent to farm-image alone (as a
# service manager or kill(1) does): the running build is stopped too, no
# node is started after, nothing is written, and the summary says
# "interrupted" and tells the stopped node from those never started
# (issue 13, item 10).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools taskset pgrep
mktmp
fixture bomb-count "$TMP/many.tar" || exit 1
sec=$(secrets) && art=$(artifacts) || exit 1

for sig in TERM HUP; do
	out=$TMP/out-$sig
	# One CPU: one build at a time, so that two nodes wait.
	# shellcheck disable=SC2086
	taskset -c 0 "$FARM_IMAGE" build --all --config "$TOP/configs/cluster.yaml" --secrets "$sec" \
		$art --base "$TMP/many.tar" --out "$out" >"$out.log" 2>&1 &
	pid=$!
	child=
	for _ in $(seq 100); do
		child=$(pgrep -P $pid)
		# The node's lock: the build has begun (its temporaries have no
		# name where the filesystem has O_TMPFILE).
		[ -n "$child" ] && [ -e "$out/.cow.lock" ] && break
		sleep 0.05
	done
	# Hold the child where it is, so that it cannot finish before the
	# signal reaches it, then signal farm-image only.
	[ -n "$child" ] && kill -STOP $child
	kill -$sig $pid
	sleep 0.2
	[ -n "$child" ] && kill -CONT $child
	wait $pid
	rc=$?
	check_eq "SIG$sig: exit status and summary" \
		"1 interrupted (SIG$sig): 0 of 3 images built; stopped: cow; not started: sheep, duck" \
		"$rc $(tail -1 "$out.log")"
	check "SIG$sig: the stopped build says so" grep -q "^farm-image: cow: interrupted; no output was written$" "$out.log"
	check_eq "SIG$sig: nothing written" "" "$(ls -A "$out")"
	check_eq "SIG$sig: no build left running" "" "$(pgrep -P $pid)"
done
