#!/usr/bin/env python3
# rbac-check RBAC.yaml USER GROUPS REQUESTS: decides each API request of
# REQUESTS (a file, or - for standard input) for USER in GROUPS (comma-
# separated; system:authenticated is added, as the API server does) with
# the ClusterRoles, ClusterRoleBindings, Roles and RoleBindings of
# RBAC.yaml, as the RBAC authorizer does (kubernetes
# plugin/pkg/auth/authorizer/rbac/rbac.go and rbac/v1 helpers: a rule
# matches when its apiGroups, resources (RESOURCE or RESOURCE/SUBRESOURCE,
# "*" for any) and verbs match and, if it lists resourceNames, the name is
# one of them; a request with no name, such as list or create, never
# matches a rule with resourceNames).
#
# Each line of REQUESTS: [allow|deny] VERB GROUP RESOURCE NAMESPACE NAME
# (GROUP "core" for the core group, "-" for no namespace or name); text
# after '#' is a comment. Without allow/deny the request must be allowed.
# Prints "allowed"/"denied" per request with the line, and exits 1 when a
# decision is not the one expected.
import sys

import yaml


def matches(rule, verb, group, resource, name):
    if "*" not in rule.get("verbs", []) and verb not in rule.get("verbs", []):
        return False
    groups = rule.get("apiGroups", [])
    if "*" not in groups and group not in groups:
        return False
    resources = rule.get("resources", [])
    if "*" not in resources and resource not in resources:
        if not ("/" in resource and resource.split("/")[0] + "/*" in resources):
            return False
    names = rule.get("resourceNames")
    if names:
        return name is not None and name in names
    return True


def bound(binding, user, groups, namespace):
    if binding["kind"] == "RoleBinding" and binding["metadata"].get("namespace") != namespace:
        return False
    for s in binding.get("subjects", []):
        if s["kind"] == "User" and s["name"] == user:
            return True
        if s["kind"] == "Group" and s["name"] in groups:
            return True
    return False


def allowed(docs, user, groups, verb, group, resource, namespace, name):
    roles = {(d["kind"], d["metadata"].get("namespace"), d["metadata"]["name"]): d
             for d in docs if d["kind"] in ("ClusterRole", "Role")}
    for b in docs:
        if b["kind"] not in ("ClusterRoleBinding", "RoleBinding") or not bound(b, user, groups, namespace):
            continue
        ref = b["roleRef"]
        key = (ref["kind"], b["metadata"].get("namespace") if ref["kind"] == "Role" else None, ref["name"])
        role = roles.get(key)
        for rule in (role or {}).get("rules", []):
            if matches(rule, verb, group, resource, name):
                return True
    return False


def main():
    if len(sys.argv) != 5:
        print("usage: rbac-check RBAC.yaml USER GROUPS REQUESTS", file=sys.stderr)
        return 2
    docs = [d for d in yaml.safe_load_all(open(sys.argv[1])) if d]
    user = sys.argv[2]
    groups = set(g for g in sys.argv[3].split(",") if g) | {"system:authenticated"}
    reqs = sys.stdin if sys.argv[4] == "-" else open(sys.argv[4])
    wrong = 0
    for line in reqs:
        text = line.split("#", 1)[0].split()
        if not text:
            continue
        want = "allow"
        if text[0] in ("allow", "deny"):
            want, text = text[0], text[1:]
        if len(text) != 5:
            print("bad request line: %s" % line.rstrip())
            wrong += 1
            continue
        verb, group, resource, ns, name = text
        got = allowed(docs, user, groups, verb, "" if group == "core" else group, resource,
                      None if ns == "-" else ns, None if name == "-" else name)
        ok = got == (want == "allow")
        wrong += not ok
        print("%s%s: %s" % ("allowed" if got else "denied", "" if ok else " (UNEXPECTED)",
                            " ".join(text)))
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
