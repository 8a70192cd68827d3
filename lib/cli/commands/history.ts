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
  const rows = h.targets.flatMap((t) => t.operations.map((o) => ({ cluster: t.cluster, ...o })));
  emit(
    p,
    rows,
    ['CLUSTER', 'STARTED', 'TRIGGER', 'BY', 'REVISION', 'PHASE', 'APPLIED', 'PRUNED', 'MESSAGE'],
    rows.map((o) => [
      o.cluster,
      o.startedAt,
      o.trigger,
      o.initiator ?? '',
      shortSha(o.revision),
      // A failure that repeated is one line with its count.
      o.count && o.count > 1 ? `${state(p, o.phase)} ×${o.count}` : state(p, o.phase),
      String(o.applied),
      String(o.pruned),
      (o.message ?? '').slice(0, 80),
    ]),
  );
  return 0;
}
