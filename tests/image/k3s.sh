# What a real k3s (v1.33) needs of each image (issue 8), checked against
# upstream data rather than against what a stand-in accepts: every key of
# each node's config.yaml is a flag of `k3s server` or `k3s agent` with a
# value of its type (../shared/schemas/k3s, from k3s's source); every
# kubelet-arg a verified kubelet flag and every kubelet drop-in key a
# KubeletConfiguration field (tests/data); the agents carry the agent token
# only; the k3s units refuse to start, as systemd evaluates them, until
# farm-node has put the CA files and the node's prerequisites in place;
# the CNI directories Cilium writes are data subvolumes.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools debugfs python3 systemd-analyze ssh-keygen
SCHEMAS=$SHARED/schemas/k3s
if [ ! -f "$SCHEMAS/k3s-v1.33-server-flags.tsv" ]; then
	skip "$(basename "$0")" "no k3s flag lists in $SCHEMAS (../shared/schemas beside the project)"
	exit 0
fi
if ! python3 -c 'import yaml' 2>/dev/null; then
	skip "$(basename "$0")" "python3-yaml is not installed (scripts/install-deps)"
	exit 0
fi
CHECK=$TOP/tests/image/k3s-check.py
FARM_NODE="$TOP/$FARM_BUILD/farm-node"
mktmp
build_nodes "$TMP/out" cow sheep duck || exit 0
for node in cow sheep duck; do
	mkdir "$TMP/$node"
	dfs "$TMP/$node.ext4" "rdump / $TMP/$node" >/dev/null
done
sec=$TMP/secrets
role() { [ "$1" = cow ] && echo server || echo agent; }

# config.yaml: flags of the right command, values of the flag's type.
for node in cow sheep duck; do
	r=$(role $node)
	python3 "$CHECK" config "$node" "$r" "$TMP/$node/etc/rancher/k3s/config.yaml" \
		"$SCHEMAS/k3s-v1.33-$r-flags.tsv" "$TOP/tests/data/kubelet-args.tsv"
done
# The checker itself fails on what the issue found: an image GC kubelet-arg,
# a key that `k3s agent` does not know, a bool given as a string.
printf 'kubelet-arg:\n- "image-maximum-gc-age=72h"\nagent-token-file: "/x"\nprotect-kernel-defaults: "yes"\n' >"$TMP/bad.yaml"
out=$(python3 "$CHECK" config bad agent "$TMP/bad.yaml" "$SCHEMAS/k3s-v1.33-agent-flags.tsv" \
	"$TOP/tests/data/kubelet-args.tsv")
for want in "key 'agent-token-file': not a flag of \`k3s agent\`" "key 'protect-kernel-defaults': 'yes' does not fit" \
	"kubelet-arg 'image-maximum-gc-age=72h': not a kubelet flag"; do
	check "the check refuses: $want" grep -qF "$want" <<<"$out"
done

# Dual stack: every kubelet gets both families (k3s does not pass them
# itself with its cloud controller off), the same as node-ip.
for node in cow sheep duck; do
	check_eq "$node: kubelet node-ip has both families, as node-ip" "True" "$(python3 -c '
import sys, yaml
c = yaml.safe_load(open(sys.argv[1]))
args = [a.split("=", 1)[1] for a in c["kubelet-arg"] if a.startswith("node-ip=")]
print(args == [",".join(c["node-ip"])] and len(c["node-ip"]) == 2 and ":" in c["node-ip"][1])' \
		"$TMP/$node/etc/rancher/k3s/config.yaml")"
done

# The kubelet drop-ins: valid YAML, KubeletConfiguration fields only; image
# GC and graceful shutdown set, with values the kubelet accepts.
for f in "$TMP"/sheep/usr/lib/farm/k3s/kubelet.conf.d/*.conf; do
	python3 "$CHECK" dropin "drop-in ${f##*/}" "$f" "$TOP/tests/data/kubelet-config-v1beta1-fields.txt"
done
check_eq "drop-ins: image GC 85/80 %, unused images kept 72h; shutdown grace 120s/30s" \
	"85 80 72h 120s 30s" "$(python3 -c '
import glob, sys, yaml
c = {}
for f in sorted(glob.glob(sys.argv[1] + "/*.conf")):
    c.update(yaml.safe_load(open(f)))
