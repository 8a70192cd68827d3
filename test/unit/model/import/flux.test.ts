import { describe, expect, it } from 'vitest';
import {
  CHART_SOURCES_IN_SCHEMA,
  NEEDS_CHART_SOURCES,
} from '../../../../lib/model/import/index.js';
import { droppedOf, fixture, objectReport, onlyApp, run, validates } from './helpers.js';

const gitRepo = (
  spec: string,
  name = 'deploy',
  ns = 'flux-system',
) => `apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: { name: ${name}, namespace: ${ns} }
spec:
  interval: 1m
  url: https://git.example.com/org/deploy.git
${spec}---
`;

const kustomization = (spec: string, name = 'apps') => `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: { name: ${name}, namespace: flux-system }
spec:
  interval: 10m
  sourceRef: { kind: GitRepository, name: deploy }
  path: ./apps
  prune: true
${spec}`;

describe('Flux GitRepository + Kustomization', () => {
  it('maps the podinfo example: URL and branch, path, prune, interval, timeout, target namespace', () => {
    const r = fixture('flux/podinfo.yaml');
    const doc = onlyApp(r);
    expect(doc).toEqual({
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: 'podinfo' },
      spec: {
        source: {
          repoURL: 'https://github.com/stefanprodan/podinfo',
          revision: 'master',
          path: 'kustomize',
        },
        destinations: [{ cluster: 'local', namespace: 'podinfo' }],
        syncPolicy: {
          automated: true,
          prune: true,
          selfHeal: true,
          interval: '10m',
          healthTimeout: '3m',
          retry: { limit: 100, backoff: { duration: '2m', factor: 1, maxDuration: '2m' } },
        },
      },
    });
    validates(doc);
    expect(droppedOf(r, 'Kustomization/flux-system/podinfo')).toEqual([
      'spec.postBuild: Driftless applies manifests as rendered: no variable substitution',
    ]);
    expect(objectReport(r, 'Kustomization/flux-system/podinfo').notes.map((n) => n.field)).toEqual([
      'spec.targetNamespace',
      'spec.retryInterval',
    ]);
    expect(objectReport(r, 'GitRepository/flux-system/podinfo')).toMatchObject({
      usedBy: ['Kustomization/flux-system/podinfo'],
      dropped: [],
    });
  });

  it.each([
    [
      'commit: 1f2e3d4c5b6a79880a1b2c3d4e5f60718293a4b5\n    branch: main',
      '1f2e3d4c5b6a79880a1b2c3d4e5f60718293a4b5',
    ],
    ['name: refs/tags/v1.2.0\n    tag: v0', 'v1.2.0'],
    ['tag: v1.2.0\n    branch: main', 'v1.2.0'],
    ['branch: main', 'main'],
    ['{}', 'master'],
  ])('takes the ref as Flux does: %s → %s', (ref, revision) => {
    const r = run(gitRepo(`  ref:\n    ${ref}\n`) + kustomization(''));
    expect(onlyApp(r).spec.source?.revision).toBe(revision);
  });

  it('does not import a semver ref, and says why on the GitRepository and the Kustomization', () => {
    const r = run(gitRepo('  ref: { semver: ">=1.0.0" }\n') + kustomization(''));
    expect(r.applications).toEqual([]);
    expect(droppedOf(r, 'GitRepository/flux-system/deploy')).toEqual([
      expect.stringMatching(/^spec\.ref\.semver: Driftless does not pick Git tags by semver range/),
    ]);
    expect(droppedOf(r, 'Kustomization/flux-system/apps')).toEqual([
      'spec.sourceRef: GitRepository flux-system/deploy cannot be imported (see its report)',
    ]);
  });

  it('reports a dangling sourceRef, and resolves one across namespaces', () => {
    const dangling = fixture('flux/dangling.yaml');
    expect(dangling.applications).toEqual([]);
    expect(droppedOf(dangling, 'Kustomization/flux-system/apps')).toEqual([
      'spec.sourceRef: dangling reference: GitRepository flux-system/flux-system is not in the input',
    ]);
    const other = run(
      gitRepo('', 'deploy', 'sources') +
        kustomization('').replace('name: deploy }', 'name: deploy, namespace: sources }'),
    );
    expect(onlyApp(other).spec.source?.repoURL).toBe('https://git.example.com/org/deploy.git');
  });

  it("reports a GitRepository's own fields once, however many Kustomizations use it", () => {
    const r = run(
      gitRepo('  secretRef: { name: git-auth }\n  recurseSubmodules: true\n') +
        kustomization('---\n', 'a') +
        kustomization('', 'b'),
    );
    expect(r.applications.map((a) => a.name)).toEqual(['a', 'b']);
    expect(objectReport(r, 'GitRepository/flux-system/deploy')).toMatchObject({
      usedBy: ['Kustomization/flux-system/a', 'Kustomization/flux-system/b'],
    });
    expect(droppedOf(r, 'GitRepository/flux-system/deploy')).toEqual([
      expect.stringMatching(
        /^spec\.secretRef: a Kubernetes Secret: store the credentials in Secrets Manager/,
      ),
      'spec.recurseSubmodules: Driftless does not check out submodules',
    ]);
  });

  it('notes a GitRepository nothing uses', () => {
    const r = run(gitRepo(''));
    expect(objectReport(r, 'GitRepository/flux-system/deploy').notes).toEqual([
      { field: '', line: 1, message: 'no Kustomization or HelmRelease in the input uses it' },
    ]);
  });

  it('reports what Driftless has no equivalent for, and takes suspension from either object', () => {
    const r = run(
      gitRepo('  suspend: true\n') +
        kustomization(`  dependsOn: [{ name: infra }]
  decryption: { provider: sops, secretRef: { name: sops-age } }
  patches: [{ patch: "x", target: { kind: Deployment } }]
  healthChecks: [{ apiVersion: apps/v1, kind: Deployment, name: web, namespace: web }]
  force: true
  serviceAccountName: deployer
  deletionPolicy: Orphan
`),
    );
    expect(onlyApp(r).spec.suspended).toBe(true);
    validates(onlyApp(r));
    expect(droppedOf(r, 'Kustomization/flux-system/apps').map((d) => d.split(':')[0])).toEqual([
      'spec.healthChecks',
      'spec.force',
      'spec.decryption',
      'spec.patches',
      'spec.dependsOn',
      'spec.serviceAccountName',
      'spec.deletionPolicy',
    ]);
    // With wait, Flux ignores healthChecks: nothing is lost.
    const waiting = run(
      gitRepo('') +
        kustomization('  wait: true\n  healthChecks: [{ kind: Deployment, name: web }]\n'),
    );
    expect(droppedOf(waiting, 'Kustomization/flux-system/apps')).toEqual([]);
  });

  it('maps drift-ignore rules, dropping those Driftless cannot select', () => {
    const r = run(
      gitRepo('') +
        kustomization(`  driftIgnoreRules:
    - paths: [/spec/replicas]
      target: { kind: Deployment, name: web }
    - paths: [/metadata/annotations]
      target: { labelSelector: "app=web" }
    - paths: [/data]
      target: { kind: ConfigMap, name: "web-.*" }
`),
    );
    expect(onlyApp(r).spec.ignoreDifferences).toEqual([
      { group: '*', kind: 'Deployment', name: 'web', jsonPointers: ['/spec/replicas'] },
    ]);
    validates(onlyApp(r));
    expect(droppedOf(r, 'Kustomization/flux-system/apps')).toEqual([
      expect.stringMatching(
        /^spec\.driftIgnoreRules\[1\]: a rule selecting objects by labelSelector/,
      ),
      expect.stringMatching(/^spec\.driftIgnoreRules\[2\]: "web-\.\*" is a regular expression/),
    ]);
  });

  it('maps a remote cluster by its kubeConfig Secret, and refuses one it cannot name', () => {
    const remote = kustomization('  kubeConfig: { secretRef: { name: prod-kubeconfig } }\n');
    const mapped = run(gitRepo('') + remote, { clusterMap: { 'prod-kubeconfig': 'prod' } });
    expect(onlyApp(mapped).spec.destinations).toEqual([{ cluster: 'prod' }]);
    const unmapped = run(gitRepo('') + remote, { cluster: 'local', clusterMap: {} });
    expect(unmapped.errors.map((e) => e.describe())).toEqual([
      'in.yaml:16: Kustomization/flux-system/apps: spec.kubeConfig.secretRef.name: kubeconfig Secret prod-kubeconfig: pass --cluster-map prod-kubeconfig=NAME naming the Driftless cluster it is',
    ]);
    const noCluster = run(gitRepo('') + kustomization(''), { clusterMap: {} });
    expect(noCluster.errors[0]?.describe()).toMatch(
      /^in\.yaml:\d+: Kustomization\/flux-system\/apps: spec: .*name its Driftless cluster with --cluster NAME$/,
    );
  });

  it('refuses an invalid duration with the field and line', () => {
    const r = run(gitRepo('') + kustomization('  timeout: 5 minutes\n'));
    expect(r.errors.map((e) => e.describe())).toEqual([
      'in.yaml:16: Kustomization/flux-system/apps: spec.timeout: invalid duration "5 minutes" (Go duration, e.g. 5m0s)',
    ]);
  });
});

