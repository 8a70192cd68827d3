// driftless clusters list | add | remove NAME

import path from 'node:path';
import type { ClusterListResponse } from '../../api/contract.js';
import type { ClusterGuardState } from '../../ports/cluster-guard.js';
import type { ClusterSweepRecord } from '../../ports/store.js';
import type { DriftlessClient } from '../client.js';
import { arg, type Command, type CommandContext, type Flags, UsageError } from '../command.js';
import { emit, type Printer, paint } from '../output.js';
import { applySpecs } from './apps.js';

export const clusters: Command = {
  name: 'clusters',
  async run(ctx: CommandContext): Promise<number> {
    const [sub] = ctx.args;
    const { p } = ctx;
    const client = ctx.client();
    if (sub === 'list') return clustersList(p, client);
    if (sub === 'add') return clustersAdd(p, client, ctx.flags, ctx.args[1]);
    if (sub === 'remove') {
      const name = arg(ctx.args, 1, 'cluster name');
      await client.request('DELETE', `/clusters/${name}`);
      p.out(`cluster ${name} removed`);
      return 0;
    }
    throw new UsageError(`unknown command: clusters ${sub ?? ''}`);
  },
};

async function clustersList(p: Printer, client: DriftlessClient): Promise<number> {
  const {
    items,
    guards = {},
    sweeps = {},
  } = await client.request<ClusterListResponse>('GET', '/clusters', undefined, { limit: '500' });
  emit(
    p,
    items.map((c) => ({ ...c, guard: guards[c.metadata.name], sweep: sweeps[c.metadata.name] })),
    ['NAME', 'TYPE', 'SLOTS', 'BREAKER', 'LAST SWEEP', 'WHERE', 'NOTE'],
    items.map((c) => {
      const g = guards[c.metadata.name];
      return [
        c.metadata.name,
        c.spec.eks ? 'eks' : 'kubeconfig',
        `${g?.slotsInUse ?? '-'}/${c.spec.concurrency}`,
        g ? breakerCell(p, g) : '-',
        sweepCell(p, sweeps[c.metadata.name]),
        c.spec.eks
          ? `${c.spec.eks.name} (${c.spec.eks.region})${c.spec.eks.roleArn ? ` as ${c.spec.eks.roleArn}` : ''}`
          : `${c.spec.kubeconfig?.path}${c.spec.kubeconfig?.context ? ` (${c.spec.kubeconfig.context})` : ''}`,
        g ? guardNote(g) : '',
      ];
    }),
  );
  return 0;
}

function breakerCell(p: Printer, g: ClusterGuardState): string {
  const since = g.since ? ` since ${g.since}` : '';
  if (g.breaker === 'closed') return paint(p, 'green', 'closed');
  return paint(p, g.breaker === 'open' ? 'red' : 'yellow', `${g.breaker}${since}`);
}

/** The cluster's last drift sweep: when, what was due, what it queued and why, or why it failed. */
function sweepCell(p: Printer, s: ClusterSweepRecord | undefined): string {
  if (!s) return '-';
  const c = s.counters;
  const why = Object.entries(c.reasons)
    .map(([reason, n]) => `${n} ${reason}`)
    .join(', ');
  const text = `${new Date(s.tickAt).toISOString()}: ${c.due}/${c.targets} due, ${c.enqueued} queued${why ? ` (${why})` : ''}${c.deferred ? `, ${c.deferred} next tick` : ''}`;
  return s.error ? paint(p, 'red', `${text}; ${s.error}`) : text;
}

/** Why the cluster is held back, and how often it throttled Driftless. */
function guardNote(g: ClusterGuardState): string {
  return [
    g.breaker !== 'closed' && g.probeAt ? `next probe ${g.probeAt}` : '',
    g.breaker !== 'closed' && g.lastError ? `last error: ${g.lastError}` : '',
    g.backoffUntil ? `backing off (429) until ${g.backoffUntil}` : '',
    g.throttled ? `${g.throttled}× 429` : '',
  ]
    .filter(Boolean)
    .join('; ');
}

async function clustersAdd(
  p: Printer,
  client: DriftlessClient,
  flags: Flags,
  name?: string,
): Promise<number> {
  if (flags.file?.length) return applySpecs(p, client, flags.file);
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
