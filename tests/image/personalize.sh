# Node personalization (issue: real node images): every file rendered from
# the cluster config into the root, read back with debugfs: content, owner,
# mode; secrets 0600 and equal to the secrets directory's; nothing shared
# between nodes but the token; no SSH host key in any image.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools debugfs mcopy python3 zstd
mktmp
build_nodes "$TMP/out" cow sheep duck || exit 0
sec=$TMP/secrets

# owner_mode FS PATH: "uid gid mode"
owner_mode() {
	dfs "$1" "stat $2" | awk '/User:/ {u=$2; g=$4} /Mode:/ {m=$4} END {print u, g, m}' \
		| sed 's/  */ /g'
}
mode_of() { dfs "$1" "stat $2" | grep -o -m1 'Mode: *[0-7]*' | awk '{print $2}'; }
owner_of() { dfs "$1" "stat $2" | grep -o -m1 'User: *[0-9]* *Group: *[0-9]*' | awk '{print $2 ":" $4}'; }
content() { dfs "$1" "cat $2"; }

fs=$TMP/sheep.ext4
check_eq "hostname" "sheep" "$(content "$fs" /etc/hostname)"
hosts=$(content "$fs" /etc/hosts)
for want in "192.168.14.11 cow.farm.home.arpa cow" "fd12:3456:789a:14::13 duck.farm.home.arpa duck" \
	"192.168.14.11 k3s.farm.home.arpa" "fd12:3456:789a:14::11 k3s.farm.home.arpa"; do
	check_eq "hosts: $want" "$want" "$(tr -s ' ' <<<"$hosts" | grep -x -- "$want")"
done
net=$(content "$fs" /etc/systemd/network/10-farm-lan.network)
for want in "Name=en* eth*" "Address=192.168.14.12/26" "Gateway=192.168.14.1" "Address=fd12:3456:789a:14::12/64" \
	"Gateway=fd12:3456:789a:14::1" "DNS=192.168.14.1 fd12:3456:789a:14::1" "IPv6AcceptRA=no"; do
	check_eq "networkd: $want" "$want" "$(grep -Fx -- "$want" <<<"$net")"
done
check_eq "networkd enabled" "/usr/lib/systemd/system/systemd-networkd.service" \
	"$(dfs "$fs" "stat /etc/systemd/system/multi-user.target.wants/systemd-networkd.service" | sed -n 's/^Fast link dest: "\(.*\)"/\1/p')"
check_eq "resolved enabled" "/usr/lib/systemd/system/systemd-resolved.service" \
	"$(dfs "$fs" "stat /etc/systemd/system/sysinit.target.wants/systemd-resolved.service" | sed -n 's/^Fast link dest: "\(.*\)"/\1/p')"
sysctl=$(content "$fs" /etc/sysctl.d/90-farm.conf)
for want in "net.ipv4.ip_forward = 1" "net.ipv6.conf.all.forwarding = 1" "vm.panic_on_oom = 0" \
	"vm.overcommit_memory = 1" "kernel.panic = 10" "kernel.panic_on_oops = 1"; do
	check_eq "sysctl: $want" "$want" "$(grep -x -- "$want" <<<"$sysctl")"
done
check_eq "modules" "rbd br_netfilter overlay" "$(content "$fs" /etc/modules-load.d/farm.conf | grep -v '^#' | tr '\n' ' ' | sed 's/ $//')"

# fstab: / read-only, the data subvolumes, /tmp on tmpfs.
data_uuid=$(manifest_get "$TMP/out/sheep.json" "m['partitions'][2]['uuid']")
root_uuid=$(manifest_get "$TMP/out/sheep.json" "m['partitions'][1]['uuid']")
fstab=$(content "$fs" /etc/fstab | grep -v '^#')
check_eq "fstab: / ro" "PARTUUID=$root_uuid / ext4 ro,noatime 0 1" "$(awk '$2=="/"' <<<"$fstab" | tr -s '\t' ' ')"
for mnt in /var:@var /var/lib/rancher:@rancher /home:@home /.snapshots:@snapshots; do
	check_eq "fstab: ${mnt%%:*}" "PARTUUID=$data_uuid btrfs subvol=${mnt#*:}" \
		"$(awk -v m="${mnt%%:*}" '$2==m {split($4, o, ","); print $1, $3, o[1]}' <<<"$fstab")"
