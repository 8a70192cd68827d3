// Transient API failures are retried inside the client, against the real API
// server: API Priority and Fairness rejecting Driftless's user with 429 and
// Retry-After (a FlowSchema and a PriorityLevelConfiguration with no seats and
// no queue), and a loopback proxy in front of the server that resets
// connections or answers 500, 502, 503 or 504 for the first ones. Also what
// is not transient: a body the server cannot type is a bad manifest, and a
// DELETE whose UID precondition fails means the object is already gone.

import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { KubeClient, type RetryEvent } from '../../lib/kube/client.js';
import { kubeconfigAccess } from '../../lib/kube/kubeconfig.js';
import { type StarvedAccount, starvedAccount } from '../support/apf.js';
import { testenv } from '../support/env.js';
import { rejection } from '../support/errors.js';
import { type ConnectionFault, flakyProxy } from '../support/flaky-proxy.js';
import { eventually, kubeConfig, testNamespace } from '../support/kube.js';

function configMap(namespace: string, name: string, data: Record<string, unknown> = { k: 'v' }) {
  return { apiVersion: 'v1', kind: 'ConfigMap', metadata: { name, namespace }, data };
}

describe('429 from API Priority and Fairness', () => {
  let ns: string;
  let apf: StarvedAccount;
  beforeAll(async () => {
    apf = await starvedAccount('apf');
    ns = apf.namespace;
  });
  const throttledClient = (opts?: ConstructorParameters<typeof KubeClient>[1]) => apf.client(opts);
  const occupySeat = () => apf.occupySeat();

  it('gives up after the bounded attempts with ClusterThrottled (not an outage) naming the 429', async () => {
    const seat = await occupySeat();
    const events: RetryEvent[] = [];
    const c = await throttledClient({ retry: { attempts: 3 }, onRetry: (e) => events.push(e) });
    const e = await rejection(c.requestJson('GET', '/version'));
    await seat.release();
    expect(e.reason).toBe('ClusterThrottled');
    expect(e.message).toMatch(/answered 429/);
    expect(e.message).toMatch(/gave up after 3 attempts/);
    expect(c.stats.retries).toBe(2);
    expect(events.map((x) => x.cause)).toEqual([429, 429]);
    // The server's Retry-After, not a guess: APF asks for at least a second.
    for (const x of events) {
      expect(x.retryAfter).toBe(true);
      expect(x.delayMs).toBeGreaterThanOrEqual(1000);
    }
    c.close();
  });

  it('retries a 429 until the server admits the request, then succeeds', async () => {
    const seat = await occupySeat();
    const events: RetryEvent[] = [];
    const c = await throttledClient({ onRetry: (e) => events.push(e) });
    const applied = c.apply(configMap(ns, 'after-throttling'));
    // Once the client has been turned away at least once, free the seat.
    await eventually('a retried 429', async () => (events.length ? true : undefined));
    await seat.release();
    const live = await applied;
    expect(events[0]).toMatchObject({ cause: 429, retryAfter: true });
    const stored = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'after-throttling', namespace: ns });
    expect(stored.data).toEqual({ k: 'v' });
    // What the retried apply answered is the object stored.
    expect(live.metadata.uid).toBe(stored.metadata?.uid);
    c.close();
  });
});

