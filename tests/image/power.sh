# The power cycle's credentials and rights in the images (builder/power.h,
# power-identity.h): each agent's own client certificate, signed by the
# cluster's client CA, with its kubeconfig; the server's RBAC manifest,
# checked against the Kubernetes 1.33 OpenAPI specs and against every
# request the agents' power cycle makes.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools debugfs openssl python3
mktmp
fixture full "$TMP/full.tar" && fixture full-amd64 "$TMP/full-amd64.tar" || exit 1
sec=$(secrets) || { fail "secrets" "secrets init failed"; exit 0; }
for node in cow sheep duck; do
	base=$TMP/full.tar
	[ "$node" = duck ] && base=$TMP/full-amd64.tar
	build "$node" "$base" "$TMP/out" || { fail "build $node" "$(cat "$TMP/out.log")"; exit 0; }
	extract "$TMP/out/$node.img" "$TMP/out/$node.json" 2 "$TMP/$node.ext4"
done
content() { dfs "$1" "cat $2"; }
mode_of() { dfs "$1" "stat $2" | grep -o -m1 'Mode: *[0-7]*' | awk '{print $2}'; }

# The certificates secrets init made: what the API server authenticates as
# user CN, groups O, for client auth, chained to client-ca.crt.
ca=$sec/k3s/tls/client-ca.crt
for n in sheep duck; do
	crt=$sec/nodes/$n.power.crt key=$sec/nodes/$n.power.key
	check_eq "$n: key and certificate are 0600" "600 600" "$(stat -c %a "$key") $(stat -c %a "$crt")"
	check "$n: certificate chains to the client CA for client auth" \
		openssl verify -CAfile "$ca" -purpose sslclient "$crt"
	check_eq "$n: subject" "subject=O=farm:power,CN=farm-power:$n" \
		"$(openssl x509 -in "$crt" -noout -subject -nameopt RFC2253,sep_comma_plus | sed 's/^subject=\(CN=[^,]*\),\(O=.*\)$/subject=\2,\1/')"
	check_eq "$n: not a CA, client auth only" "CA:FALSE TLS Web Client Authentication" \
		"$(openssl x509 -in "$crt" -noout -ext basicConstraints,extendedKeyUsage | grep -v 'X509v3' | tr -s ' \n' ' ' | sed 's/^ //; s/ $//')"
	check_eq "$n: expires with the client CA" "$(openssl x509 -in "$ca" -noout -enddate)" \
		"$(openssl x509 -in "$crt" -noout -enddate)"
	check_eq "$n: key is ECDSA P-256" "1" \
		"$(openssl pkey -in "$key" -noout -text 2>/dev/null | grep -c 'ASN1 OID: prime256v1')"
	check_eq "$n: key matches the certificate" "$(openssl pkey -in "$key" -pubout)" \
		"$(openssl x509 -in "$crt" -noout -pubkey)"
done
check_eq "the server gets no power identity" "" "$(ls "$sec/nodes" | grep '^cow\.power')"

# The agents' images carry their own, and a kubeconfig naming them.
for n in sheep duck; do
	fs=$TMP/$n.ext4
	check_eq "$n: client.key in the image is the secrets' one" "$(sha256sum <"$sec/nodes/$n.power.key")" \
		"$(content "$fs" /etc/farm/power/client.key | sha256sum)"
	check_eq "$n: client.crt in the image" "$(sha256sum <"$sec/nodes/$n.power.crt")" \
		"$(content "$fs" /etc/farm/power/client.crt | sha256sum)"
	check_eq "$n: server-ca.crt in the image" "$(sha256sum <"$sec/k3s/tls/server-ca.crt")" \
		"$(content "$fs" /etc/farm/power/server-ca.crt | sha256sum)"
	check_eq "$n: modes" "0600 0644 0644 0600" "$(for f in client.key client.crt server-ca.crt kubeconfig; do
		mode_of "$fs" "/etc/farm/power/$f"; done | tr '\n' ' ' | sed 's/ $//')"
	content "$fs" /etc/farm/power/kubeconfig >"$TMP/$n.kubeconfig"
	check_eq "$n: kubeconfig" \
		"https://k3s.farm.home.arpa:6443 /etc/farm/power/server-ca.crt farm-power:$n /etc/farm/power/client.crt /etc/farm/power/client.key farm-power" \
		"$(python3 -c 'import sys, yaml
