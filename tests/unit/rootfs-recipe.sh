# SPDX-License-Identifier: MIT
# farm-image rootfs without network: the recipes in configs/ load, a bad
# recipe is reported as FILE:LINE:COL, the cache key follows the recipe, its
# key files, the suite and mmdebstrap's version (and nothing else), and the
# build's cache, log, failure and Ctrl-C paths work. mmdebstrap is a stand-in
# script on PATH that writes a tiny archive, fails or waits, as asked.
source "$(dirname "$0")/../lib.sh"
mktmp
mkdir -p "$TMP/bin" "$TMP/cfg/rootfs/keys"
cat >"$TMP/bin/mmdebstrap" <<'EOF'
#!/bin/sh
[ "$1" = --version ] && { echo "mmdebstrap ${FAKE_VERSION:-1.0.0}"; exit 0; }
echo "$*" >"$FAKE_DIR/args"
for a; do
	case $a in --customize-hook=upload*/etc/apt/sources.list)
		a=${a#--customize-hook=upload }; cp "${a% /etc/apt/sources.list}" "$FAKE_DIR/sources" ;;
	esac
done
while [ "${1#--}" != "$1" ]; do shift; done
target=$2
echo "I: running apt-get update..."
echo "Get:1 http://deb.debian.org/debian trixie InRelease [140 kB]"
case ${FAKE_MODE:-ok} in
ok) echo "I: installing remaining packages inside the chroot..."
    echo "Setting up systemd (257-1) ..."
    echo "fake base" >"$target"; touch "$FAKE_DIR/built" ;;
fail) printf 'E: Unable to locate package nosuchpackage\n\033[2Jhook\r\n' >&2; exit 100 ;;
wait) echo "I: downloading packages with apt..."; echo partial >"$target"
    touch "$FAKE_DIR/waiting"; exec sleep 30 ;;
esac
EOF
chmod +x "$TMP/bin/mmdebstrap"
export FAKE_DIR=$TMP
rootfs() { PATH="$TMP/bin:$PATH" XDG_CACHE_HOME="$TMP/cache" "$FARM_IMAGE" rootfs "$@"; }
key() { rootfs --print-key "$@" 2>&1; }

# --- the recipes in configs/ load ------------------------------------------
for b in x86 pi5; do
	k=$(key --board "$b")
	if [[ $k =~ ^[0-9a-f]{64}$ ]]; then pass "$b recipe loads"; else fail "$b recipe loads" "$k"; fi
done
check "pi5 recipe ships the Raspberry Pi archive key" test -s "$TOP/configs/rootfs/keys/raspberrypi-archive-keyring.pgp"
if have gpg; then
	mkdir -m 700 "$TMP/gpg"
	check_eq "Raspberry Pi archive key fingerprint" "CF8A1AF502A2AA2D763BAE7E82B129927FA3303E" \
		"$(GNUPGHOME=$TMP/gpg gpg --batch --with-colons --show-keys \
			"$TOP/configs/rootfs/keys/raspberrypi-archive-keyring.pgp" 2>/dev/null | awk -F: '$1=="fpr" {print $10; exit}')"
	# Bound with SHA-512 (digest algo 10), none with SHA-1 (2), which apt's
	# sqv refuses since 2026-02-01.
	check_eq "Raspberry Pi archive key: its signatures use SHA-512 only" "10" \
		"$(GNUPGHOME=$TMP/gpg gpg --batch --list-packets "$TOP/configs/rootfs/keys/raspberrypi-archive-keyring.pgp" 2>/dev/null |
			sed -n 's/^[[:space:]]*digest algo \([0-9]*\),.*/\1/p' | sort -u | tr '\n' ' ' | sed 's/ $//')"
else
	skip "Raspberry Pi archive key fingerprint" "gpg is not installed"
fi

