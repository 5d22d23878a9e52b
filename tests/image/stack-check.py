#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# stack-check.py STACK-DIR SCHEMAS LOCK EXPECT.json: checks the stack farm-image
# rendered into a control plane's image (/usr/lib/farm/stack) against the
# real upstream schemas in SCHEMAS (../shared/schemas), prints one
# "ok NAME" / "not ok NAME: why" / "skip NAME: why" line per check.
#
#  - plan.yaml lists each component's file with its sha256; the files are
#    plain YAML, the HelmChart first;
#  - every HelmChart is valid against the HelmChart CRD (helm-controller
#    v0.16.13), its chartContent is the pinned archive (sha256 of LOCK) and
#    its base64 fits helm-controller's ConfigMap (1 MiB), and the plan's
#    job-hash is helm-controller's configHash of exactly that HelmChart
#    (pkg/controllers/chart/chart.go hashObjects);
#  - the values of cilium, cert-manager, trust-manager and traefik are valid
#    against each chart's own values.schema.json;
#  - the Cilium pool and L2 policy, cert-manager's Certificate and
#    ClusterIssuers and trust-manager's Bundle against their CRDs;
#  - the values taken from the cluster config are the config's (EXPECT).
import base64, hashlib, json, os, sys

import jsonschema
import yaml

stack, schemas, lock_path, expect_path = sys.argv[1:5]
expect = json.load(open(expect_path))
failures = 0


def report(name, ok, why=''):
    global failures
    if ok:
        print('ok ' + name)
    else:
        failures += 1
        print('not ok %s: %s' % (name, why))


def validate(name, instance, schema):
    v = jsonschema.Draft7Validator(schema)
    errs = sorted(v.iter_errors(instance), key=lambda e: list(e.path))
    report(name, not errs, '; '.join('%s: %s' % ('/'.join(map(str, e.path)), e.message) for e in errs[:3]))


def crd_schema(path, version=None):
    for d in yaml.safe_load_all(open(path)):
        if d and d.get('kind') == 'CustomResourceDefinition':
            for v in d['spec']['versions']:
                if version is None or v['name'] == version:
                    return v['schema']['openAPIV3Schema']
    raise SystemExit('no schema in ' + path)


def job_hash(name, content, values):
    h = hashlib.sha256()
    if content:
        h.update((name + '.tgz.base64').encode() + content.encode())
    if values:
        h.update(b'HelmChartValuesContent' + base64.b64encode(values.encode()))
    return 'SHA256=' + h.hexdigest().upper()


