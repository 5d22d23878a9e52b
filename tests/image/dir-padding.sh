# SPDX-License-Identifier: MIT
# A directory that outgrows a block becomes an htree, whose leaves
# libext2fs splits with memory of its own: the bytes after each name must
# still be zeros, or two builds differ and the build's memory (which holds
# the join token) ends up in the image. glibc's MALLOC_PERTURB_ fills what
# malloc hands out with a non-zero byte, so that anything left
# uninitialized shows (without the fix, 2,000 of the 3,000 entries had
# 0x5a bytes there).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
need_tools debugfs python3
mktmp
fixture full "$TMP/full.tar" || exit 1

# 3,000 names of 2 to 5 bytes (so most have padding) in one directory.
python3 - "$TMP/full.tar" "$TMP/wide.tar" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1]) as s, tarfile.open(sys.argv[2], "w", format=tarfile.PAX_FORMAT) as t:
    for m in s:
        if not m.issparse():
            t.addfile(m, s.extractfile(m) if m.isreg() else None)
    d = tarfile.TarInfo("./usr/share/wide/"); d.type = tarfile.DIRTYPE; d.mode = 0o755
    t.addfile(d)
    for i in range(3000):
        t.addfile(tarfile.TarInfo("./usr/share/wide/n%d" % i))
PY

MALLOC_PERTURB_=165 build sheep "$TMP/wide.tar" "$TMP/a" ||
	{ fail "build" "$(cat "$TMP/a.log")"; exit 0; }
extract "$TMP/a/sheep.img" "$TMP/a/sheep.json" 2 "$TMP/root"
check "the directory is an htree" \
	sh -c "debugfs -R 'stat /usr/share/wide' '$TMP/root' 2>/dev/null | grep -q 'Flags: 0x.*1...\$'"
check_eq "every name is in it" "3000" \
	"$(dfs "$TMP/root" "ls /usr/share/wide" | grep -o '\bn[0-9]*\b' | sort -u | wc -l)"

# Every live entry of every block of the directory: nothing but zeros
# between its name and its end ("." and ".." of block 0 hold the index
# root there; index blocks show as one empty entry).
bad=$(dfs "$TMP/root" "blocks /usr/share/wide" | python3 -c '
import struct, sys
blocks = [int(b) for b in sys.stdin.read().split()]
bad = 0
with open(sys.argv[1], "rb") as f:
    for n, blk in enumerate(blocks):
        f.seek(blk * 4096)
        b = f.read(4096)
        off = 0
        while off < 4096 - 12:
            ino, rec, nlen = struct.unpack_from("<IHB", b, off)
            if rec < 8 or off + rec > 4096:
                break
            name = b[off + 8:off + 8 + nlen]
            if ino and not (n == 0 and name in (b".", b"..")) and any(b[off + 8 + nlen:off + rec]):
                bad += 1
            off += rec
print(bad)
' "$TMP/root")
check_eq "no stray bytes after the names" "0" "$bad"
