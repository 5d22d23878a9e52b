#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
# mkchart.py NAME VERSION OUT.tgz [SIZE]: a small, valid Helm chart archive
# (NAME/Chart.yaml, values.yaml, one template), the same bytes on every run,
# for the charts no test can download (coredns, traefik, argo-cd: published
# only as release downloads). SIZE pads it with an incompressible file, for
# tests of the ConfigMap limit.
import gzip, io, random, sys, tarfile

name, version, out = sys.argv[1:4]
size = int(sys.argv[4]) if len(sys.argv) > 4 else 0
files = {
    f'{name}/Chart.yaml': (f'apiVersion: v2\nname: {name}\nversion: {version}\n'
                           f'description: a stand-in for the {name} chart (farm tests)\n'
                           'type: application\n').encode(),
    f'{name}/values.yaml': b'{}\n',
    f'{name}/templates/configmap.yaml': (
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-standin\n'
        'data:\n  chart: stand-in\n').encode(),
}
if size:
    rnd = random.Random(name)
    files[f'{name}/files/padding.bin'] = bytes(rnd.getrandbits(8) for _ in range(size))
raw = io.BytesIO()
with tarfile.open(fileobj=raw, mode='w', format=tarfile.USTAR_FORMAT) as t:
    for path in sorted(files):
        data = files[path]
        info = tarfile.TarInfo(path)
        info.size, info.mtime, info.mode = len(data), 0, 0o644
        t.addfile(info, io.BytesIO(data))
with open(out, 'wb') as f:
    with gzip.GzipFile(fileobj=f, mode='wb', mtime=0, filename='') as g:
        g.write(raw.getvalue())
