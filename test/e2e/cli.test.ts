// The driftless command as users run it: the real binary (scripts/driftless.mjs)
// in a child process, against local mode (lib/local/dev.ts) syncing a
// repository on the test Git server into the real API server.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalMode, startLocalMode } from '../../lib/local/dev.js';
import { DEFAULT_BREAKER_POLICY } from '../../lib/ports/cluster-guard.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { eventually, kubeConfig, unlessNotFound } from '../support/kube.js';

const exec = promisify(execFile);
const BIN = path.resolve('scripts/driftless.mjs');

let local: LocalMode;
let dir: string;

async function driftless(
  ...args: string[]
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(
      process.execPath,
      [BIN, ...args, '--endpoint', local.url],
      {
        env: { ...process.env, NO_COLOR: '1', DRIFTLESS_CONFIG: path.join(dir, 'none.json') },
        timeout: 120_000,
      },
    );
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

const deployment = (replicas: number) => `apiVersion: apps/v1
kind: Deployment
metadata: { name: api }
spec:
  replicas: ${replicas}
  selector: { matchLabels: { app: api } }
  template:
    metadata: { labels: { app: api } }
    spec: { containers: [{ name: api, image: "api:1" }] }
`;

describe('driftless CLI against local mode', () => {
  let ns: string;
  let repo: TestRepo;
  let first: string;
  beforeAll(async () => {
    dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-cli-'));
    local = await startLocalMode({
      kubeconfig: testenv().kube.kubeconfig,
      port: 0,
      sweepIntervalMs: 500,
      waitBudgetMs: 30_000,
      secretsFile: path.join(dir, 'secrets.yaml'),
      // The dead cluster's breaker opens after 3 failures (the sweep's check
      // of the stuck app can be one of them) and defers the redriven job to
      // its probes: short cool-downs keep that wait well inside the test's
      // (the default's 30 s, 60 s, … exceeded 90 s on a busy machine).
      breaker: { ...DEFAULT_BREAKER_POLICY, coolDownMs: 1_000, maxCoolDownMs: 2_000 },
    });
    ns = uniqueName('cli');
    repo = await TestRepo.create('cli');
    first = await repo.commit({
      'app/ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
      'app/api.yaml': deployment(2),
    });
    await writeFile(
      path.join(dir, 'app.yaml'),
      `apiVersion: driftless.dev/v1
kind: Application
metadata: { name: api }
spec:
  source: { repoURL: "${repo.url}", revision: main, path: app }
  destinations: [{ cluster: local, namespace: ${ns} }]
  # YAML 1.1 booleans, as kubectl reads them: validated and sent alike.
  syncPolicy: { automated: yes, selfHeal: off, interval: 1h }
`,
    );
  });
  afterAll(async () => {
    await local?.stop();
  });

  it('registers an application from YAML and shows it converge', async () => {
    const applied = await driftless('apps', 'apply', '-f', path.join(dir, 'app.yaml'));
    expect(applied).toMatchObject({ code: 0 });
    expect(applied.stdout).toContain('application api applied');
    const status = await eventually('api Synced and Healthy', async () => {
      const r = await driftless('status', 'api', '-o', 'json');
      const rows = JSON.parse(r.stdout) as {
        sync: string;
        health: string;
        syncedRevision: string;
      }[];
      return rows[0]?.sync === 'Synced' && rows[0].health === 'Healthy' ? rows[0] : undefined;
    });
    expect(status.syncedRevision).toBe(first);
    const table = await driftless('status');
    expect(table.stdout).toMatch(
      /^APP\s+CLUSTER\s+SYNC\s+HEALTH\s+REVISION\s+LAST OPERATION\s+AGE$/m,
    );
    expect(table.stdout).toMatch(
      new RegExp(`^api\\s+local\\s+Synced\\s+Healthy\\s+${first.slice(0, 8)}`, 'm'),
    );
    const get = await driftless('get', 'app', 'api');
    expect(get.stdout).toMatch(/^Deployment\s+\S+\s+api\s+Synced\s+Healthy/m);
  });

  it('syncs a private repository with a Repository record and the local secrets file', async () => {
    const { git: server } = testenv();
    const privateRepo = await TestRepo.create('cli-private', { private: true, owner: 'team' });
    const privateNs = uniqueName('cli-private');
    const commit = await privateRepo.commit({
      'app/cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: private, namespace: ${privateNs} }\ndata: { v: "1" }\n`,
      'app/ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${privateNs} }\n`,
    });
    // The README's format: a mapping of secret names to credentials documents.
    await writeFile(
      path.join(dir, 'secrets.yaml'),
      `secrets:\n  team-git: { type: basic, username: ${server.username}, password: "${server.password}" }\n`,
    );
    const file = path.join(dir, 'private.yaml');
    await writeFile(
      file,
      `apiVersion: driftless.dev/v1
kind: Application
metadata: { name: private }
spec:
  source: { repoURL: "${privateRepo.url}", revision: main, path: app }
  destinations: [{ cluster: local, namespace: ${privateNs} }]
---
apiVersion: driftless.dev/v1
kind: Repository
metadata: { name: team }
spec: { urlPrefix: "${server.baseUrl}/team/", credentials: team-git }
`,
    );
    const applied = await driftless('apps', 'apply', '-f', file);
    expect(applied, applied.stderr).toMatchObject({ code: 0 });
    // The Repository goes first: the application uses it.
    expect(applied.stdout).toMatch(/repository team applied[\s\S]*application private applied/);
    const status = await eventually('private Synced', async () => {
      const r = await driftless('status', 'private', '-o', 'json');
      const rows = JSON.parse(r.stdout) as { sync: string; syncedRevision: string }[];
      return rows[0]?.sync === 'Synced' ? rows[0] : undefined;
    });
    expect(status.syncedRevision).toBe(commit);
  });

  it("lists clusters with their slots, breaker, throttling and last sweep, after the app's reconciles", async () => {
    const list = await driftless('clusters', 'list');
    expect(list).toMatchObject({ code: 0 });
    expect(list.stdout).toMatch(/^NAME\s+TYPE\s+SLOTS\s+BREAKER\s+LAST SWEEP\s+WHERE\s+NOTE$/m);
    expect(list.stdout).toMatch(
      /^local\s+kubeconfig\s+0\/4\s+closed\s+\d{4}-\d\d-\d\dT\S+: \d+\/\d+ due, \d+ queued/m,
    );
    const json = await driftless('clusters', 'list', '-o', 'json');
    const [local] = JSON.parse(json.stdout) as {
      metadata: { name: string };
      guard: { breaker: string; slotsInUse: number; concurrency: number; throttled: number };
      sweep: { cluster: string; counters: { targets: number } };
    }[];
    expect(local).toMatchObject({
      metadata: { name: 'local' },
      guard: { breaker: 'closed', slotsInUse: 0, concurrency: 4, throttled: 0 },
      sweep: { cluster: 'local', counters: { targets: expect.any(Number) } },
    });
  });

  it('exits 0 from diff when in sync and 1 when drifted, and syncs it back', async () => {
    expect((await driftless('diff', 'api')).code).toBe(0);
    await kubeConfig()
      .makeApiClient(AppsV1Api)
      .patchNamespacedDeploymentScale(
        {
          name: 'api',
          namespace: ns,
          body: { spec: { replicas: 5 } },
          fieldManager: 'kubectl-scale',
        },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    const drifted = await driftless('diff', 'api');
    expect(drifted.code).toBe(1);
    expect(drifted.stdout).toContain('changed: spec.replicas');
    expect(drifted.stdout).toContain('-  replicas: 5');
    expect(drifted.stdout).toContain('+  replicas: 2');
    const synced = await driftless('sync', 'api', '--wait');
    expect(synced).toMatchObject({ code: 0 });
    expect(synced.stdout).toMatch(/api on local: Succeeded applied 1/);
    expect((await driftless('diff', 'api')).code).toBe(0);
  });

  it('rolls back to the previous revision once the app is suspended, and shows it in history', async () => {
    await repo.commit({ 'app/api.yaml': deployment(3) }, 'three replicas');
    // A push would queue it; here a manual sync does.
    expect((await driftless('sync', 'api', '--wait')).code).toBe(0);
    const refused = await driftless('rollback', 'api');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/syncs automatically.*Suspend it first/);
    expect((await driftless('suspend', 'api')).stdout).toContain('api suspended');
    const rolled = await driftless('rollback', 'api', '--wait');
    expect(rolled.code).toBe(0);
    expect(rolled.stdout).toContain(`rolling api back to ${first.slice(0, 8)}`);
    const d = await kubeConfig()
      .makeApiClient(AppsV1Api)
      .readNamespacedDeployment({ name: 'api', namespace: ns });
    expect(d.spec?.replicas).toBe(2);
    const history = JSON.parse((await driftless('history', 'api', '-o', 'json')).stdout) as {
      trigger: string;
      revision: string;
    }[];
    expect(history[0]).toMatchObject({ trigger: 'rollback', revision: first });
  });

  it('validates manifests and app specs offline, with file and line', async () => {
    const bad = await mkdtemp(path.join(dir, 'bad-'));
    await writeFile(path.join(bad, 'ok.yaml'), deployment(1));
    await writeFile(
      path.join(bad, 'broken.yaml'),
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [oops\n',
    );
    const invalid = await driftless('validate', bad);
    expect(invalid.code).toBe(1);
    expect(invalid.stderr).toMatch(/^error broken\.yaml:\d+: invalid YAML: /);
    const good = await driftless('validate', path.join(bad, 'ok.yaml'), path.join(dir, 'app.yaml'));
    expect(good).toMatchObject({ code: 0 });
    expect(good.stdout).toMatch(
      /^valid: 1 objects in 2 render\(s\), 1 Driftless specs checked against Kubernetes v1\.34\.4$/m,
    );
  });

  it('refuses an invalid app spec with the field and line, registering nothing', async () => {
    const file = path.join(dir, 'bad-app.yaml');
    await writeFile(
      file,
      `apiVersion: driftless.dev/v1\nkind: Application\nmetadata: { name: broken }\nspec:\n  source: { repoURL: "ftp://nope" }\n  destinations: [{ cluster: local }]\n`,
    );
    const r = await driftless('apps', 'apply', '-f', file);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /^error: .*bad-app\.yaml:5: Application\/broken: spec\.source\.repoURL: must be an http\(s\) Git URL/,
    );
    expect((await driftless('apps', 'list', '-o', 'json')).stdout).not.toContain('broken');
  });

  it('says what went wrong in one line, with a hint', async () => {
    const unknown = await driftless('frobnicate');
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('error: unknown command: frobnicate\nhint: driftless --help\n');
    const missing = await driftless('get', 'app', 'nope');
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(
      /^error: application nope is not registered\nhint: driftless apps list\n$/,
    );
    const { stdout } = await exec(process.execPath, [BIN, '--help']);
    expect(stdout).toMatch(/^driftless — GitOps for EKS, serverless/);
  });

  it('dead-letters a target out of retries, Degraded through the worker, and redrives it with driftless redrive', async () => {
    // A cluster nothing answers on: the same credentials, a closed port.
    const deadKubeconfig = path.join(dir, 'dead-kubeconfig');
    await writeFile(
      deadKubeconfig,
      (await readFile(testenv().kube.kubeconfig, 'utf8')).replace(
        /server: https:\/\/127\.0\.0\.1:\d+/,
        'server: https://127.0.0.1:1',
      ),
    );
    expect(
      (await driftless('clusters', 'add', 'nowhere', '--kubeconfig', deadKubeconfig)).code,
    ).toBe(0);
    const file = path.join(dir, 'stuck.yaml');
    await writeFile(
      file,
      `apiVersion: driftless.dev/v1
kind: Application
metadata: { name: stuck }
spec:
  source: { repoURL: "${repo.url}", revision: main, path: app }
  destinations: [{ cluster: nowhere, namespace: ${ns} }]
  syncPolicy: { automated: true, interval: 1h, retry: { limit: 1, backoff: { duration: 1s } } }
`,
    );
    expect((await driftless('apps', 'apply', '-f', file)).code).toBe(0);
    // Attempt 1 fails and is retried after its backoff; attempt 2 is past the limit.
    const [dead] = await eventually(
      'the job dead-lettered',
      async () => {
        const d = (await local.queue.list(10)).filter((l) => l.job?.app === 'stuck');
        return d.length ? d : undefined;
      },
      90_000,
    );
    expect(dead?.error).toMatchObject({ reason: 'ClusterUnreachable', attempts: 2 });
    const status = JSON.parse((await driftless('status', 'stuck', '-o', 'json')).stdout) as {
      health: string;
    }[];
    expect(status[0]?.health).toBe('Degraded');

    const dry = await driftless('redrive', '--dry-run');
    expect(dry).toMatchObject({ code: 0 });
    expect(dry.stdout).toMatch(
      /^stuck on nowhere\s+sweep\s+2\s+ClusterUnreachable\s+.*would redrive$/m,
    );
    expect(dry.stdout).toContain('1 would be redriven, 0 skipped (nothing moved)');
    expect(await local.queue.list(10)).toHaveLength(1);

    const done = await driftless('redrive', '--max', '5');
    expect(done).toMatchObject({ code: 0 });
    expect(done.stdout).toContain('1 redriven to the job queue');
    // The worker takes it again from attempt 1, and gives up on it again.
    const again = await eventually(
      'the redriven job processed',
      async () => {
        const d = (await local.queue.list(10)).filter((l) => l.job?.app === 'stuck');
        return d.length && d[0]?.id !== dead?.id ? d : undefined;
      },
      90_000,
    );
    expect(again[0]?.error?.attempts).toBe(2);
    expect((await driftless('redrive', '--max', 'x')).code).toBe(2);
    // Without --cascade the output says the objects are orphaned.
    const orphaned = await driftless('apps', 'delete', 'stuck');
    expect(orphaned).toMatchObject({ code: 0 });
    expect(orphaned.stdout).toBe('application stuck deleted (its objects stay in the cluster)\n');
  });

  it('deletes the app with --cascade: the worker prunes it, the guard holds for the Namespace until --prune', async () => {
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    const core = kubeConfig().makeApiClient(CoreV1Api);
    const deleted = await driftless('apps', 'delete', 'api', '--cascade');
    expect(deleted).toMatchObject({ code: 0 });
    expect(deleted.stdout).toMatch(/^local: pruning 2 objects \(operation [-\w]+\)/m);
    await eventually('the Deployment pruned by the worker', async () =>
      (await unlessNotFound(apps.readNamespacedDeployment({ name: 'api', namespace: ns })))
        ? undefined
        : true,
    );
    const refused = await eventually('the cascade refused the Namespace', async () => {
      const r = await driftless('status', 'api', '-o', 'json');
      const rows = JSON.parse(r.stdout) as { operation?: { reason?: string; message?: string } }[];
      return rows[0]?.operation?.reason === 'PruneRefused' ? rows[0] : undefined;
    });
    expect(refused.operation?.message).toMatch(new RegExp(`refused to prune Namespace/${ns}`));
    const ours = await core.readNamespace({ name: ns });
    expect(ours.metadata?.deletionTimestamp).toBeUndefined();

    expect((await driftless('apps', 'delete', 'api', '--cascade', '--prune')).code).toBe(0);
    await eventually('the app forgotten', async () =>
      (await driftless('apps', 'list', '-o', 'json')).stdout.includes('"api"') ? undefined : true,
    );
    const gone = await unlessNotFound(core.readNamespace({ name: ns }));
    expect(!gone || !!gone.metadata?.deletionTimestamp).toBe(true);
  });
});
