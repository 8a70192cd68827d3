// The driftless command: apps, clusters, status, diff, sync, rollback,
// history, suspend/resume and validate against the status API (AWS, SigV4)
// or a local `driftless dev`; and `driftless dev` itself.
// Exit codes: 0 ok; 1 drift found (diff) or validation failed; 2 an error.

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { DriftlessError, isDriftlessError } from '../errors.js';
import { DEFAULT_DEV_PORT, startLocalMode } from '../local/dev.js';
import type { Application, Cluster } from '../model/application.js';
import { parseSpecs } from '../model/application.js';
import { shortSha } from '../model/revision.js';
import type { OperationResult, ResourceStatus } from '../model/status.js';
import type { ReconcileEvent } from '../reconcile.js';
import { loadManifests } from '../source/index.js';
import { ApiError, DriftlessClient, resolveClientConfig } from './client.js';
import {
  age,
  consolePrinter,
  emit,
  type OutputFormat,
  type Printer,
  paint,
  state,
} from './output.js';

const HELP = `driftless — GitOps for EKS, serverless

Usage: driftless <command> [options]

Local mode
  dev [-f app.yaml]... [--kubeconfig F] [--context C] [--port 7777]
                              run webhook, API, queue and worker in this process

Applications and clusters
  apps list                   registered applications
  apps get NAME               an application's spec
  apps apply -f FILE          register or update Applications and Clusters from YAML
  apps delete NAME            unregister (objects stay in the cluster)
  clusters list
  clusters add -f FILE | NAME --kubeconfig F [--context C] | NAME --eks-name N --region R [--role-arn A]
  clusters remove NAME

Status and operations
  status [APP]                sync, health, revision and last operation per target
  get app NAME                per-resource status, with the reason for anything not Synced/Healthy
  diff APP [--revision R]     what a sync would change (exit 1 when there is drift)
  sync APP [--revision R] [--prune] [--dry-run] [--wait]
  rollback APP [--to N]       sync to the revision of the N-th previous successful sync (default 1);
                              suspend the app first, or its next automated sync would undo it
  history APP                 operations, newest first
  suspend APP | resume APP    stop or restart automated syncs
  validate PATH...            check manifests and app specs offline (exit 1 on errors)

Options
  -o, --output table|json|yaml    output format (default table)
  --endpoint URL                  status API (default: $DRIFTLESS_API_URL, the config file, or http://127.0.0.1:7777)
  --region R                      AWS region for signing requests
  --cluster C                     one target of a multi-cluster application
  -h, --help
`;

