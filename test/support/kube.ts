import {
  CoreV1Api,
  KubeConfig,
  KubernetesObjectApi,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import { afterAll } from 'vitest';
import { testenv, uniqueName } from './env.js';

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(testenv().kube.kubeconfig);
  return kc;
}

/** A fresh namespace for the calling test file, deleted after its tests. */
export async function testNamespace(prefix: string): Promise<string> {
  const name = uniqueName(prefix);
  const core = kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespace({ body: { metadata: { name } } });
  afterAll(async () => {
    await core.deleteNamespace({ name }).catch(() => {});
  });
  return name;
}

export function objectApi(): KubernetesObjectApi {
  return KubernetesObjectApi.makeApiClient(kubeConfig());
}

/**
 * What a read of the API server answered, or undefined when the object does
 * not exist (404). Any other failure (a broken setup, a 403, an unreachable
 * server) is thrown, so it cannot pass for "absent".
 */
export async function unlessNotFound<T>(read: Promise<T>): Promise<T | undefined> {
  try {
    return await read;
  } catch (e) {
    if ((e as { code?: number }).code === 404) return undefined;
    throw e;
  }
}

/** Polls `check` until it returns a value, or fails with `what` after timeoutMs. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(
    `timed out after ${timeoutMs / 1000}s waiting for ${what}${last ? `: ${last}` : ''}`,
  );
}

/**
 * Plays the kubelet for a Job whose pod template carries the annotation
 * `kwok.x-k8s.io/status: custom` (kwok leaves such pods alone): once its pod
 * is scheduled, marks it Failed with exit code 1, so the real Job controller
 * fails the Job. Resolves with the pod's name.
 */
export function failJobPod(namespace: string, job: string, message = 'exit 1'): Promise<string> {
  return finishJobPod(namespace, job, 'Failed', message);
}

/** Like failJobPod, but the pod exits 0: the real Job controller completes the Job. */
export function succeedJobPod(namespace: string, job: string): Promise<string> {
  return finishJobPod(namespace, job, 'Succeeded', 'done');
}

async function finishJobPod(
  namespace: string,
  job: string,
  phase: 'Succeeded' | 'Failed',
  message: string,
): Promise<string> {
  const core = kubeConfig().makeApiClient(CoreV1Api);
  const pod = await eventually(`a scheduled pod of Job ${job}`, async () => {
    const pods = await core.listNamespacedPod({
      namespace,
      labelSelector: `batch.kubernetes.io/job-name=${job}`,
    });
    return pods.items.find(
      (p) => p.spec?.nodeName && p.status?.phase !== 'Failed' && p.status?.phase !== 'Succeeded',
    );
  });
  const now = new Date();
  const name = pod.metadata?.name as string;
  const failed = phase === 'Failed';
  await core.patchNamespacedPodStatus(
    {
      name,
      namespace,
      body: {
        status: {
          phase,
          conditions: [
            { type: 'Ready', status: 'False', reason: 'PodCompleted', lastTransitionTime: now },
          ],
          containerStatuses: (pod.spec?.containers ?? []).map((c) => ({
            name: c.name,
            image: c.image ?? '',
            imageID: '',
            ready: false,
            restartCount: 0,
            state: {
              terminated: {
                exitCode: failed ? 1 : 0,
                reason: failed ? 'Error' : 'Completed',
                message,
                startedAt: now,
                finishedAt: now,
              },
            },
          })),
        },
      },
    },
    setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
  );
  return name;
}

/** The ConfigMaps of a namespace by name, sorted, without the one the cluster puts in each. */
export async function configMapNames(namespace: string): Promise<string[]> {
  const list = await kubeConfig().makeApiClient(CoreV1Api).listNamespacedConfigMap({ namespace });
  return list.items
    .map((c) => c.metadata?.name ?? '')
    .filter((n) => n !== 'kube-root-ca.crt')
    .sort();
}
