#!/usr/bin/env bash
# The QEMU harness (qemu/vm) proven without farm images. The guests are
# Debian's own kernels with a busybox initramfs (qemu/selftest/), fetched
# once from the Debian archive by qemu/selftest/fetch-guest into
# ~/.cache/farm/qemu-guest, and OVMF alone for the UEFI path:
#   - x86_64 through OVMF to its shell: banner on serial, per-VM vars copy;
#     `vm stop` ends QEMU when the guest ignores the power button
#   - aarch64 (virt, cortex-a76): marker on serial, power-off seen, the guest
#     sees the overlay's --disk-size, a write survives into the next boot
#     (--reuse-disk) and never reaches the image
#   - a guest that sleeps forever is killed at its --timeout
#   - two x86_64 VMs (UEFI + kernel) on one socket-mcast segment ping each
#     other over static IPv4 and IPv6; ssh through the forwarded port (the
#     host's sshd in the initramfs); an nc banner through the other's port;
#     `vm stop` powers the guest down (ACPI button, busybox acpid; on aarch64
#     the gpio-keys button); `vm kill` ends QEMU at once
# Each VM has a hard timeout and the trap destroys them all.
. "$(dirname "$0")/../lib.sh"
VM=$TOP/qemu/vm
SELFTEST=$TOP/qemu/selftest

missing=()
for t in qemu-system-x86_64 qemu-system-aarch64 qemu-img python3 busybox ssh ssh-keygen timeout setsid flock; do
	have "$t" || missing+=("$t")
