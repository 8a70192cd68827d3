// evaluateHealth against objects the real control plane moves along: the
// Deployment, ReplicaSet and Job controllers, the scheduler and kwok's fake
// kubelets write the statuses read here. Objects are read as raw JSON, the
// way Driftless reads them, not through client-node's model classes.

import https from 'node:https';
import { Watch } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { evaluateHealth } from '../../lib/health/index.js';
import type { KubeObject } from '../../lib/model/object.js';
import type { HealthResult } from '../../lib/model/status.js';
import { uniqueName } from '../support/env.js';
import { eventually, kubeConfig, testNamespace } from '../support/kube.js';

const MERGE_PATCH = 'application/merge-patch+json';

/** One request to the API server as the test admin; the parsed JSON body. */
async function kube<T = KubeObject>(
  method: string,
  path: string,
  body?: unknown,
  contentType = 'application/json',
): Promise<T> {
  const kc = kubeConfig();
  const server = kc.getCurrentCluster()?.server;
  if (!server) throw new Error('kubeconfig has no current cluster');
  const options: https.RequestOptions = {
    method,
    headers: { accept: 'application/json', ...(body ? { 'content-type': contentType } : {}) },
  };
  await kc.applyToHTTPSOptions(options);
  return new Promise<T>((resolve, reject) => {
    const req = https.request(new URL(path, server), options, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 300) {
          reject(new Error(`${method} ${path}: HTTP ${res.statusCode}: ${text.slice(0, 500)}`));
        } else {
          resolve(JSON.parse(text) as T);
        }
      });
    });
    req.on('error', reject);
    if (body) req.write(JSON.stringify(body));
    req.end();
  });
}

async function healthOf(path: string): Promise<{ obj: KubeObject; health: HealthResult }> {
  const obj = await kube('GET', path);
  return { obj, health: evaluateHealth(obj) };
}

/**
 * Follows one object on the API server's watch from the version `from` (what
 * a create or patch answered) until evaluateHealth reports `status`; returns
 * every distinct result on the way. The watch replays every version after
 * `from`, so a state the controllers hold only briefly is seen however slow
 * this process is; polling could miss it.
 */
async function healthUntil(
  path: string,
  status: HealthResult['status'],
  from: KubeObject,
  timeoutMs = 60_000,
): Promise<{ final: HealthResult; seen: HealthResult[] }> {
  const slash = path.lastIndexOf('/');
  const collection = path.slice(0, slash);
  const name = path.slice(slash + 1);
  const seen: HealthResult[] = [];
  const note = (obj: KubeObject): HealthResult => {
    const health = evaluateHealth(obj);
    const last = seen.at(-1);
    if (!last || last.status !== health.status || last.message !== health.message) {
      seen.push(health);
    }
    return health;
  };
  const start = note(from);
  if (start.status === status) return { final: start, seen };
  let abort: (() => void) | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const final = await new Promise<HealthResult>((resolve, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `${path} not ${status} after ${timeoutMs / 1000}s; seen: ${JSON.stringify(seen)}`,
            ),
          ),
        timeoutMs,
      );
      new Watch(kubeConfig())
        .watch(
          collection,
          {
            fieldSelector: `metadata.name=${name}`,
            resourceVersion: from.metadata.resourceVersion,
            allowWatchBookmarks: false,
          },
          (type: string, obj: KubeObject) => {
            if (type === 'DELETED') reject(new Error(`${path} was deleted`));
            else if (type === 'ADDED' || type === 'MODIFIED') {
              const health = note(obj);
              if (health.status === status) resolve(health);
            }
          },
          (err: unknown) =>
            reject(new Error(`the watch of ${path} ended before ${status}: ${String(err)}`)),
        )
        .then((c) => {
          abort = () => c.abort();
        }, reject);
    });
    return { final, seen };
  } finally {
    clearTimeout(timer);
    abort?.();
  }
}

interface PodList {
  items: KubeObject[];
}

const deploymentBody = (name: string, version: string) => ({
  apiVersion: 'apps/v1',
  kind: 'Deployment',
  metadata: { name },
  spec: {
    replicas: 2,
    // Keeps new pods unavailable for a moment, so the first read cannot race
    // kwok into an already finished rollout.
    minReadySeconds: 2,
    selector: { matchLabels: { app: name } },
    template: {
      metadata: { labels: { app: name }, annotations: { 'example.com/version': version } },
      spec: { containers: [{ name: 'web', image: `nginx:${version}` }] },
    },
  },
});

