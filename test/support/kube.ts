import { CoreV1Api, KubeConfig, KubernetesObjectApi } from '@kubernetes/client-node';
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
