# A fresh machine without internet: the build of the example pi5 node stops
# before writing anything and names everything that is missing, with the
# ways to provide it (--base; fetch or --artifacts; secrets init).
source "$(dirname "$0")/../lib.sh"
mktmp
XDG_CACHE_HOME=$TMP/cache XDG_CONFIG_HOME=$TMP/config "$FARM_IMAGE" build --node sheep \
	--config "$TOP/configs/cluster.yaml" --out "$TMP/out" >"$TMP/log" 2>&1
check_eq "exit status" "1" "$?"
check_eq "nothing written" "log" "$(ls -A "$TMP")"
check_eq "the base, and the two ways to get one" "farm-image: sheep: no base rootfs for board pi5: build it with 'farm-image rootfs --board pi5' (needs Debian's archive and Raspberry Pi's), or pass --base with a rootfs archive or a Raspberry Pi OS Lite image" \
	"$(grep 'no base rootfs' "$TMP/log")"
check_eq "the secrets" "farm-image: The secrets directory $TMP/config/farm/farm does not exist: run 'farm-image secrets init' to create it" \
	"$(grep 'secrets directory' "$TMP/log")"
check_eq "each artifact, and the two ways to get it" "farm-image: k3s (arm64) v1.33.5+k3s1 is not in the cache $TMP/cache/farm/artifacts: run 'farm-image fetch' with internet access, or pass --artifacts DIR holding k3s-arm64
farm-image: k3s-airgap-images (arm64) v1.33.5+k3s1 is not in the cache $TMP/cache/farm/artifacts: run 'farm-image fetch' with internet access, or pass --artifacts DIR holding k3s-airgap-images-arm64.tar.zst" \
	"$(grep 'not in the cache' "$TMP/log")"
check_eq "nothing else" "4" "$(wc -l <"$TMP/log")"