const OPTIONS = {
  output: { type: 'string', short: 'o', default: 'table' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  cluster: { type: 'string' },
  file: { type: 'string', short: 'f', multiple: true },
  revision: { type: 'string' },
  prune: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  wait: { type: 'boolean' },
  to: { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  port: { type: 'string' },
  'eks-name': { type: 'string' },
  'role-arn': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

type Flags = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values'];

class UsageError extends Error {}

interface TargetSummary {
  cluster: string;
  sync: string;
  health: string;
  healthMessage?: string;
  syncedRevision?: string;
  wantedRevision?: string;
  lastCheckedAt?: string;
  operation?: Partial<OperationResult>;
  resources?: ResourceStatus[];
}

export async function main(argv: string[]): Promise<number> {
  let parsed: { values: Flags; positionals: string[] };
  try {
    parsed = parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: true });
  } catch (e) {
    process.stderr.write(`error: ${(e as Error).message}\nhint: driftless --help\n`);
    return 2;
  }
  const { values: flags, positionals } = parsed;
  const format = flags.output as OutputFormat;
  if (!['table', 'json', 'yaml'].includes(format)) {
    process.stderr.write(`error: --output must be table, json or yaml\n`);
    return 2;
  }
  const p = consolePrinter(format);
  if (flags.help || positionals.length === 0) {
    p.out(HELP);
    return flags.help ? 0 : 2;
  }
  try {
    return await run(p, flags, positionals);
  } catch (e) {
    if (e instanceof UsageError) {
      p.err(`error: ${e.message}\nhint: driftless --help`);
      return 2;
    }
    if (e instanceof ApiError) {
      p.err(`error: ${e.message}${e.field ? ` (field ${e.field})` : ''}`);
      if (e.status === 404) p.err('hint: driftless apps list');
      if (e.status === 403)
        p.err('hint: your AWS identity needs execute-api:Invoke on the status API');
      return 2;
    }
    if (isDriftlessError(e)) {
      p.err(`error: ${e.describe()}`);
      if (e.reason === 'ClusterUnreachable')
        p.err('hint: start local mode with `driftless dev`, or set --endpoint');
      return 2;
    }
    p.err(`error: ${e instanceof Error ? e.message : String(e)}`);
    return 2;
  }
}

function arg(positionals: string[], i: number, what: string): string {
  const v = positionals[i];
  if (!v) throw new UsageError(`missing ${what}`);
  return v;
}

async function run(p: Printer, flags: Flags, pos: string[]): Promise<number> {
  const [cmd, sub] = pos;
  if (cmd === 'dev') return dev(p, flags);
  if (cmd === 'validate') return validate(p, pos.slice(1));
  const client = new DriftlessClient(resolveClientConfig(flags));
  switch (cmd) {
    case 'apps':
      if (sub === 'list') return appsList(p, client);
      if (sub === 'get') return appsGet(p, client, arg(pos, 2, 'application name'));
      if (sub === 'apply') return apply(p, client, flags.file ?? []);
      if (sub === 'delete') {
        const name = arg(pos, 2, 'application name');
        await client.request('DELETE', `/apps/${name}`);
        p.out(`application ${name} deleted (its objects stay in the cluster)`);
        return 0;
      }
      throw new UsageError(`unknown command: apps ${sub ?? ''}`);
    case 'clusters':
      if (sub === 'list') return clustersList(p, client);
      if (sub === 'add') return clustersAdd(p, client, flags, pos[2]);
      if (sub === 'remove') {
        const name = arg(pos, 2, 'cluster name');
        await client.request('DELETE', `/clusters/${name}`);
        p.out(`cluster ${name} removed`);
        return 0;
      }
      throw new UsageError(`unknown command: clusters ${sub ?? ''}`);
    case 'status':
      return status(p, client, sub);
    case 'get':
      if (sub !== 'app') throw new UsageError('usage: driftless get app NAME');
      return getApp(p, client, arg(pos, 2, 'application name'), flags.cluster);
    case 'diff':
      return diff(p, client, arg(pos, 1, 'application name'), flags);
    case 'sync':
      return sync(p, client, arg(pos, 1, 'application name'), flags);
    case 'rollback':
      return rollback(p, client, arg(pos, 1, 'application name'), flags);
    case 'history':
      return history(p, client, arg(pos, 1, 'application name'), flags.cluster);
    case 'suspend':
    case 'resume': {
      const name = arg(pos, 1, 'application name');
      await client.request('POST', `/apps/${name}/${cmd}`);
      p.out(`${name} ${cmd === 'suspend' ? 'suspended: no automated syncs' : 'resumed'}`);
      return 0;
    }
    default:
      throw new UsageError(`unknown command: ${cmd}`);
  }
}

async function appsList(p: Printer, client: DriftlessClient): Promise<number> {
  const items: {
    name: string;
    repoURL: string;
    path: string;
    revision: string;
    suspended: boolean;
    targets: TargetSummary[];
  }[] = [];
  let next: string | undefined;
  do {
    const page = await client.request<{ items: typeof items; next?: string }>(
      'GET',
      '/apps',
      undefined,
      { next, limit: '200' },
    );
    items.push(...page.items);
    next = page.next;
  } while (next);
  emit(
    p,
    items,
    ['NAME', 'REPOSITORY', 'PATH', 'REVISION', 'TARGETS', 'SUSPENDED'],
    items.map((a) => [
      a.name,
      a.repoURL,
      a.path,
      a.revision,
      a.targets.map((t) => t.cluster).join(','),
      a.suspended ? 'yes' : '',
    ]),
  );
  return 0;
}

async function appsGet(p: Printer, client: DriftlessClient, name: string): Promise<number> {
  const { app } = await client.request<{ app: Application }>('GET', `/apps/${name}`);
  const printer = p.format === 'table' ? { ...p, format: 'yaml' as const } : p;
  emit(printer, app, [], []);
  return 0;
}

async function apply(p: Printer, client: DriftlessClient, files: string[]): Promise<number> {
  if (files.length === 0) throw new UsageError('apps apply needs -f FILE');
  // Validate every document of every file before registering anything.
  const specs: { kind: 'Application' | 'Cluster'; value: Application | Cluster; file: string }[] =
    [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch((e: Error) => {
      throw new UsageError(`cannot read ${file}: ${e.message}`);
    });
    for (const s of parseSpecs(text, file)) specs.push({ ...s, file });
  }
  if (specs.length === 0) throw new UsageError(`no Application or Cluster in ${files.join(', ')}`);
  // Clusters first: applications name them.
  specs.sort((a, b) => (a.kind === b.kind ? 0 : a.kind === 'Cluster' ? -1 : 1));
  for (const s of specs) {
    const name = s.value.metadata.name;
    const route = s.kind === 'Cluster' ? `/clusters/${name}` : `/apps/${name}`;
    const raw = await rawDocument(s.file, s.kind, name);
    await client.request('PUT', route, raw);
    p.out(`${s.kind.toLowerCase()} ${name} ${paint(p, 'green', 'applied')}`);
  }
  return 0;
}

/** The document as written (durations as text), for the API to validate and store. */
async function rawDocument(file: string, kind: string, name: string): Promise<unknown> {
  const { parseAllDocuments } = await import('yaml');
  for (const doc of parseAllDocuments(await readFile(file, 'utf8'))) {
    const v = doc.toJS() as { kind?: string; metadata?: { name?: string } } | null;
    if (v?.kind === kind && v.metadata?.name === name) return v;
  }
  throw new UsageError(`${kind} ${name} not found in ${file}`);
}

async function clustersList(p: Printer, client: DriftlessClient): Promise<number> {
  const { items } = await client.request<{ items: Cluster[] }>('GET', '/clusters', undefined, {
    limit: '500',
  });
  emit(
    p,
    items,
    ['NAME', 'TYPE', 'WHERE'],
    items.map((c) => [
      c.metadata.name,
      c.spec.eks ? 'eks' : 'kubeconfig',
      c.spec.eks
        ? `${c.spec.eks.name} (${c.spec.eks.region})${c.spec.eks.roleArn ? ` as ${c.spec.eks.roleArn}` : ''}`
        : `${c.spec.kubeconfig?.path}${c.spec.kubeconfig?.context ? ` (${c.spec.kubeconfig.context})` : ''}`,
    ]),
  );
  return 0;
}

async function clustersAdd(
  p: Printer,
  client: DriftlessClient,
  flags: Flags,
  name?: string,
): Promise<number> {
  if (flags.file?.length) return apply(p, client, flags.file);
  if (!name) throw new UsageError('clusters add needs NAME (or -f FILE)');
  const spec = flags.kubeconfig
    ? {
        kubeconfig: {
          path: path.resolve(flags.kubeconfig),
          ...(flags.context ? { context: flags.context } : {}),
        },
      }
    : flags['eks-name'] && flags.region
      ? {
          eks: {
            name: flags['eks-name'],
            region: flags.region,
            ...(flags['role-arn'] ? { roleArn: flags['role-arn'] } : {}),
          },
        }
      : undefined;
  if (!spec)
    throw new UsageError('clusters add NAME needs --kubeconfig F, or --eks-name N --region R');
  await client.request('PUT', `/clusters/${name}`, {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name },
    spec,
  });
  p.out(`cluster ${name} ${paint(p, 'green', 'added')}`);
  return 0;
}

