# The build needs no privileges: run it as an ordinary user (as root, switch
# to nobody with setpriv; otherwise we already are one) and check the result.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
mktmp
fixture full "$TMP/full.tar" || exit 1
chmod 755 "$TMP"
chmod 644 "$TMP/full.tar"
mkdir "$TMP/out"

if [ "$(id -u)" -eq 0 ]; then
	if ! have setpriv; then
		skip "unprivileged build" "running as root and setpriv (util-linux) is missing"
		exit 0
	fi
	chown nobody "$TMP/out"
	# nobody must be able to reach the repository too.
	if ! setpriv --reuid=nobody --regid=nogroup --clear-groups test -x "$FARM_IMAGE"; then
		skip "unprivileged build" "user nobody cannot reach $FARM_IMAGE"
		exit 0
	fi
	as_user() { setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all "$@"; }
	who=nobody
else
	as_user() { "$@"; }
	who=$(id -un)
fi

# The secrets belong to the user who builds (the directory must be theirs).
mkdir "$TMP/home"
[ "$who" = nobody ] && chown nobody "$TMP/home"
as_user "$FARM_IMAGE" secrets init --dir "$TMP/home/secrets" \
	--config "$TOP/configs/cluster.yaml" >/dev/null 2>"$TMP/log"
check_eq "secrets init as $who" "0" "$?"
as_user "$FARM_IMAGE" build --node sheep --config "$TOP/configs/cluster.yaml" \
	--secrets "$TMP/home/secrets" $(artifacts) --base "$TMP/full.tar" --out "$TMP/out" \
	>>"$TMP/log" 2>&1
rc=$?
check_eq "build as $who" "0" "$rc"
check_eq "image owned by $who" "$who" "$(stat -c %U "$TMP/out/sheep.img" 2>/dev/null)"
[ $rc -eq 0 ] || sed 's/^/    /' "$TMP/log"
extract "$TMP/out/sheep.img" "$TMP/out/sheep.json" 2 "$TMP/root.ext4"
check "e2fsck clean" e2fsck -fn "$TMP/root.ext4"
check_eq "owners from the archive, not the builder" "User:     0 Group:     5" \
	"$(stat_line "$TMP/root.ext4" /usr/bin/wall 'User: +[0-9]+') $(stat_line "$TMP/root.ext4" /usr/bin/wall 'Group: +[0-9]+')"
check_eq "device node without privileges" "Device major/minor number: 05:01" \
	"$(stat_line "$TMP/root.ext4" /dev/console 'Device major/minor number: [0-9]+:[0-9]+')"
