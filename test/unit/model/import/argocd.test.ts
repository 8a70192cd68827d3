import { describe, expect, it } from 'vitest';
import { setHelmParameter } from '../../../../lib/model/import/argocd.js';
import {
  CHART_SOURCES_IN_SCHEMA,
  NEEDS_CHART_SOURCES,
} from '../../../../lib/model/import/index.js';
import {
  droppedOf,
  expectNoErrors,
  fixture,
  OPTIONS,
  objectReport,
  onlyApp,
  run,
  validates,
} from './helpers.js';

const app = (spec: string, meta = '') => `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: web
  namespace: argocd
${meta}spec:
${spec}`;

const GIT_SOURCE = `  source: { repoURL: https://git.example.com/org/deploy.git, path: web, targetRevision: main }
  destination: { server: https://kubernetes.default.svc, namespace: web }
`;

describe('Argo CD Application', () => {
  it('maps the guestbook example and lists what it drops, with the line of each', () => {
    const result = fixture('argocd/guestbook.yaml');
    const doc = onlyApp(result);
    expect(doc).toEqual({
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: 'guestbook', labels: { team: 'web' } },
      spec: {
        source: {
          repoURL: 'https://github.com/argoproj/argocd-example-apps.git',
          revision: 'HEAD',
          path: 'guestbook',
        },
        destinations: [{ cluster: 'local', namespace: 'guestbook' }],
        syncPolicy: {
          automated: true,
          prune: true,
          selfHeal: true,
          allowEmpty: false,
          retry: { limit: 5, backoff: { duration: '5s', factor: 2, maxDuration: '3m' } },
        },
        ignoreDifferences: [
          { group: 'apps', kind: 'Deployment', jsonPointers: ['/spec/replicas'] },
        ],
      },
    });
    validates(doc);
    const report = objectReport(result, 'Application/argocd/guestbook');
    expect(report).toMatchObject({ line: 3, application: 'guestbook' });
    expect(report.dropped).toEqual([
      {
        field: 'spec.syncPolicy.syncOptions[0]',
        line: 26,
        reason: expect.stringMatching(
          /^CreateNamespace=true: Driftless does not create the destination namespace/,
        ),
      },
      {
        field: 'spec.revisionHistoryLimit',
        line: 40,
        reason: expect.stringContaining('bounded history'),
      },
      { field: 'metadata.finalizers', line: 11, reason: expect.stringContaining('--cascade') },
    ]);
  });

  it('keeps an application without `automated` manual, and without `retry` unretried, as Argo CD does', () => {
    const doc = onlyApp(run(app(GIT_SOURCE)));
    expect(doc.spec.syncPolicy).toEqual({
      automated: false,
      prune: false,
      selfHeal: false,
      allowEmpty: false,
      retry: { limit: 0 },
    });
    validates(doc);
    const off = onlyApp(
      run(
        app(
          `${GIT_SOURCE}  syncPolicy: { automated: { enabled: false, prune: true, allowEmpty: true } }\n`,
        ),
      ),
    );
    expect(off.spec.syncPolicy).toMatchObject({ automated: false, prune: true, allowEmpty: true });
  });

  it("maps retry: bare seconds, Argo CD's default backoff, limits beyond Driftless's noted", () => {
    const r = run(
      app(
        `${GIT_SOURCE}  syncPolicy:\n    retry: { limit: -1, backoff: { duration: "30", factor: 20 } }\n`,
      ),
    );
    const doc = onlyApp(r);
    expect(doc.spec.syncPolicy.retry).toEqual({
      limit: 100,
      backoff: { duration: '30s', factor: 10, maxDuration: '3m' },
    });
    expect(objectReport(r, 'Application/argocd/web').notes.map((n) => n.field)).toEqual([
      'spec.syncPolicy.retry.limit',
      'spec.syncPolicy.retry.backoff.factor',
    ]);
    const bad = run(app(`${GIT_SOURCE}  syncPolicy: { retry: { backoff: { duration: soon } } }\n`));
    expect(bad.errors.map((e) => e.describe())).toEqual([
      'in.yaml:9: Application/argocd/web: spec.syncPolicy.retry.backoff.duration: invalid duration "soon"',
    ]);
  });

  it('maps sync options Driftless shares and reports the rest, each with its reason', () => {
    const options = [
      'ServerSideApply=true',
      'RespectIgnoreDifferences=true',
      'ApplyOutOfSyncOnly=true',
      'CreateNamespace=false',
      'PruneLast=true',
      'Replace=true',
      'Validate=false',
      'FailOnSharedResource=true',
      'ServerSideApply=false',
      'Frobnicate=true',
    ];
    const r = run(app(`${GIT_SOURCE}  syncPolicy:\n    syncOptions: [${options.join(', ')}]\n`));
    expect(droppedOf(r, 'Application/argocd/web')).toEqual([
      expect.stringMatching(
        /^spec\.syncPolicy\.syncOptions\[4\]: PruneLast=true: .*annotate the objects driftless\.dev\/sync-options: PruneLast=true/,
      ),
      expect.stringMatching(/^spec\.syncPolicy\.syncOptions\[5\]: Replace=true: .*per object/),
      expect.stringMatching(/^spec\.syncPolicy\.syncOptions\[6\]: Validate=false: .*per object/),
      expect.stringMatching(
        /^spec\.syncPolicy\.syncOptions\[7\]: FailOnSharedResource=true: .*refuses only the shared object/,
      ),
      expect.stringMatching(
        /^spec\.syncPolicy\.syncOptions\[8\]: ServerSideApply=false: .*always applies with server-side apply/,
      ),
      'spec.syncPolicy.syncOptions[9]: Frobnicate=true: not a sync option Driftless knows',
    ]);
  });

  it('maps Helm value files, values and typed parameters; drops what Driftless lacks', () => {
    const r = fixture('argocd/helm-guestbook.yaml');
    const doc = onlyApp(r);
    expect(doc.spec.source).toEqual({
      repoURL: 'https://github.com/argoproj/argocd-example-apps.git',
      revision: 'master',
      path: 'helm-guestbook',
      type: 'helm',
      helm: {
        releaseName: 'guestbook',
        valueFiles: ['values-production.yaml'],
        values: {
          ingress: { enabled: false },
          service: { type: 'ClusterIP' },
          replicaCount: 2,
          image: { tag: '0.2' },
        },
      },
    });
    expect(doc.spec.destinations).toEqual([{ cluster: 'local', namespace: 'guestbook' }]);
    validates(doc);
    expect(droppedOf(r, 'Application/argocd/helm-guestbook')).toEqual([
      expect.stringMatching(/^spec\.source\.helm\.fileParameters: Driftless has no --set-file/),
      expect.stringMatching(/^spec\.source\.helm\.skipCrds: /),
    ]);
  });

  it('lets valuesObject win over values, and refuses what Driftless would refuse', () => {
    const r = run(
      app(`  source:
    repoURL: https://git.example.com/org/deploy.git
    path: charts/web
    helm:
      releaseName: Not_A_Label
      valueFiles: [values.yaml, "https://example.com/values.yaml"]
      values: "replicas: 1"
      valuesObject: { replicas: 3 }
      parameters: [{ name: "a..b", value: x }]
  destination: { name: in-cluster }
`),
    );
    const doc = onlyApp(r);
    expect(doc.spec.source?.helm).toEqual({ valueFiles: ['values.yaml'], values: { replicas: 3 } });
    expect(doc.spec.destinations).toEqual([{ cluster: 'local' }]);
    expect(droppedOf(r, 'Application/argocd/web')).toEqual([
      expect.stringMatching(/^spec\.source\.helm\.releaseName: .*DNS label of at most 53/),
      expect.stringMatching(/^spec\.source\.helm\.valueFiles\[1\]: a values file from a URL/),
      'spec.source.helm.values: ignored by Argo CD: valuesObject takes precedence',
      'spec.source.helm.parameters[0]: cannot read the parameter name "a..b"',
    ]);
  });

  it('refuses Helm values that are not YAML of a mapping, naming the field', () => {
    const bad = (values: string) =>
      run(
        app(`  source:
    repoURL: https://git.example.com/org/deploy.git
    helm: { values: ${JSON.stringify(values)} }
  destination: { name: in-cluster }
`),
      ).errors.map((e) => e.describe());
    expect(bad('a: [1')).toEqual([
      expect.stringMatching(
        /^in\.yaml:9: Application\/argocd\/web: spec\.source\.helm\.values: not YAML: /,
      ),
    ]);
    expect(bad('- a')).toEqual([
      'in.yaml:9: Application/argocd/web: spec.source.helm.values: must be YAML of a mapping',
    ]);
  });

  it('sets Helm parameters as helm --set does', () => {
    const values: Record<string, unknown> = { image: { repository: 'web' } };
    expect(setHelmParameter(values, 'image.tag', '1.2', false)).toBeUndefined();
    setHelmParameter(values, 'replicas', '3', false);
    setHelmParameter(values, 'port', '8080', true);
    setHelmParameter(values, 'zip', '0123', false);
    setHelmParameter(values, 'env[1].name', 'B', false);
    setHelmParameter(values, 'nodeSelector.kubernetes\\.io/os', 'linux', false);
    setHelmParameter(values, 'hosts', '{a,b}', false);
    setHelmParameter(values, 'debug', 'true', false);
    expect(values).toEqual({
      image: { repository: 'web', tag: '1.2' },
      replicas: 3,
      port: '8080',
      zip: '0123',
      env: [null, { name: 'B' }],
      nodeSelector: { 'kubernetes.io/os': 'linux' },
      hosts: ['a', 'b'],
      debug: true,
    });
  });

  it('sets the Kustomize or directory type and reports their options', () => {
    const k = run(
      app(`  source:
    repoURL: https://git.example.com/org/deploy.git
    path: ./overlays/prod/
    kustomize: { namePrefix: prod-, images: [web=web:2] }
  destination: { server: https://kubernetes.default.svc }
`),
    );
    expect(onlyApp(k).spec.source).toEqual({
      repoURL: 'https://git.example.com/org/deploy.git',
      revision: 'HEAD',
      path: 'overlays/prod',
      type: 'kustomize',
    });
    validates(onlyApp(k));
    expect(droppedOf(k, 'Application/argocd/web')).toEqual([
      expect.stringMatching(
        /^spec\.source\.kustomize\.namePrefix: Driftless has no Kustomize options/,
      ),
      expect.stringMatching(/^spec\.source\.kustomize\.images: Driftless has no Kustomize options/),
    ]);
    const d = run(
      app(`  source:
    repoURL: https://git.example.com/org/deploy.git
    directory: { recurse: true, exclude: "*.md", jsonnet: {} }
  destination: { server: https://kubernetes.default.svc }
`),
    );
    expect(onlyApp(d).spec.source).toMatchObject({ type: 'directory', path: '.' });
    expect(droppedOf(d, 'Application/argocd/web')).toEqual([
      expect.stringMatching(/^spec\.source\.directory\.exclude: /),
    ]);
  });

  it('names destinations: --cluster for the in-cluster one, --cluster-map for servers, names as they are', () => {
    const inCluster = run(app(GIT_SOURCE), { clusterMap: {} });
    expect(inCluster.applications).toEqual([]);
    expect(inCluster.errors.map((e) => e.describe())).toEqual([
      'in.yaml:8: Application/argocd/web: spec.destination.server: https://kubernetes.default.svc is the cluster the controller runs in: name its Driftless cluster with --cluster NAME',
    ]);
    const remote = `  source: { repoURL: https://git.example.com/org/deploy.git }
  destination: { server: "https://prod.example.com:6443/", namespace: web }
`;
    expect(
      onlyApp(run(app(remote), { clusterMap: { 'https://prod.example.com:6443': 'prod' } })).spec
        .destinations,
    ).toEqual([{ cluster: 'prod', namespace: 'web' }]);
    expect(run(app(remote), OPTIONS).errors[0]?.describe()).toBe(
      'in.yaml:8: Application/argocd/web: spec.destination.server: https://prod.example.com:6443/: pass --cluster-map https://prod.example.com:6443/=NAME naming the Driftless cluster it is',
    );
    const named = `  source: { repoURL: https://git.example.com/org/deploy.git }
  destination: { name: staging }
`;
    expect(onlyApp(run(app(named))).spec.destinations).toEqual([{ cluster: 'staging' }]);
    expect(
      onlyApp(run(app(named), { clusterMap: { staging: 'stage-eu' } })).spec.destinations,
    ).toEqual([{ cluster: 'stage-eu' }]);
  });

  it('emits a multi-source chart application in the chart-sources shape, reported until the schema has it', () => {
    const r = fixture('argocd/multi-source.yaml', {
      clusterMap: { 'https://prod.k8s.example.com': 'prod' },
    });
    expect(onlyApp(r)).toEqual({
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: 'prometheus' },
      spec: {
        sources: [
          {
            repoURL: 'https://prometheus-community.github.io/helm-charts',
            chart: 'prometheus',
            revision: '15.7.1',
            helm: { valueFiles: ['$values/charts/prometheus/values.yaml'] },
          },
          {
            repoURL: 'https://git.example.com/org/value-files.git',
            revision: 'dev',
            path: '.',
            ref: 'values',
          },
        ],
        destinations: [{ cluster: 'prod', namespace: 'monitoring' }],
        syncPolicy: {
          automated: true,
          prune: false,
          selfHeal: false,
          allowEmpty: false,
          retry: { limit: 0 },
        },
      },
    });
    const dropped = droppedOf(r, 'Application/argocd/prometheus');
    expect(dropped).toContain('spec.project: not mapped yet: projects arrive with tenancy (#14)');
    if (!CHART_SOURCES_IN_SCHEMA) expect(dropped).toContain(`spec.sources: ${NEEDS_CHART_SOURCES}`);
    else validates(onlyApp(r));
  });

  it('writes an OCI chart source with its scheme', () => {
    const r = fixture('argocd/oci-chart.yaml');
    expect(onlyApp(r).spec.source).toEqual({
      repoURL: 'oci://public.ecr.aws/karpenter',
      chart: 'karpenter',
      revision: '1.0.0',
      helm: { values: { replicas: 2 } },
    });
    expect(objectReport(r, 'Application/argocd/karpenter').dropped.map((d) => d.line)).toEqual(
      CHART_SOURCES_IN_SCHEMA ? [] : [11],
    );
  });

  it('refuses a chart application whose rest Driftless would refuse, naming the field', () => {
    const r = run(
      app(`  source:
    repoURL: https://charts.example.com
    chart: web
    targetRevision: 1.x
    helm: { valueFiles: [/etc/passwd] }
  destination: { name: in-cluster }
`),
    );
    expectNoErrors(r);
    expect(r.applications).toEqual([]);
    expect(droppedOf(r, 'Application/argocd/web').at(-1)).toMatch(
      /^spec\.source\.helm\.valueFiles\.0|^spec\.source\.helm\.valueFiles\[0\]: the imported Application would be invalid \(must be a path relative to the chart, not absolute\): not emitted$/,
    );
  });

  it('copies ignoreDifferences and drops a rule Driftless refuses', () => {
    const r = run(
      app(`${GIT_SOURCE}  ignoreDifferences:
    - { group: "*", kind: Secret, jqPathExpressions: [".data.token"] }
    - { kind: ConfigMap }
    - { kind: Service, jsonPointers: [/spec/clusterIP], ignoreEverything: true }
`),
    );
    expect(onlyApp(r).spec.ignoreDifferences).toEqual([
      { group: '*', kind: 'Secret', jqPathExpressions: ['.data.token'] },
    ]);
    expect(droppedOf(r, 'Application/argocd/web')).toEqual([
      'spec.ignoreDifferences[1]: Driftless refuses this rule: needs jsonPointers, jqPathExpressions or managedFieldsManagers',
      expect.stringMatching(
        /^spec\.ignoreDifferences\[2\]: Driftless refuses this rule: .*ignoreEverything/,
      ),
    ]);
  });

  it('reports fields it does not know, and does not emit what cannot render as written', () => {
    const unknown = run(app(`${GIT_SOURCE}  futureField: { a: 1 }\n`));
    expect(droppedOf(unknown, 'Application/argocd/web')).toEqual([
      'spec.futureField: not recognized by the importer (Argo CD v3 Application)',
    ]);
    const ssh = run(
      app(`  source: { repoURL: "git@github.com:org/deploy.git", path: web }
  destination: { name: in-cluster }
`),
    );
    expect(ssh.applications).toEqual([]);
    expect(droppedOf(ssh, 'Application/argocd/web')).toEqual([
      expect.stringMatching(/^spec\.source\.repoURL: Driftless reads Git over http\(s\) only/),
    ]);
    const plugin = run(
      app(`  source: { repoURL: https://git.example.com/a.git, plugin: { name: cdk8s } }
  destination: { name: in-cluster }
`),
    );
    expect(plugin.applications).toEqual([]);
    expect(objectReport(plugin, 'Application/argocd/web').application).toBeUndefined();
  });

  it('refuses an application without a source, naming the field', () => {
    const r = run(app('  destination: { name: in-cluster }\n'));
    expect(r.errors.map((e) => e.describe())).toEqual([
      'in.yaml:7: Application/argocd/web: spec: needs spec.source or spec.sources',
    ]);
  });

  it('reports an AppProject and an ApplicationSet as not mapped', () => {
    const r = fixture('argocd/project.yaml');
    expect(r.applications).toEqual([]);
    expect(droppedOf(r, 'AppProject/argocd/monitoring')).toEqual([
      ': not mapped yet: projects arrive with tenancy (#14)',
    ]);
    expect(droppedOf(r, 'ApplicationSet/argocd/guestbook')).toEqual([
      expect.stringMatching(/^: ApplicationSets are not supported/),
    ]);
  });
});
