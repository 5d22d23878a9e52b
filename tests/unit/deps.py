#!/usr/bin/env python3
"""For tests/unit/deps.sh.

  deps.py commands FILE...
    The programs shell scripts run, from their syntax trees (shfmt
    --to-json): one line per command word that is a literal, "run NAME
    FILE:LINE", one per program a script probes for (have X, need_tools
    X..., command -v X), "probe NAME FILE:LINE", and "func NAME" for each
    function a script defines. Wrappers are looked through: sudo, exec,
    command, env, nice, nohup, setsid, stdbuf, timeout, xargs, flock, and
    the test library's check NAME CMD.

  deps.py closure PACKAGE...
    The packages apt installs for PACKAGE... with --no-install-recommends:
    them and their Depends and Pre-Depends, recursively, taking the first
    alternative of each "a | b" and the first provider of a virtual
    package, as apt does on a fresh machine. One name a line.
"""
import json
import subprocess
import sys

# Wrappers: how many leading words to skip after the wrapper's own
# options (those starting with '-'), and which options take a value.
WRAPPERS = {
    "sudo": (0, {"-u", "-g", "-C", "-D", "-h", "-p", "-r", "-t", "-U"}),
    "exec": (0, {"-a"}),
    "command": (0, set()),
    "nice": (0, {"-n"}),
    "nohup": (0, set()),
    "setsid": (0, set()),
    "stdbuf": (0, {"-i", "-o", "-e"}),
    "timeout": (1, {"-k", "-s", "--kill-after", "--signal"}),
    "xargs": (0, {"-a", "-d", "-E", "-I", "-L", "-n", "-P", "-s", "--arg-file", "--delimiter",
                  "--max-args", "--max-procs"}),
    "flock": (1, {"-w", "-E", "--timeout", "--conflict-exit-code"}),
    "env": (0, {"-u", "-C", "-S"}),
}
# The test library's functions that run a command: (function, index of it).
RUNNERS = {"check": 2}
PROBES = {"have": "all", "need_tools": "all"}


def literal(word):
    """A word's text when it is a plain literal, else None."""
    parts = word.get("Parts", [])
    if len(parts) == 1 and parts[0].get("Type") == "Lit":
        return parts[0]["Value"]
    if parts and all(p.get("Type") == "SglQuoted" for p in parts):
        return "".join(p.get("Value", "") for p in parts)
    return None


def command_of(words):
    """The program a command line runs: (name, index), looking through
    wrappers; name is None when it is not a literal."""
    i = 0
    while i < len(words):
        name = literal(words[i])
        if name is None:
            return None, i
        if name in RUNNERS:
            i += RUNNERS[name]
            continue
        if name == "command" and i + 1 < len(words) and literal(words[i + 1]) in ("-v", "-V"):
            return None, i
        if name not in WRAPPERS:
            return name, i
        skip, valued = WRAPPERS[name]
        i += 1
        while i < len(words):
            w = literal(words[i])
            if w is None or not (w.startswith("-") or (name == "env" and "=" in w)):
                break
            i += 2 if w in valued else 1
        i += skip
    return None, i


def walk(node, path, out):
    if isinstance(node, dict):
        t = node.get("Type")
        if t == "FuncDecl":
            out.append("func %s" % node["Name"]["Value"])
        elif t == "CallExpr" and node.get("Args"):
            words = node["Args"]
            line = node["Pos"]["Line"]
            first = literal(words[0])
            if first in PROBES or (first == "command" and len(words) > 2
                                   and literal(words[1]) == "-v"):
                for w in words[2 if first == "command" else 1:]:
                    name = literal(w)
                    if name and not name.startswith("-"):
                        out.append("probe %s %s:%d" % (name, path, line))
            name, _ = command_of(words)
            if name:
                out.append("run %s %s:%d" % (name, path, line))
        for value in node.values():
            walk(value, path, out)
    elif isinstance(node, list):
        for value in node:
            walk(value, path, out)


def closure(packages):
    seen = set()
    queue = [p.split(":")[0] for p in packages]
    while queue:
        batch = sorted(set(queue) - seen)
        queue = []
        if not batch:
            break
        seen.update(batch)
        out = subprocess.run(["apt-cache", "depends", "--no-recommends", "--no-suggests",
                              "--no-conflicts", "--no-breaks", "--no-replaces",
                              "--no-enhances"] + batch, capture_output=True, text=True).stdout
        in_group = want_provider = False
        for line in out.splitlines():
            if not line.startswith(" "):
                in_group = want_provider = False
                continue
            if line.startswith("    "):  # a provider of the virtual package above
                if want_provider:
                    queue.append(line.strip().split(":")[0])
                    want_provider = False
                continue
            kind, _, name = line.strip().partition(": ")
            first = not in_group
            in_group = kind.startswith("|")
            if kind.lstrip("|") not in ("Depends", "PreDepends") or not first:
                want_provider = False
                continue
            if name.startswith("<"):
                want_provider = True
            else:
                want_provider = False
                queue.append(name.split(":")[0])
    return sorted(seen)


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "closure":
        print("\n".join(closure(sys.argv[2:])))
        return
    if len(sys.argv) < 2 or sys.argv[1] != "commands":
        sys.exit(__doc__)
    out = []
    for path in sys.argv[2:]:
        with open(path, "rb") as f:
            tree = subprocess.run(["shfmt", "--to-json"], stdin=f, capture_output=True,
                                  text=True)
        if tree.returncode != 0:
            sys.exit("deps.py: shfmt cannot parse %s: %s" % (path, tree.stderr.strip()))
        walk(json.loads(tree.stdout), path, out)
    print("\n".join(out))


if __name__ == "__main__":
    main()