k = yaml.safe_load(open(sys.argv[1]))
c, u = k["clusters"][0]["cluster"], k["users"][0]
ctx = [x for x in k["contexts"] if x["name"] == k["current-context"]][0]["context"]
assert ctx["user"] == u["name"] and ctx["cluster"] == k["clusters"][0]["name"]
print(c["server"], c["certificate-authority"], u["name"], u["user"]["client-certificate"],
      u["user"]["client-key"], k["current-context"])' "$TMP/$n.kubeconfig" 2>&1)"
	check_eq "$n: no RBAC manifest" "" "$(content "$fs" /usr/lib/farm/power/rbac.yaml 2>/dev/null)"
done
check_eq "the two agents' keys differ" "2" \
	"$(sha256sum "$sec"/nodes/sheep.power.key "$sec"/nodes/duck.power.key | cut -d' ' -f1 | sort -u | wc -l)"
check_eq "the server has no power kubeconfig" "" "$(content "$TMP/cow.ext4" /etc/farm/power/kubeconfig 2>/dev/null)"

# The server's RBAC manifest: the Kubernetes 1.33 schemas, strictly.
content "$TMP/cow.ext4" /usr/lib/farm/power/rbac.yaml >"$TMP/rbac.yaml"
check_eq "rbac.yaml: ClusterRoles and bindings, one pair per agent and one shared" \
	"ClusterRole/farm-power ClusterRoleBinding/farm-power ClusterRole/farm-power:sheep ClusterRoleBinding/farm-power:sheep ClusterRole/farm-power:duck ClusterRoleBinding/farm-power:duck" \
	"$(python3 -c 'import sys, yaml
print(" ".join("%s/%s" % (d["kind"], d["metadata"]["name"]) for d in yaml.safe_load_all(open(sys.argv[1])) if d))' "$TMP/rbac.yaml" 2>&1)"
schemas=${FARM_K8S_SCHEMAS:-${SHARED:-$TOP/../shared}/schemas/kubernetes/v1.33}
if [ ! -f "$schemas/apis__rbac.authorization.k8s.io__v1_openapi.json" ]; then
	skip "rbac.yaml against the OpenAPI spec" "$schemas has no apis__rbac.authorization.k8s.io__v1_openapi.json (kubectl-validate's pkg/openapiclient/builtins/1.33/apis/rbac.authorization.k8s.io/v1.json; or set FARM_K8S_SCHEMAS)"
else
	check "rbac.yaml against the OpenAPI spec" python3 "$TOP/tests/helpers/k8s-validate.py" "$schemas" "$TMP/rbac.yaml"
	# The validator itself refuses what the API server would.
	sed 's/^roleRef:/roleRefs:/' "$TMP/rbac.yaml" >"$TMP/bad.yaml"
	if python3 "$TOP/tests/helpers/k8s-validate.py" "$schemas" "$TMP/bad.yaml" >"$TMP/bad.out" 2>&1; then
		fail "the validator refuses an unknown field" "it passed"
	else
		check_eq "the validator refuses an unknown field" "1" "$(grep -c "roleRefs" "$TMP/bad.out" | sed 's/^[1-9][0-9]*$/1/')"
	fi
fi

