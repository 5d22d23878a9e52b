# Sourced by qemu/vm: the firmware files and the accelerator choice (KVM
# only when it really works; see README.md, "The accelerator"). Uses die()
# from qemu/vm.

# ovmf_files: sets $ovmf_code and $ovmf_vars (UEFI without Secure Boot).
ovmf_files() {
	local c v pair
	ovmf_code=${FARM_OVMF_CODE:-} ovmf_vars=${FARM_OVMF_VARS:-}
	if [ -n "$ovmf_code" ] && [ -n "$ovmf_vars" ]; then
		return 0
	fi
	for pair in /usr/share/OVMF/OVMF_CODE_4M.fd:/usr/share/OVMF/OVMF_VARS_4M.fd \
		/usr/share/OVMF/OVMF_CODE.fd:/usr/share/OVMF/OVMF_VARS.fd \
		/usr/share/edk2/ovmf/OVMF_CODE.fd:/usr/share/edk2/ovmf/OVMF_VARS.fd \
		/usr/share/edk2/x64/OVMF_CODE.4m.fd:/usr/share/edk2/x64/OVMF_VARS.4m.fd; do
		c=${pair%%:*} v=${pair#*:}
		if [ -r "$c" ] && [ -r "$v" ]; then
			ovmf_code=$c ovmf_vars=$v
			return 0
		fi
	done
	return 1
}

qemu_bin() {
	case $1 in
	x86_64) echo qemu-system-x86_64 ;;
	aarch64) echo qemu-system-aarch64 ;;
	esac
}

# kvm_probe ARCH: boots the firmware under KVM for a few seconds; 0 when it
# ran (firmware output on the serial port), 1 with $why otherwise.
kvm_probe() {
	local arch=$1 t rc=1 i qemu pid
	qemu=$(qemu_bin "$arch")
	t=$(mktemp -d "${TMPDIR:-/tmp}/farm-kvm-probe.XXXXXX")
	local args=(-accel kvm -cpu host -m 128 -nodefaults -display none -no-reboot
		-pidfile "$t/pid"
		-chardev "file,id=s0,path=$t/serial" -serial chardev:s0)
	case $arch in
	x86_64)
		if ! ovmf_files; then
			why="no OVMF to probe with"
			rm -rf "$t"
			return 1
		fi
		cp "$ovmf_vars" "$t/vars"
		args+=(-machine q35
			-drive "if=pflash,format=raw,readonly=on,file=$ovmf_code"
			-drive "if=pflash,format=raw,file=$t/vars")
		;;
	aarch64)
		args+=(-machine virt)
		for f in /usr/share/AAVMF/AAVMF_CODE.fd /usr/share/qemu-efi-aarch64/QEMU_EFI.fd; do
			[ -r "$f" ] && args+=(-bios "$f") && break
		done
		;;
	esac
	(timeout -k 2 20 "$qemu" "${args[@]}" >"$t/out" 2>&1 </dev/null; true) 2>/dev/null &
	pid=$!
	why="no firmware output within 15 s"
	for ((i = 0; i < 75; i++)); do
		if grep -qiE 'internal error|emulation failure|failed to initialize|could not access KVM|unsupported' "$t/out" 2>/dev/null; then
			why="KVM fails: $(grep -iE -m1 'internal error|emulation failure|failed to initialize|could not access KVM|unsupported' "$t/out" | tr -d '\r')"
			grep -qi 'emulation failure' "$t/out" && why="KVM fails: emulation failure (nested KVM)"
			break
		fi
		if grep -aqE 'BdsDxe|UEFI|EDK II|Shell>' "$t/serial" 2>/dev/null; then
			rc=0 why="KVM booted the firmware"
			break
		fi
		if ! kill -0 "$pid" 2>/dev/null; then
			why="KVM fails: QEMU ended: $(grep -v warning "$t/out" | tail -1)"
			break
		fi
		# Without firmware to print, staying up without an error is all
		# there is to see.
		if [ "$arch" = aarch64 ] && [ $i -ge 15 ] && ! grep -q . "$t/out"; then
			rc=0 why="KVM ran 3 s without error"
			break
		fi
		sleep 0.2
	done
	if [ -s "$t/pid" ]; then
		kill -KILL "$(cat "$t/pid")" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
	rm -rf "$t"
	return $rc
}

# choose_accel ARCH: sets $accel (kvm or tcg) and $accel_why.
choose_accel() {
	local arch=$1 host cache boot ver line
	host=$(uname -m)
	case ${FARM_QEMU_ACCEL:-} in
	kvm | tcg)
		accel=$FARM_QEMU_ACCEL accel_why="FARM_QEMU_ACCEL=$FARM_QEMU_ACCEL"
		return 0
		;;
	"") ;;
	*) die "FARM_QEMU_ACCEL must be kvm or tcg, not '$FARM_QEMU_ACCEL'" ;;
	esac
	accel=tcg
	if [ "$arch" != "$host" ]; then
		accel_why="$arch guest on a $host host"
		return 0
	fi
	if ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
		accel_why="no usable /dev/kvm"
		return 0
	fi
	# One probe per boot of the machine and QEMU version.
	if [ -n "${XDG_RUNTIME_DIR:-}" ] && [ -w "$XDG_RUNTIME_DIR" ]; then
		cache=$XDG_RUNTIME_DIR/farm-qemu-kvm-$arch
	else
		cache=/tmp/farm-qemu-kvm-$(id -u)-$arch
	fi
	boot=$(cat /proc/sys/kernel/random/boot_id 2>/dev/null || echo unknown)
	ver=$("$(qemu_bin "$arch")" --version | head -1 | tr -c 'A-Za-z0-9.\n' _)
	exec 9>>"$cache.lock"
	flock -w 60 9 || true
	line=$(cat "$cache" 2>/dev/null || true)
	if [[ $line == "$boot $ver "* ]]; then
		line=${line#"$boot $ver "}
		accel=${line%% *} accel_why="${line#* } (cached in $cache)"
	else
		local why
		if kvm_probe "$arch"; then accel=kvm; else accel=tcg; fi
		accel_why=$why
		echo "$boot $ver $accel $why" >"$cache.tmp" && mv "$cache.tmp" "$cache"
		accel_why="$why (probed now, cached in $cache)"
	fi
	exec 9>&-
}