# --- bad recipes: FILE:LINE:COL ---------------------------------------------
r=$TMP/cfg/rootfs/x86.yaml
bad() { # NAME EXPECTED-FIRST-LINE: the recipe in $r is reported so
	local out
	out=$(rootfs --board x86 --recipe "$r" --print-key 2>&1)
	check_eq "$1" "$2" "$(head -1 <<<"$out")"
}
sed 's/^packages:/pakages:/' "$TOP/configs/rootfs/x86.yaml" >"$r"
line=$(grep -n '^pakages:' "$r" | cut -d: -f1)
bad "unknown key" "$r:$line:1: unknown key 'pakages' (did you mean 'packages'?)"
sed 's/^  - sudo$/  - Sudo_Tools/' "$TOP/configs/rootfs/x86.yaml" >"$r"
line=$(grep -n 'Sudo_Tools' "$r" | cut -d: -f1)
bad "bad package name" "$r:$line:5: package 'Sudo_Tools' is not a Debian package name (a-z, 0-9, + - .)"
sed 's/^architecture: amd64/architecture: arm64/' "$TOP/configs/rootfs/x86.yaml" >"$r"
line=$(grep -n '^architecture:' "$r" | cut -d: -f1)
bad "architecture of another board" "$r:$line:15: architecture 'arm64' is not board x86's architecture (amd64)"
printf 'architecture: amd64\nmirrors:\n  - uri: ftp://example.org/debian\n    key: keys/none.asc\npackages: [systemd, systemd]\n' >"$r"
out=$(rootfs --board x86 --recipe "$r" --print-key 2>&1)
check_eq "every problem at once" "$r:3:10 $r:4:10 $r:5:21" \
	"$(grep -o "^$r:[0-9]*:[0-9]*" <<<"$out" | tr '\n' ' ' | sed 's/ $//')"
grep -q "cannot read its signing key $TMP/cfg/rootfs/keys/none.asc" <<<"$out" &&
	pass "missing key file named" || fail "missing key file named" "$out"
check_eq "unknown board" "farm-image: Unknown board 'pi4' (known: pi5, x86)" "$(key --board pi4)"

# --- the cache key -------------------------------------------------------------
cp "$TOP/configs/rootfs/pi5.yaml" "$TMP/cfg/rootfs/pi5.yaml"
cp "$TOP/configs/rootfs/keys/raspberrypi-archive-keyring.pgp" "$TMP/cfg/rootfs/keys/"
p=$TMP/cfg/rootfs/pi5.yaml
k1=$(key --board pi5 --recipe "$p")
check_eq "key is stable" "$k1" "$(key --board pi5 --recipe "$p")"
touch -d '2001-01-01' "$p" "$TMP/cfg/rootfs/keys/raspberrypi-archive-keyring.pgp"
check_eq "key ignores file times" "$k1" "$(key --board pi5 --recipe "$p")"
check_eq "key is the same from --config" "$k1" "$(key --board pi5 --config "$TMP/cfg/cluster.yaml")"
check_eq "key ignores the cache directory" "$k1" "$(key --board pi5 --recipe "$p" --cache "$TMP/other")"
echo "# a comment" >>"$p"
k2=$(key --board pi5 --recipe "$p")
[ "$k2" != "$k1" ] && pass "key follows the recipe" || fail "key follows the recipe" "unchanged"
echo "# a comment" >>"$TMP/cfg/rootfs/keys/raspberrypi-archive-keyring.pgp"
k3=$(key --board pi5 --recipe "$p")
[ "$k3" != "$k2" ] && pass "key follows the key file" || fail "key follows the key file" "unchanged"
k4=$(key --board pi5 --recipe "$p" --suite forky)
[ "$k4" != "$k3" ] && pass "key follows the suite" || fail "key follows the suite" "unchanged"
k5=$(FAKE_VERSION=2.0.0 key --board pi5 --recipe "$p")
[ "$k5" != "$k3" ] && pass "key follows mmdebstrap's version" || fail "key follows mmdebstrap's version" "unchanged"

# --- --print-path on an empty cache ------------------------------------------
out=$(rootfs --board x86 --print-path 2>&1)
rc=$?
check_eq "print-path on an empty cache fails" 1 "$rc"
grep -q "has not been built yet: run 'farm-image rootfs --board x86' to build it" <<<"$out" &&
	pass "print-path says how to build" || fail "print-path says how to build" "$out"

# --- builds with the stand-in mmdebstrap ------------------------------------------
if [ "$(id -u)" -ne 0 ]; then
	skip "fake builds" "as a normal user farm-image checks the host for --mode=unshare first; run as root"
	exit 0
