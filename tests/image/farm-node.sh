# farm-node without a VM: the disk growth on image files (GPT backup header
# moved to the end, data partition grown, Ceph partition made, nothing
# shrunk or moved, a second run changes nothing); the first-boot steps
# against a --root directory (host keys, home, the server's CA, images,
# kubelet drop-in; resumed after a simulated power cut); storage on a loop
# device (root only): Btrfs created, subvolumes, @var seeded, then a no-op.
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools sfdisk sgdisk debugfs python3 ssh-keygen
FARM_NODE="$TOP/$FARM_BUILD/farm-node"
mktmp
fixture full "$TMP/full.tar" || exit 1
build cow "$TMP/full.tar" "$TMP/out" || { fail "build cow" "$(cat "$TMP/out.log")"; exit 0; }
img=$TMP/out/cow.img

part() { sfdisk -d "$1" | grep -E "^$1$2 "; }
field() { sed -n "s/.*$2= *\([^,]*\).*/\1/p" <<<"$1"; }

# --- the disk -----------------------------------------------------------
cp --sparse=always "$img" "$TMP/disk.img"
truncate -s +2G "$TMP/disk.img"
out=$("$HELPERS/diskgrow" "$TMP/disk.img" 3 0)
check_eq "grow: the table is rewritten" "changed=1" "${out%% *}"
check "grow: backup GPT at the end (sgdisk -v)" bash -c "sgdisk -v '$TMP/disk.img' | grep -q 'No problems found'"
total=$(( $(stat -c %s "$TMP/disk.img") / 512 ))
p3=$(part "$TMP/disk.img" 3)
end=$(( $(field "$p3" start) + $(field "$p3" size) ))
check "grow: data partition fills the disk (ends within 1 MiB of the end)" test $((total - 34 - end)) -lt 2048
check_eq "grow: boot and root untouched" "$(part "$img" 1)$(part "$img" 2)" \
	"$(part "$TMP/disk.img" 1 | sed "s|$TMP/disk.img|$img|")$(part "$TMP/disk.img" 2 | sed "s|$TMP/disk.img|$img|")"
out=$("$HELPERS/diskgrow" "$TMP/disk.img" 3 0)
check_eq "grow: a second run changes nothing" "changed=0" "${out%% *}"

cp --sparse=always "$img" "$TMP/ceph.img"
truncate -s +4G "$TMP/ceph.img"
"$HELPERS/diskgrow" "$TMP/ceph.img" 3 1GiB >/dev/null
p4=$(part "$TMP/ceph.img" 4)
check_eq "ceph: partition 4, 1 GiB, typed and named" "2097152 4FBD7E29-9D25-41B8-AFD0-062C0CEFF05D \"ceph\"" \
	"$(field "$p4" size) $(field "$p4" type) $(sed -n 's/.*name=\(".*"\).*/\1/p' <<<"$p4")"
p3=$(part "$TMP/ceph.img" 3)
check_eq "ceph: data ends where ceph starts" "$(field "$p4" start)" "$(( $(field "$p3" start) + $(field "$p3" size) ))"
truncate -s +1G "$TMP/ceph.img"
out=$("$HELPERS/diskgrow" "$TMP/ceph.img" 3 1GiB)
check_eq "ceph: a bigger disk moves only the backup header" "$p3 | $p4" \
	"$(part "$TMP/ceph.img" 3) | $(part "$TMP/ceph.img" 4)"
check "ceph: table valid" bash -c "sgdisk -v '$TMP/ceph.img' | grep -q 'No problems found'"

# A Ceph partition bigger than the disk: warned about, the data partition
# grows anyway.
cp --sparse=always "$img" "$TMP/small.img"
truncate -s +1G "$TMP/small.img"
out=$("$HELPERS/diskgrow" "$TMP/small.img" 3 200GiB 2>"$TMP/err")
check_eq "ceph too big: grows the data partition anyway" "changed=1" "${out%% *}"
check "ceph too big: says so" grep -q "no room for the 204800 MiB Ceph partition" "$TMP/err"
check_eq "ceph too big: no partition 4" "" "$(part "$TMP/small.img" 4)"
rm -f "$TMP/small.img"

# --- first boot steps, on a directory -----------------------------------
root=$TMP/root
mkdir "$root"
extract "$img" "$TMP/out/cow.json" 2 "$TMP/cow.ext4"
dfs "$TMP/cow.ext4" "rdump / $root" >/dev/null
check "firstboot runs" "$FARM_NODE" --root "$root" firstboot
for k in ed25519 rsa; do
	check "host key $k reads back" ssh-keygen -l -f "$root/var/lib/farm/ssh/ssh_host_${k}_key"
	check_eq "host key $k 0600" "600" "$(stat -c %a "$root/var/lib/farm/ssh/ssh_host_${k}_key")"
done
check "home directory" test -d "$root/home/k3s"
check "the server's CA installed for k3s" cmp "$root/usr/lib/farm/k3s/tls/server-ca.crt" \
	"$root/var/lib/rancher/k3s/server/tls/server-ca.crt"
check_eq "air-gap images linked" "/usr/lib/farm/k3s/images/k3s-airgap-images-arm64.tar.zst" \
	"$(readlink "$root/var/lib/rancher/k3s/agent/images/k3s-airgap-images-arm64.tar.zst")"