done
check_eq "fstab: /tmp" "tmpfs tmpfs" "$(awk '$2=="/tmp" {print $1, $3}' <<<"$fstab")"
check_eq "mount points exist" "40755 40700" \
	"$(dfs "$fs" "stat /var/lib/rancher" | grep -o -m1 'Mode: *[0-7]*' | awk '{print "4" $2}') $(dfs "$fs" "stat /.snapshots" | grep -o -m1 'Mode: *[0-7]*' | awk '{print "4" $2}')"

# SSH: the drop-in, the admin user, keys only; no host key from the base.
check_eq "sshd drop-in 0600 root" "0:0 0600" "$(owner_of "$fs" /etc/ssh/sshd_config.d/00-farm.conf) $(mode_of "$fs" /etc/ssh/sshd_config.d/00-farm.conf)"
drop=$(content "$fs" /etc/ssh/sshd_config.d/00-farm.conf)
for want in "AuthenticationMethods publickey" "PasswordAuthentication no" "PermitRootLogin no" \
	"AllowUsers k3s" "MaxAuthTries 4" "LoginGraceTime 60" "MaxStartups 10:30:60" "DisableForwarding yes" \
	"RequiredRSASize 3072" "KexAlgorithms mlkem768x25519-sha256,sntrup761x25519-sha512,sntrup761x25519-sha512@openssh.com,curve25519-sha256,curve25519-sha256@libssh.org,diffie-hellman-group16-sha512,diffie-hellman-group18-sha512,diffie-hellman-group-exchange-sha256"; do
	check_eq "sshd: $want" "$want" "$(grep -x -- "$want" <<<"$drop")"
done
check_eq "no host keys in /etc/ssh" "" "$(dfs "$fs" "ls /etc/ssh" | tr -s ' ' '\n' | grep ssh_host_)"
check_eq "authorized keys" "$(sed -n '/authorized-keys:/{n;s/^ *- //p}' "$TOP/configs/cluster.yaml")" \
	"$(content "$fs" /etc/ssh/authorized_keys/k3s)"
check_eq "admin in passwd" "k3s:x:1001:1001:farm cluster admin:/home/k3s:/bin/bash" "$(content "$fs" /etc/passwd | grep '^k3s:')"
check_eq "admin in group, adm, systemd-journal" "adm:x:4:k3s k3s:x:1001: systemd-journal:x:999:k3s" \
	"$(content "$fs" /etc/group | grep -E '^(adm|k3s|systemd-journal):' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "admin has no password" "k3s:*" "$(content "$fs" /etc/shadow | grep '^k3s:' | cut -d: -f1,2)"
check_eq "shadow mode and group" "0:42 0640" "$(owner_of "$fs" /etc/shadow) $(mode_of "$fs" /etc/shadow)"
check_eq "sudoers" "0:0 0440 k3s ALL=(ALL:ALL) NOPASSWD: ALL" \
	"$(owner_of "$fs" /etc/sudoers.d/farm) $(mode_of "$fs" /etc/sudoers.d/farm) $(content "$fs" /etc/sudoers.d/farm | grep -v '^#')"
check_eq "moduli below 3072 bits dropped" "3071 4095" "$(content "$fs" /etc/ssh/moduli | grep -v '^#' | awk '{print $5}' | tr '\n' ' ' | sed 's/ $//')"

# Identity: a machine-id per node, stable across builds, never the base's.
m_sheep=$(content "$fs" /etc/machine-id)
m_cow=$(content "$TMP/cow.ext4" /etc/machine-id)
check "machine-id is 32 hex" grep -qxE '[0-9a-f]{32}' <<<"$m_sheep"
check "machine-id differs between nodes" test "$m_sheep" != "$m_cow"
check "machine-id is not the base's" test "$m_sheep" != "00000000000000000000000000000001"

