# The x86 node built from a real Debian base (farm-image rootfs --board x86,
# cached): a clean root with systemd, a real systemd-boot and kernel in the
# ESP, and the base's own sshd accepting the drop-in (sshd -t, and sshd -T
# showing the hardened values), run in a chroot of the image's root.
# Runs when the base is cached, or when FARM_TEST_ROOTFS=1 allows building
# it (about two minutes, Debian's archive needed); skipped otherwise.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools debugfs mcopy python3
mktmp
cfg=$TOP/configs/cluster.yaml
if ! base=$("$FARM_IMAGE" rootfs --board x86 --config "$cfg" --print-path 2>/dev/null); then
	if [ "${FARM_TEST_ROOTFS:-}" != 1 ]; then
		skip "real x86 base" "no cached x86 base: run 'farm-image rootfs --board x86' or set FARM_TEST_ROOTFS=1"
		exit 0
	fi
	"$FARM_IMAGE" rootfs --board x86 --config "$cfg" >"$TMP/rootfs.log" 2>&1 ||
		{ fail "build the x86 base" "$(tail -5 "$TMP/rootfs.log")"; exit 0; }
	base=$("$FARM_IMAGE" rootfs --board x86 --config "$cfg" --print-path)
fi

check "build duck from the real base" build duck "$base" "$TMP/out"
[ -f "$TMP/out/duck.img" ] || { sed 's/^/    /' "$TMP/out.log"; exit 0; }
json=$TMP/out/duck.json
extract "$TMP/out/duck.img" "$json" 1 "$TMP/esp.vfat"
extract "$TMP/out/duck.img" "$json" 2 "$TMP/root.ext4"
check "e2fsck clean" e2fsck -fn "$TMP/root.ext4"
check_eq "systemd-boot is a PE image" "MZ" "$(mcopy -n -i "$TMP/esp.vfat" ::EFI/BOOT/BOOTX64.EFI - | head -c 2)"
entry=$(mcopy -n -i "$TMP/esp.vfat" ::loader/entries/farm.conf -)
kernel=$(awk '$1=="linux" {print $2}' <<<"$entry")
initrd=$(awk '$1=="initrd" {print $2}' <<<"$entry")
check "the entry's kernel is in the ESP" mcopy -n -i "$TMP/esp.vfat" "::$kernel" /dev/null
check "the entry's initrd is in the ESP" mcopy -n -i "$TMP/esp.vfat" "::$initrd" /dev/null
check "the kernel matches the root's /boot" cmp <(mcopy -n -i "$TMP/esp.vfat" "::$kernel" -) \
	<(dfs "$TMP/root.ext4" "cat /boot$kernel")
check_eq "systemd in the root" "regular" "$(dfs "$TMP/root.ext4" "stat /usr/lib/systemd/systemd" | grep -o -m1 'Type: [a-z]*' | cut -d' ' -f2)"
check_eq "/efi exists" "directory" "$(dfs "$TMP/root.ext4" "stat /efi" | grep -o -m1 'Type: [a-z]*' | cut -d' ' -f2)"
check_eq "no host keys" "" "$(dfs "$TMP/root.ext4" "ls /etc/ssh" | tr -s ' ' '\n' | grep ssh_host_)"

if [ "$(id -u)" -ne 0 ]; then
	skip "sshd -t in the image's root" "needs root for chroot"
	exit 0
fi
mkdir "$TMP/root"
dfs "$TMP/root.ext4" "rdump / $TMP/root" >/dev/null
mkdir -p "$TMP/root/var/lib/farm/ssh" "$TMP/root/run/sshd" "$TMP/root/dev"
: >"$TMP/root/dev/null"
chroot "$TMP/root" /usr/bin/ssh-keygen -q -t ed25519 -N '' -f /var/lib/farm/ssh/ssh_host_ed25519_key
chroot "$TMP/root" /usr/bin/ssh-keygen -q -t rsa -b 3072 -N '' -f /var/lib/farm/ssh/ssh_host_rsa_key
version=$(chroot "$TMP/root" /usr/sbin/sshd -V 2>&1 | head -1)
check "sshd -t accepts the drop-in ($version)" chroot "$TMP/root" /usr/sbin/sshd -t
effective=$(chroot "$TMP/root" /usr/sbin/sshd -T 2>/dev/null)
for want in "passwordauthentication no" "kbdinteractiveauthentication no" "permitrootlogin no" \
	"authenticationmethods publickey" "allowusers k3s" "maxauthtries 4" "logingracetime 60" \
	"maxstartups 10:30:60" "clientaliveinterval 15" "disableforwarding yes" "x11forwarding no" \
	"allowtcpforwarding no" "permittunnel no" "loglevel VERBOSE" "requiredrsasize 3072" \
	"authorizedkeysfile /etc/ssh/authorized_keys/%u"; do
	check_eq "sshd -T: $want" "$want" "$(grep -x -- "$want" <<<"$effective")"
done
check_eq "sshd -T: key exchange leads with ML-KEM" "kexalgorithms mlkem768x25519-sha256" \
	"$(grep '^kexalgorithms' <<<"$effective" | cut -d, -f1)"

# The aarch64 image's sshd: the same check through qemu-user, when a pi5
# base has been built (it needs the Raspberry Pi archive) and qemu-user is
# installed.
if ! pi_base=$("$FARM_IMAGE" rootfs --board pi5 --config "$cfg" --print-path 2>/dev/null); then
	skip "sshd -t in the aarch64 image's root" "no cached pi5 base: 'farm-image rootfs --board pi5' needs the Raspberry Pi archive"
elif ! have qemu-aarch64-static && ! [ -e /proc/sys/fs/binfmt_misc/qemu-aarch64 ]; then
	skip "sshd -t in the aarch64 image's root" "qemu-user is not installed (qemu-user-static, binfmt-support)"
else
	build sheep "$pi_base" "$TMP/outpi" >/dev/null 2>&1
	extract "$TMP/outpi/sheep.img" "$TMP/outpi/sheep.json" 2 "$TMP/pi.ext4"
	mkdir "$TMP/piroot"
	dfs "$TMP/pi.ext4" "rdump / $TMP/piroot" >/dev/null
	mkdir -p "$TMP/piroot/var/lib/farm/ssh" "$TMP/piroot/run/sshd"
	chroot "$TMP/piroot" /usr/bin/ssh-keygen -q -t ed25519 -N '' -f /var/lib/farm/ssh/ssh_host_ed25519_key
	chroot "$TMP/piroot" /usr/bin/ssh-keygen -q -t rsa -b 3072 -N '' -f /var/lib/farm/ssh/ssh_host_rsa_key
	check "sshd -t accepts the drop-in (aarch64, qemu-user)" chroot "$TMP/piroot" /usr/sbin/sshd -t
fi