print(c["imageGCHighThresholdPercent"], c["imageGCLowThresholdPercent"], c["imageMaximumGCAge"],
      c["shutdownGracePeriod"], c["shutdownGracePeriodCriticalPods"])' "$TMP/sheep/usr/lib/farm/k3s/kubelet.conf.d")"

# Tokens: the server has the server token and the agent token; agents the
# agent token only, which k3s authenticates as the "node" user (it cannot
# join a server); all carry the server CA's hash.
ca_hash=$(sha256sum <"$sec/k3s/tls/server-ca.crt" | cut -d' ' -f1)
server_token=$(cat "$sec/token")
agent_token=$(cat "$sec/agent-token")
check "the agent token is not the server token" test "$server_token" != "$agent_token"
check_eq "secrets: the server token is K10<CA hash>::server:..." "K10$ca_hash::server:" "${server_token%:*}:"
check_eq "secrets: the agent token is K10<CA hash>::node:..." "K10$ca_hash::node:" "${agent_token%:*}:"
check_eq "cow: token is the server token" "$server_token" "$(cat "$TMP/cow/etc/rancher/k3s/token")"
check_eq "cow: agent-token is the agent token" "$agent_token" "$(cat "$TMP/cow/etc/rancher/k3s/agent-token")"
check "cow: the server token is on the server's disk (so the search below can find it)" \
	grep -a -q -F "${server_token##*:}" "$TMP/out/cow.img"
for node in sheep duck; do
	check_eq "$node: token is the agent token" "$agent_token" "$(cat "$TMP/$node/etc/rancher/k3s/token")"
	check_eq "$node: no agent-token file" "" "$(ls "$TMP/$node/etc/rancher/k3s" | grep -x agent-token)"
	check_eq "$node: the server token's secret is nowhere on the disk" "0" \
		"$(grep -a -c -F "${server_token##*:}" "$TMP/out/$node.img")"
done

# The k3s units, as systemd evaluates them: they require farm-node's units
# and the data subvolumes, and their assertions fail until farm-node's
# first boot has put the CA files (server), tokens and kubelet drop-ins in
# place, then pass; without any one of those files they fail again.
unit_values() { sed -n "s/^$2=//p" "$1" | tr ' ' '\n' | grep -v '^$' | sort | tr '\n' ' ' | sed 's/ $//'; }
asserts() { # UNIT ROOT: the unit's assertions, with their paths under ROOT
	sed -n 's|^\(Assert[A-Za-z]*=\)!\{0,1\}/|\1'"$2"'/|p' "$1"
}
for node in cow duck; do
	r=$(role $node)
	root=$TMP/$node
	[ "$r" = server ] && unit=$root/etc/systemd/system/k3s.service || unit=$root/etc/systemd/system/k3s-agent.service
	check_eq "$node: ${unit##*/} requires farm-node's units" "farm-firstboot.service farm-storage.service" \
		"$(unit_values "$unit" Requires)"
	check "$node: ${unit##*/} starts after them" bash -c "grep '^After=' '$unit' | grep -q farm-firstboot.service && grep '^After=' '$unit' | grep -q farm-storage.service"
	check_eq "$node: ${unit##*/} requires the data subvolumes it writes" "/etc/cni/net.d /opt/cni/bin /var/lib/rancher" \
		"$(unit_values "$unit" RequiresMountsFor)"
	mapfile -t a < <(asserts "$unit" "$root")
	systemd-analyze condition "${a[@]}" >"$TMP/cond.log" 2>&1
	check_eq "$node: ${unit##*/} refuses to start before farm-node's first boot" "1" "$?"
	"$FARM_NODE" --root "$root" firstboot >"$TMP/fb.log" 2>&1 || { fail "$node: farm-node firstboot" "$(tail -3 "$TMP/fb.log")"; continue; }
	if systemd-analyze condition "${a[@]}" >"$TMP/cond.log" 2>&1; then
		pass "$node: ${unit##*/} starts once farm-node's first boot is done"
	else
		fail "$node: ${unit##*/} starts once farm-node's first boot is done" "$(grep -i fail "$TMP/cond.log" | tr '\n' ' ')"
	fi
	# Every file farm-node installs for k3s is asserted.
	need=(/etc/rancher/k3s/config.yaml /etc/rancher/k3s/token /etc/rancher/node/password)
	for f in "$root"/usr/lib/farm/k3s/kubelet.conf.d/*; do
		need+=("/var/lib/rancher/k3s/agent/etc/kubelet.conf.d/${f##*/}")
	done
	if [ "$r" = server ]; then
		need+=(/etc/rancher/k3s/agent-token)
		while read -r f; do need+=("/var/lib/rancher/k3s/server/tls/$f"); done < \
			<(cd "$root/usr/lib/farm/k3s/tls" && find . -type f | sed 's|^\./||' | sort)
		check_eq "$node: all 11 CA files staged" "11" "$(find "$root/usr/lib/farm/k3s/tls" -type f | wc -l)"
	fi
	missing=
	for f in "${need[@]}"; do
		grep -qx "AssertPathExists=$f" "$unit" || { missing="$missing $f"; continue; }
		mv "$root$f" "$root$f.away"
		systemd-analyze condition "${a[@]}" >"$TMP/cond.log" 2>&1
		rc=$?
		mv "$root$f.away" "$root$f"
		[ $rc -ne 0 ] && grep -qF "$root$f" "$TMP/cond.log" || missing="$missing $f(passes-without)"
	done
	check_eq "$node: ${unit##*/} refuses to start without each of its ${#need[@]} files" "" "$missing"
	check "$node: ${unit##*/} refuses to start without the air-gap images" \
		grep -qx "AssertDirectoryNotEmpty=/var/lib/rancher/k3s/agent/images" "$unit"