check "kubelet drop-in installed" cmp "$root/usr/lib/farm/k3s/kubelet.conf.d/50-farm-graceful-shutdown.conf" \
	"$root/var/lib/rancher/k3s/agent/etc/kubelet.conf.d/50-farm-graceful-shutdown.conf"
status=$("$FARM_NODE" --root "$root" status --json)
check_eq "status: first boot steps done, storage and join pending" "ssh-host-keys home k3s-ca k3s-images kubelet-dropin |storage k3s-api node-registered power-rbac stack node-ready" \
	"$(python3 -c "import json,sys; s=json.load(sys.stdin)['steps']; print(' '.join(x['step'] for x in s if x['done']), '|' + ' '.join(x['step'] for x in s if not x['done']))" <<<"$status")"
fp=$(ssh-keygen -l -f "$root/var/lib/farm/ssh/ssh_host_rsa_key")
"$FARM_NODE" --root "$root" firstboot
check_eq "a second run keeps the keys" "$fp" "$(ssh-keygen -l -f "$root/var/lib/farm/ssh/ssh_host_rsa_key")"
# A power cut after the rsa key but before the record, with a half-made
# ed25519 key lying around: the next run finishes, keeps the rsa key.
rm -f "$root/var/lib/farm/steps/ssh-host-keys" "$root/var/lib/farm/ssh/ssh_host_ed25519_key"*
echo partial >"$root/var/lib/farm/ssh/.ssh_host_ed25519_key.new"
check "resume after a power cut" "$FARM_NODE" --root "$root" firstboot
check "ed25519 made again" ssh-keygen -l -f "$root/var/lib/farm/ssh/ssh_host_ed25519_key"
check_eq "rsa kept" "$fp" "$(ssh-keygen -l -f "$root/var/lib/farm/ssh/ssh_host_rsa_key")"
check_eq "no temporary key left" "" "$(ls -A "$root/var/lib/farm/ssh" | grep '^\.')"
# Another cluster's CA already on the data partition: refused, not mixed.
rm -f "$root/var/lib/farm/steps/k3s-ca"
echo other >"$root/var/lib/rancher/k3s/server/tls/server-ca.crt"
"$FARM_NODE" --root "$root" firstboot 2>"$TMP/err"
check_eq "a different CA is refused" "1" "$?"
check "the refusal says why" grep -q "another cluster's CA" "$TMP/err"

# --- storage on a loop device (root) --------------------------------------
if [ "$(id -u)" -ne 0 ] || ! have losetup || ! have mkfs.btrfs; then
	skip "storage on a loop device" "needs root, losetup and mkfs.btrfs"
	exit 0
fi
cp --sparse=always "$img" "$TMP/loop.img"
truncate -s +1G "$TMP/loop.img"
loop=$(losetup -f --show -P "$TMP/loop.img") || { skip "storage on a loop device" "no loop device"; exit 0; }
trap 'umount "$TMP/mnt" 2>/dev/null; losetup -d "$loop"; rm -f "$loop"p[0-9]*; rm -rf "$TMP"' EXIT
# Where nothing makes the partitions' device nodes (containers), make them
# (again: a node left by an earlier run may point elsewhere).
partx -a "$loop" 2>/dev/null
for p in /sys/block/"${loop#/dev/}"/"${loop#/dev/}"p*; do
	rm -f "/dev/${p##*/}"
	mknod "/dev/${p##*/}" b $(tr ':' ' ' <"$p/dev")
done
check "storage runs" "$FARM_NODE" --root "$root" storage --data="${loop}p3"
check_eq "a Btrfs filesystem" "btrfs" "$(blkid -o value -s TYPE "${loop}p3")"
mkdir "$TMP/mnt"
mount -o subvolid=5 "${loop}p3" "$TMP/mnt"
check_eq "subvolumes" "@cni-bin @cni-conf @home @rancher @snapshots @var" "$(ls "$TMP/mnt" | sort | tr '\n' ' ' | sed 's/ $//')"
check "@var seeded from the image's /var" test -f "$TMP/mnt/@var/lib/dpkg/status"
check "storage recorded in @var" grep -q "btrfs created" "$TMP/mnt/@var/lib/farm/steps/storage"
size=$(btrfs filesystem show --raw "$TMP/mnt" | awk '/devid/ {print $4}')
check "Btrfs fills the grown partition (> 1 GiB)" test "$size" -gt 1073741824
umount "$TMP/mnt"
before=$(sfdisk -d "$loop")
check "a second run is a no-op" "$FARM_NODE" --root "$root" storage --data="${loop}p3"
check_eq "partition table unchanged" "$before" "$(sfdisk -d "$loop")"
mount -o subvolid=5 "${loop}p3" "$TMP/mnt"
check "kept, not recreated" grep -q "btrfs kept, 0 subvolumes created" "$TMP/mnt/@var/lib/farm/steps/storage"
umount "$TMP/mnt"
# Another filesystem on the data partition: never formatted over.
mkfs.ext4 -q -F "${loop}p3"
"$FARM_NODE" --root "$root" storage --data="${loop}p3" 2>"$TMP/err"
check_eq "an ext4 partition is refused" "1 ext4" "$? $(blkid -o value -s TYPE "${loop}p3")"
check "the refusal names the signature" grep -q "holds a ext4 signature" "$TMP/err"