describe('health of workloads under the real controllers', () => {
  it('sees a Deployment Progressing, then Healthy, and again when its template changes', async () => {
    const ns = await testNamespace('health-deploy');
    const path = `/apis/apps/v1/namespaces/${ns}/deployments/web`;
    const created = await kube(
      'POST',
      `/apis/apps/v1/namespaces/${ns}/deployments`,
      deploymentBody('web', '1.27'),
    );

    // The version the API server stored, before any controller wrote a status.
    const first = evaluateHealth(created);
    expect(first.status).toBe('Progressing');
    expect(first.recheckAfterMs).toBeGreaterThan(0);

    const rollout = await healthUntil(path, 'Healthy', created);
    expect(rollout.final.message).toBe('2 of 2 replicas available');
    // On the way it said what it was waiting for (minReadySeconds holds this
    // state for 2 s; the watch sees it however long a read takes here).
    expect(rollout.seen.map((h) => h.message)).toContain(
      'waiting for rollout: 0 of 2 updated replicas are available',
    );
    expect(
      rollout.seen.every((h) => h.status !== 'Progressing' || h.recheckAfterMs === 5_000),
    ).toBe(true);

    // Roll to a new template.
    const patched = await kube(
      'PATCH',
      path,
      {
        spec: {
          template: {
            metadata: { annotations: { 'example.com/version': '1.28' } },
            spec: { containers: [{ name: 'web', image: 'nginx:1.28' }] },
          },
        },
      },
      'application/strategic-merge-patch+json',
    );
    // The patched version: a generation the controller has not observed yet.
    const rolling = evaluateHealth(patched);
    expect(rolling.status).toBe('Progressing');
    expect(rolling.recheckAfterMs).toBeGreaterThan(0);
    expect(rolling.message).toMatch(/^waiting for rollout/);

    const rolled = await healthUntil(path, 'Healthy', patched);
    expect(rolled.final.message).toBe('2 of 2 replicas available');
    // maxSurge 1, maxUnavailable 0: one new pod at a time, each unavailable for 2 s.
    expect(rolled.seen.map((h) => h.message)).toContain(
      'waiting for rollout: 1 of 2 replicas updated',
    );
    const done = await kube<KubeObject & { status: { observedGeneration: number } }>('GET', path);
    expect(done.status.observedGeneration).toBe(done.metadata.generation);
    expect(done.metadata.generation).toBe(2);
    // The pods it ended with carry the new template.
    const pods = await kube<PodList>(
      'GET',
      `/api/v1/namespaces/${ns}/pods?labelSelector=app%3Dweb`,
    );
    const live = pods.items.filter((p) => !p.metadata.deletionTimestamp);
    expect(live.map((p) => p.metadata.annotations?.['example.com/version'])).toEqual([
      '1.28',
      '1.28',
    ]);
  });

  it('sees a Job that completes as Healthy', async () => {
    const ns = await testNamespace('health-job-ok');
    const path = `/apis/batch/v1/namespaces/${ns}/jobs/once`;
    const created = await kube('POST', `/apis/batch/v1/namespaces/${ns}/jobs`, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'once' },
      spec: {
        template: {
          spec: { restartPolicy: 'Never', containers: [{ name: 'once', image: 'busybox' }] },
        },
      },
    });
    const { final } = await healthUntil(path, 'Healthy', created);
    expect(final.message).toBe('completed: 1 succeeded');
  });

  it('sees a Job whose pod fails as Degraded with the Job controller’s reason', async () => {
    const ns = await testNamespace('health-job-fail');
    const path = `/apis/batch/v1/namespaces/${ns}/jobs/migrate`;
    const created = await kube('POST', `/apis/batch/v1/namespaces/${ns}/jobs`, {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name: 'migrate' },
      spec: {
        backoffLimit: 0,
        template: {
          // kwok leaves pods with this annotation alone (--disregard-status-with-
          // annotation-selector), so the status written below is the only one.
          metadata: { annotations: { 'kwok.x-k8s.io/status': 'custom' } },
          spec: { restartPolicy: 'Never', containers: [{ name: 'migrate', image: 'migrate:1' }] },
        },
      },
    });
    expect(evaluateHealth(created).status).toBe('Progressing');

    // The scheduler binds the pod to a fake node; nothing runs it.
    const pod = await eventually('the Job pod to be scheduled', async () => {
      const pods = await kube<PodList>(
        'GET',
        `/api/v1/namespaces/${ns}/pods?labelSelector=batch.kubernetes.io%2Fjob-name%3Dmigrate`,
      );
      const p = pods.items[0];
      return p && (p.spec as { nodeName?: string } | undefined)?.nodeName ? p : undefined;
    });
    // LIST items carry no apiVersion/kind; read the pod itself.
    const podPath = `/api/v1/namespaces/${ns}/pods/${pod.metadata.name}`;
    expect((await healthOf(podPath)).health).toMatchObject({
      status: 'Progressing',
      message: `pending: scheduled on ${(pod.spec as { nodeName: string }).nodeName}, waiting for containers to start`,
    });

    // Play the kubelet: the container exited 1 and the pod failed.
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    await kube(
      'PATCH',
      `${podPath}/status`,
      {
        status: {
          phase: 'Failed',
          conditions: [
            { type: 'PodScheduled', status: 'True', lastTransitionTime: now },
            { type: 'Initialized', status: 'True', lastTransitionTime: now },
            {
              type: 'ContainersReady',
              status: 'False',
              reason: 'PodFailed',
              lastTransitionTime: now,
            },
            { type: 'Ready', status: 'False', reason: 'PodFailed', lastTransitionTime: now },
          ],
          containerStatuses: [
            {
              name: 'migrate',
              image: 'migrate:1',
              imageID: 'docker.io/library/migrate@sha256:0000',
              ready: false,
              started: false,
              restartCount: 0,
              state: {
                terminated: {
                  exitCode: 1,
                  reason: 'Error',
                  message: 'migration 0042 failed',
                  startedAt: now,
                  finishedAt: now,
                },
              },
            },
          ],
        },
      },
      MERGE_PATCH,
    );
    const failedPod = await healthOf(podPath);
    expect(failedPod.health).toEqual({
      status: 'Degraded',
      message: 'container migrate: Error (exit code 1): migration 0042 failed',
    });

    // The real Job controller counts the failure against backoffLimit 0.
    const { final, seen } = await healthUntil(path, 'Degraded', created);
    expect(final.message).toMatch(
      /^BackoffLimitExceeded: Job has reached the specified backoff limit/,
    );
    expect(seen.every((h) => h.status === 'Progressing' || h.status === 'Degraded')).toBe(true);
    // The controller marks the Job failing (FailureTarget, which health reads)
    // before it counts the pod in status.failed: wait for the count.
    const failed = await eventually('the Job controller to count the failed pod', async () => {
      const job = await kube<KubeObject & { status: { failed?: number } }>('GET', path);
      return job.status.failed;
    });
    expect(failed).toBe(1);
  });
});