# k3s: binary and tools, air-gap images, config, token and node password.
check "k3s binary" cmp <(content "$fs" /usr/local/bin/k3s) "$TMP/artifacts/k3s-arm64"
check_eq "k3s 0755" "0755" "$(mode_of "$fs" /usr/local/bin/k3s)"
check_eq "duck gets the amd64 k3s" "$(cat "$TMP/artifacts/k3s")" "$(content "$TMP/duck.ext4" /usr/local/bin/k3s)"
for t in kubectl crictl ctr; do
	check_eq "$t -> k3s" 'Fast link dest: "k3s"' "$(dfs "$fs" "stat /usr/local/bin/$t" | grep -o 'Fast link dest: ".*"')"
done
check "air-gap images" cmp <(content "$fs" /usr/lib/farm/k3s/images/k3s-airgap-images-arm64.tar.zst) \
	"$TMP/artifacts/k3s-airgap-images-arm64.tar.zst"
k3s=$(content "$fs" /etc/rancher/k3s/config.yaml)
for want in 'node-ip:' '- "192.168.14.12"' '- "fd12:3456:789a:14::12"' 'token-file: "/etc/rancher/k3s/token"' \
	'server: "https://k3s.farm.home.arpa:6443"' "protect-kernel-defaults: true" \
	'- "node-ip=192.168.14.12,fd12:3456:789a:14::12"'; do
	check_eq "agent config: $want" "$want" "$(grep -x -- "$want" <<<"$k3s")"
done
check_eq "no image GC kubelet-arg (not kubelet flags)" "" "$(grep -- 'image-' <<<"$k3s")"
check_eq "agent config has no server settings" "" "$(grep -E '^(cluster-cidr|secrets-encryption|tls-san)' <<<"$k3s")"
k3s=$(content "$TMP/cow.ext4" /etc/rancher/k3s/config.yaml)
for want in 'cluster-cidr:' '- "10.42.0.0/16"' '- "fd22:2025:6a6a:42::/104"' 'service-cidr:' '- "10.43.0.0/16"' \
	'- "fd22:2025:6a6a:43::/112"' 'flannel-backend: "none"' "disable-network-policy: true" "disable-kube-proxy: true" \
	"disable-cloud-controller: true" "secrets-encryption: true" '- "node-cidr-mask-size-ipv6=120"' '- "k3s.farm.home.arpa"' \
	'- "traefik"' 'write-kubeconfig: "/var/lib/rancher/k3s/server/cred/farm-admin.kubeconfig"' \
	'agent-token-file: "/etc/rancher/k3s/agent-token"'; do
	check_eq "server config: $want" "$want" "$(grep -x -- "$want" <<<"$k3s")"
done
check_eq "duck's labels and taints" '- "farm/ai=true" | farm/ai=true:NoSchedule' \
	"$(content "$TMP/duck.ext4" /etc/rancher/k3s/config.yaml | grep -A1 -E '^node-label:' | tail -1) | $(content "$TMP/duck.ext4" /etc/rancher/k3s/config.yaml | grep -A1 '^node-taint:' | tail -1 | sed 's/^- "\(.*\)"/\1/')"
for node in cow sheep duck; do
	f=$TMP/$node.ext4
	[ $node = cow ] && want=$sec/token || want=$sec/agent-token
	check_eq "$node: token 0600, the cluster's ${want##*/}" "0:0 0600 $(cat "$want")" \
		"$(owner_of "$f" /etc/rancher/k3s/token) $(mode_of "$f" /etc/rancher/k3s/token) $(content "$f" /etc/rancher/k3s/token)"
	check_eq "$node: its own node password, 0600" "0600 $(cat "$sec/nodes/$node.password")" \
		"$(mode_of "$f" /etc/rancher/node/password) $(content "$f" /etc/rancher/node/password)"
	check_eq "$node: config 0600" "0600" "$(mode_of "$f" /etc/rancher/k3s/config.yaml)"
done
check "node passwords differ" test "$(content "$TMP/cow.ext4" /etc/rancher/node/password)" != \
	"$(content "$TMP/sheep.ext4" /etc/rancher/node/password)"