# The agents' power cycle is within those rights: every request it makes
# (tests/helpers/power-requests, what farm-node's calls become at the API,
# after kubectl's own code) is allowed by rbac.yaml for sheep, and the
# rights reach no further (another node's Node, an update, a delete).
python3 "$TOP/tests/helpers/rbac-check.py" "$TMP/rbac.yaml" "farm-power:sheep" "farm:power" \
	"$TOP/tests/helpers/power-requests" >"$TMP/allowed.out" 2>&1
check_eq "every request of the agents' power cycle is allowed" "0" "$?"
grep UNEXPECTED "$TMP/allowed.out" | sed 's/^/    /' 

# A power certificate that is not the node's own is refused, naming the
# file, what is wrong and what to do, and never replaced.
refuse() {
	local name=$1 want=$2 d=$TMP/bad-secrets
	rm -rf "$d" && cp -a "$sec" "$d"
	shift 2
	"$@" "$d"
	"$FARM_IMAGE" secrets init --dir "$d" --config "$TOP/configs/cluster.yaml" >/dev/null 2>"$TMP/refuse.err"
	local rc=$?
	if [ $rc -ne 1 ]; then
		fail "$name" "exit status $rc"
	elif [ "$(wc -l <"$TMP/refuse.err")" != 1 ] || ! grep -q -- "$want" "$TMP/refuse.err"; then
		fail "$name" "$(cat "$TMP/refuse.err")"
	else
		pass "$name"
	fi
}
swap_cert() { cp -p "$1/nodes/duck.power.crt" "$1/nodes/sheep.power.crt"; }
other_ca() {
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$TMP/o.key" \
		-out "$TMP/o.crt" -subj /CN=other -days 30 2>/dev/null
	openssl req -new -key "$1/nodes/sheep.power.key" -subj "/O=farm:power/CN=farm-power:sheep" 2>/dev/null |
		openssl x509 -req -CA "$TMP/o.crt" -CAkey "$TMP/o.key" -days 30 -extfile <(echo extendedKeyUsage=clientAuth) \
			-out "$1/nodes/sheep.power.crt" 2>/dev/null
}
wrong_cn() {
	openssl req -new -key "$1/nodes/sheep.power.key" -subj "/O=farm:power/CN=farm-power:duck" 2>/dev/null |
		openssl x509 -req -CA "$1/k3s/tls/client-ca.crt" -CAkey "$1/k3s/tls/client-ca.key" -days 30 \
			-extfile <(echo extendedKeyUsage=clientAuth) -out "$1/nodes/sheep.power.crt" 2>/dev/null
}
admin_group() {
	openssl req -new -key "$1/nodes/sheep.power.key" -subj "/O=system:masters/CN=farm-power:sheep" 2>/dev/null |
		openssl x509 -req -CA "$1/k3s/tls/client-ca.crt" -CAkey "$1/k3s/tls/client-ca.key" -days 30 \
			-extfile <(echo extendedKeyUsage=clientAuth) -out "$1/nodes/sheep.power.crt" 2>/dev/null
}
refuse "another node's certificate is refused" \
	"sheep.power.crt: it is not the certificate of the node's key: remove it, run 'farm-image secrets init' to make a new one and rebuild node sheep" swap_cert
refuse "a certificate of another CA is refused" "sheep.power.crt: it was not signed by the cluster's client CA" other_ca
refuse "a certificate for another user is refused" "sheep.power.crt: its subject is not CN=farm-power:<node>, O=farm:power" wrong_cn
refuse "a certificate in another group is refused" "sheep.power.crt: its subject is not" admin_group
rm -rf "$TMP/bad-secrets" && cp -a "$sec" "$TMP/bad-secrets" && rm "$TMP/bad-secrets/nodes/sheep.power.crt"
"$FARM_IMAGE" secrets init --dir "$TMP/bad-secrets" --config "$TOP/configs/cluster.yaml" >"$TMP/recert.log" 2>&1
check_eq "a removed certificate is made again for the same key" "0 created nodes/sheep.power.crt" \
	"$? $(grep created "$TMP/recert.log" | sed 's/^ *//; s/  */ /' | head -1)"