async function status(p: Printer, client: DriftlessClient, app?: string): Promise<number> {
  const apps = app
    ? [
        {
          name: app,
          targets: (await client.request<{ targets: TargetSummary[] }>('GET', `/apps/${app}`))
            .targets,
        },
      ]
    : (
        await client.request<{ items: { name: string; targets: TargetSummary[] }[] }>(
          'GET',
          '/apps',
          undefined,
          { limit: '500' },
        )
      ).items;
  const rows = apps.flatMap((a) =>
    a.targets.map((t) => ({ app: a.name, ...t, resources: undefined })),
  );
  emit(
    p,
    rows,
    ['APP', 'CLUSTER', 'SYNC', 'HEALTH', 'REVISION', 'LAST OPERATION', 'AGE'],
    rows.map((t) => [
      t.app,
      t.cluster,
      state(p, t.sync),
      state(p, t.health),
      shortSha(t.syncedRevision ?? t.wantedRevision),
      t.operation
        ? `${state(p, t.operation.phase)} ${t.operation.message ?? ''}`.slice(0, 80)
        : '-',
      age(t.lastCheckedAt),
    ]),
  );
  return 0;
}

async function getApp(
  p: Printer,
  client: DriftlessClient,
  name: string,
  cluster?: string,
): Promise<number> {
  const { targets } = await client.request<{ targets: TargetSummary[] }>('GET', `/apps/${name}`);
  const chosen = targets.filter((t) => !cluster || t.cluster === cluster);
  if (p.format !== 'table') {
    emit(p, chosen, [], []);
    return 0;
  }
  for (const t of chosen) {
    p.out(
      `${paint(p, 'bold', `${name} on ${t.cluster}`)}: ${state(p, t.sync)}, ${state(p, t.health)}` +
        `${t.healthMessage && t.health !== 'Healthy' ? ` (${t.healthMessage})` : ''} at ${shortSha(t.syncedRevision)}`,
    );
    if (t.operation)
      p.out(`last operation: ${state(p, t.operation.phase)} ${t.operation.message ?? ''}`);
    const resources = t.resources ?? [];
    emit(
      p,
      resources,
      ['KIND', 'NAMESPACE', 'NAME', 'SYNC', 'HEALTH', 'WAVE', 'REASON'],
      resources.map((r) => {
        const fine = r.sync === 'Synced' && (r.health?.status ?? 'Healthy') === 'Healthy';
        return [
          r.kind,
          r.namespace || '-',
          r.name,
          state(p, r.sync),
          state(p, r.health?.status),
          String(r.wave ?? 0),
          fine ? '' : (r.pruneSkipped ?? r.health?.message ?? r.reason ?? ''),
        ];
      }),
    );
  }
  return 0;
}