# The server alone carries the cluster CA (for its first boot) and the charts.
for f in server-ca.crt server-ca.key client-ca.key request-header-ca.key etcd/peer-ca.key etcd/server-ca.key service.key; do
	check_eq "cow: CA file $f, 0600, as in the secrets" "0600 same" \
		"$(mode_of "$TMP/cow.ext4" /usr/lib/farm/k3s/tls/$f) $(cmp -s <(content "$TMP/cow.ext4" /usr/lib/farm/k3s/tls/$f) "$sec/k3s/tls/$f" && echo same)"
done
check_eq "agents carry no CA" "" "$(dfs "$fs" "ls /usr/lib/farm/k3s" | tr -s ' ' '\n' | grep -x tls)"
check_eq "server carries the stack, rendered in install order" "01-cilium.yaml 02-coredns.yaml 03-cert-manager.yaml 04-trust-manager.yaml 05-traefik.yaml 06-argocd.yaml plan.yaml" \
	"$(dfs "$TMP/cow.ext4" "ls /usr/lib/farm/stack" | tr -s ' ' '\n' | grep yaml | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "agents carry no stack" "" "$(dfs "$fs" "ls /usr/lib/farm" | tr -s ' ' '\n' | grep -x stack)"
check_eq "server unit enabled" 'Fast link dest: "/etc/systemd/system/k3s.service"' \
	"$(dfs "$TMP/cow.ext4" "stat /etc/systemd/system/multi-user.target.wants/k3s.service" | grep -o 'Fast link dest: ".*"')"
check_eq "agent unit enabled" 'Fast link dest: "/etc/systemd/system/k3s-agent.service"' \
	"$(dfs "$fs" "stat /etc/systemd/system/multi-user.target.wants/k3s-agent.service" | grep -o 'Fast link dest: ".*"')"
check_eq "kubelet graceful shutdown staged" "shutdownGracePeriod: 120s shutdownGracePeriodCriticalPods: 30s" \
	"$(content "$fs" /usr/lib/farm/k3s/kubelet.conf.d/50-farm-graceful-shutdown.conf | grep shutdownGrace | tr '\n' ' ' | sed 's/ $//')"
check_eq "logind drop-in sorts last" "InhibitDelayMaxSec=150" "$(content "$fs" /etc/systemd/logind.conf.d/zz-farm.conf | grep Inhibit)"
check "aliases" grep -q "alias kpods=" <<<"$(content "$fs" /etc/profile.d/farm-aliases.sh)"

# farm-node's units, enabled: storage before local filesystems (on the data
# partition's device), first boot, and the power cycle's startup and daily
# shutdown timer (tests/image/power.sh checks what they run and when).
unit_dev="dev-disk-by\\x2dpartuuid-${data_uuid//-/\\x2d}.device"
check_eq "storage unit waits for the data partition" "Requires=$unit_dev" \
	"$(content "$fs" /etc/systemd/system/farm-storage.service | grep '^Requires=')"
for link in local-fs-pre.target.wants/farm-storage.service multi-user.target.wants/farm-firstboot.service \
	multi-user.target.wants/farm-startup.service timers.target.wants/farm-shutdown.timer; do
	check_eq "enabled: $link" "Fast link dest: \"/etc/systemd/system/${link#*/}\"" \
		"$(dfs "$fs" "stat /etc/systemd/system/$link" | grep -o 'Fast link dest: ".*"')"
done

# No SSH host key anywhere in any image (SECURITY.md), whatever its name.
for node in cow sheep duck; do
	check_eq "$node: no private key material" "0" \
		"$(grep -a -c -E 'OPENSSH PRIVATE KEY|not a real key' "$TMP/out/$node.img")"
done