describe('connection resets and 503 from a proxy in front of the API server', () => {
  let ns: string;
  beforeAll(async () => {
    ns = await testNamespace('flaky');
  });

  async function clientThrough(server: string, opts: ConstructorParameters<typeof KubeClient>[1]) {
    const access = await kubeconfigAccess(testenv().kube.kubeconfig);
    return new KubeClient({ ...access, server }, { clusterName: 'test', ...opts });
  }

  it('retries resets and 503s with jittered backoff and succeeds', async () => {
    const proxy = await flakyProxy((i) =>
      i === 0 || i === 2 ? 'reset' : i === 1 ? '503' : 'pass',
    );
    const events: RetryEvent[] = [];
    const c = await clientThrough(proxy.server, {
      retry: { baseDelayMs: 50 },
      onRetry: (e) => events.push(e),
    });
    const live = await c.apply(configMap(ns, 'through-proxy'));
    expect(live.metadata.name).toBe('through-proxy');
    // Discovery (two GETs) and the apply met the three faults between them.
    expect(proxy.seen.slice(0, 3)).toEqual(['reset', '503', 'reset']);
    expect(events.map((e) => e.cause).sort()).toEqual([503, 'ECONNRESET', 'ECONNRESET'].sort());
    for (const e of events) {
      expect(e.retryAfter).toBe(false);
      expect(e.delayMs).toBeLessThan(50 * 2 ** (e.attempt - 1));
    }
    const stored = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'through-proxy', namespace: ns });
    expect(stored.metadata?.uid).toBe(live.metadata.uid);
    c.close();
  });

  it('retries an internal 500, a 502 and a 504 the same way and succeeds', async () => {
    const plan: ConnectionFault[] = ['500', '502', '504'];
    const proxy = await flakyProxy((i) => plan[i] ?? 'pass');
    const events: RetryEvent[] = [];
    const c = await clientThrough(proxy.server, {
      retry: { baseDelayMs: 50 },
      onRetry: (e) => events.push(e),
    });
    const live = await c.apply(configMap(ns, 'through-5xx'));
    expect(proxy.seen.slice(0, 3)).toEqual(plan);
    expect(events.map((e) => e.cause).sort()).toEqual([500, 502, 504]);
    for (const e of events) expect(e.retryAfter).toBe(false);
    const stored = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'through-5xx', namespace: ns });
    expect(stored.metadata?.uid).toBe(live.metadata.uid);
    c.close();
  });

  it('fails with ClusterUnreachable once the attempts are spent', async () => {
    const proxy = await flakyProxy(() => '503');
    const c = await clientThrough(proxy.server, { retry: { attempts: 4, baseDelayMs: 20 } });
    const e = await rejection(c.resource('v1', 'ConfigMap'));
    expect(e.reason).toBe('ClusterUnreachable');
    expect(e.message).toMatch(/answered 503: upstream connect error \(gave up after 4 attempts/);
    // Discovery's two requests (/api, /apis), each tried four times.
    expect(c.stats.retries).toBe(6);
    c.close();
  });

  it('does not repeat a DELETE without a UID precondition after a reset', async () => {
    const access = await kubeconfigAccess(testenv().kube.kubeconfig);
    const direct = new KubeClient(access, { clusterName: 'test' });
    await direct.apply(configMap(ns, 'delete-once'));
    await direct.resource('v1', 'ConfigMap');
    // Discovery passes; the DELETE's connection is reset.
    const proxy = await flakyProxy((i) => (i < 2 ? 'pass' : 'reset'));
    const c = await clientThrough(proxy.server, { retry: { baseDelayMs: 20 } });
    await c.resource('v1', 'ConfigMap');
    proxy.dropConnections();
    const e = await rejection(
      c.delete({
        apiVersion: 'v1',
        group: '',
        kind: 'ConfigMap',
        namespace: ns,
        name: 'delete-once',
      }),
    );
    expect(e.reason).toBe('ClusterUnreachable');
    expect(c.stats.retries ?? 0).toBe(0);
    direct.close();
    c.close();
  });
});

describe('failures that are not transient', () => {
  it('maps a body the server cannot type (500) to ApplyRejected, without retrying', async () => {
    const ns = await testNamespace('typed');
    const access = await kubeconfigAccess(testenv().kube.kubeconfig);
    const c = new KubeClient(access, { clusterName: 'test' });
    const e = await rejection(c.apply(configMap(ns, 'bad', { k: 1 })));
    expect(e.reason).toBe('ApplyRejected');
    expect(e.message).toMatch(/typed/);
    expect(e.location.object).toBe(`ConfigMap/${ns}/bad`);
    expect(c.stats.retries).toBe(0);
    c.close();
  });

  it('treats a 409 on a DELETE UID precondition as already gone, leaving the new object', async () => {
    const ns = await testNamespace('uid');
    const access = await kubeconfigAccess(testenv().kube.kubeconfig);
    const c = new KubeClient(access, { clusterName: 'test' });
    const first = await c.apply(configMap(ns, 'recreated'));
    const ref = {
      apiVersion: 'v1',
      group: '',
      kind: 'ConfigMap',
      namespace: ns,
      name: 'recreated',
    };
    expect(await c.delete(ref)).toBe(true);
    const second = await c.apply(configMap(ns, 'recreated'));
    expect(second.metadata.uid).not.toBe(first.metadata.uid);
    expect(await c.delete(ref, { uid: first.metadata.uid })).toBe(false);
    expect((await c.get('v1', 'ConfigMap', ns, 'recreated'))?.metadata.uid).toBe(
      second.metadata.uid,
    );
    c.close();
  });
});