done

# farm-join.service fails closed as k3s's units do: it requires farm-node's
# storage and first boot and the data subvolumes it reads and writes, and it
# is not ordered after k3s (whose agent unit waits for its server without
# end), so that its own bounded waits say what they wait for.
for node in cow duck; do
	unit=$TMP/$node/etc/systemd/system/farm-join.service
	check_eq "$node: farm-join.service requires farm-node's units" "farm-firstboot.service farm-storage.service" \
		"$(unit_values "$unit" Requires)"
	check_eq "$node: farm-join.service starts after them" "farm-firstboot.service farm-storage.service multi-user.target network-online.target" \
		"$(unit_values "$unit" After)"
	check_eq "$node: farm-join.service requires the data subvolumes it uses" "/var/lib/farm /var/lib/rancher" \
		"$(unit_values "$unit" RequiresMountsFor)"
	check_eq "$node: farm-join.service is enabled" "/etc/systemd/system/farm-join.service" \
		"$(readlink "$TMP/$node/etc/systemd/system/multi-user.target.wants/farm-join.service")"
done

# A read-only root: the CNI directories Cilium writes (the pinned chart's
# defaults) are data subvolumes mounted on directories of the image (fstab
# and `farm-node storage` read one table, common/subvol.c; farm-node.sh
# shows storage creating each); the server's default kubeconfig path links
# to where k3s writes it.
cilium=$SHARED/charts/cilium-1.19.3.tgz
if [ -f "$cilium" ]; then
	check_eq "Cilium's default CNI paths are farm's" "/opt/cni/bin /etc/cni/net.d" \
		"$(tar -xzOf "$cilium" cilium/values.yaml | python3 -c 'import sys, yaml; c = yaml.safe_load(sys.stdin)["cni"]; print(c["binPath"], c["confPath"])')"
else
	skip "Cilium's default CNI paths are farm's" "no $cilium"
fi
for m in /etc/cni/net.d:@cni-conf /opt/cni/bin:@cni-bin; do
	d=${m%%:*} sv=${m#*:}
	check_eq "$d: a data subvolume ($sv), mounted before k3s" "btrfs subvol=$sv x-systemd.requires=farm-storage.service" \
		"$(awk -v m="$d" '$2==m {n=split($4, o, ","); print $3, o[1], o[n]}' "$TMP/sheep/etc/fstab")"
	check "$d: its mount point is in the image" test -d "$TMP/sheep$d"
done
check_eq "cow: /etc/rancher/k3s/k3s.yaml links to write-kubeconfig" \
	"$(python3 -c 'import sys, yaml; print(yaml.safe_load(open(sys.argv[1]))["write-kubeconfig"])' "$TMP/cow/etc/rancher/k3s/config.yaml")" \
	"$(readlink "$TMP/cow/etc/rancher/k3s/k3s.yaml")"
check_eq "nothing in k3s's data dir on the root (a data subvolume hides it)" "" \
	"$(dfs "$TMP/cow.ext4" "ls /var/lib/rancher" | tr -s ' ' '\n' | grep -v -x -E '\.|\.\.|[0-9]+|\(.*\)|')"
