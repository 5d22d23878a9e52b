# Every program the test suite, the scripts, the benchmark and .ci/run run
# on this machine comes from a Debian package that scripts/install-deps
# installs, with what apt installs for it (Depends, not Recommends: the
# list is installed with --no-install-recommends), or that every Debian
# system has (Essential, or Priority required): so that a fresh machine
# does not find out first. The programs are read from the scripts' syntax
# trees (tests/unit/deps.py, through shfmt), the Makefile's recipes, and
# what farm asks of mmdebstrap; each is located on this machine and its
# package found with dpkg -S. A program that is missing here, or whose
# package apt would not install, fails, naming the program, where it is
# run and what to do.
source "$(dirname "$0")/../lib.sh"
for t in shfmt python3 dpkg dpkg-query apt-cache; do
	have $t || { skip "$(basename "$0")" "$t is missing (scripts/install-deps)"; exit 0; }
done
cd "$TOP" || exit 1
DEPS=tests/unit/deps.py
# Programs the scripts use only when present, each handling its absence.
declare -A optional=(
	[sudo]="scripts/install-deps uses it only when not root, and says what to install without it"
	[git]="only to find ../shared from a git worktree (tests/lib.sh) and for SOURCE_DATE_EPOCH (scripts/build-example, else the time)"
)

# Every shell script of the project: *.sh, *.lib and files that start with
# a shell's #!, outside the build directories. qemu/selftest/init runs in
# the self-test's busybox guest, not here.
# overlays/ holds files of the nodes' images: their scripts run on a node,
# whose programs come from its base recipe (configs/rootfs/), not here.
mapfile -t scripts < <(find . \( -path './build*' -o -path ./.git -o -path ./out -o -path ./overlays \) -prune -o \
	-type f ! -path ./qemu/selftest/init -print | sort | while read -r f; do
	case $f in *.sh | *.lib) echo "$f"; continue ;; esac
	head -c 64 "$f" 2>/dev/null | head -1 | grep -qE '^#!.*[/ ](ba)?sh( |$)' && echo "$f"
done)
if ! python3 $DEPS commands "${scripts[@]}" >"${TMPDIR:-/tmp}/farm-deps.$$" 2>&1; then
	fail "the scripts parse" "$(cat "${TMPDIR:-/tmp}/farm-deps.$$")"
	rm -f "${TMPDIR:-/tmp}/farm-deps.$$"
	exit 0
fi
mapfile -t found <"${TMPDIR:-/tmp}/farm-deps.$$"
rm -f "${TMPDIR:-/tmp}/farm-deps.$$"

# The Makefile's recipes and $(shell ...): their first words (past VAR=value
# assignments), with the Makefile's own defaults for $(CC), $(CROSS_CC)
# and $(PKG_CONFIG) (make's built-in CC is cc). `make format` is a
# developer's tool that CI does not run (clang-format).
while read -r line name; do
	found+=("run $name Makefile:$line")