# sshd accepts the drop-in: the host's sshd checks an image built for its own
# OpenSSH version (the lists depend on it).
if have sshd && [ -x /usr/sbin/sshd ]; then
	ver=$(dpkg-query -W -f='${Version}' openssh-server 2>/dev/null)
	mkdir -p "$TMP/host"
	bsdtar -xf "$TMP/full-amd64.tar" -C "$TMP/host" ./var/lib/dpkg/status 2>/dev/null
	sed -i "s/^Version: 1:10.0p1-7$/Version: $ver/" "$TMP/host/var/lib/dpkg/status"
	bsdtar -cf "$TMP/hostver.tar" --exclude ./var/lib/dpkg/status @"$TMP/full-amd64.tar"
	bsdtar -rf "$TMP/hostver.tar" -C "$TMP/host" ./var/lib/dpkg/status
	build duck "$TMP/hostver.tar" "$TMP/outh" >/dev/null 2>&1
	extract "$TMP/outh/duck.img" "$TMP/outh/duck.json" 2 "$TMP/h.ext4"
	content "$TMP/h.ext4" /etc/ssh/sshd_config.d/00-farm.conf |
		sed 's|/var/lib/farm/ssh/|'"$TMP"'/hostkeys/|' >"$TMP/sshd.conf"
	mkdir -p "$TMP/hostkeys"
	ssh-keygen -q -t ed25519 -N '' -f "$TMP/hostkeys/ssh_host_ed25519_key"
	ssh-keygen -q -t rsa -b 3072 -N '' -f "$TMP/hostkeys/ssh_host_rsa_key"
	# sshd -t wants its privilege separation directory, as the service has.
	[ -d /run/sshd ] || mkdir -p -m 0755 /run/sshd 2>/dev/null
	if [ -d /run/sshd ]; then
		check "sshd -t accepts the drop-in (host OpenSSH $ver)" /usr/sbin/sshd -t -f "$TMP/sshd.conf"
	else
		skip "sshd -t accepts the drop-in" "/run/sshd is missing and cannot be created (not root)"
	fi
else
	skip "sshd -t accepts the drop-in" "no sshd on this machine (Debian package openssh-server)"
fi

# The manifest names what was baked in: artifacts with their pinned hashes,
# every added file with its origin; secrets without a hash.
json=$TMP/out/cow.json
check_eq "manifest: k3s artifact and its hash" "k3s arm64 $(sha256sum <"$TMP/artifacts/k3s-arm64" | cut -d' ' -f1)" \
	"$(manifest_get "$json" "[' '.join([a['name'], a['arch'], a['sha256']]) for a in m['inputs']['artifacts'] if a['name'] == 'k3s'][0]")"
check_eq "manifest: secrets flagged, not hashed" "True False" \
	"$(manifest_get "$json" "[f for f in m['files'] if f['path'] == '/etc/rancher/k3s/token'][0].get('secret'), 'sha256' in [f for f in m['files'] if f['path'] == '/etc/rancher/k3s/token'][0]" | tr -d '(),')"
check_eq "manifest: a rendered file's hash" "$(content "$TMP/cow.ext4" /etc/hosts | sha256sum | cut -d' ' -f1)" \
	"$(manifest_get "$json" "[f['sha256'] for f in m['files'] if f['path'] == '/etc/hosts'][0]")"

# interface: the LAN file matches the NIC a node names, by MAC (written in
# lower case) or by name pattern.
mkdir -p "$TMP/iface"
ln -s "$TOP/configs/boards" "$TMP/iface/boards"
ln -s "$TOP/configs/stack" "$TMP/iface/stack"
awk '{print} /^  - name: duck$/ {print "    interface: 58:47:CA:00:00:13"}
	/^  - name: sheep$/ {print "    interface: enp1s0 end0"}' "$TOP/configs/cluster.yaml" >"$TMP/iface/cluster.yaml"
for want in "duck MACAddress=58:47:ca:00:00:13" "sheep Name=enp1s0 end0"; do
	node=${want%% *}
	base=$TMP/full.tar
	[ "$node" = duck ] && base=$TMP/full-amd64.tar
	# shellcheck disable=SC2046
	if "$FARM_IMAGE" build --node "$node" --config "$TMP/iface/cluster.yaml" --secrets "$sec" \
		$(artifacts) --overlays "$TOP/overlays" --base "$base" --out "$TMP/iface/out" >"$TMP/iface/out.log" 2>&1; then
		extract "$TMP/iface/out/$node.img" "$TMP/iface/out/$node.json" 2 "$TMP/iface/$node.ext4"
		check_eq "$node: interface: -> ${want#* }" "${want#* }" \
			"$(content "$TMP/iface/$node.ext4" /etc/systemd/network/10-farm-lan.network | grep -E '^(Name|MACAddress)=')"
	else
		fail "$node: build with interface:" "$(tail -3 "$TMP/iface/out.log")"
	fi
done