plan = yaml.safe_load(open(os.path.join(stack, 'plan.yaml')))
pins = {a['name']: a for a in yaml.safe_load(open(lock_path))['artifacts']}
helmchart = crd_schema(os.path.join(schemas, 'k3s/helm.cattle.io_helmcharts.v0.16.13.yaml'))
values_schemas = {
    'cilium': 'cilium/values.schema.json',
    'cert-manager': 'cert-manager/values.schema.v1.18.2.json',
    'trust-manager': 'trust-manager/values.schema.v0.18.0.json',
    'traefik': 'traefik/values.schema.v37.1.1.json',
}
cr_schemas = {
    ('cilium.io/v2', 'CiliumLoadBalancerIPPool'): json.load(open(os.path.join(schemas, 'cilium/ciliumloadbalancerippool_v2.datree.json'))),
    ('cilium.io/v2alpha1', 'CiliumL2AnnouncementPolicy'): json.load(open(os.path.join(schemas, 'cilium/ciliuml2announcementpolicy_v2alpha1.datree.json'))),
    ('cert-manager.io/v1', 'Certificate'): crd_schema(os.path.join(schemas, 'cert-manager/crd-certificates.v1.18.2.yaml'), 'v1'),
    ('cert-manager.io/v1', 'ClusterIssuer'): crd_schema(os.path.join(schemas, 'cert-manager/crd-clusterissuers.v1.18.2.yaml'), 'v1'),
    ('trust.cert-manager.io/v1alpha1', 'Bundle'): crd_schema(os.path.join(schemas, 'trust-manager/trust.cert-manager.io_bundles.v0.18.0.yaml'), 'v1alpha1'),
}
values_of = {}
resources = []
for c in plan['components']:
    name = c['name']
    path = os.path.join(stack, c['file'])
    text = open(path, 'rb').read()
    report('%s: its file matches the plan\'s sha256' % name, hashlib.sha256(text).hexdigest() == c['sha256'])
    docs = [d for d in yaml.safe_load_all(text) if d]
    if 'chart' in c:
        hc = docs[0]
        report('%s: the HelmChart comes first' % name, hc.get('kind') == 'HelmChart', hc.get('kind'))
        validate('%s: HelmChart valid against the HelmChart CRD (helm-controller v0.16.13)' % name, hc, helmchart)
        spec = hc['spec']
        content = spec.get('chartContent', '')
        archive = base64.b64decode(content)
        pin = pins.get(name if name != 'argocd' else 'argo-cd')
        report('%s: chartContent is the pinned archive' % name,
               pin is not None and hashlib.sha256(archive).hexdigest() == pin['sha256'],
               'sha256 %s' % hashlib.sha256(archive).hexdigest())
        size = len(content) + len(name + '.tgz.base64')
        report('%s: its base64 (%d bytes) fits the ConfigMap limit (1048576)' % (name, size), size <= 1048576)
        values = spec.get('valuesContent', '')
        report('%s: the plan\'s job-hash is helm-controller\'s configHash of this HelmChart' % name,
               c['job-hash'] == job_hash(hc['metadata']['name'], content, values))
        values_of[name] = yaml.safe_load(values) if values else {}
        if name in values_schemas:
            validate('%s: values valid against the chart\'s values.schema.json' % name, values_of[name],
                     json.load(open(os.path.join(schemas, values_schemas[name]))))
        docs = docs[1:]
    for d in docs:
        resources.append(d)
        key = (d.get('apiVersion'), d.get('kind'))
        what = '%s: %s %s' % (name, d.get('kind'), d['metadata']['name'])
        if key in cr_schemas:
            validate(what + ' valid against its CRD', d, cr_schemas[key])
        else:
            print('skip %s against a schema: none for %s in %s' % (what, '/'.join(map(str, key)), schemas))

# The cluster's values, as the config says.
names = [c['name'] for c in plan['components']]
report('install order', names == expect['order'], names)
cil = values_of.get('cilium', {})
ipam = cil.get('ipam', {}).get('operator', {})
report('cilium: pod CIDRs and node masks from the config',
       (ipam.get('clusterPoolIPv4PodCIDRList'), ipam.get('clusterPoolIPv6PodCIDRList'),
        ipam.get('clusterPoolIPv4MaskSize'), ipam.get('clusterPoolIPv6MaskSize')) ==
       ([expect['pods4']], [expect['pods6']], 24, expect['mask6']), ipam)
report('cilium: the API at the server\'s address, port 6443',
       (cil.get('k8sServiceHost'), cil.get('k8sServicePort'), cil.get('kubeProxyReplacement')) == (expect['server4'], 6443, True))
report('cilium: Envoy and the L7 proxy %s' % ('on' if expect['l7'] else 'off (a pi5 node)'),
       (cil.get('l7Proxy'), cil.get('envoy', {}).get('enabled')) == (expect['l7'], expect['l7']))
rollout = next(c for c in plan['components'] if c['name'] == 'cilium').get('rollout', [])
report('cilium: the envoy DaemonSet waited for only when it runs',
       ('daemonset/cilium-envoy' in rollout) == expect['l7'], rollout)
pools = [r for r in resources if r['kind'] == 'CiliumLoadBalancerIPPool']
report('cilium: the pool from the config', [[b['start'], b['stop']] for p in pools for b in p['spec']['blocks']] == expect['pool'], pools)
dns = values_of.get('coredns', {}).get('service', {})
report('coredns: cluster IPs the tenth of each service range, dual stack',
       (dns.get('clusterIP'), dns.get('clusterIPs'), dns.get('ipFamilyPolicy')) ==
       (expect['dns4'], [expect['dns4'], expect['dns6']], 'RequireDualStack'), dns)
tol = values_of.get('coredns', {}).get('tolerations', [])
report('coredns: tolerates dns-unready=true:NoExecute',
       {'key': 'dns-unready', 'operator': 'Equal', 'value': 'true', 'effect': 'NoExecute'} in tol)
apps = [r for r in resources if r['kind'] == 'Application']
report('argocd: a root Application only when the config names a repository',
       [a['spec']['source']['repoURL'] for a in apps] == expect['gitops'], apps)
sys.exit(1 if failures else 0)
