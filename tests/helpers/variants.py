#!/usr/bin/env python3
"""variants: the bad bases of tests/image/evil.sh that mkarchive does not
write, as Python's tarfile writes them.

  variants.py KIND FULL OUT   OUT: a tar for KIND, most of them the `full`
                              fixture FULL (its sparse file left out) with
                              one entry or more added
  variants.py list            the kinds, one per line
"""
import io
import sys
import tarfile


def entry(name, data=b"", **kw):
    ti = tarfile.TarInfo(name)
    ti.size = len(data)
    ti.mode = 0o644
    ti.mtime = 1600000000
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti, io.BytesIO(data)


# One entry added to `full`: a base that means something the image cannot
# hold, refused rather than changed to fit.
EXTRA = {
    "twice-captured": lambda: [entry("./etc/passwd", b"root:x:0:0::/root:/bin/sh\nevil:x:0:0::/:/bin/sh\n")],
    "twice-replaced": lambda: [entry("./etc/hostname", b"evil\n")],
    "twice-boot": lambda: [entry("./boot/firmware/config.txt", b"# second\n")],
    "twice-hostkey": lambda: [entry("./etc/ssh/ssh_host_ed25519_key", b"second\n")],
    "xattr-name": lambda: [entry("./etc/longx", b"x\n", pax_headers={"SCHILY.xattr.user." + "n" * 300: "v"})],
    "xattr-count": lambda: [entry("./etc/manyx", b"x\n",
                                  pax_headers={"SCHILY.xattr.user.x%02d" % i: "v" for i in range(65)})],
    "dev-major": lambda: [entry("./dev/big2", type=tarfile.CHRTYPE, devmajor=5000, devminor=1)],
    "dev-minor": lambda: [entry("./dev/big3", type=tarfile.BLKTYPE, devmajor=8, devminor=2000000)],
    "link-replaced": lambda: [entry("./etc/name", type=tarfile.LNKTYPE, linkname="./etc/hostname")],
    "link-captured": lambda: [entry("./etc/pw", type=tarfile.LNKTYPE, linkname="./etc/passwd")],
    "link-left-out": lambda: [entry("./etc/k", type=tarfile.LNKTYPE,
                                    linkname="./etc/ssh/ssh_host_ed25519_key")],
    "uid-wrap": lambda: [entry("./etc/owned", b"x\n", uid=4294967296)],
    "gid-none": lambda: [entry("./etc/owned", b"x\n", gid=4294967295)],
}


def dir_twice():
    # A directory given again: its last owner and mode win.
    d = tarfile.TarInfo("./usr/share/")
    d.type = tarfile.DIRTYPE
    d.mode = 0o700
    d.uid = 3
    return [(d, None)]


def fat_dir():
    # More names in one boot directory than FAT has room for.
    return [(tarfile.TarInfo("./boot/firmware/overlays/o%05u.dtbo" % i), None) for i in range(33000)]


EXTRA["dir-twice"] = dir_twice
EXTRA["fat-dir"] = fat_dir


def dir_bomb(out):
    # A quarter of a million names in one directory (not based on `full`).
    with tarfile.open(out, "w", format=tarfile.USTAR_FORMAT) as t:
        d = tarfile.TarInfo("./f/")
        d.type = tarfile.DIRTYPE
        d.mode = 0o755
        t.addfile(d)
        for i in range(250001):
            t.addfile(tarfile.TarInfo("./f/%06u" % i))


def main():
    if sys.argv[1:] == ["list"]:
        print("\n".join(list(EXTRA) + ["dir-bomb"]))
        return
    kind, src, out = sys.argv[1:4]
    if kind == "dir-bomb":
        dir_bomb(out)
        return
    extra = EXTRA[kind]()
    with tarfile.open(src) as s, tarfile.open(out, "w", format=tarfile.PAX_FORMAT) as t:
        for m in s:
            if not m.issparse():
                t.addfile(m, s.extractfile(m) if m.isreg() else None)
        for ti, f in extra:
            t.addfile(ti, f if ti.isreg() else None)


main()
