// The benchmark's application: `objects` realistic manifests over eight kinds
// (ConfigMap, Secret, ServiceAccount, Service, Deployment, Role, RoleBinding,
// NetworkPolicy), one "component" of each kind at a time, in a namespace of
// their own, spread over files of at most 25 objects by tier, plus the
// Namespace itself. The same generator writes Driftless's Git repository and
// kubectl's directory; only the namespace and the app label's value differ.

import { stringify } from 'yaml';
import { mapBounded } from '../lib/concurrency.js';
import type { KubeClient } from '../lib/kube/client.js';
import { LABEL_APP } from '../lib/model/object.js';

export interface AppManifests {
  /** file name → YAML, file names sort in apply order (namespace first). */
  files: Record<string, string>;
  /** Objects in the namespace (the Namespace object itself not counted). */
  objects: number;
  kinds: string[];
}

type Obj = Record<string, unknown>;

const PER_FILE = 25;

/**
 * `objects` objects in namespace `namespace`, labelled with the tracking label
 * `app` — or without it (`tracked: false`) for another tool's copy of the app,
 * which Driftless's label-selected LISTs must not return.
 */
export function generateApp(
  objects: number,
  namespace: string,
  app: string,
  opts: { tracked?: boolean } = {},
): AppManifests {
  const tracking: Record<string, string> = opts.tracked === false ? {} : { [LABEL_APP]: app };
  const tiers: Record<'config' | 'rbac' | 'network' | 'workloads', Obj[]> = {
    config: [],
    rbac: [],
    network: [],
    workloads: [],
  };
  const kinds = [
    ['config', configMap],
    ['config', secret],
    ['rbac', serviceAccount],
    ['network', service],
    ['workloads', deployment],
    ['rbac', role],
    ['rbac', roleBinding],
    ['network', networkPolicy],
  ] as const;
  for (let i = 0; i < objects; i++) {
    const [tier, make] = kinds[i % kinds.length] as (typeof kinds)[number];
    const component = `svc-${String(Math.floor(i / kinds.length)).padStart(3, '0')}`;
    const obj = make(component, namespace);
    const meta = obj.metadata as { labels: Record<string, string> };
    meta.labels = { ...meta.labels, ...tracking };
    tiers[tier].push(obj);
  }

  const files: Record<string, string> = {
    '00-namespace.yaml': stringify({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: namespace, labels: { team: 'payments', ...tracking } },
    }),
  };
  const order = ['config', 'rbac', 'network', 'workloads'] as const;
  order.forEach((tier, t) => {
    const all = tiers[tier];
    for (let f = 0; f * PER_FILE < all.length; f++) {
      const docs = all.slice(f * PER_FILE, (f + 1) * PER_FILE).map((o) => stringify(o));
      files[`${(t + 1) * 10}-${tier}-${String(f).padStart(2, '0')}.yaml`] = docs.join('---\n');
    }
  });
  return { files, objects, kinds: kinds.map(([, make]) => String(make('x', 'x').kind)) };
}

function labels(component: string): Record<string, string> {
  return {
    'app.kubernetes.io/name': component,
    'app.kubernetes.io/part-of': 'checkout',
    'app.kubernetes.io/managed-by': 'driftless',
  };
}

function configMap(c: string, namespace: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: `${c}-config`, namespace, labels: labels(c) },
    data: {
      LOG_LEVEL: 'info',
      HTTP_PORT: '8080',
      UPSTREAM_URL: `http://${c}-upstream.${namespace}.svc.cluster.local:8080`,
      'application.yaml': [
        'server:',
        '  port: 8080',
        '  shutdownGracePeriod: 20s',
        'cache:',
        '  ttl: 5m',
        '  maxEntries: 10000',
        'features:',
        '  newCheckout: true',
        '  recommendations: false',
        '',
      ].join('\n'),
    },
  };
}

function secret(c: string, namespace: string): Obj {
  const b64 = (s: string) => Buffer.from(s).toString('base64');
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    metadata: { name: `${c}-credentials`, namespace, labels: labels(c) },
    type: 'Opaque',
    data: {
      DATABASE_URL: b64(`postgres://${c}:not-a-real-password@db.${namespace}:5432/${c}`),
      API_TOKEN: b64(`token-${c}-0123456789abcdef`),
    },
  };
}

function serviceAccount(c: string, namespace: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: c, namespace, labels: labels(c) },
    automountServiceAccountToken: false,
  };
}

function service(c: string, namespace: string): Obj {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: c, namespace, labels: labels(c) },
    spec: {
      type: 'ClusterIP',
      selector: { 'app.kubernetes.io/name': c },
      ports: [
        { name: 'http', port: 80, targetPort: 'http', protocol: 'TCP' },
        { name: 'metrics', port: 9090, targetPort: 'metrics', protocol: 'TCP' },
      ],
    },
  };
}