interface DiffResponse {
  targets: {
    cluster: string;
    sync: string;
    revision?: string;
    error?: { reason: string; message: string };
    objects: { key: string; state: string; reason?: string; diff?: string }[];
  }[];
}

async function diff(
  p: Printer,
  client: DriftlessClient,
  name: string,
  flags: Flags,
): Promise<number> {
  const res = await client.request<DiffResponse>('GET', `/apps/${name}/diff`, undefined, {
    revision: flags.revision,
    cluster: flags.cluster,
  });
  let drift = false;
  let failed = false;
  for (const t of res.targets) {
    if (t.error) failed = true;
    if (t.objects.length) drift = true;
  }
  if (p.format !== 'table') {
    emit(p, res, [], []);
  } else {
    for (const t of res.targets) {
      if (t.error) {
        p.err(`error: ${name} on ${t.cluster}: ${t.error.message}`);
        continue;
      }
      if (!t.objects.length) {
        p.out(`${name} on ${t.cluster}: ${state(p, 'Synced')} at ${shortSha(t.revision)}`);
        continue;
      }
      p.out(
        paint(
          p,
          'bold',
          `${name} on ${t.cluster}: ${t.objects.length} objects differ (revision ${shortSha(t.revision)})`,
        ),
      );
      for (const o of t.objects) {
        p.out(`${state(p, o.state)} ${o.key}${o.reason ? `: ${o.reason}` : ''}`);
        if (o.diff) p.out(colourDiff(p, o.diff));
      }
    }
  }
  return failed ? 2 : drift ? 1 : 0;
}

function colourDiff(p: Printer, text: string): string {
  if (!p.color) return text;
  return text
    .split('\n')
    .map((l) =>
      l.startsWith('+') && !l.startsWith('+++')
        ? paint(p, 'green', l)
        : l.startsWith('-') && !l.startsWith('---')
          ? paint(p, 'red', l)
          : l,
    )
    .join('\n');
}