fi
cache=$TMP/cache/farm/base
path=$(rootfs --board x86 2>"$TMP/err")
rc=$?
check_eq "build succeeds" 0 "$rc"
check_eq "build prints the archive" "$cache/x86-trixie-amd64-$(key --board x86 | cut -c1-16).tar.zst" "$path"
check_eq "archive content" "fake base" "$(cat "$path" 2>/dev/null)"
check_eq "archive mode" 644 "$(stat -c %a "$path" 2>/dev/null)"
check "log next to the archive" grep -q '^Setting up systemd' "${path%.tar.zst}.log"
check_eq "no temporary files left" "" "$(ls -A "$cache" | grep '^\.' | tr '\n' ' ')"
args=$(cat "$TMP/args")
for a in --mode=root --variant=minbase --architectures=amd64 --verbose \
	"--include=systemd,systemd-sysv," "--customize-hook=upload $cache/.sources-" \
	" trixie $cache/.building-" "deb http://deb.debian.org/debian-security trixie-security main"; do
	[[ $args == *"$a"* ]] && pass "mmdebstrap gets ${a# }" || fail "mmdebstrap gets ${a# }" "$args"
done
check_eq "print-path finds it" "$path" "$(rootfs --board x86 --print-path)"

# A mirror with a key: apt here checks with the key on this machine; the
# node's sources.list names the copy uploaded into the root.
cp "$TOP/configs/rootfs/x86.yaml" "$r"
cp "$TOP/configs/rootfs/keys/raspberrypi-archive-keyring.pgp" "$TMP/cfg/rootfs/keys/"
printf '  - uri: http://archive.example.org/debian/\n    key: keys/raspberrypi-archive-keyring.pgp\n' >"$TMP/mirror"
sed -i "/^packages:/e cat $TMP/mirror" "$r"
rootfs --board x86 --recipe "$r" >/dev/null 2>&1
args=$(cat "$TMP/args")
k=$TMP/cfg/rootfs/keys/raspberrypi-archive-keyring.pgp
for a in "deb [signed-by=\"$k\"] http://archive.example.org/debian/ trixie main" \
	"--customize-hook=upload $k /usr/share/keyrings/farm-raspberrypi-archive-keyring.pgp"; do
	[[ $args == *"$a"* ]] && pass "mmdebstrap gets ${a%% http*}" || fail "mmdebstrap gets $a" "$args"
done
check_eq "node's sources.list names the uploaded key" \
	"deb [signed-by=/usr/share/keyrings/farm-raspberrypi-archive-keyring.pgp] http://archive.example.org/debian/ trixie main" \
	"$(grep example "$TMP/sources")"
sed -i 's|^    key: keys/raspberrypi-archive-keyring.pgp|&\n    node-key: /usr/share/keyrings/example.pgp|' "$r"
rootfs --board x86 --recipe "$r" --rebuild >/dev/null 2>&1
check_eq "node's sources.list names node-key" \
	"deb [signed-by=/usr/share/keyrings/example.pgp] http://archive.example.org/debian/ trixie main" \
	"$(grep example "$TMP/sources")"
[[ $(cat "$TMP/args") != *"upload $k"* ]] && pass "node-key: the recipe's key is not copied" ||
	fail "node-key: the recipe's key is not copied" "$(cat "$TMP/args")"
rm "$TMP/built"
check_eq "second run reuses it" "$path" "$(rootfs --board x86 2>/dev/null)"
check "second run does not run mmdebstrap" test ! -e "$TMP/built"

# A derived recipe ("from"): keyed by its parent's key too, built from the
# parent's archive (built first when missing), with variant custom.
d=$TMP/cfg/rootfs/derived.yaml
cp "$TOP/configs/rootfs/x86.yaml" "$TMP/cfg/rootfs/parent.yaml"
printf 'from: parent.yaml\narchitecture: amd64\nmirrors:\n  - uri: http://deb.debian.org/debian\npackages: [network-manager]\n' >"$d"
kd1=$(key --board x86 --recipe "$d")
echo "# changed" >>"$TMP/cfg/rootfs/parent.yaml"
kd2=$(key --board x86 --recipe "$d")
[[ $kd1 =~ ^[0-9a-f]{64}$ && $kd2 != "$kd1" ]] && pass "derived key follows the parent recipe" ||
	fail "derived key follows the parent recipe" "$kd1 / $kd2"