describe('Flux HelmRepository + HelmRelease', () => {
  it('maps the podinfo example to a chart source: chart, version range, values, drift detection, retries', () => {
    const r = fixture('flux/podinfo-helm.yaml');
    expect(onlyApp(r)).toEqual({
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: 'podinfo' },
      spec: {
        source: {
          repoURL: 'https://stefanprodan.github.io/podinfo',
          chart: 'podinfo',
          revision: '6.5.*',
          helm: { releaseName: 'podinfo', values: { replicaCount: 2 } },
        },
        destinations: [{ cluster: 'local', namespace: 'default' }],
        syncPolicy: {
          automated: true,
          prune: true,
          selfHeal: true,
          interval: '15m',
          healthTimeout: '5m',
          retry: { limit: 3 },
        },
        ignoreDifferences: [{ group: '*', kind: 'Deployment', jsonPointers: ['/spec/replicas'] }],
      },
    });
    const dropped = droppedOf(r, 'HelmRelease/default/podinfo');
    expect(dropped.slice(0, 2)).toEqual([
      expect.stringMatching(/^spec\.valuesFrom: values from ConfigMaps and Secrets in the cluster/),
      expect.stringMatching(/^spec\.test: Driftless does not run Helm actions/),
    ]);
    if (!CHART_SOURCES_IN_SCHEMA) {
      expect(dropped.slice(2)).toEqual([`spec.chart.spec.chart: ${NEEDS_CHART_SOURCES}`]);
    } else {
      expect(dropped).toHaveLength(2);
      validates(onlyApp(r));
    }
  });

  it('writes an OCI HelmRepository as oci://, and the Flux default release name with a target namespace', () => {
    const r = run(`apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: { name: charts, namespace: flux-system }
spec: { type: oci, url: oci://ghcr.io/org/charts, interval: 1h }
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: { name: web, namespace: flux-system }
spec:
  interval: 5m
  targetNamespace: web
  chart: { spec: { chart: web, sourceRef: { kind: HelmRepository, name: charts } } }
  driftDetection: { mode: warn }
  upgrade: { remediation: { retries: -1 } }
`);
    const doc = onlyApp(r);
    expect(doc.spec.source).toEqual({
      repoURL: 'oci://ghcr.io/org/charts',
      chart: 'web',
      revision: '*',
      helm: { releaseName: 'web-web' },
    });
    expect(doc.spec.destinations).toEqual([{ cluster: 'local', namespace: 'web' }]);
    expect(doc.spec.syncPolicy).toMatchObject({ selfHeal: false, retry: { limit: 100 } });
  });

  it('maps a chart in a GitRepository to a Git Helm source, values files made relative to the chart', () => {
    const r = run(`${gitRepo('  ref: { branch: main }\n')}apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: { name: web, namespace: flux-system }
spec:
  interval: 5m
  chart:
    spec:
      chart: ./charts/web
      sourceRef: { kind: GitRepository, name: deploy }
      valuesFiles: [charts/web/values-prod.yaml, envs/prod/web.yaml]
  install: { createNamespace: true }
`);
    const doc = onlyApp(r);
    expect(doc.spec.source).toEqual({
      repoURL: 'https://git.example.com/org/deploy.git',
      revision: 'main',
      path: 'charts/web',
      type: 'helm',
      helm: { releaseName: 'web', valueFiles: ['values-prod.yaml', '../../envs/prod/web.yaml'] },
    });
    validates(doc);
    expect(droppedOf(r, 'HelmRelease/flux-system/web')).toEqual([
      expect.stringMatching(
        /^spec\.install\.createNamespace: Driftless does not create the destination namespace/,
      ),
    ]);
  });

  it('does not import a chartRef, and reports a dangling HelmRepository', () => {
    const r = run(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: { name: a, namespace: apps }
spec:
  interval: 5m
  chartRef: { kind: OCIRepository, name: podinfo }
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: { name: b, namespace: apps }
spec:
  interval: 5m
  chart: { spec: { chart: web, sourceRef: { kind: HelmRepository, name: nowhere } } }
`);
    expect(r.applications).toEqual([]);
    expect(droppedOf(r, 'HelmRelease/apps/a')).toEqual([
      expect.stringMatching(
        /^spec\.chartRef: charts from OCIRepository or HelmChart objects are not imported/,
      ),
    ]);
    expect(droppedOf(r, 'HelmRelease/apps/b')).toEqual([
      'spec.chart.spec.sourceRef: dangling reference: HelmRepository apps/nowhere is not in the input',
    ]);
  });
});
