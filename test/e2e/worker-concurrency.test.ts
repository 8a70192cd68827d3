// The worker's batch, several message groups at once, against the real
// servers: the deployed handler (functions/worker.ts) gets one SQS batch from
// moto's FIFO job queue holding the jobs of three targets. Two targets' first
// creates are held by admission webhooks until both are held at the same time
// — a state only concurrent groups reach: one after the other, the first
// would wait in its webhook alone — and a third target, on a cluster that is
// gone, fails without failing the other two. Each record's log lines carry
// its own target's keys, though the three run at once.

import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DataPlane, startDataPlane } from '../support/dataplane.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { type HoldingWebhook, holdingWebhook } from '../support/holding-webhook.js';
import { kubeConfig } from '../support/kube.js';
import { pollOnce } from '../support/lambda.js';

let plane: DataPlane;
const call: DataPlane['call'] = (...args) => plane.call(...args);

beforeAll(async () => {
  // INFO: the test reads the worker's log lines.
  plane = await startDataPlane('groups', { waitBudgetMs: 5_000, logLevel: 'INFO' });
  const local = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: testenv().kube.kubeconfig } },
  };
  expect((await call('PUT', '/clusters/local', local)).status).toBe(201);
  // A cluster whose API server is gone: the same credentials, a closed port.
  const dead = path.join(await mkdtemp(path.join(os.tmpdir(), 'driftless-gone-')), 'kubeconfig');
  await writeFile(
    dead,
    (await readFile(testenv().kube.kubeconfig, 'utf8')).replace(
      /server: https:\/\/127\.0\.0\.1:\d+/,
      'server: https://127.0.0.1:1',
    ),
  );
  const gone = { ...local, metadata: { name: 'gone' }, spec: { kubeconfig: { path: dead } } };
  expect((await call('PUT', '/clusters/gone', gone)).status).toBe(201);
});

/** An app of one ConfigMap (labelled `held`, so its create meets the namespace's webhook). */
async function heldApp(cluster: string) {
  const name = uniqueName('grp');
  const ns = uniqueName('grp');
  await kubeConfig()
    .makeApiClient(CoreV1Api)
    .createNamespace({ body: { metadata: { name: ns } } });
  const repo = await TestRepo.create(name);
  await repo.commit({
    'cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, labels: { held: "true" } }\ndata: { k: v }\n`,
  });
  const app = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name },
    spec: {
      source: { repoURL: repo.url, revision: 'main', path: '.' },
      destinations: [{ cluster, namespace: ns }],
    },
  };
  expect((await call('PUT', `/apps/${name}`, app)).status).toBe(201);
  return { name, ns };
}

async function targetOf(app: string) {
  return (await call('GET', `/apps/${app}`)).body.targets[0];
}

/**
 * Until `stop`, admits every held request once both webhooks have held one
 * at the same time; resolves to whether that happened.
 */
async function releaseOnceBothHeld(
  a: HoldingWebhook,
  b: HoldingWebhook,
  stop: { done: boolean },
): Promise<boolean> {
  let overlapped = false;
  while (!stop.done) {
    if (a.held > 0 && b.held > 0) overlapped = true;
    if (overlapped) {
      a.release();
      b.release();
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return overlapped;
}

/** The worker's JSON log lines (Powertools writes them to stdout and, warnings and errors, stderr). */
function captureLogLines() {
  const captured: string[] = [];
  const restore = [process.stdout, process.stderr].map((stream) => {
    const write = stream.write.bind(stream);
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      captured.push(String(chunk));
      return (write as (c: string | Uint8Array, ...r: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof stream.write;
    return () => {
      stream.write = write;
    };
  });
  const parsed = () =>
    captured
      .flatMap((c) => c.split('\n'))
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  return {
    stop: () => {
      for (const r of restore) r();
    },
    of: (message: string) => parsed().filter((l) => l.message === message),
  };
}

describe('one batch of several message groups', () => {
  it('reconciles two targets at once and fails only the group whose cluster is gone', async () => {
    const first = await heldApp('local');
    const second = await heldApp('local');
    const broken = await heldApp('gone');
    const holdFirst = await holdingWebhook(first.ns, 'held');
    const holdSecond = await holdingWebhook(second.ns, 'held');
    // The broken target's two jobs first: its failure must not hold the others back.
    for (const app of [broken.name, broken.name, first.name, second.name]) {
      expect((await call('POST', `/apps/${app}/sync`, {})).status).toBe(202);
    }

    const stop = { done: false };
    const overlap = releaseOnceBothHeld(holdFirst, holdSecond, stop);
    const lines = captureLogLines();
    const batch = await pollOnce(plane.sqs, plane.queueUrl, plane.worker, {
      timeoutMs: 60_000,
    }).finally(() => lines.stop());
    stop.done = true;

    // One batch held all four jobs, and both held targets were in their webhooks together.
    expect(batch.received).toBe(4);
    expect(await overlap).toBe(true);
    // Only the broken group's records failed: the first after its attempt,
    // the second skipped behind it (FIFO order kept).
    const appOf = new Map(
      (batch.messages ?? []).map((m) => [m.id, (JSON.parse(m.body) as { app: string }).app]),
    );
    expect(batch.failed.map((id) => appOf.get(id))).toEqual([broken.name, broken.name]);
    for (const app of [first, second]) {
      expect(await targetOf(app.name)).toMatchObject({ sync: 'Synced', health: 'Healthy' });
    }
    const failed = await targetOf(broken.name);
    expect(failed.sync).not.toBe('Synced');

    // The log lines of concurrent records keep their own keys (a child logger
    // each): every target reconciled once under its own name, the retry under
    // the broken target's name and cluster.
    const reconciled = lines.of('reconciled');
    expect(reconciled.map((l) => l.app).sort()).toEqual([first.name, second.name].sort());
    for (const l of reconciled) expect(l.cluster).toBe('local');
    const retrying = lines.of('reconcile failed, retrying');
    expect(retrying).toHaveLength(1);
    expect(retrying[0]).toMatchObject({ app: broken.name, cluster: 'gone' });
  }, 120_000);
});