check_eq "the new certificate is for the kept key" "$(openssl pkey -in "$sec/nodes/sheep.power.key" -pubout)" \
	"$(openssl x509 -in "$TMP/bad-secrets/nodes/sheep.power.crt" -noout -pubkey)"

# The daily timer (overlays/feature/power-schedule/): at the schedule's time
# in its zone, on every node; none at all without a schedule.
for n in cow sheep; do
	check_eq "$n: the shutdown timer" "OnCalendar=*-*-* 01:30:00 Europe/Berlin|Unit=farm-shutdown.service" \
		"$(content "$TMP/$n.ext4" /etc/systemd/system/farm-shutdown.timer | grep -E '^(OnCalendar|Unit)=' | tr '\n' '|' | sed 's/|$//')"
done
cp -r "$TOP/configs" "$TMP/cfg"
sed -i '/^power:/,/^$/d' "$TMP/cfg/cluster.yaml"
"$FARM_IMAGE" build --node sheep --config "$TMP/cfg/cluster.yaml" --overlays "$TOP/overlays" --secrets "$sec" $(artifacts) \
	--base "$TMP/full.tar" --out "$TMP/nopower" >"$TMP/nopower.log" 2>&1 ||
	fail "build without a power schedule" "$(cat "$TMP/nopower.log")"
extract "$TMP/nopower/sheep.img" "$TMP/nopower/sheep.json" 2 "$TMP/nopower.ext4"
check_eq "no schedule, no timer" "" \
	"$(dfs "$TMP/nopower.ext4" "ls -p /etc/systemd/system" | tr '/' '\n' | grep -c 'farm-shutdown.timer' | grep -v '^0$')"
check_eq "no schedule: the shutdown service is still there (koff)" "1" \
	"$(dfs "$TMP/nopower.ext4" "ls -p /etc/systemd/system" | tr '/' '\n' | grep -c '^farm-shutdown.service$')"
check_eq "no schedule: no timer enabled" "" \
	"$(dfs "$TMP/nopower.ext4" "stat /etc/systemd/system/timers.target.wants/farm-shutdown.timer" 2>/dev/null | grep -o 'Fast link dest')"

# The units: armed by the join's record, so that nothing runs before the
# node is part of the cluster.
for u in farm-startup.service farm-shutdown.service; do
	check_eq "$u is armed by the join's record" "ConditionPathExists=/var/lib/farm/steps/node-registered" \
		"$(content "$TMP/sheep.ext4" /etc/systemd/system/$u | grep '^ConditionPathExists=')"
done
check_eq "the units run farm-node" "ExecStart=/usr/local/bin/farm-node startup ExecStart=/usr/local/bin/farm-node shutdown" \
	"$(for u in farm-startup farm-shutdown; do content "$TMP/sheep.ext4" /etc/systemd/system/$u.service | grep '^ExecStart='; done | tr '\n' ' ' | sed 's/ $//')"
check_eq "node.yaml: who goes last, where the cluster's DNS answers" "control-plane: \"cow\" cluster-dns: \"10.43.0.10\"" \
	"$(content "$TMP/sheep.ext4" /etc/farm/node.yaml | grep -E '^(control-plane|cluster-dns):' | tr '\n' ' ' | sed 's/ $//')"

# The SSH lock at login: a login-shell profile script, valid shell.
content "$TMP/sheep.ext4" /etc/profile.d/farm-ssh-lock.sh >"$TMP/lock.sh"
check "the login lock script is valid sh" sh -n "$TMP/lock.sh"
check_eq "aliases: klogin, klogout, koff call farm-node" "3" \
	"$(content "$TMP/sheep.ext4" /etc/profile.d/farm-aliases.sh | grep -c -E "^alias (klogin|klogout|koff)='sudo farm-node (un)?lock")"