done < <(awk '
	/^[A-Z_]+ *[?:]?= *[^ ]+$/ { split($0, kv, / *[?:]?= */); var[kv[1]] = kv[2] }
	/^[^\t#=]+:([^=]|$)/ { rule = $1; inrule = 1; next }
	!/^\t/ { inrule = 0 }
	{ rest = $0
	  while (match(rest, /\$\(shell [^ )]+/)) {
		w = substr(rest, RSTART + 8, RLENGTH - 8); rest = substr(rest, RSTART + RLENGTH)
		words[++n] = NR " " w } }
	inrule && /^\t/ && rule != "format:" {
		body = $0; sub(/^\t[@-]*(\$\(Q\))?/, "", body)
		if (body ~ /^\$\(if/) next
		k = split(body, b, " "); i = 1
		while (i < k && b[i] ~ /^[A-Z_]+=/) i++
		words[++n] = NR " " b[i] }
	END {
		var["CC"] = "cc"
		for (i = 1; i <= n; i++) {
			split(words[i], p, " "); w = p[2]
			if (w ~ /^\$\([A-Z_]+\)$/) { v = substr(w, 3, length(w) - 3); w = var[v] }
			if (w != "" && w !~ /^[$@]/) print p[1], w
		} }' Makefile)
# What farm asks of mmdebstrap that mmdebstrap only recommends: arch-test
# for a foreign architecture (its "E: install arch-test for foreign
# architecture support"), newuidmap for its unshare mode, mount.
for p in arch-test newuidmap newgidmap mount; do
	found+=("run $p builder/base-run.c(mmdebstrap)")
done

mapfile -t listed < <(python3 $DEPS closure $(scripts/install-deps --list))
declare -A is_func=() is_listed=() where=()
for p in "${listed[@]}"; do is_listed[$p]=1; done
for b in $(compgen -b) $(compgen -k) source; do is_func[$b]=1; done
for f in "${found[@]}"; do
	read -r kind name at <<<"$f"
	case $kind in
	func) is_func[$name]=1 ;;
	*) where[$name]=${where[$name]:-$at} ;;
	esac
done

# Each program's candidate paths on this machine (every match on PATH, as
# found, across the /usr merge and through alternatives symlinks), and
# their owners, in one dpkg -S.
declare -A owner=() base_pkg=()
variants() { local p=$1; printf '%s\n' "$p" "${p#/usr}" "/usr$p" "$(readlink -f "$p")"; }
mapfile -t cands < <(for name in "${!where[@]}"; do
	for p in $(PATH=$PATH:/usr/sbin:/sbin type -a -P "$name" 2>/dev/null); do variants "$p"; done
done | sort -u)
while IFS= read -r line; do
	owner[${line#*: }]=${line%%: *}
done < <(dpkg -S "${cands[@]}" 2>/dev/null | grep -v '^diversion by')
package() { # PATH: its package, or nothing
	local c
	while read -r c; do [ -n "${owner[$c]:-}" ] && { echo "${owner[$c]%%,*}"; return; }; done < <(variants "$1")
}
while read -r p ess prio; do
	[ "$ess" = yes ] || [ "$prio" = required ] && base_pkg[$p]=1
done < <(dpkg-query -W -f='${Package} ${Essential} ${Priority}\n' 2>/dev/null)
# acceptable PACKAGE: installed by the list, or on every Debian system.
acceptable() {
	local p=${1%%:*}
	[ -n "${is_listed[$p]:-}" ] || [ -n "${base_pkg[$p]:-}" ]
}

checked=0 bad=0
for name in $(printf '%s\n' "${!where[@]}" | sort); do
	[ -n "${is_func[$name]:-}" ] && continue
	[ -n "${optional[$name]:-}" ] && { echo "    optional: $name (${optional[$name]})"; continue; }
	case $name in
	*/*) [ "${name#/}" = "$name" ] && [ -e "$name" -o "${name%%/*}" = build ] && continue ;;
	esac
	# The first one on PATH that a package owns (this machine may have
	# others first, such as a pyenv shim).
	path= pkg=
	for p in $(PATH=$PATH:/usr/sbin:/sbin type -a -P "$name"); do
		path=${path:-$p}
		pkg=$(package "$p") && [ -n "$pkg" ] && { path=$p; break; }
	done
	if [ -z "$path" ]; then
		fail "program $name" "run at ${where[$name]} but not installed here: add the Debian package that provides it to scripts/install-deps (apt-file search bin/$name)"
		bad=$((bad + 1))
		continue
	fi
	if [ -z "$pkg" ]; then
		fail "program $name" "run at ${where[$name]}: $path belongs to no Debian package; install it from one, listed in scripts/install-deps"
		bad=$((bad + 1))
	elif ! acceptable "$pkg"; then
		fail "program $name" "run at ${where[$name]}: it comes from package $pkg, which scripts/install-deps does not install (and a fresh Debian system may lack): add $pkg to its list"
		bad=$((bad + 1))
	fi
	checked=$((checked + 1))
done
check_eq "every program run comes from a package install-deps installs ($checked checked)" "0" "$bad"

# The reader itself finds programs inside $(...) and behind sudo and the
# test library's check.
probe=$(mktemp)
printf 'x=$(sudo -n farm-no-such-program-1 -q)\ncheck "n" farm-no-such-program-2 a\n' >"$probe"
out=$(python3 $DEPS commands "$probe" | awk '{print $2}' | tr '\n' ' ')
rm -f "$probe"
check_eq "deps.py sees through \$(...), sudo and check" "farm-no-such-program-1 farm-no-such-program-2 " "$out"
