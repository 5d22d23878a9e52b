#!/usr/bin/env python3
"""Checks a node's k3s config.yaml against k3s's own flag lists, and a kubelet
drop-in against the kubelet's KubeletConfiguration fields. Prints the
"ok NAME" / "not ok NAME: why" lines of tests/run.

  k3s-check.py config NODE ROLE CONFIG FLAGS.tsv KUBELET-ARGS.tsv
  k3s-check.py dropin NAME FILE FIELDS.txt

FLAGS.tsv is ../shared/schemas/k3s/k3s-v1.33-{server,agent}-flags.tsv (name,
aliases, urfave/cli type, hidden). The types as k3s reads config.yaml
(pkg/configfilearg/parser.go readConfigFile): a list becomes one --flag=item
per item, anything else one --flag=value. So a BoolFlag takes a YAML
boolean (a string such as "yes" fails strconv.ParseBool), an IntFlag an
integer, a StringFlag one scalar (a list would set it several times, the
last winning), a StringSliceFlag a scalar or a list of scalars.
"""
import sys

import yaml


def ok(name):
    print("ok " + name)


def bad(name, why):
    print("not ok %s: %s" % (name, why))


def read_tsv(path):
    rows = {}
    for line in open(path, encoding="utf-8"):
        if line.startswith("#") or not line.strip():
            continue
        cols = line.rstrip("\n").split("\t")
        rows[cols[0]] = cols[1:]
    return rows


def type_ok(kind, value):
    scalar = (str, int, float, bool)
    if kind == "BoolFlag":
        return isinstance(value, bool)
    if kind == "IntFlag":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind in ("StringFlag", "DurationFlag"):
        return isinstance(value, str)
    if kind == "StringSliceFlag":
        return isinstance(value, scalar) or (
            isinstance(value, list) and value and all(isinstance(v, scalar) for v in value))
    return False


def load_mapping(name, path):
    """The YAML mapping in PATH, or None after saying why not."""
    try:
        data = yaml.safe_load(open(path, encoding="utf-8"))
    except yaml.YAMLError as e:
        bad(name + " is YAML", str(e).replace("\n", " "))
        return None
    if not isinstance(data, dict):
        bad(name + " is a mapping", "got %s" % type(data).__name__)
        return None
    return data


def check_config(node, role, path, flags_tsv, kubelet_tsv):
    name = "%s: config.yaml" % node
    data = load_mapping(name, path)
    if data is None:
        return
    flags = read_tsv(flags_tsv)
    by_name = {}
    for flag, (aliases, kind, _hidden) in flags.items():
        by_name[flag] = kind
        for a in filter(None, aliases.split(",")):
            by_name[a] = kind
    failures = 0
    for key, value in data.items():
        kind = by_name.get(key)
        if kind is None:
            bad("%s: key '%s'" % (name, key), "not a flag of `k3s %s` (%s)%s" % (
                role, flags_tsv.rsplit("/", 1)[-1],
                ": fatal for an agent" if role == "agent" else ": k3s server drops it"))
            failures += 1
        elif not type_ok(kind, value):
            bad("%s: key '%s'" % (name, key), "%r does not fit its flag type %s" % (value, kind))
            failures += 1
    if not failures:
        ok("%s: all %d keys are flags of `k3s %s` with values of their types" % (
            name, len(data), role))

    # kubelet-arg: NAME[=VALUE] items, each NAME a flag verified in the
    # kubelet's source (tests/data/kubelet-args.tsv).
    allowed = read_tsv(kubelet_tsv)
    args = data.get("kubelet-arg", [])
    args = args if isinstance(args, list) else [args]
    unknown = [a for a in args if str(a).lstrip("-").split("=", 1)[0] not in allowed]
    if unknown:
        for a in unknown:
            bad("%s: kubelet-arg '%s'" % (name, a),
                "not a kubelet flag farm has verified (%s): the kubelet stops with "
                "'unknown flag' and k3s with it; set a KubeletConfiguration field in the "
                "drop-in instead, or verify the flag and add it there" % kubelet_tsv.rsplit("/", 1)[-1])
    else:
        ok("%s: every kubelet-arg is a verified kubelet flag (%s)" % (
            name, ", ".join(str(a).split("=", 1)[0] for a in args) or "none"))

    want = {"server": ["token-file", "agent-token-file"], "agent": ["token-file", "server"]}[role]
    missing = [k for k in want if k not in data]
    if missing:
        bad("%s: has %s" % (name, ", ".join(want)), "missing " + ", ".join(missing))
    else:
        ok("%s: has %s" % (name, ", ".join(want)))
    if role == "server" and "server" in data:
        bad(name + ": the server joins no other server", "has server: %r" % data["server"])


def check_dropin(label, path, fields_txt):
    fields = [l.strip() for l in open(fields_txt, encoding="utf-8")
              if l.strip() and not l.startswith("#")]
    data = load_mapping(label, path)
    if data is None:
        return
    ok(label + " is a YAML mapping")
    if (data.get("apiVersion"), data.get("kind")) != ("kubelet.config.k8s.io/v1beta1",
                                                      "KubeletConfiguration"):
        bad(label + ": a KubeletConfiguration v1beta1",
            "apiVersion %r, kind %r" % (data.get("apiVersion"), data.get("kind")))
    unknown = [k for k in data if k not in fields]
    if unknown:
        bad(label + ": every key a KubeletConfiguration field",
            "unknown: %s (%s)" % (", ".join(unknown), fields_txt.rsplit("/", 1)[-1]))
    else:
        ok("%s: every key a KubeletConfiguration field (%s)" % (label, ", ".join(
            k for k in data if k not in ("apiVersion", "kind"))))


def main():
    if len(sys.argv) == 7 and sys.argv[1] == "config":
        check_config(*sys.argv[2:])
    elif len(sys.argv) == 5 and sys.argv[1] == "dropin":
        check_dropin(*sys.argv[2:])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
