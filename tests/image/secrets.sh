# farm-image secrets init (SECURITY.md, "Host identity and secrets"): the
# k3s custom CA files, the full server and agent tokens and the node
# passwords, created once with their final modes, never replaced. Checked
# with openssl(1) only.
source "$(dirname "$0")/../lib.sh"
mktmp

if ! have openssl; then
	skip "secrets" "openssl(1) is missing"
	exit 0
fi

CONFIG="$TOP/configs/cluster.yaml"
NODES="cow sheep duck"
CAS="server-ca client-ca request-header-ca etcd/peer-ca etcd/server-ca"
# The files k3s takes as custom CA certificates (docs.k3s.io, "k3s
# certificate", "Using Custom CA Certificates"), below k3s/tls/.
TLS_FILES="service.key"
for ca in $CAS; do TLS_FILES="$TLS_FILES $ca.crt $ca.key"; done

init() { "$FARM_IMAGE" secrets init "$@"; }
# sums DIR: sha256 of every file, sorted by name.
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
mode() { stat -c %a "$1"; }

D=$TMP/secrets
init --dir "$D" --config "$CONFIG" >"$TMP/init1.log" 2>&1
check_eq "init exits 0" "0" "$?"
missing=
for f in $TLS_FILES; do [ -f "$D/k3s/tls/$f" ] || missing="$missing k3s/tls/$f"; done
for n in $NODES; do [ -f "$D/nodes/$n.password" ] || missing="$missing nodes/$n.password"; done
# Each agent's power-cycle identity (tests/image/power.sh checks them).
for n in sheep duck; do
	for f in power.key power.crt; do [ -f "$D/nodes/$n.$f" ] || missing="$missing nodes/$n.$f"; done
done
[ -f "$D/token" ] || missing="$missing token"
[ -f "$D/agent-token" ] || missing="$missing agent-token"
check_eq "init creates every file" "" "$missing"
check_eq "init reports 20 created" "20" "$(grep -c '^  created ' "$TMP/init1.log")"

check_eq "directory is 0700" "700" "$(mode "$D")"
bad=$(find "$D" -type f ! -perm 0600 -printf '%m %P\n')
check_eq "every file is 0600" "" "$bad"
check_eq "no temporary file left" "" "$(find "$D" -name '.*' -printf '%P\n')"

