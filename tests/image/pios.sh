# A Raspberry Pi OS Lite base gives a node whose first-boot machinery is
# neutralized by what the image holds: mkrpiimg writes the Pi OS layout of
# the `pios` fixture (sshd disabled, NetworkManager, the user wizard,
# cloud-init, rpi-swap and dphys-swapfile, raspberrypi-sys-mods' first-boot
# units, a plain resolv.conf, no systemd-resolved), and the node built from
# it must hold the masks, links and files below and none of the base's
# enablement links for what is masked. A base without what a node cannot do
# without is refused, naming the package.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools debugfs bsdtar
mktmp
fixture pios "$TMP/pios.tar" || exit 1
if ! "$HELPERS/mkrpiimg" "$TMP/pios.tar" "$TMP/pios.img" 2>"$TMP/mk.err"; then
	fail "mkrpiimg" "$(cat "$TMP/mk.err")"
	exit 1
fi
if ! build sheep "$TMP/pios.img" "$TMP/out"; then
	fail "build sheep from the Pi OS image" "$(head -20 "$TMP/out.log")"
	exit 1
fi
pass "build sheep from the Pi OS image"
check "the build says resolv.conf is farm's" \
	grep -q "the base has no systemd-resolved; /etc/resolv.conf lists the config's DNS servers" "$TMP/out.log"
fs=$TMP/root.ext4
extract "$TMP/out/sheep.img" "$TMP/out/sheep.json" 2 "$fs"

# link PATH: the target of symlink PATH in the node's root ("" if none).
link() { dfs "$fs" "stat $1" | sed -n 's/^Fast link dest: "\(.*\)"/\1/p'; }
# absent PATH: the node's root has no PATH.
absent() { ! dfs "$fs" "stat $1" | grep -q '^Inode:'; }
# regular PATH: PATH is a regular file in the node's root.
regular() { dfs "$fs" "stat $1" | grep -q 'Type: regular'; }

sys=/etc/systemd/system
for u in NetworkManager.service NetworkManager-wait-online.service \
	NetworkManager-dispatcher.service dhcpcd.service userconfig.service \
	regenerate_ssh_host_keys.service sshswitch.service rpi-resize.service \
	resize2fs_once.service dphys-swapfile.service fake-hwclock.service; do
	check_eq "$u masked" /dev/null "$(link $sys/$u)"
done
for g in rpi-swap-generator zram-generator; do
	check_eq "generator $g masked" /dev/null "$(link /etc/systemd/system-generators/$g)"
done
check "cloud-init disabled (/etc/cloud/cloud-init.disabled)" regular /etc/cloud/cloud-init.disabled
check_eq "sshd enabled" /usr/lib/systemd/system/ssh.service "$(link $sys/multi-user.target.wants/ssh.service)"
check_eq "sshd.service alias" /usr/lib/systemd/system/ssh.service "$(link $sys/sshd.service)"
check_eq "getty@tty1 enabled again" /usr/lib/systemd/system/getty@.service \
	"$(link $sys/getty.target.wants/getty@tty1.service)"
for p in $sys/multi-user.target.wants/NetworkManager.service \
	$sys/network-online.target.wants/NetworkManager-wait-online.service \
	$sys/dbus-org.freedesktop.NetworkManager.service \
	$sys/dbus-org.freedesktop.nm-dispatcher.service \
	$sys/multi-user.target.wants/userconfig.service \
	$sys/multi-user.target.wants/regenerate_ssh_host_keys.service \
	$sys/multi-user.target.wants/sshswitch.service \
	$sys/multi-user.target.wants/dphys-swapfile.service \
	/etc/ssh/sshd_config.d/rename_user.conf; do
	check "left out: $p" absent "$p"
done
# No systemd-resolved in the base: farm's resolv.conf, no dangling links.
check_eq "resolv.conf: the config's DNS servers" \
	"nameserver 192.168.14.1 nameserver fd12:3456:789a:14::1 search farm.home.arpa" \
	"$(dfs "$fs" "cat /etc/resolv.conf" | grep -v '^#' | tr '\n' ' ' | sed 's/ $//')"
check "resolv.conf is a file" regular /etc/resolv.conf
for p in $sys/sysinit.target.wants/systemd-resolved.service $sys/dbus-org.freedesktop.resolve1.service; do
	check "no resolved link without resolved: $p" absent "$p"
done
check_eq "manifest: the left-out paths listed" "$(( 11 + 2 ))" \
	"$(manifest_get "$TMP/out/sheep.json" "sum(1 for f in m['files'] if f.get('removed'))")"
rm -f "$fs"

# A Debian base with systemd-resolved: its stub.
fixture full "$TMP/full.tar" || exit 1
if build sheep "$TMP/full.tar" "$TMP/deb"; then
	extract "$TMP/deb/sheep.img" "$TMP/deb/sheep.json" 2 "$fs"
	check_eq "with resolved: resolv.conf is its stub" ../run/systemd/resolve/stub-resolv.conf \
		"$(link /etc/resolv.conf)"
	check_eq "with resolved: resolved enabled" /usr/lib/systemd/system/systemd-resolved.service \
		"$(link $sys/sysinit.target.wants/systemd-resolved.service)"
	rm -f "$fs"
else
	fail "build sheep from the Debian fixture" "$(head -20 "$TMP/deb.log")"
fi

# What a node cannot do without, missing: every piece named, with its
# package; nothing written.
bsdtar -cf "$TMP/lacking.tar" --exclude ./usr/sbin/sshd \
	--exclude ./usr/lib/systemd/systemd-networkd \
	--exclude ./usr/lib/aarch64-linux-gnu/libbtrfsutil.so.1 @"$TMP/pios.tar"
refused "a base without sshd, networkd and libbtrfsutil" "$TMP/lacking.tar" \
	"*farm-image: $TMP/lacking.tar: the base has no /usr/lib/systemd/systemd-networkd, which a node needs (it gives the node its static addresses): add the package systemd (systemd-networkd where Debian ships it apart) to the base
farm-image: $TMP/lacking.tar: the base has no /usr/sbin/sshd, which a node needs (nodes are reached over SSH): add the package openssh-server to the base
farm-image: $TMP/lacking.tar: the base has no /usr/lib/aarch64-linux-gnu/libbtrfsutil.so.1, which a node needs (farm-node is linked against it): add the package libbtrfsutil1t64 (libbtrfsutil1 before Debian 13) to the base"