function deployment(c: string, namespace: string): Obj {
  return {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: c, namespace, labels: labels(c) },
    spec: {
      replicas: 2,
      revisionHistoryLimit: 5,
      selector: { matchLabels: { 'app.kubernetes.io/name': c } },
      strategy: { type: 'RollingUpdate', rollingUpdate: { maxSurge: '25%', maxUnavailable: 0 } },
      template: {
        metadata: {
          labels: { 'app.kubernetes.io/name': c, 'app.kubernetes.io/part-of': 'checkout' },
          annotations: { 'prometheus.io/scrape': 'true', 'prometheus.io/port': '9090' },
        },
        spec: {
          serviceAccountName: c,
          securityContext: { runAsNonRoot: true, runAsUser: 10001, fsGroup: 10001 },
          containers: [
            {
              name: 'app',
              image: `registry.example.com/checkout/${c}:1.42.0`,
              imagePullPolicy: 'IfNotPresent',
              ports: [
                { name: 'http', containerPort: 8080 },
                { name: 'metrics', containerPort: 9090 },
              ],
              envFrom: [{ configMapRef: { name: `${c}-config` } }],
              env: [
                {
                  name: 'DATABASE_URL',
                  valueFrom: { secretKeyRef: { name: `${c}-credentials`, key: 'DATABASE_URL' } },
                },
                {
                  name: 'POD_NAME',
                  valueFrom: { fieldRef: { fieldPath: 'metadata.name' } },
                },
              ],
              resources: {
                requests: { cpu: '100m', memory: '128Mi' },
                limits: { cpu: '500m', memory: '512Mi' },
              },
              readinessProbe: {
                httpGet: { path: '/healthz/ready', port: 'http' },
                periodSeconds: 5,
              },
              livenessProbe: {
                httpGet: { path: '/healthz/live', port: 'http' },
                initialDelaySeconds: 10,
                periodSeconds: 10,
              },
              securityContext: {
                allowPrivilegeEscalation: false,
                readOnlyRootFilesystem: true,
                capabilities: { drop: ['ALL'] },
              },
              volumeMounts: [{ name: 'tmp', mountPath: '/tmp' }],
            },
          ],
          volumes: [{ name: 'tmp', emptyDir: {} }],
        },
      },
    },
  };
}

function role(c: string, namespace: string): Obj {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'Role',
    metadata: { name: `${c}-reader`, namespace, labels: labels(c) },
    rules: [
      {
        apiGroups: [''],
        resources: ['configmaps', 'secrets'],
        resourceNames: [`${c}-config`, `${c}-credentials`],
        verbs: ['get', 'watch'],
      },
      { apiGroups: [''], resources: ['endpoints', 'services'], verbs: ['get', 'list', 'watch'] },
    ],
  };
}

function roleBinding(c: string, namespace: string): Obj {
  return {
    apiVersion: 'rbac.authorization.k8s.io/v1',
    kind: 'RoleBinding',
    metadata: { name: `${c}-reader`, namespace, labels: labels(c) },
    roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: `${c}-reader` },
    subjects: [{ kind: 'ServiceAccount', name: c, namespace }],
  };
}

function networkPolicy(c: string, namespace: string): Obj {
  return {
    apiVersion: 'networking.k8s.io/v1',
    kind: 'NetworkPolicy',
    metadata: { name: `${c}-ingress`, namespace, labels: labels(c) },
    spec: {
      podSelector: { matchLabels: { 'app.kubernetes.io/name': c } },
      policyTypes: ['Ingress'],
      ingress: [
        {
          from: [
            { podSelector: { matchLabels: { 'app.kubernetes.io/part-of': 'checkout' } } },
            {
              namespaceSelector: {
                matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' },
              },
            },
          ],
          ports: [
            { protocol: 'TCP', port: 8080 },
            { protocol: 'TCP', port: 9090 },
          ],
        },
      ],
    },
  };
}

/**
 * What a Deployment controller would do (the base profile runs none): report
 * the rollout complete, so the app becomes Healthy and its sync finishes.
 */
export async function markDeploymentsAvailable(
  admin: KubeClient,
  namespace: string,
): Promise<void> {
  const deployments = await admin.list('apps/v1', 'Deployment', { namespace });
  const now = new Date().toISOString();
  await mapBounded(deployments, 8, async (d) => {
    const replicas = Number((d.spec as { replicas?: number } | undefined)?.replicas ?? 1);
    await admin.requestJson(
      'PATCH',
      `/apis/apps/v1/namespaces/${namespace}/deployments/${d.metadata.name}/status`,
      {
        status: {
          observedGeneration: d.metadata.generation,
          replicas,
          updatedReplicas: replicas,
          readyReplicas: replicas,
          availableReplicas: replicas,
          conditions: [
            {
              type: 'Available',
              status: 'True',
              reason: 'MinimumReplicasAvailable',
              message: 'Deployment has minimum availability.',
              lastUpdateTime: now,
              lastTransitionTime: now,
            },
            {
              type: 'Progressing',
              status: 'True',
              reason: 'NewReplicaSetAvailable',
              message: `ReplicaSet "${d.metadata.name}-5d8f7c9b6" has successfully progressed.`,
              lastUpdateTime: now,
              lastTransitionTime: now,
            },
          ],
        },
      },
      { contentType: 'application/merge-patch+json' },
    );
  });
}
