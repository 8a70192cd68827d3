// Kustomize and Helm sources through the whole engine, with the real kubectl
// (kustomize) and helm of the Lambda layer, the real Git server and the real
// API server: a Kustomize overlay and a Helm chart are applied, then checked
// again as a no-op; broken, remote and un-vendored sources fail with the file
// and the tool's message and apply nothing; Helm hooks run as Driftless hooks.

import {
  ApiextensionsV1Api,
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  CustomObjectsApi,
} from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import { kubeConfig, testNamespace } from '../support/kube.js';

/** How many objects carry the app's tracking label, over the kinds these tests use. */
async function labelledObjects(app: string): Promise<number> {
  const labelSelector = `driftless.dev/app=${app}`;
  const kc = kubeConfig();
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  const batch = kc.makeApiClient(BatchV1Api);
  const lists = await Promise.all([
    core.listNamespace({ labelSelector }),
    core.listConfigMapForAllNamespaces({ labelSelector }),
    core.listServiceForAllNamespaces({ labelSelector }),
    core.listPodForAllNamespaces({ labelSelector }),
    apps.listDeploymentForAllNamespaces({ labelSelector }),
    batch.listJobForAllNamespaces({ labelSelector }),
  ]);
  return lists.reduce((n, l) => n + l.items.length, 0);
}

function kustomizeFiles(ns: string): Record<string, string> {
  return {
    'kustomize/base/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources:
  - deployment.yaml
  - service.yaml
configMapGenerator:
  - name: web-config
    literals: [GREETING=hello]
`,
    'kustomize/base/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec:
  replicas: 1
  selector: { matchLabels: { app: web } }
  template:
    metadata: { labels: { app: web } }
    spec:
      containers:
        - name: web
          image: nginx:1.25
          envFrom: [{ configMapRef: { name: web-config } }]
`,
    'kustomize/base/service.yaml': `apiVersion: v1
kind: Service
metadata: { name: web }
spec:
  selector: { app: web }
  ports: [{ port: 80, targetPort: 8080 }]
`,
    'kustomize/overlays/prod/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
namespace: ${ns}
namePrefix: prod-
resources:
  - namespace.yaml
  - ../../base
patches:
  - path: replicas.yaml
configMapGenerator:
  - name: web-config
    behavior: merge
    literals: [GREETING=hello-prod]
images:
  - name: nginx
    newTag: "1.27.1"
`,
    'kustomize/overlays/prod/namespace.yaml': `apiVersion: v1
kind: Namespace
metadata: { name: ${ns} }
`,
    'kustomize/overlays/prod/replicas.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: web }
spec: { replicas: 3 }
`,
  };
}

