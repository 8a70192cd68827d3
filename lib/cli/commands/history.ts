// driftless history APP: operations, newest first.

import type { HistoryResponse } from '../../api/contract.js';
import { shortSha } from '../../model/revision.js';
import type { DriftlessClient } from '../client.js';
import { arg, type Command, type CommandContext } from '../command.js';
import { emit, type Printer, state } from '../output.js';

export const history: Command = {
  name: 'history',
  run: (ctx: CommandContext) =>
    historyOf(ctx.p, ctx.client(), arg(ctx.args, 0, 'application name'), ctx.flags.cluster),
};

interface HistoryRow {
  cluster: string;
  at: string;
  what: string;
  by: string;
  revision: string;
  phase: string;
  applied: string;
  pruned: string;
  message: string;
}

async function historyOf(
  p: Printer,
  client: DriftlessClient,
  name: string,
  cluster?: string,
): Promise<number> {
  const h = await client.request<HistoryResponse>('GET', `/apps/${name}/history`, undefined, {
    cluster,
    limit: '50',
  });
  // Operations and the changes made through the API (suspend, resume, spec
  // updates…), with who started or made each, newest first.
  const rows: HistoryRow[] = [
    ...h.targets.flatMap((t) =>
      t.operations.map((o) => ({
        cluster: t.cluster,
        at: o.startedAt,
        what: o.trigger,
        by: o.initiator ?? '',
        revision: shortSha(o.revision),
        phase: o.count && o.count > 1 ? `${state(p, o.phase)} ×${o.count}` : state(p, o.phase),
        applied: String(o.applied),
        pruned: String(o.pruned),
        message: o.message ?? '',
      })),
    ),
    ...(h.events ?? []).map((e) => ({
      cluster: e.clusters?.join(',') ?? '*',
      at: e.at,
      what: e.action,
      by: e.principal,
      revision: '',
      phase: '',
      applied: '',
      pruned: '',
      message: `${e.action} by ${e.principal}`,
    })),
  ].sort((a, b) => Date.parse(b.at) - Date.parse(a.at));
  // For scripts: the operations (each with its cluster) and the events, newest first.
  const data = [
    ...h.targets.flatMap((t) => t.operations.map((o) => ({ cluster: t.cluster, ...o }))),
    ...(h.events ?? []).map((e) => ({
      cluster: e.clusters?.join(',') ?? '*',
      trigger: e.action,
      initiator: e.principal,
      startedAt: e.at,
      event: true,
    })),
  ].sort((a, b) => Date.parse(b.startedAt) - Date.parse(a.startedAt));
  emit(
    p,
    data,
    ['CLUSTER', 'STARTED', 'TRIGGER', 'BY', 'REVISION', 'PHASE', 'APPLIED', 'PRUNED', 'MESSAGE'],
    rows.map((r) => [
      r.cluster,
      r.at,
      r.what,
      r.by,
      r.revision,
      r.phase,
      r.applied,
      r.pruned,
      r.message.slice(0, 80),
    ]),
  );
  return 0;
}
