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

# What a command prints on success names paths given on its command line:
# they are made visible too (a directory named with an escape sequence and a
# line break cannot clear the screen or print a line of its own).
odd=$TMP/o$'\e[2J\n'x
esc_odd="$TMP/o\\x1b[2J\\nx"
mkdir -p "$odd"
build sheep "$(fixture full "$TMP/full.tar" && echo "$TMP/full.tar")" "$odd"
check_eq "build: the wrote line escaped" "0 sheep: wrote $esc_odd/sheep.img" \
	"$? $(grep -o '^sheep: wrote [^(]*' "$odd.log" | sed 's/ $//')"
check_eq "build: every line of its output one line, no control character" "0" \
	"$(LC_ALL=C tr -d '\n -~' <"$odd.log" | wc -c)"
"$FARM_IMAGE" secrets init --dir "$odd/secrets" --config "$TOP/configs/cluster.yaml" >"$TMP/secrets.out"
check_eq "secrets init: the directory escaped" "0 Secrets of cluster 'farm' in $esc_odd/secrets (directory created):" \
	"$? $(head -1 "$TMP/secrets.out")"
# shellcheck disable=SC2046
"$FARM_IMAGE" fetch $(artifacts | sed 's/--artifacts/--from/') --cache "$odd/cache" >"$TMP/fetch.out"
check_eq "fetch: the cache escaped" "0 already in $esc_odd/cache" \
	"$? $(tail -1 "$TMP/fetch.out" | grep -o 'already in [^,]*')"
check_eq "fetch: no control character" "0" "$(LC_ALL=C tr -d '\n -~' <"$TMP/fetch.out" | wc -c)"
