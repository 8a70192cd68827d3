// Secrets through the engine against the real API server: stringData is
// applied as data, so a key removed from Git leaves the Secret (with
// stringData, server-side apply owns stringData.* and not the data keys it
// becomes, and never removes them: kubernetes#108008); a Secret an earlier
// Driftless applied with stringData is taken over; values stay masked in diffs.

import { CoreV1Api } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { FIELD_MANAGER, LABEL_APP } from '../../lib/model/object.js';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';
import { kubeConfig } from '../support/kube.js';

function namespace(ns: string): string {
  return `apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ${ns}\n`;
}

function secret(stringData: Record<string, string>): string {
  const lines = Object.entries(stringData).map(([k, v]) => `  ${k}: ${JSON.stringify(v)}`);
  return `apiVersion: v1\nkind: Secret\nmetadata:\n  name: creds\nstringData:\n${lines.join('\n')}\n`;
}

const b64 = (s: string) => Buffer.from(s).toString('base64');

async function liveData(ns: string): Promise<Record<string, string>> {
  const s = await kubeConfig()
    .makeApiClient(CoreV1Api)
    .readNamespacedSecret({ name: 'creds', namespace: ns });
  return s.data ?? {};
}

describe('Secret stringData', () => {
  it('removes a key deleted from stringData in Git from the live Secret', async () => {
    const ns = uniqueName('secret');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit(
      {
        'namespace.yaml': namespace(ns),
        'secret.yaml': secret({ a: 'alpha-secret', b: 'bravo-secret' }),
      },
      'a and b',
    );
    await h.setApp({ namespace: ns, syncPolicy: { prune: true } });
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    expect(await liveData(ns)).toEqual({ a: b64('alpha-secret'), b: b64('bravo-secret') });

    await h.repo.commit({ 'secret.yaml': secret({ a: 'alpha-rotated' }) }, 'only a, rotated');
    // A preview names the change without showing any value, old or new, plain or base64.
    const preview = await h.reconcile({ preview: true });
    const diff = preview.drift?.find((d) => d.key === `/Secret/${ns}/creds`)?.diff ?? '';
    expect(diff).toMatch(/^-\s+b: \++$/m);
    expect(diff).toMatch(/^-\s+a: \++$/m);
    expect(diff).toMatch(/^\+\s+a: \++$/m);
    for (const value of ['alpha-secret', 'bravo-secret', 'alpha-rotated']) {
      expect(diff).not.toContain(value);
      expect(diff).not.toContain(b64(value));
    }

    const outcome = await h.reconcileUntilSettled();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.sync).toBe('Synced');
    expect(await liveData(ns)).toEqual({ a: b64('alpha-rotated') });
    // Synced again on the next check, without another write.
    const again = await h.reconcile();
    expect(again.status.sync).toBe('Synced');
    expect(again.status.operation?.applied).toBe(outcome.status.operation?.applied);
  });

  it('takes over a Secret that an earlier version applied with stringData', async () => {
    const ns = uniqueName('secret');
    const h = await EngineHarness.create(uniqueName('app'));
    await h.repo.commit(
      {
        'namespace.yaml': namespace(ns),
        'secret.yaml': secret({ a: 'alpha-secret', b: 'bravo-secret' }),
      },
      'a and b',
    );
    await h.setApp({ namespace: ns, syncPolicy: { prune: true } });
    // What Driftless used to send: stringData, applied by the `driftless` manager.
    const client = await h.client();
    await client.apply({
      apiVersion: 'v1',
      kind: 'Namespace',
      metadata: { name: ns, labels: { [LABEL_APP]: h.appName } },
    });
    await client.apply(
      {
        apiVersion: 'v1',
        kind: 'Secret',
        metadata: { name: 'creds', namespace: ns, labels: { [LABEL_APP]: h.appName } },
        stringData: { a: 'alpha-secret', b: 'bravo-secret' },
      },
      { fieldManager: FIELD_MANAGER },
    );

    const takeover = await h.reconcileUntilSettled();
    expect(takeover.status.sync).toBe('Synced');
    const resource = takeover.status.resources.find((r) => r.name === 'creds');
    expect(resource?.sync).toBe('Synced');
    expect(await liveData(ns)).toEqual({ a: b64('alpha-secret'), b: b64('bravo-secret') });

    await h.repo.commit({ 'secret.yaml': secret({ a: 'alpha-secret' }) }, 'only a');
    expect((await h.reconcileUntilSettled()).status.sync).toBe('Synced');
    expect(await liveData(ns)).toEqual({ a: b64('alpha-secret') });
  });
});