for ca in $CAS; do
	crt=$D/k3s/tls/$ca.crt key=$D/k3s/tls/$ca.key
	check "$ca.crt parses" openssl x509 -in "$crt" -noout
	check_eq "$ca.crt holds one certificate" "1" "$(grep -c 'BEGIN CERTIFICATE' "$crt")"
	check "$ca.crt is self-signed" openssl verify -CAfile "$crt" "$crt"
	ext=$(openssl x509 -in "$crt" -noout -ext basicConstraints,keyUsage 2>&1)
	if grep -q 'critical' <<<"$ext" && grep -q 'CA:TRUE' <<<"$ext" &&
		grep -q 'Certificate Sign' <<<"$ext"; then
		pass "$ca.crt has CA:TRUE and keyCertSign"
	else
		fail "$ca.crt has CA:TRUE and keyCertSign" "$(tr '\n' ' ' <<<"$ext")"
	fi
	# k3s names its CAs "<prefix>-ca@<unix time>" (deps.go, createSigningCertKey).
	case $ca in etcd/*) prefix=${ca/\//-} ;; *) prefix=k3s-$ca ;; esac
	subject=$(openssl x509 -in "$crt" -noout -subject -nameopt RFC2253)
	if [[ $subject =~ ^subject=CN=$prefix@[0-9]+$ ]]; then
		pass "$ca.crt is named like k3s's"
	else
		fail "$ca.crt is named like k3s's" "$subject"
	fi
	# Valid for k3s's 10 years: more than 3649 days left, not 3651.
	if openssl x509 -in "$crt" -noout -checkend $((3649 * 86400)) >/dev/null &&
		! openssl x509 -in "$crt" -noout -checkend $((3651 * 86400)) >/dev/null; then
		pass "$ca.crt is valid 10 years"
	else
		fail "$ca.crt is valid 10 years" "$(openssl x509 -in "$crt" -noout -dates | tr '\n' ' ')"
	fi
	check_eq "$ca.key is ECDSA P-256, as k3s's" "1" \
		"$(openssl pkey -in "$key" -noout -text 2>/dev/null | grep -c 'ASN1 OID: prime256v1')"
	kpub=$(openssl pkey -in "$key" -pubout 2>&1)
	cpub=$(openssl x509 -in "$crt" -noout -pubkey 2>&1)
	if [ -n "$kpub" ] && [ "$kpub" == "$cpub" ]; then
		pass "$ca.key matches $ca.crt"
	else
		fail "$ca.key matches $ca.crt" "public keys differ"
	fi
done
check "service.key is a private key" openssl pkey -in "$D/k3s/tls/service.key" -noout
rsa=$(openssl rsa -in "$D/k3s/tls/service.key" -noout -text 2>/dev/null)
check_eq "service.key is RSA 2048, as k3s's" "1" "$(grep -c '^Private-Key: (2048 bit' <<<"$rsa")"

# The token: K10<sha256 of /cacerts>::server:<secret>. /cacerts serves the
# bytes of server-ca.crt, and for a single certificate k3s hashes exactly
# those bytes (pkg/clientaccess/token.go, hashCA).
token=$(cat "$D/token")
if [[ $token =~ ^K10([0-9a-f]{64})::server:[0-9a-f]{64}$ ]]; then
	pass "token has the full form"
	served=$(openssl dgst -sha256 -r "$D/k3s/tls/server-ca.crt" | cut -d' ' -f1)
	check_eq "token carries the hash of the server CA" "$served" "${BASH_REMATCH[1]}"
else
	fail "token has the full form" "[$token]"
fi
# The agent token: the same form with k3s's "node" user, which joins agents
# and cannot join servers (pkg/daemons/control/deps/deps.go genUsers).
agent=$(cat "$D/agent-token")
if [[ $agent =~ ^K10([0-9a-f]{64})::node:([0-9a-f]{64})$ ]]; then
	pass "agent token has the full form, user node"
	check_eq "agent token carries the hash of the server CA" "$served" "${BASH_REMATCH[1]}"
	check "agent token's secret is not the server token's" test "${BASH_REMATCH[2]}" != "${token##*:}"
else
	fail "agent token has the full form, user node" "[$agent]"
fi
for n in $NODES; do
	pw=$(cat "$D/nodes/$n.password")
	if [[ $pw =~ ^[0-9a-f]{64}$ ]]; then
		pass "password of $n"
	else
		fail "password of $n" "[$pw]"
	fi
done
check_eq "passwords differ" "3" "$(cat "$D"/nodes/*.password | sort -u | wc -l)"

# Again: nothing changes, everything is kept.
sums "$D" >"$TMP/sums1"
init --dir "$D" --config "$CONFIG" >"$TMP/init2.log" 2>&1
check_eq "second init exits 0" "0" "$?"
sums "$D" >"$TMP/sums2"
check_eq "second init changes no file" "" "$(diff "$TMP/sums1" "$TMP/sums2")"
check_eq "second init keeps all 20" "20 0" \
	"$(grep -c '^  kept ' "$TMP/init2.log") $(grep -c '^  created ' "$TMP/init2.log")"

# A directory made before farm had an agent token gains one, and nothing
# else changes: same bytes, same inodes, same times.
D0=$TMP/old
init --dir "$D0" --config "$CONFIG" >/dev/null 2>&1
rm "$D0/agent-token"
before=$(cd "$D0" && find . -type f -printf '%P %i %Y %T@ %m\n' | sort)
sums "$D0" >"$TMP/old1"
init --dir "$D0" --config "$CONFIG" >"$TMP/old.log" 2>&1
check_eq "an old directory gains the agent token" "0 |  created  agent-token" \
	"$? |$(grep '^  created ' "$TMP/old.log")"
check_eq "and nothing else changes" "> ./agent-token" \
	"$(diff "$TMP/old1" <(sums "$D0") | grep '^[<>]' | sed 's/^\([<>]\) [0-9a-f]*  /\1 /')"
check_eq "every other file the same inode and time" "$before" \
	"$(cd "$D0" && find . -type f ! -name agent-token -printf '%P %i %Y %T@ %m\n' | sort)"
check_eq "the new agent token is 0600, with the CA's hash" \
	"600 K10$(openssl dgst -sha256 -r "$D0/k3s/tls/server-ca.crt" | cut -d' ' -f1)::node:" \
	"$(mode "$D0/agent-token") $(sed 's/[0-9a-f]*$//' "$D0/agent-token")"
# A build from an old directory says what to do.
rm "$D0/agent-token"
"$FARM_IMAGE" build --node sheep --config "$CONFIG" --secrets "$D0" >/dev/null 2>"$TMP/old-build.err"
check "a build without the agent token says to run secrets init" \
	grep -q "$D0/agent-token is missing: run 'farm-image secrets init' to create it" "$TMP/old-build.err"

# A node added to the config gets a password and, an agent, its power-cycle
# identity; nothing else changes.
cp "$CONFIG" "$TMP/goat.yaml"
cat >>"$TMP/goat.yaml" <<'EOF'

  - name: goat
    board: x86
    role: agent
    ipv4: 192.168.14.14
    ipv6: fd12:3456:789a:14::14
    disk: nvme0n1
EOF
init --dir "$D" --config "$TMP/goat.yaml" >"$TMP/init3.log" 2>&1
check_eq "init with a new node exits 0" "0" "$?"
sums "$D" >"$TMP/sums3"
check_eq "only the new node's files are created" \
	"> ./nodes/goat.password > ./nodes/goat.power.crt > ./nodes/goat.power.key" \
	"$(diff "$TMP/sums1" "$TMP/sums3" | grep '^[<>]' | sed 's/^\([<>]\) [0-9a-f]*  /\1 /' | sort | tr '\n' ' ' | sed 's/ $//')"
check_eq "new node reported" "  created  nodes/goat.password   created  nodes/goat.power.key   created  nodes/goat.power.crt" \
	"$(grep '^  created ' "$TMP/init3.log" | tr '\n' ' ' | sed 's/ $//')"
check_eq "new node's password is 0600" "600" "$(mode "$D/nodes/goat.password")"

# The default directory: ${XDG_CONFIG_HOME:-$HOME/.config}/farm/CLUSTER.
XDG_CONFIG_HOME=$TMP/xdg init --config "$CONFIG" >"$TMP/xdg.log" 2>&1
check_eq "default directory under XDG_CONFIG_HOME" "0 700" \
	"$? $(mode "$TMP/xdg/farm/farm" 2>&1)"
HOME=$TMP/home XDG_CONFIG_HOME= init --config "$CONFIG" >"$TMP/home.log" 2>&1
check_eq "default directory under HOME" "0 600" \
	"$? $(mode "$TMP/home/.config/farm/farm/token" 2>&1)"

# A directory others can read is refused: exit 1, one message, nothing made.
mkdir -m 0755 "$TMP/open"
init --dir "$TMP/open" --config "$CONFIG" >"$TMP/open.out" 2>"$TMP/open.err"
check_eq "0755 directory is refused" "1" "$?"
check_eq "0755 refusal is one message" "1 0" \
	"$(wc -l <"$TMP/open.err") $(wc -c <"$TMP/open.out")"
check_eq "0755 refusal says what to do" "1" \
	"$(grep -c "mode 0755.*chmod 700 $TMP/open" "$TMP/open.err")"
check_eq "0755 refusal creates nothing" "" "$(ls -A "$TMP/open")"

# A secret file someone loosened is named, with the fix, and not replaced.
chmod 0644 "$D/nodes/cow.password"
init --dir "$D" --config "$CONFIG" >/dev/null 2>"$TMP/loose.err"
check_eq "loose file is refused" "1" "$?"
check_eq "loose file message names it" "1" \
	"$(grep -c "cow.password has mode 0644.*chmod 600 $D/nodes/cow.password" "$TMP/loose.err")"
chmod 0600 "$D/nodes/cow.password"

# A certificate whose key is gone is never re-created over.
mv "$D/k3s/tls/client-ca.key" "$TMP/client-ca.key"
init --dir "$D" --config "$CONFIG" >/dev/null 2>"$TMP/nokey.err"
check_eq "missing CA key is refused" "1 1" \
	"$? $(grep -c 'client-ca.key is missing, but its certificate' "$TMP/nokey.err")"
check_eq "missing CA key: nothing replaced" "" "$(ls "$D/k3s/tls/client-ca.key" 2>/dev/null)"
mv "$TMP/client-ca.key" "$D/k3s/tls/client-ca.key"

# A token that does not match the server CA is refused.
cp -p "$D/token" "$TMP/token"
sed -i 's/^K10./K10f/' "$D/token"
[ "$(cat "$D/token")" == "$(cat "$TMP/token")" ] && sed -i 's/^K10./K10e/' "$D/token"
init --dir "$D" --config "$CONFIG" >/dev/null 2>"$TMP/token.err"
check_eq "token of another CA is refused" "1 1" \
	"$? $(grep -c 'token does not hold the hash of' "$TMP/token.err")"
cp -p "$TMP/token" "$D/token"

check_eq "usage error exits 2" "2" "$(init bogus >/dev/null 2>&1; echo $?)"
