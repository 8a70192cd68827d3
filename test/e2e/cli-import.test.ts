// `driftless import` as a user migrating runs it: the real binary on the
// Argo CD and Flux fixtures (test/fixtures/import/, modelled on Argo CD's
// guestbook and Flux's podinfo examples), pointed at a repository on the
// test Git server; the Applications it writes are registered with
// `driftless apps apply` in local mode and synced into the real API server.

import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { AppsV1Api, CoreV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LocalMode, startLocalMode } from '../../lib/local/dev.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { eventually, kubeConfig } from '../support/kube.js';
import { provideRenderTools } from '../support/render-tools.js';

const exec = promisify(execFile);
const BIN = path.resolve('scripts/driftless.mjs');
const FIXTURES = path.resolve('test/fixtures/import');

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

/** A fixture with its repository URL, branch and namespace replaced by the test's. */
async function fixtureFor(name: string, replacements: Record<string, string>): Promise<string> {
  let text = await readFile(path.join(FIXTURES, name), 'utf8');
  for (const [from, to] of Object.entries(replacements)) text = text.split(from).join(to);
  const file = path.join(dir, path.basename(name));
  await writeFile(file, text);
  return file;
}

async function syncedAndHealthy(app: string): Promise<{ syncedRevision: string }> {
  return eventually(`${app} Synced and Healthy`, async () => {
    const r = await driftless('status', app, '-o', 'json');
    const rows = JSON.parse(r.stdout) as { sync: string; health: string; syncedRevision: string }[];
    return rows[0]?.sync === 'Synced' && rows[0].health === 'Healthy' ? rows[0] : undefined;
  });
}

const namespace = (name: string) =>
  `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${name} }\n`;

