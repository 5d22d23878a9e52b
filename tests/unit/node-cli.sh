#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# farm-node's command line (one command table, options parsed properly:
# issue 13 item 12) and `status` on damaged records (item 13): a damaged
# record is shown as damaged, never a crash or a hang.
source "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
mktmp
source "$(dirname "${BASH_SOURCE[0]}")/node.lib"

root=$TMP/root
node_root "$root" cow server

# run NAME WANT-STATUS WANT-STDERR-PATTERN ARGS...: farm-node's exit status and
# what it printed on stderr (a grep -E pattern; "" for nothing).
run() {
	local name=$1 want=$2 pat=$3 rc
	shift 3
	"$FARM_NODE" "$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	if [ $rc -ne "$want" ]; then
		fail "$name" "exit status $rc, expected $want; stderr: $(head -3 "$TMP/err")"
	elif [ -z "$pat" ] && [ -s "$TMP/err" ]; then
		fail "$name" "unexpected stderr: $(head -3 "$TMP/err")"
	elif [ -n "$pat" ] && ! grep -Eq -- "$pat" "$TMP/err"; then
		fail "$name" "stderr lacks /$pat/: $(head -3 "$TMP/err")"
	else
		pass "$name"
	fi
}

# --- help and usage errors ------------------------------------------------
run "no command: usage, status 2" 2 "^Usage: farm-node" 
run "--help: usage on stdout" 0 "" --help
check "--help lists every command" grep -q "status \[--json\]" "$TMP/out"
run "help" 0 "" help
run "help status" 0 "" help status
check "help status is status's help" grep -q "^Usage: farm-node \[--root DIR\] status \[--json\]" "$TMP/out"
run "help of an unknown command" 2 "^farm-node help: unknown command 'nope'" help nope
run "help with two words" 2 "unexpected argument 'x'" help status x
run "an unknown command" 2 "^farm-node: unknown command 'nope'" nope
# COMMAND --help prints help and does nothing else: storage would fail
# here (no disk), so a status 0 with the help text shows it did not run.
run "storage --help does not run storage" 0 "" --root "$root" storage --help
check "storage --help is storage's help" grep -q "^Usage: farm-node \[--root DIR\] storage \[--data DEVICE\]" "$TMP/out"
run "join --help" 0 "" join --help
for c in storage firstboot join status; do
	"$FARM_NODE" "$c" --help >"$TMP/a" 2>&1
	"$FARM_NODE" help "$c" >"$TMP/b" 2>&1
	check "$c --help is help $c" cmp "$TMP/a" "$TMP/b"
done
run "an unknown option" 2 "^farm-node status: unknown option '--bogus'" --root "$root" status --bogus
check "the usage error says where to look" grep -qx "Try 'farm-node status --help'." "$TMP/err"
run "an unknown short option" 2 "^farm-node status: unknown option '-x'" --root "$root" status -x
run "an option of another command" 2 "^farm-node status: unknown option '--data'" --root "$root" status --data /dev/x
run "an unexpected argument" 2 "^farm-node firstboot: unexpected argument 'now'" --root "$root" firstboot now
run "a missing option argument, once" 2 "^farm-node status: missing argument of option '--root'$" status --root
check_eq "... reported once" "2" "$(wc -l <"$TMP/err")"
run "an unknown option before the command" 2 "^farm-node: unknown option '--bogus'" --bogus status
check "... says where to look" grep -qx "Try 'farm-node --help'." "$TMP/err"

# --- --root, before or after the command, with or without '=' -------------
run "--root DIR status" 0 "" --root "$root" status
check "status reads DIR" grep -q "^node cow (server, cluster farm)" "$TMP/out"
run "--root=DIR status" 0 "" --root="$root" status
run "status --root DIR" 0 "" status --root "$root"
check "status --root DIR reads DIR, not /" grep -q "^node cow (server, cluster farm)" "$TMP/out"
run "status --root=DIR --json" 0 "" status --root="$root" --json
check "status --json is JSON" python3 -c "import json,sys; d=json.load(open('$TMP/out')); assert d['node']=='cow'"
# storage --data DEVICE without '=' is taken (the device is then used).
run "storage --data DEVICE (no '=')" 1 "/nonexistent/data" --root "$root" storage --data /nonexistent/data
run "storage --data=DEVICE" 1 "/nonexistent/data" --root "$root" storage --data=/nonexistent/data

# --- status: what the node runs, by role ------------------------------------
"$FARM_NODE" --root "$root" status --json >"$TMP/s.json"
check_eq "server: every step, in order" \
	"storage ssh-host-keys home k3s-ca k3s-images kubelet-dropin k3s-api node-registered power-rbac stack node-ready" \
	"$(python3 -c "import json; print(' '.join(s['step'] for s in json.load(open('$TMP/s.json'))['steps']))")"
agent=$TMP/agent
node_root "$agent" sheep agent
"$FARM_NODE" --root "$agent" status --json >"$TMP/a.json"
check_eq "agent: no k3s-ca, no stack" \
	"storage ssh-host-keys home k3s-images kubelet-dropin k3s-api node-registered node-ready" \
	"$(python3 -c "import json; d=json.load(open('$TMP/a.json')); print(' '.join(s['step'] for s in d['steps'])); assert 'stack' not in d")"

# --- damaged records ---------------------------------------------------------
steps=$root/var/lib/farm/steps
mkdir -p "$steps" "$root/var/lib/farm/progress"
printf 'done 1700000000\nhost keys made\n' >"$steps/ssh-host-keys"
printf 'done 99999999999999999\nx' >"$steps/home"   # out of range: a crash before
printf 'done -5\n' >"$steps/k3s-images"
printf 'hello\n' >"$steps/kubelet-dropin"
mkdir "$steps/storage"
mkfifo "$steps/k3s-ca"                               # would block a plain read
printf 'done 1700000000\nbad \001\033[2J\377\376 bytes\n' >"$steps/k3s-api"
printf 'running 99999999999999999999\n' >"$root/var/lib/farm/progress/node-registered"
timeout 10 "$FARM_NODE" --root "$root" status >"$TMP/out" 2>"$TMP/err"
check_eq "status on damaged records: exit 0, no crash, no hang" "0" "$?"
for s in home k3s-images kubelet-dropin storage k3s-ca node-registered; do
	check "status shows $s damaged" grep -Eq "^  $s +damaged " "$TMP/out"
done
check "status shows the good record done" grep -Eq "^  ssh-host-keys +done +2023-11-14 22:13:20  host keys made" "$TMP/out"
check "a control byte or a stray byte is never printed raw" \
	bash -c "! LC_ALL=C grep -q \$'[\001\033\377\376]' '$TMP/out'"
check "... but shown escaped" grep -qF 'bad \x01\x1b[2J\xff\xfe bytes' "$TMP/out"
timeout 10 "$FARM_NODE" --root "$root" status --json >"$TMP/d.json" 2>"$TMP/err"
check_eq "status --json on damaged records: exit 0" "0" "$?"
check "status --json is valid JSON (UTF-8) with damaged steps" python3 -c "
import json
d = json.load(open('$TMP/d.json', encoding='utf-8'))
st = {s['step']: s['state'] for s in d['steps']}
assert st['home'] == 'damaged' and st['k3s-ca'] == 'damaged' and st['ssh-host-keys'] == 'done', st
assert not any(s['done'] for s in d['steps'] if s['state'] == 'damaged')
"
