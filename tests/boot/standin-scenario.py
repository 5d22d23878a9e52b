#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# standin-scenario.py STACK-DEFS [RULE...]: the k3s stand-in's scenario
# (tests/helpers/standin/world.c) for a stack: for each component with a
# chart, what its install creates (the workloads its definition waits for,
# every one whatever its `when`, and the CRDs of its resources, their kind
# and version taken from the resources that use them), then RULE lines.
# What a real chart creates is its own business; the stand-in is told.
import glob, re, sys, yaml

out = []
for f in sorted(glob.glob(sys.argv[1] + '/*.yaml')):
    d = yaml.safe_load(open(f))
    if not d.get('chart'):
        continue
    objs = []
    for r in d.get('rollout') or []:
        kind, name = r['object'].split('/')
        objs.append('%s/%s/%s' % (kind, d['namespace'], name))
    kinds = {}
    for r in d.get('resources') or []:
        m = r['manifest']
        api = re.search(r'^apiVersion: (\S+)', m, re.M).group(1)
        kind = re.search(r'^kind: (\S+)', m, re.M).group(1)
        scope = 'Namespaced' if re.search(r'^  namespace: ', m, re.M) else 'Cluster'
        kinds.setdefault(api.split('/')[0], []).append((kind, api.split('/')[1], scope))
    for crd in d.get('crds') or []:
        plural, group = crd.split('.', 1)
        match = [k for k in kinds.get(group, []) if
                 plural in (k[0].lower() + 's', k[0].lower()[:-1] + 'ies', k[0].lower())]
        kind, version, scope = match[0] if match else (plural[:-1].capitalize(), 'v1', 'Namespaced')
        objs.append('crd/%s=%s/%s/%s' % (crd, kind, version, scope))
    out.append('release %s %s' % (d['name'], ' '.join(objs)))
print('# the stand-in\'s scenario for the stack of %s' % sys.argv[1])
print('\n'.join(out + sys.argv[2:]))