describe('driftless import, then sync', () => {
  let repo: TestRepo;
  let commit: string;
  const guestbookNs = uniqueName('guestbook');
  const podinfoNs = uniqueName('podinfo');
  const apps = () => kubeConfig().makeApiClient(AppsV1Api);
  const core = () => kubeConfig().makeApiClient(CoreV1Api);

  beforeAll(async () => {
    await provideRenderTools();
    dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-import-'));
    local = await startLocalMode({
      kubeconfig: testenv().kube.kubeconfig,
      port: 0,
      sweepIntervalMs: 500,
      waitBudgetMs: 30_000,
    });
    repo = await TestRepo.create('import');
    // The guestbook of argocd-example-apps and podinfo's kustomize directory,
    // each with the Namespace the import report asks for.
    commit = await repo.commit({
      'guestbook/namespace.yaml': namespace(guestbookNs),
      'guestbook/guestbook-ui-deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: guestbook-ui }
spec:
  replicas: 1
  revisionHistoryLimit: 3
  selector: { matchLabels: { app: guestbook-ui } }
  template:
    metadata: { labels: { app: guestbook-ui } }
    spec:
      containers:
        - name: guestbook-ui
          image: gcr.io/google-samples/gb-frontend:v5
          ports: [{ containerPort: 80 }]
`,
      'guestbook/guestbook-ui-svc.yaml': `apiVersion: v1
kind: Service
metadata: { name: guestbook-ui }
spec:
  ports: [{ port: 80, targetPort: 80 }]
  selector: { app: guestbook-ui }
`,
      'kustomize/kustomization.yaml': `apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [namespace.yaml, deployment.yaml, service.yaml]
`,
      'kustomize/namespace.yaml': namespace(podinfoNs),
      'kustomize/deployment.yaml': `apiVersion: apps/v1
kind: Deployment
metadata: { name: podinfo }
spec:
  replicas: 1
  selector: { matchLabels: { app: podinfo } }
  template:
    metadata: { labels: { app: podinfo } }
    spec:
      containers:
        - name: podinfod
          image: ghcr.io/stefanprodan/podinfo:6.5.0
          ports: [{ name: http, containerPort: 9898 }]
`,
      'kustomize/service.yaml': `apiVersion: v1
kind: Service
metadata: { name: podinfo }
spec:
  type: ClusterIP
  selector: { app: podinfo }
  ports: [{ name: http, port: 9898, targetPort: http }]
`,
    });
  });
  afterAll(async () => {
    await local?.stop();
  });

  it('imports the Argo CD guestbook Application, reports what it dropped, and syncs it', async () => {
    const file = await fixtureFor('argocd/guestbook.yaml', {
      'https://github.com/argoproj/argocd-example-apps.git': repo.url,
      'namespace: guestbook': `namespace: ${guestbookNs}`,
    });
    const out = path.join(dir, 'argocd-out');
    const imported = await driftless('import', file, '--cluster', 'local', '--out-dir', out);
    // CreateNamespace, revisionHistoryLimit and the finalizer have no Driftless equivalent.
    expect(imported.code).toBe(1);
    expect(imported.stdout).toBe('');
    expect(imported.stderr).toContain(
      `${file}:3: Application/argocd/guestbook → Application guestbook`,
    );
    expect(imported.stderr).toMatch(
      /guestbook\.yaml:26: Application\/argocd\/guestbook: spec\.syncPolicy\.syncOptions\[0\]: dropped: CreateNamespace=true: Driftless does not create the destination namespace/,
    );
    expect(imported.stderr).toContain('1 Application(s) from 1 object(s); 3 field(s) not mapped');

    const applied = await driftless('apps', 'apply', '-f', path.join(out, 'guestbook.yaml'));
    expect(applied).toMatchObject({ code: 0 });
    expect(applied.stdout).toContain('application guestbook applied');
    const status = await syncedAndHealthy('guestbook');
    expect(status.syncedRevision).toBe(commit);
    const d = await apps().readNamespacedDeployment({
      name: 'guestbook-ui',
      namespace: guestbookNs,
    });
    expect(d.metadata?.labels?.['driftless.dev/app']).toBe('guestbook');
    const svc = await core().readNamespacedService({
      name: 'guestbook-ui',
      namespace: guestbookNs,
    });
    expect(svc.spec?.ports?.[0]?.port).toBe(80);
  });

  it('imports the Flux podinfo GitRepository + Kustomization to stdout, and syncs it', async () => {
    const file = await fixtureFor('flux/podinfo.yaml', {
      'https://github.com/stefanprodan/podinfo': repo.url,
      'branch: master': 'branch: main',
      'targetNamespace: podinfo': `targetNamespace: ${podinfoNs}`,
    });
    const imported = await driftless('import', file, '--cluster', 'local');
    expect(imported.code).toBe(1); // postBuild substitution is dropped
    expect(imported.stderr).toMatch(
      /podinfo\.yaml:32: Kustomization\/flux-system\/podinfo: spec\.postBuild: dropped: /,
    );
    expect(imported.stderr).toContain(
      'GitRepository/flux-system/podinfo → source of Kustomization/flux-system/podinfo',
    );
    const appFile = path.join(dir, 'podinfo-app.yaml');
    await writeFile(appFile, imported.stdout);

    const applied = await driftless('apps', 'apply', '-f', appFile);
    expect(applied).toMatchObject({ code: 0 });
    const status = await syncedAndHealthy('podinfo');
    expect(status.syncedRevision).toBe(commit);
    const d = await apps().readNamespacedDeployment({ name: 'podinfo', namespace: podinfoNs });
    expect(d.metadata?.labels?.['driftless.dev/app']).toBe('podinfo');
    expect(d.spec?.template.spec?.containers[0]?.image).toBe('ghcr.io/stefanprodan/podinfo:6.5.0');
    expect(
      (await core().readNamespacedService({ name: 'podinfo', namespace: podinfoNs })).spec
        ?.ports?.[0]?.port,
    ).toBe(9898);
    const registered = JSON.parse(
      (await driftless('apps', 'get', 'podinfo', '-o', 'json')).stdout,
    ) as {
      spec: { syncPolicy: { prune: boolean; selfHeal: boolean; interval: number } };
    };
    expect(registered.spec.syncPolicy).toMatchObject({
      prune: true,
      selfHeal: true,
      interval: 600_000,
    });
  });

  it('exits 2 on input it cannot read, naming file, line and field, and writes nothing', async () => {
    const missing = await driftless('import', path.join(dir, 'nope.yaml'));
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain(`error ${path.join(dir, 'nope.yaml')}: cannot read: ENOENT`);
    const file = await fixtureFor('argocd/guestbook.yaml', {});
    const noCluster = await driftless('import', file, '--out-dir', path.join(dir, 'none'));
    expect(noCluster.code).toBe(2);
    expect(noCluster.stderr).toContain(
      `error ${file}:19: Application/argocd/guestbook: spec.destination.server: https://kubernetes.default.svc is the cluster the controller runs in: name its Driftless cluster with --cluster NAME`,
    );
    expect(noCluster.stdout).toBe('');
    await expect(readFile(path.join(dir, 'none', 'guestbook.yaml'))).rejects.toThrow(/ENOENT/);
  });
});