async function sync(
  p: Printer,
  client: DriftlessClient,
  name: string,
  flags: Flags,
): Promise<number> {
  if (flags['dry-run']) return diff(p, client, name, flags);
  const res = await client.request<{
    operations: { cluster: string; operationId: string }[];
    revision?: string;
  }>('POST', `/apps/${name}/sync`, {
    revision: flags.revision,
    prune: flags.prune === true,
    cluster: flags.cluster,
  });
  if (!flags.wait) {
    emit(
      p,
      res,
      ['CLUSTER', 'OPERATION', 'REVISION'],
      res.operations.map((o) => [o.cluster, o.operationId, flags.revision ?? 'app revision']),
    );
    return 0;
  }
  return waitFor(p, client, name, res.operations);
}

/** Polls until each queued operation shows up finished in the target's history. */
async function waitFor(
  p: Printer,
  client: DriftlessClient,
  name: string,
  ops: { cluster: string; operationId: string }[],
): Promise<number> {
  const deadline = Date.now() + 15 * 60_000;
  let failed = false;
  for (const op of ops) {
    for (;;) {
      const h = await client.request<{
        targets: { cluster: string; operations: OperationResult[] }[];
      }>('GET', `/apps/${name}/history`, undefined, {
        cluster: op.cluster,
        limit: '20',
      });
      const done = h.targets[0]?.operations.find((o) => o.id === op.operationId);
      const { targets } = await client.request<{ targets: TargetSummary[] }>(
        'GET',
        `/apps/${name}`,
      );
      const t = targets.find((x) => x.cluster === op.cluster);
      if (done && t?.health !== 'Progressing') {
        p.out(
          `${name} on ${op.cluster}: ${state(p, done.phase)} ${done.message}; ${state(p, t?.sync)}, ${state(p, t?.health)}`,
        );
        if (done.phase !== 'Succeeded') failed = true;
        break;
      }
      if (Date.now() > deadline)
        throw new DriftlessError('HealthTimeout', `gave up waiting for ${name} on ${op.cluster}`);
      await new Promise((r) => setTimeout(r, 1_000));
    }
  }
  return failed ? 2 : 0;
}

async function rollback(
  p: Printer,
  client: DriftlessClient,
  name: string,
  flags: Flags,
): Promise<number> {
  const n = Number(flags.to ?? 1);
  if (!Number.isInteger(n) || n < 1) throw new UsageError('--to must be a positive integer');
  const h = await client.request<{ targets: { cluster: string; operations: OperationResult[] }[] }>(
    'GET',
    `/apps/${name}/history`,
    undefined,
    {
      cluster: flags.cluster,
      limit: '100',
    },
  );
  const ops = h.targets[0]?.operations ?? [];
  // Distinct revisions that synced successfully, newest first; [0] is the current one.
  const revisions = [...new Set(ops.filter((o) => o.phase === 'Succeeded').map((o) => o.revision))];
  const revision = revisions[n];
  if (!revision)
    throw new UsageError(
      `no successful sync ${n} revision(s) back in the history of ${name} (see driftless history ${name})`,
    );
  p.out(
    `rolling ${name} back to ${shortSha(revision)} (resume automated syncs with: driftless resume ${name})`,
  );
  return sync(p, client, name, { ...flags, revision, 'dry-run': false });
}

async function history(
  p: Printer,
  client: DriftlessClient,
  name: string,
  cluster?: string,
): Promise<number> {
  const h = await client.request<{ targets: { cluster: string; operations: OperationResult[] }[] }>(
    'GET',
    `/apps/${name}/history`,
    undefined,
    {
      cluster,
      limit: '50',
    },
  );
  const rows = h.targets.flatMap((t) => t.operations.map((o) => ({ cluster: t.cluster, ...o })));
  emit(
    p,
    rows,
    ['CLUSTER', 'STARTED', 'TRIGGER', 'REVISION', 'PHASE', 'APPLIED', 'PRUNED', 'MESSAGE'],
    rows.map((o) => [
      o.cluster,
      o.startedAt,
      o.trigger,
      shortSha(o.revision),
      state(p, o.phase),
      String(o.applied),
      String(o.pruned),
      (o.message ?? '').slice(0, 80),
    ]),
  );
  return 0;
}

