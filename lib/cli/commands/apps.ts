// driftless apps list | get NAME | apply -f FILE [--cascade] | delete NAME [--cascade [--prune]]

import { readFile } from 'node:fs/promises';
import type {
  AppDeleteResponse,
  AppDetailResponse,
  AppListItem,
  AppListResponse,
  AppPutResponse,
} from '../../api/contract.js';
import { parseSpecs } from '../../model/application.js';
import { parseYamlDocuments } from '../../model/yaml.js';
import type { DriftlessClient } from '../client.js';
import { arg, type Command, type CommandContext, UsageError } from '../command.js';
import { emit, type Printer, paint } from '../output.js';

export const apps: Command = {
  name: 'apps',
  async run(ctx: CommandContext): Promise<number> {
    const [sub] = ctx.args;
    const { p } = ctx;
    const client = ctx.client();
    if (sub === 'list') return appsList(p, client);
    if (sub === 'get') return appsGet(p, client, arg(ctx.args, 1, 'application name'));
    if (sub === 'apply')
      return applySpecs(p, client, ctx.flags.file ?? [], { cascade: ctx.flags.cascade === true });
    if (sub === 'delete') {
      const name = arg(ctx.args, 1, 'application name');
      if (ctx.flags.prune && !ctx.flags.cascade)
        throw new UsageError('--prune applies to a cascade: add --cascade');
      if (!ctx.flags.cascade) {
        await client.request('DELETE', `/apps/${name}`);
        p.out(`application ${name} deleted (its objects stay in the cluster)`);
        return 0;
      }
      const res = await client.request<AppDeleteResponse>('DELETE', `/apps/${name}`, undefined, {
        cascade: 'true',
        prune: ctx.flags.prune ? 'true' : undefined,
      });
      for (const t of res.targets) {
        p.out(
          `${t.cluster}: pruning ${t.objects} objects (operation ${t.operationId}); the application goes once every destination is pruned`,
        );
      }
      return 0;
    }
    throw new UsageError(`unknown command: apps ${sub ?? ''}`);
  },
};

async function appsList(p: Printer, client: DriftlessClient): Promise<number> {
  const items: AppListItem[] = [];
  let next: string | undefined;
  do {
    const page = await client.request<AppListResponse>('GET', '/apps', undefined, {
      next,
      limit: '200',
    });
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
  const { app } = await client.request<AppDetailResponse>('GET', `/apps/${name}`);
  const printer = p.format === 'table' ? { ...p, format: 'yaml' as const } : p;
  emit(printer, app, [], []);
  return 0;
}

/** Registers every Application, Cluster and Repository of the files, after validating all of them. */
export async function applySpecs(
  p: Printer,
  client: DriftlessClient,
  files: string[],
  opts: { cascade?: boolean } = {},
): Promise<number> {
  if (files.length === 0) throw new UsageError('apps apply needs -f FILE');
  // Validate every document of every file before registering anything.
  const specs: (ReturnType<typeof parseSpecs>[number] & { file: string })[] = [];
  for (const file of files) {
    const text = await readFile(file, 'utf8').catch((e: Error) => {
      throw new UsageError(`cannot read ${file}: ${e.message}`);
    });
    for (const s of parseSpecs(text, file)) specs.push({ ...s, file });
  }
  if (specs.length === 0) {
    throw new UsageError(`no Application, Cluster, Project or Repository in ${files.join(', ')}`);
  }
  // Projects, Clusters and Repositories first: applications name them or use them.
  const order = { Project: 0, Cluster: 1, Repository: 2, Application: 3 } as const;
  specs.sort((a, b) => order[a.kind] - order[b.kind]);
  for (const s of specs) {
    const name = s.value.metadata.name;
    const route = {
      Cluster: `/clusters/${name}`,
      Repository: `/repositories/${name}`,
      Project: `/projects/${name}`,
      Application: `/apps/${name}`,
    }[s.kind];
    const raw = await rawDocument(s.file, s.kind, name);
    const query = s.kind === 'Application' && opts.cascade ? { cascade: 'true' } : undefined;
    const res = await client.request<AppPutResponse | undefined>('PUT', route, raw, query);
    p.out(`${s.kind.toLowerCase()} ${name} ${paint(p, 'green', 'applied')}`);
    for (const r of res?.removed ?? []) {
      p.out(
        r.cascade
          ? `  destination ${r.cluster} removed: pruning its ${r.objects} objects`
          : `  destination ${r.cluster} removed: its ${r.objects} objects stay in the cluster (--cascade prunes them)`,
      );
    }
  }
  return 0;
}

/**
 * The document as written (durations as text), for the API to validate and
 * store; read by the same parser as parseSpecs, so `automated: yes` is true here too.
 */
async function rawDocument(file: string, kind: string, name: string): Promise<unknown> {
  for (const doc of parseYamlDocuments(await readFile(file, 'utf8'), file)) {
    const v = doc.value as { kind?: string; metadata?: { name?: string } } | null;
    if (v?.kind === kind && v.metadata?.name === name) return v;
  }
  throw new UsageError(`${kind} ${name} not found in ${file}`);
}