function helmChart(group: string): Record<string, string> {
  return {
    'charts/web/Chart.yaml': 'apiVersion: v2\nname: web\nversion: 0.1.0\nappVersion: "1.27"\n',
    'charts/web/values.yaml': `replicaCount: 1
greeting: default
image: nginx:1.27
widget: { size: small }
`,
    'charts/web/values-prod.yaml': 'replicaCount: 2\ngreeting: prod\n',
    'charts/web/crds/widgets.yaml': `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.${group} }
spec:
  group: ${group}
  scope: Namespaced
  names: { kind: Widget, plural: widgets, singular: widget, listKind: WidgetList }
  versions:
    - name: v1
      served: true
      storage: true
      schema:
        openAPIV3Schema:
          type: object
          properties:
            spec: { type: object, x-kubernetes-preserve-unknown-fields: true }
`,
    'charts/web/templates/_helpers.tpl': `{{- define "web.fullname" -}}
{{ .Release.Name }}-web
{{- end -}}
`,
    'charts/web/templates/configmap.yaml': `apiVersion: v1
kind: ConfigMap
metadata:
  name: {{ include "web.fullname" . }}
data:
  greeting: {{ .Values.greeting | quote }}
  release: {{ .Release.Name | quote }}
  namespace: {{ .Release.Namespace | quote }}
`,
    'charts/web/templates/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata:
  name: {{ include "web.fullname" . }}
  labels: { app.kubernetes.io/managed-by: {{ .Release.Service | quote }} }
spec:
  replicas: {{ .Values.replicaCount }}
  selector: { matchLabels: { app: {{ include "web.fullname" . }} } }
  template:
    metadata: { labels: { app: {{ include "web.fullname" . }} } }
    spec:
      containers:
        - name: web
          image: {{ .Values.image | quote }}
          envFrom: [{ configMapRef: { name: {{ include "web.fullname" . }} } }]
`,
    'charts/web/templates/widget.yaml': `apiVersion: ${group}/v1
kind: Widget
metadata:
  name: {{ include "web.fullname" . }}
spec:
  size: {{ .Values.widget.size }}
`,
    'charts/web/templates/migrate-job.yaml': `apiVersion: batch/v1
kind: Job
metadata:
  name: {{ include "web.fullname" . }}-migrate
  annotations:
    helm.sh/hook: pre-install,pre-upgrade
    helm.sh/hook-weight: "-5"
    helm.sh/hook-delete-policy: before-hook-creation
spec:
  backoffLimit: 0
  template:
    spec:
      restartPolicy: Never
      containers: [{ name: migrate, image: busybox }]
`,
    'charts/web/templates/tests/test-connection.yaml': `apiVersion: v1
kind: Pod
metadata:
  name: {{ include "web.fullname" . }}-test-connection
  annotations:
    helm.sh/hook: test
spec:
  restartPolicy: Never
  containers: [{ name: wget, image: busybox, command: [wget, "{{ include "web.fullname" . }}:80"] }]
`,
  };
}

describe('a Kustomize overlay', () => {
  let h: EngineHarness;
  let ns: string;
  beforeAll(async () => {
    ns = uniqueName('kustomize');
    h = await EngineHarness.create(uniqueName('kapp'));
    await h.repo.commit(kustomizeFiles(ns), 'kustomize base and overlay');
    await h.setApp({
      namespace: ns,
      source: { path: 'kustomize/overlays/prod' },
      syncPolicy: { prune: true, allowPruneOf: ['Namespace'] },
    });
    afterAll(async () => {
      await kubeConfig()
        .makeApiClient(CoreV1Api)
        .deleteNamespace({ name: ns })
        .catch(() => {});
    });
  });

  it('is rendered by kustomize (patches, namePrefix, generated ConfigMap, images) and applied', async () => {
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.operation?.phase).toBe('Succeeded');
    expect(outcome.status.sync).toBe('Synced');
    expect(outcome.status.health).toBe('Healthy');
    // Namespace, ConfigMap, Service, Deployment.
    expect(outcome.status.operation?.applied).toBe(4);

    const kc = kubeConfig();
    const deploy = await kc
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: 'prod-web', namespace: ns });
    expect(deploy.spec?.replicas).toBe(3);
    const container = deploy.spec?.template.spec?.containers[0];
    expect(container?.image).toBe('nginx:1.27.1');
    expect(deploy.metadata?.labels?.['driftless.dev/app']).toBe(h.appName);

    const configMapName = container?.envFrom?.[0]?.configMapRef?.name ?? '';
    expect(configMapName).toMatch(/^prod-web-config-[a-z0-9]{10}$/);
    const cm = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: configMapName, namespace: ns });
    expect(cm.data).toEqual({ GREETING: 'hello-prod' });
    await kc.makeApiClient(CoreV1Api).readNamespacedService({ name: 'prod-web', namespace: ns });
    expect(outcome.status.resources.map((r) => r.name).sort()).toEqual(
      [configMapName, ns, 'prod-web', 'prod-web'].sort(),
    );
  });

  it('is a no-op on the next reconcile: one LIST per kind, no applies, the operation unchanged', async () => {
    const before = (await h.store.getTargetStatus(h.target))?.operation;
    const client = await h.client();
    client.resetStats();
    const outcome = await h.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.sync).toBe('Synced');
    expect(outcome.status.operation?.id).toBe(before?.id);
    expect(outcome.status.operation?.finishedAt).toBe(before?.finishedAt);
    expect(client.stats.byVerb).toEqual({ list: 4 });
  });

  it('follows a change to the overlay: a new generated ConfigMap name, the old one pruned', async () => {
    const files = kustomizeFiles(ns);
    await h.repo.commit(
      {
        'kustomize/overlays/prod/kustomization.yaml': (
          files['kustomize/overlays/prod/kustomization.yaml'] as string
        ).replace('GREETING=hello-prod', 'GREETING=hello-again'),
      },
      'new greeting',
    );
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.sync).toBe('Synced');
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const cms = (await core.listNamespacedConfigMap({ namespace: ns })).items
      .map((c) => c.metadata?.name ?? '')
      .filter((n) => n.startsWith('prod-web-config-'));
    expect(cms).toHaveLength(1);
    const cm = await core.readNamespacedConfigMap({ name: cms[0] as string, namespace: ns });
    expect(cm.data?.GREETING).toBe('hello-again');
  });
});

describe('a Helm chart', () => {
  let h: EngineHarness;
  let ns: string;
  let group: string;
  beforeAll(async () => {
    ns = await testNamespace('helm');
    group = `${uniqueName('g')}.driftless.test`;
    h = await EngineHarness.create(uniqueName('happ'));
    await h.repo.commit(helmChart(group), 'chart');
    await h.setApp({
      namespace: ns,
      source: {
        path: 'charts/web',
        helm: { valueFiles: ['values-prod.yaml'], values: { replicaCount: 3 } },
      },
    });
    afterAll(async () => {
      await kubeConfig()
        .makeApiClient(ApiextensionsV1Api)
        .deleteCustomResourceDefinition({ name: `widgets.${group}` })
        .catch(() => {});
    });
  });

  it('is rendered by helm template (values file, inline values, CRD) and applied, its pre-install Job as a PreSync hook', async () => {
    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.operation?.phase).toBe('Succeeded');
    expect(outcome.status.sync).toBe('Synced');
    expect(outcome.status.health).toBe('Healthy');
    // CRD, ConfigMap, Deployment, Widget; the hook is not a resource and the test Pod is skipped.
    expect(outcome.status.operation?.applied).toBe(4);

    const fullname = `${h.appName}-web`; // the release name defaults to the app's name
    const kc = kubeConfig();
    const deploy = await kc
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: fullname, namespace: ns });
    expect(deploy.spec?.replicas).toBe(3); // inline values win over values-prod.yaml's 2
    expect(deploy.metadata?.labels?.['app.kubernetes.io/managed-by']).toBe('Helm');
    const cm = await kc
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: fullname, namespace: ns });
    expect(cm.data).toEqual({ greeting: 'prod', release: h.appName, namespace: ns });

    const crd = await kc
      .makeApiClient(ApiextensionsV1Api)
      .readCustomResourceDefinition({ name: `widgets.${group}` });
    expect(crd.metadata?.labels?.['driftless.dev/app']).toBe(h.appName);
    const widget = (await kc.makeApiClient(CustomObjectsApi).getNamespacedCustomObject({
      group,
      version: 'v1',
      namespace: ns,
      plural: 'widgets',
      name: fullname,
    })) as { spec?: { size?: string } };
    expect(widget.spec?.size).toBe('small');

    // The pre-install Job ran as a PreSync hook: after the CRD (foundation goes first),
    // before the chart's other resources were applied.
    const hookEvents = h.events.filter((e) => e.type === 'hook');
    expect(hookEvents.map((e) => e.type === 'hook' && [e.phase, e.action])).toEqual([
      ['PreSync', 'created'],
      ['PreSync', 'succeeded'],
    ]);
    const hookSucceeded = h.events.findIndex((e) => e.type === 'hook' && e.action === 'succeeded');
    const applied = h.events.flatMap((e, i) => (e.type === 'applied' ? [{ key: e.key, i }] : []));
    const foundation = applied.filter((a) => a.key.includes('/CustomResourceDefinition/'));
    const rest = applied.filter((a) => !a.key.includes('/CustomResourceDefinition/'));
    expect(foundation).toHaveLength(1);
    expect(rest).toHaveLength(3);
    expect(foundation.every((a) => a.i < hookSucceeded)).toBe(true);
    expect(rest.every((a) => a.i > hookSucceeded)).toBe(true);
    const job = await kc
      .makeApiClient(BatchV1Api)
      .readNamespacedJob({ name: `${fullname}-migrate`, namespace: ns });
    expect(job.metadata?.annotations).toMatchObject({
      'driftless.dev/hook': 'PreSync',
      'driftless.dev/hook-delete-policy': 'BeforeHookCreation',
      'driftless.dev/sync-wave': '-5',
    });
    expect(job.status?.succeeded).toBe(1);

    // Helm's test hook was not applied.
    const pods = await kc.makeApiClient(CoreV1Api).listNamespacedPod({ namespace: ns });
    expect(pods.items.map((p) => p.metadata?.name)).not.toContain(`${fullname}-test-connection`);
  });

  it('is a no-op on the next reconcile: one LIST per kind, no applies, no hooks, the operation unchanged', async () => {
    const before = (await h.store.getTargetStatus(h.target))?.operation;
    const eventsBefore = h.events.length;
    const client = await h.client();
    client.resetStats();
    const outcome = await h.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.sync).toBe('Synced');
    expect(outcome.status.operation?.id).toBe(before?.id);
    expect(outcome.status.operation?.finishedAt).toBe(before?.finishedAt);
    expect(client.stats.byVerb).toEqual({ list: 4 });
    expect(h.events.slice(eventsBefore).filter((e) => e.type === 'hook')).toEqual([]);
  });
});

describe('sources that fail to render', () => {
  let h: EngineHarness;
  beforeAll(async () => {
    h = await EngineHarness.create(uniqueName('broken'));
    await h.repo.commit(
      {
        'kustomize/broken/kustomization.yaml':
          'resources:\n  - cm.yaml\npatches:\n  - path: missing-patch.yaml\n',
        'kustomize/broken/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\n',
        'kustomize/remote/kustomization.yaml':
          'resources:\n  - cm.yaml\n  - https://github.com/kubernetes-sigs/kustomize//examples/helloWorld?ref=v5.0.0\n',
        'kustomize/remote/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\n',
        'charts/broken/Chart.yaml': 'apiVersion: v2\nname: broken\nversion: 0.1.0\n',
        'charts/broken/templates/ok.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: ok }\n',
        'charts/broken/templates/configmap.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}\ndata:\n  x: {{ .Values.x | notAFunction }}\n',
        'charts/undeclared/Chart.yaml':
          'apiVersion: v2\nname: undeclared\nversion: 0.1.0\ndependencies:\n  - name: redis\n    version: 18.1.0\n    repository: file://../redis\n',
        'charts/undeclared/templates/cm.yaml':
          'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: cm }\n',
      },
      'broken sources',
    );
  });

  const failWith = async (path: string) => {
    await h.setApp({ namespace: 'default', source: { path } });
    const outcome = await h.reconcile();
    expect(outcome.status.operation?.phase).toBe('Failed');
    expect(outcome.status.operation?.applied ?? 0).toBe(0);
    expect(await labelledObjects(h.appName)).toBe(0);
    if (!outcome.error) throw new Error(`${path} did not fail`);
    return outcome.error;
  };

  it('a broken kustomization: the kustomization file and kustomize message', async () => {
    const e = await failWith('kustomize/broken');
    expect(e.reason).toBe('RenderFailed');
    expect(e.location.file).toBe('kustomize/broken/kustomization.yaml');
    expect(e.message).toMatch(/^kustomize: .*missing-patch\.yaml/);
    // The checkout's location on disk is not in the message.
    expect(e.message).not.toContain('driftless-gitcache');
  });

  it('a broken template: the template file and line, and helm message', async () => {
    const e = await failWith('charts/broken');
    expect(e.reason).toBe('RenderFailed');
    expect(e.location).toMatchObject({ file: 'charts/broken/templates/configmap.yaml', line: 6 });
    expect(e.message).toMatch(/^helm template: .*function "notAFunction" not defined/);
  });

  it('a remote kustomize base: refused before kustomize runs', async () => {
    const e = await failWith('kustomize/remote');
    expect(e.reason).toBe('InvalidManifest');
    expect(e.location).toMatchObject({
      file: 'kustomize/remote/kustomization.yaml',
      line: 3,
      field: 'resources[1]',
    });
    expect(e.message).toMatch(
      /remote base "https:\/\/github\.com\/kubernetes-sigs.*without network/,
    );
  });

  it('a chart with a dependency not vendored under charts/', async () => {
    const e = await failWith('charts/undeclared');
    expect(e.reason).toBe('InvalidManifest');
    expect(e.location).toMatchObject({
      file: 'charts/undeclared/Chart.yaml',
      line: 5,
      field: 'dependencies[0]',
    });
    expect(e.message).toMatch(
      /dependency "redis" .* is not vendored under charts\/undeclared\/charts\//,
    );
  });
});