async function validate(p: Printer, paths: string[]): Promise<number> {
  if (paths.length === 0) throw new UsageError('validate needs at least one PATH');
  const problems: string[] = [];
  let objects = 0;
  let specs = 0;
  for (const target of paths) {
    const abs = path.resolve(target);
    const info = await stat(abs).catch(() => undefined);
    if (!info) {
      problems.push(`${target}: no such file or directory`);
      continue;
    }
    const root = info.isDirectory() ? abs : path.dirname(abs);
    try {
      const manifests = await loadManifests(root, info.isDirectory() ? '.' : path.basename(abs));
      for (const m of manifests) {
        // Driftless's own specs are checked against their schema; the rest are Kubernetes objects.
        if (m.object.apiVersion === 'driftless.dev/v1') {
          const text = await readFile(path.join(root, m.file), 'utf8');
          parseSpecs(text, path.join(target, info.isDirectory() ? m.file : ''));
          specs++;
        } else objects++;
      }
    } catch (e) {
      problems.push(
        isDriftlessError(e) ? `${target}: ${e.describe()}` : `${target}: ${(e as Error).message}`,
      );
    }
  }
  if (problems.length) {
    for (const pr of problems) p.err(`${paint(p, 'red', 'invalid')} ${pr}`);
    return 1;
  }
  p.out(`${paint(p, 'green', 'valid')}: ${objects} objects, ${specs} Driftless specs`);
  return 0;
}

async function dev(p: Printer, flags: Flags): Promise<number> {
  const kubeconfig = flags.kubeconfig ?? process.env.KUBECONFIG?.split(path.delimiter)[0];
  if (!kubeconfig) throw new UsageError('dev needs a cluster: --kubeconfig FILE or $KUBECONFIG');
  const apps: Application[] = [];
  for (const file of flags.file ?? []) {
    for (const s of parseSpecs(await readFile(file, 'utf8'), file))
      if (s.kind === 'Application') apps.push(s.value);
  }
  const lastDone = new Map<string, string>();
  const progress = (e: ReconcileEvent) => {
    const who = paint(p, 'bold', `${e.target.app}@${e.target.cluster}`);
    switch (e.type) {
      case 'revision':
        break;
      case 'drift':
        if (e.outOfSync + e.missing + e.extra > 0) {
          p.out(`${who} drift: ${e.missing} missing, ${e.outOfSync} out of sync, ${e.extra} extra`);
        }
        break;
      case 'wave':
        if (e.state !== 'healthy') p.out(`${who} wave ${e.wave}: ${e.state}`);
        break;
      case 'applied':
        p.out(`${who}   applied ${e.key.replace(/^[^/]*\//, '')}`);
        break;
      case 'pruned':
        p.out(`${who}   pruned ${e.key.replace(/^[^/]*\//, '')}`);
        break;
      case 'hook':
        p.out(`${who}   hook ${e.phase} ${e.key.replace(/^[^/]*\//, '')} ${e.action}`);
        break;
      case 'done': {
        const s = e.status;
        const op = s.operation;
        // Periodic checks that change nothing stay quiet.
        const summary = `${s.sync}|${s.health}|${s.syncedRevision}|${op?.id}|${op?.phase}`;
        const who2 = `${e.target.app}@${e.target.cluster}`;
        if (lastDone.get(who2) === summary) break;
        lastDone.set(who2, summary);
        p.out(
          `${who} ${state(p, s.sync)} ${state(p, s.health)} at ${shortSha(s.syncedRevision ?? s.wantedRevision)}` +
            (op?.phase && op.phase !== 'Succeeded'
              ? ` — ${state(p, op.phase)} ${op.message}`
              : '') +
            (e.requeueAfterMs
              ? paint(p, 'gray', ` (checking again in ${Math.ceil(e.requeueAfterMs / 1000)}s)`)
              : ''),
        );
        break;
      }
    }
  };
  const local = await startLocalMode({
    kubeconfig: path.resolve(kubeconfig),
    context: flags.context,
    port: flags.port ? Number(flags.port) : DEFAULT_DEV_PORT,
    apps,
    webhookSecret: process.env.DRIFTLESS_WEBHOOK_SECRET,
    onEvent: progress,
    onLog: (m) => p.out(paint(p, 'gray', m)),
  });
  p.out(
    `driftless dev: API and webhook on ${local.url} (POST /webhook), cluster "local" = ${kubeconfig}` +
      `${flags.context ? ` (${flags.context})` : ''}; ${apps.length} application(s). Ctrl-C to stop.`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  p.out('stopping…');
  await local.stop();
  return 0;
}