describe('health of storage, namespaces and CRDs', () => {
  it('keeps a PVC without a provisioner Pending: Progressing', async () => {
    const ns = await testNamespace('health-pvc');
    const path = `/api/v1/namespaces/${ns}/persistentvolumeclaims/data`;
    await kube('POST', `/api/v1/namespaces/${ns}/persistentvolumeclaims`, {
      apiVersion: 'v1',
      kind: 'PersistentVolumeClaim',
      metadata: { name: 'data' },
      spec: {
        accessModes: ['ReadWriteOnce'],
        storageClassName: 'no-such-provisioner',
        resources: { requests: { storage: '1Gi' } },
      },
    });
    // The PV controller has looked at it (its event says why it cannot bind),
    // and it stays Pending.
    const looked = await eventually('the PV controller to report on the claim', async () => {
      const events = await kube<{ items: { reason?: string; message?: string }[] }>(
        'GET',
        `/api/v1/namespaces/${ns}/events?fieldSelector=${encodeURIComponent('involvedObject.kind=PersistentVolumeClaim,involvedObject.name=data')}`,
      );
      return events.items[0];
    });
    expect(looked.reason).toBe('ProvisioningFailed');
    expect(looked.message).toContain('no-such-provisioner');
    const { obj, health } = await healthOf(path);
    expect((obj.status as { phase?: string }).phase).toBe('Pending');
    expect(health).toEqual({
      status: 'Progressing',
      message: 'waiting for a volume to bind (storage class no-such-provisioner)',
      recheckAfterMs: 15_000,
    });
  });

  it('sees a Namespace Healthy, and Terminating as Progressing while a finalizer holds it', async () => {
    const ns = await testNamespace('health-ns');
    expect((await healthOf(`/api/v1/namespaces/${ns}`)).health).toEqual({ status: 'Healthy' });

    const doomed = uniqueName('health-ns-doomed');
    await kube('POST', '/api/v1/namespaces', { metadata: { name: doomed } });
    const cmPath = `/api/v1/namespaces/${doomed}/configmaps/held`;
    await kube('POST', `/api/v1/namespaces/${doomed}/configmaps`, {
      metadata: { name: 'held', finalizers: ['example.com/hold'] },
      data: { a: '1' },
    });
    const release = () => kube('PATCH', cmPath, { metadata: { finalizers: null } }, MERGE_PATCH);
    try {
      await kube('DELETE', `/api/v1/namespaces/${doomed}`);
      // The namespace controller deletes the content, the finalizer holds the ConfigMap.
      const terminating = await eventually('the namespace to report what remains', async () => {
        const { health } = await healthOf(`/api/v1/namespaces/${doomed}`);
        return /remain/i.test(health.message ?? '') ? health : undefined;
      });
      expect(terminating.status).toBe('Progressing');
      expect(terminating.message).toMatch(/^terminating: .*example\.com\/hold/);
      const held = await eventually('the ConfigMap to be marked for deletion', async () => {
        const r = await healthOf(cmPath);
        return r.obj.metadata.deletionTimestamp ? r.health : undefined;
      });
      expect(held).toMatchObject({
        status: 'Progressing',
        message: 'being deleted, waiting for finalizers: example.com/hold',
      });
    } finally {
      await release().catch(() => {});
    }
    await eventually('the namespace to be gone', async () => {
      try {
        await kube('GET', `/api/v1/namespaces/${doomed}`);
        return undefined;
      } catch (e) {
        return /HTTP 404/.test(String(e)) ? true : undefined;
      }
    });
  });

  const crds: string[] = [];
  afterAll(async () => {
    for (const name of crds) {
      await kube('DELETE', `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${name}`).catch(
        () => {},
      );
    }
  });

  const crd = (group: string, plural: string, kind: string) => ({
    apiVersion: 'apiextensions.k8s.io/v1',
    kind: 'CustomResourceDefinition',
    metadata: { name: `${plural}.${group}` },
    spec: {
      group,
      scope: 'Namespaced',
      names: { plural, singular: plural.replace(/s$/, ''), kind, listKind: `${kind}List` },
      versions: [
        {
          name: 'v1',
          served: true,
          storage: true,
          schema: {
            openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
          },
        },
      ],
    },
  });

  async function createCrd(
    body: ReturnType<typeof crd>,
  ): Promise<[path: string, created: KubeObject]> {
    const created = await kube(
      'POST',
      '/apis/apiextensions.k8s.io/v1/customresourcedefinitions',
      body,
    );
    crds.push(body.metadata.name);
    return [
      `/apis/apiextensions.k8s.io/v1/customresourcedefinitions/${body.metadata.name}`,
      created,
    ];
  }

  it('sees a CRD become Established: Healthy', async () => {
    const group = `${uniqueName('health')}.example.com`;
    const [path, created] = await createCrd(crd(group, 'widgets', 'Widget'));
    const { final } = await healthUntil(path, 'Healthy', created, 30_000);
    expect(final.message).toBe('established');
  });

  it('sees a CRD whose kind clashes with another in its group as Degraded', async () => {
    const group = `${uniqueName('health')}.example.com`;
    const [first, firstCreated] = await createCrd(crd(group, 'widgets', 'Widget'));
    await healthUntil(first, 'Healthy', firstCreated, 30_000);
    const [clash, clashCreated] = await createCrd(crd(group, 'gadgets', 'Widget'));
    const { final } = await healthUntil(clash, 'Degraded', clashCreated, 30_000);
    // The naming controller names the first clash it finds: Kind or ListKind.
    expect(final.message).toMatch(
      /^names not accepted: (Kind|ListKind)Conflict: "Widget(List)?" is already in use$/,
    );
  });
});