parent=$cache/x86-trixie-amd64-$(key --board x86 --recipe "$TMP/cfg/rootfs/parent.yaml" | cut -c1-16).tar.zst
out=$(rootfs --board x86 --recipe "$d" 2>&1)
check "derived build builds its parent first" grep -q "starts from $TMP/cfg/rootfs/parent.yaml, which is not built yet" <<<"$out"
check "the parent's archive is cached" test -s "$parent"
args=$(cat "$TMP/args")
for a in --variant=custom "--include=network-manager" "--setup-hook=zstd -dcq '$parent' | tar -C \"\$1\" --numeric-owner --xattrs --xattrs-include='*' -xpf -"; do
	[[ $args == *"$a"* ]] && pass "derived: mmdebstrap gets ${a%% |*}" || fail "derived: mmdebstrap gets $a" "$args"
done
printf 'from: parent.yaml\nvariant: minbase\narchitecture: amd64\nmirrors:\n  - uri: http://deb.debian.org/debian\npackages: [network-manager]\n' >"$d"
check_eq "derived recipe with another variant" \
	"$d:2:10: variant: a recipe with 'from' adds to its parent's tree (variant custom); leave variant out" \
	"$(key --board x86 --recipe "$d" | head -1)"
sed -i 's/^from: parent.yaml/from: nothing.yaml/; /^variant/d' "$d"
check_eq "derived recipe without its parent" \
	"$d:1:7: from: cannot read the parent recipe $TMP/cfg/rootfs/nothing.yaml: No such file or directory" \
	"$(key --board x86 --recipe "$d" | head -1)"

out=$(FAKE_MODE=fail rootfs --board x86 --rebuild 2>&1)
rc=$?
check_eq "failed build fails" 1 "$rc"
grep -q "E: Unable to locate package nosuchpackage" <<<"$out" &&
	pass "failure shows mmdebstrap's error" || fail "failure shows mmdebstrap's error" "$out"
grep -q "The full log: $cache/x86-trixie-amd64-.*\.log" <<<"$out" &&
	pass "failure names the log" || fail "failure names the log" "$out"
grep -qxF '    \x1b[2Jhook' <<<"$out" &&
	pass "failure: mmdebstrap's output made visible" || fail "failure: mmdebstrap's output made visible" "$out"
check_eq "failed build leaves no temporary files" "" "$(ls -A "$cache" | grep '^\.' | tr '\n' ' ')"
check_eq "failed rebuild keeps the old archive" "fake base" "$(cat "$path")"

rm -f "$TMP/waiting"
FAKE_MODE=wait PATH="$TMP/bin:$PATH" XDG_CACHE_HOME="$TMP/cache" \
	"$FARM_IMAGE" rootfs --board x86 --suite forky >/dev/null 2>"$TMP/err" &
pid=$!
for _ in $(seq 100); do [ -e "$TMP/waiting" ] && break; sleep 0.1; done
kill -INT $pid
wait $pid
rc=$?
check_eq "Ctrl-C fails the build" 1 "$rc"
grep -q "Interrupted: removed the partial x86 base" "$TMP/err" &&
	pass "Ctrl-C says so" || fail "Ctrl-C says so" "$(cat "$TMP/err")"
check_eq "Ctrl-C leaves no temporary files" "" "$(ls -A "$cache" | grep '^\.' | tr '\n' ' ')"
check_eq "Ctrl-C leaves no archive" "" "$(ls "$cache" | grep forky | grep -v '\.log$')"

if [ "$(uname -m)" = x86_64 ] && ! grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64; then
	out=$(rootfs --board pi5 2>&1)
	grep -q "apt-get install qemu-user-static binfmt-support" <<<"$out" &&
		pass "arm64 on x86 without binfmt says how to set it up" ||
		fail "arm64 on x86 without binfmt says how to set it up" "$out"
else
	skip "arm64 on x86 without binfmt" "this host runs arm64 programs already ($(uname -m), binfmt handler for qemu-aarch64 $(grep -qs '^enabled' /proc/sys/fs/binfmt_misc/qemu-aarch64 && echo enabled || echo absent)): the message for a host that cannot is not reachable here"
fi
