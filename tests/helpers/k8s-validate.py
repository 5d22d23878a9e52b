#!/usr/bin/env python3
# k8s-validate SCHEMA-DIR FILE...: checks every document of each YAML FILE
# against the Kubernetes OpenAPI v3 specs in SCHEMA-DIR (the files of
# ../shared/schemas/kubernetes/v1.33: api__v1_openapi.json,
# apis__GROUP__VERSION_openapi.json), as the API server's strict field
# validation would: the schema of the document's apiVersion and kind, with
# every field the schema does not define an error (the specs leave
# additionalProperties open; the API server refuses unknown fields under
# fieldValidation=Strict, kubectl's default since v1.27).
#
# Prints "FILE: document N (KIND NAME): PATH: message" per problem, and
# exits 1 if there is any, 2 when a document's group/version has no spec in
# SCHEMA-DIR (naming the file it looked for).
import copy
import json
import os
import sys

import jsonschema
import yaml


def spec_file(schema_dir, api_version):
    if "/" in api_version:
        group, version = api_version.split("/", 1)
        return os.path.join(schema_dir, "apis__%s__%s_openapi.json" % (group, version))
    return os.path.join(schema_dir, "api__%s_openapi.json" % api_version)


def strict(node):
    """Closes every object schema that lists its properties."""
    if isinstance(node, dict):
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for v in node.values():
            strict(v)
    elif isinstance(node, list):
        for v in node:
            strict(v)


def main():
    if len(sys.argv) < 3:
        print("usage: k8s-validate SCHEMA-DIR FILE...", file=sys.stderr)
        return 2
    schema_dir, files = sys.argv[1], sys.argv[2:]
    specs = {}
    problems = 0
    for path in files:
        with open(path) as f:
            docs = [d for d in yaml.safe_load_all(f) if d is not None]
        for i, doc in enumerate(docs, 1):
            what = "%s: document %d (%s %s)" % (
                path, i, doc.get("kind"), (doc.get("metadata") or {}).get("name"))
            api_version, kind = doc.get("apiVersion"), doc.get("kind")
            if not api_version or not kind:
                print("%s: no apiVersion or kind" % what)
                problems += 1
                continue
            sf = spec_file(schema_dir, api_version)
            if sf not in specs:
                if not os.path.exists(sf):
                    print("%s: no OpenAPI spec for %s (looked for %s)" % (what, api_version, sf))
                    return 2
                with open(sf) as f:
                    spec = json.load(f)
                strict(spec["components"]["schemas"])
                specs[sf] = spec
            spec = specs[sf]
            group, _, version = api_version.rpartition("/")
            name = None
            for n, s in spec["components"]["schemas"].items():
                for gvk in s.get("x-kubernetes-group-version-kind", []):
                    if (gvk.get("group", ""), gvk["version"], gvk["kind"]) == (group, version, kind):
                        name = n
            if name is None:
                print("%s: %s has no kind %s" % (what, api_version, kind))
                problems += 1
                continue
            root = {"$ref": "#/components/schemas/" + name, "components": spec["components"]}
            v = jsonschema.Draft7Validator(root)
            for e in sorted(v.iter_errors(copy.deepcopy(doc)), key=lambda e: list(e.path)):
                print("%s: %s: %s" % (what, "/".join(str(p) for p in e.path) or "/", e.message))
                problems += 1
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
