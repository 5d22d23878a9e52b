# SPDX-License-Identifier: MIT
# Names from an archive reach messages with their control characters made
# visible: an entry name cannot print a line of its own (issue 13, item 6).
source "$(dirname "$0")/../lib.sh"
source "$(dirname "$0")/image.lib"
mktmp

# An absolute entry whose name carries a carriage return, a newline, an
# escape sequence and bytes that are not UTF-8, then a forged success line.
python3 - "$TMP/forged.tar" <<'PY'
import io, sys, tarfile
name = "/x\r\x1b[2K\x1b]0;t\x07\xff\u202e\nsheep: wrote out/sheep.img"
# GNU format: the name's bytes as they are (a pax header would be UTF-8).
raw = name.replace("\xff", "").encode("utf-8").replace(b"\x07", b"\x07\xff")
with tarfile.open(sys.argv[1], "w", format=tarfile.GNU_FORMAT, encoding="utf-8",
                  errors="surrogateescape") as t:
    t.addfile(tarfile.TarInfo(raw.decode("utf-8", "surrogateescape")), io.BytesIO(b""))
PY
build sheep "$TMP/forged.tar" "$TMP/out"
check_eq "entry name escaped" "1 farm-image: $TMP/forged.tar: entry '/x\\r\\x1b[2K\\x1b]0;t\\x07\\xff\\u202e\\nsheep: wrote out/sheep.img': absolute path" \
	"$? $(cat "$TMP/out.log")"
check_eq "one line, no control character" "1 0" \
	"$(wc -l <"$TMP/out.log") $(LC_ALL=C tr -d '\n -~' <"$TMP/out.log" | wc -c)"
check_eq "nothing written" "" "$(ls -A "$TMP/out")"