done
if [ ${#missing[@]} -gt 0 ]; then
	skip harness "missing ${missing[*]} (scripts/install-deps installs them)"
	exit 0
fi

mktmp
export FARM_VM_DIR=$TMP/vms
names=()
cleanup() {
	local n
	for n in "${names[@]}"; do
		"$VM" destroy "$n" >/dev/null 2>&1
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

T0=$SECONDS
token=farm-$$-$RANDOM
img=$TMP/disk.img
truncate -s 64M "$img"
img_sum=$(sha256sum <"$img")

# start NAME ARGS...: vm start, remembered for the cleanup; prints the port.
start() {
	local name=$1
	shift
	names+=("$name")
	"$VM" start "$name" "$@" 2>>"$TMP/start.log"
}

# vm_var NAME KEY: what vm start recorded (pid, started, ssh_port...).
vm_var() {
	sed -n "s/^vm_$2=//p" "$FARM_VM_DIR/$1/vm.env" 2>/dev/null
}

# show_log NAME: the end of a VM's serial log, indented.
show_log() {
	tail -n 15 "$FARM_VM_DIR/$1/serial.log" 2>/dev/null | tr -d '\r' | sed 's/^/    /'
}

# The accelerator each architecture gets, and why.
for arch in x86_64 aarch64; do
	if line=$("$VM" accel --arch "$arch" 2>&1) && [[ $line =~ ^$arch:\ (kvm|tcg)\ \( ]]; then
		echo "# accelerator: $line"
		pass "accel-$arch"
	else
		fail "accel-$arch" "$line"
	fi
done

# The aarch64 and x86_64 guests need the fetched kernels (once per machine).
guests=1
t=$SECONDS
if ! cache=$("$SELFTEST/fetch-guest" ${FARM_GUEST_CACHE:+"$FARM_GUEST_CACHE"} 2>"$TMP/fetch.log"); then
	guests=0
	skip guests "no guest kernels: $(tail -1 "$TMP/fetch.log")"
else
	[ $((SECONDS - t)) -lt 3 ] || echo "# fetched the guest kernels in $((SECONDS - t)) s"
	ssh-keygen -q -t ed25519 -N '' -C farm-test -f "$TMP/key"
	"$SELFTEST/mkguest" "$cache" arm64 "$TMP/arm64.cpio" &&
		"$SELFTEST/mkguest" "$cache" amd64 "$TMP/amd64.cpio" --ssh-key "$TMP/key.pub" ||
		{ guests=0 && fail mkguest "cannot build the guest initramfs"; }
fi

# --- UEFI: OVMF to its shell, the vars copy, stop when ignored -------------
ovmf_vars=
for f in /usr/share/OVMF/OVMF_VARS_4M.fd /usr/share/OVMF/OVMF_VARS.fd; do
	[ -r "$f" ] && ovmf_vars=$f && break
done
if [ -n "$ovmf_vars" ]; then
	vars_sum=$(sha256sum <"$ovmf_vars")
	t=$SECONDS
	if start uefi --image "$img" --arch x86_64 --ssh-port none --timeout 120 >/dev/null; then
		pass uefi-start
	else
		fail uefi-start "$(tail -3 "$TMP/start.log")"
	fi
else
	skip uefi "no OVMF (Debian package ovmf)"
fi

arm_boot() { # NAME MODE-ARGS...: an aarch64 guest of the test image
	local name=$1
	shift
	start "$name" --image "$img" --arch aarch64 --disk-size 8G --mem 512 \
		--kernel "$cache/arm64/vmlinuz" --initrd "$TMP/arm64.cpio" \
		--append "console=ttyAMA0 panic=-1 farm.name=$name $*" "${extra[@]}"
}
if [ $guests -eq 1 ]; then
	extra=(--ssh-port none --timeout 90)
	arm_boot arm farm.mode=marker "farm.marker=$token" farm.disk=write >/dev/null ||
		fail arm-start "$(tail -3 "$TMP/start.log")"
	extra=(--ssh-port none --timeout 12)
	arm_boot sleeper farm.mode=sleep >/dev/null || fail sleeper-start "$(tail -3 "$TMP/start.log")"
	extra=(--ssh-port none --timeout 90)
	arm_boot counter farm.mode=count >/dev/null || fail counter-start "$(tail -3 "$TMP/start.log")"
fi

if [ -n "$ovmf_vars" ] && [ -f "$FARM_VM_DIR/uefi/vm.env" ]; then
	if "$VM" wait-serial uefi 'UEFI Interactive Shell|Shell>' --timeout 90 >/dev/null 2>"$TMP/err"; then
		pass uefi-firmware-banner
		echo "# x86_64 OVMF to its shell: $((SECONDS - t)) s"
	else
		fail uefi-firmware-banner "OVMF shell not seen"
		sed 's/^/    /' "$TMP/err"
	fi
	vm_vars=$FARM_VM_DIR/uefi/OVMF_VARS.fd
	if [ "$(sha256sum <"$ovmf_vars")" = "$vars_sum" ] && [ -f "$vm_vars" ] &&
		! cmp -s "$ovmf_vars" "$vm_vars"; then
		pass uefi-vars-per-vm
	else
		fail uefi-vars-per-vm "the VM's vars copy $vm_vars is missing or unchanged, or the template changed"
	fi
	# The firmware shell ignores the power button: stop ends QEMU itself.
	pid=$(vm_var uefi pid)
	status=$("$VM" stop uefi --grace 3 2>/dev/null)
	if [[ $status == "stopped: the guest ignored"* ]] && ! kill -0 "$pid" 2>/dev/null; then
		pass stop-when-ignored
	else
		fail stop-when-ignored "status '$status'"
	fi
fi

if [ $guests -eq 1 ]; then
	# --- aarch64: marker, power-off, overlay size, reuse ------------------
	if "$VM" wait-serial arm "FARM-MARKER $token" --timeout 90 >/dev/null 2>"$TMP/err"; then
		pass aarch64-marker
	else
		fail aarch64-marker "marker not seen"
		sed 's/^/    /' "$TMP/err"
	fi
	status=$("$VM" wait-exit arm --timeout 60)
	check_eq aarch64-poweroff "exited: the guest powered off (or rebooted, -no-reboot)" "$status"
	ran=$(($(stat -c %Y "$FARM_VM_DIR/arm/exit-status" 2>/dev/null || echo 0) - $(vm_var arm started)))
	echo "# aarch64 from vm start to the guest's power-off: $ran s"
	if grep -aq "vda: 16777216 sectors" "$FARM_VM_DIR/arm/serial.log"; then
		pass overlay-disk-size
	else
		fail overlay-disk-size "the guest did not see an 8 GiB vda"
		show_log arm
	fi
	info=$(qemu-img info "$FARM_VM_DIR/arm/disk.qcow2")
	if grep -q "backing file: $img\$" <<<"$info" && grep -q 'virtual size: 8 GiB' <<<"$info"; then
		pass overlay-backing
	else
		fail overlay-backing "$(tr '\n' ' ' <<<"$info")"
	fi
	extra=(--ssh-port none --timeout 90 --reuse-disk)
	arm_boot arm farm.mode=sleep farm.disk=read >/dev/null ||
		fail arm-restart "$(tail -3 "$TMP/start.log")"
	if "$VM" wait-serial arm "vda: holds 'farm-disk-written'" --timeout 90 >/dev/null 2>"$TMP/err" &&
		[ -f "$FARM_VM_DIR/arm/serial.1.log" ]; then
		pass reuse-disk-keeps-writes
	else
		fail reuse-disk-keeps-writes "the second boot did not read the first one's write"
		sed 's/^/    /' "$TMP/err"
	fi
	"$VM" wait-serial arm FARM-SLEEPING --timeout 30 >/dev/null 2>&1
	status=$("$VM" stop arm --grace 30 2>/dev/null)
	if [ "$status" = "stopped: the guest powered down (vm stop)" ] &&
		grep -aq FARM-POWERDOWN "$FARM_VM_DIR/arm/serial.log"; then
		pass stop-powers-down-aarch64
	else
		fail stop-powers-down-aarch64 "status '$status'"
		show_log arm
	fi

	# --- kill-at: the cut falls at the line, not up to a poll later ----------
	# The counter prints a line every 10 ms (every 20 ms or so under TCG).
	# Without its line, kill-at fails and leaves the VM running; killed at a
	# line still to come, the log must end within a few lines of it.
	"$VM" wait-serial counter 'FARM-COUNT 1\b' --timeout 60 >/dev/null 2>&1 ||
		fail counter-boot "FARM-COUNT never showed"
	if ! "$VM" kill-at counter 'FARM-NEVER' --timeout 2 >/dev/null 2>"$TMP/err" &&
		grep -q "not seen" "$TMP/err" && "$VM" status counter >/dev/null; then
		pass kill-at-without-the-line
	else
		fail kill-at-without-the-line "$(head -3 "$TMP/err")"
	fi
	now=$(grep -a -o 'FARM-COUNT [0-9]*' "$FARM_VM_DIR/counter/serial.log" | tail -1 | awk '{print $2}')
	want=$((${now:-0} + 100))
	line=$("$VM" kill-at counter "FARM-COUNT $want\\b" --timeout 60 2>"$TMP/err")
	rc=$?
	last=$(grep -a -o 'FARM-COUNT [0-9]*' "$FARM_VM_DIR/counter/serial.log" | tail -1 | awk '{print $2}')
	if [ $rc -eq 0 ] && [ "$line" = "FARM-COUNT $want" ] && [ "${last:-0}" -ge "$want" ] &&
		[ "$last" -le $((want + 5)) ] && [[ $("$VM" status counter) == killed* ]]; then
		pass kill-at-the-line
		echo "# kill-at 'FARM-COUNT $want': the log ends at FARM-COUNT $last"
	else
		fail kill-at-the-line "rc $rc, line '$line', the log ends at '$last'"
		sed 's/^/    /' "$TMP/err"
	fi

	# --- the hard timeout ---------------------------------------------------
	"$VM" wait-serial sleeper FARM-SLEEPING --timeout 60 >/dev/null 2>&1 ||
		fail sleeper-boot "FARM-SLEEPING not seen"
	pid=$(vm_var sleeper pid)
	status=$("$VM" wait-exit sleeper --timeout 60)
	ran=$(($(stat -c %Y "$FARM_VM_DIR/sleeper/exit-status" 2>/dev/null || echo 0) - $(vm_var sleeper started)))
	if [[ $status == "timed out"* ]] && ! kill -0 "$pid" 2>/dev/null && [ $ran -ge 12 ]; then
		pass timeout-kills
		echo "# the sleeping guest was killed $ran s after its start (--timeout 12)"
	else
		fail timeout-kills "status '$status' after $ran s"
	fi

	# --- two x86_64 VMs on one segment; ssh and port forwarding ------------
	group=239.255.$((RANDOM % 250 + 1)).$((RANDOM % 250 + 1)):$((40000 + RANDOM % 20000))
	declare -A port
	t_net=$SECONDS
	for i in 1 2; do
		j=$((3 - i))
		mode=
		[ $i -eq 2 ] && mode=farm.ssh=nc
		port[$i]=$(start "net$i" --image "$img" --arch x86_64 --mem 512 --timeout 150 \
			--net "socket-mcast:$group" --mac "52:54:00:fa:00:0$i" \
			--kernel "$cache/amd64/vmlinuz" --initrd "$TMP/amd64.cpio" \
			--append "console=ttyS0 panic=-1 farm.name=net$i farm.mode=net $mode farm.disk=write farm.mac=52:54:00:fa:00:0$i farm.ip4=198.51.100.$i/24 farm.ip6=2001:db8:fa::$i/64 farm.peer4=198.51.100.$j farm.peer6=2001:db8:fa::$j") ||
			fail "net$i-start" "$(tail -3 "$TMP/start.log")"
	done
	for fam in 4 6; do
		ok=1
		for i in 1 2; do
			line=$("$VM" wait-serial "net$i" "FARM-PING$fam-(OK|FAIL)" --timeout 120 2>"$TMP/err")
			[[ $line == FARM-PING$fam-OK* ]] || ok=0
		done
		if [ $ok -eq 1 ]; then
			pass "segment-ping-ipv$fam"
		else
			fail "segment-ping-ipv$fam" "the VMs did not reach each other"
			show_log net1
			show_log net2
		fi
	done
	echo "# two x86_64 guests (OVMF + kernel) up and pinging each other: $((SECONDS - t_net)) s"
	ssh_opts=(--key "$TMP/key" --user root)
	if "$VM" wait-ssh net1 "${ssh_opts[@]}" --timeout 60 2>"$TMP/err"; then
		check_eq ssh-command "x86_64 net1" "$("$VM" ssh net1 "${ssh_opts[@]}" -- 'echo $(uname -m) $(hostname)' 2>&1)"
	else
		fail ssh-command "wait-ssh failed"
		sed 's/^/    /' "$TMP/err"
	fi
	banner=$(timeout 20 bash -c 'exec 3<>/dev/tcp/127.0.0.1/$1 && read -r l <&3 && echo "$l"' _ "${port[2]}" 2>&1)
	check_eq hostfwd-banner "FARM-BANNER net2" "${banner//$'\r'/}"
	"$VM" wait-serial net1 'vda: written' --timeout 5 >/dev/null 2>&1 &&
		"$VM" wait-serial net2 'vda: written' --timeout 5 >/dev/null 2>&1 ||
		fail guest-disk-write "a guest did not write its disk"
	check_eq image-untouched "$img_sum" "$(sha256sum <"$img")"
	pid=$(vm_var net1 pid)
	status=$("$VM" stop net1 --grace 30 2>/dev/null)
	if [ "$status" = "stopped: the guest powered down (vm stop)" ] && ! kill -0 "$pid" 2>/dev/null &&
		grep -aq FARM-POWERDOWN "$FARM_VM_DIR/net1/serial.log"; then
		pass stop-powers-down-x86_64
	else
		fail stop-powers-down-x86_64 "status '$status'"
		show_log net1
	fi
	# A power cut: QEMU is gone when kill returns.
	pid=$(vm_var net2 pid)
	"$VM" kill net2 >/dev/null
	status=$("$VM" status net2)
	rc=$?
	if ! kill -0 "$pid" 2>/dev/null && [ $rc -eq 3 ] && [[ $status == killed* ]]; then
		pass kill-stops-qemu
	else
		fail kill-stops-qemu "pid $pid still there or status '$status' (rc $rc)"
	fi
fi

# Nothing of ours may be left running.
for n in "${names[@]}"; do
	"$VM" destroy "$n" >/dev/null 2>&1
done
left=$(pgrep -f -- "$FARM_VM_DIR" || true)
check_eq nothing-left "" "$left"
echo "# harness self-test: $((SECONDS - T0)) s"
