// driftless sync APP [--revision R] [--prune] [--dry-run] [--wait]

import type { AppDetailResponse, HistoryResponse, SyncResponse } from '../../api/contract.js';
import { DriftlessError } from '../../errors.js';
import type { DriftlessClient } from '../client.js';
import { arg, type Command, type CommandContext, type Flags } from '../command.js';
import { emit, type Printer, state } from '../output.js';
import { diffOf } from './diff.js';

export const sync: Command = {
  name: 'sync',
  run: (ctx: CommandContext) =>
    syncApp(ctx.p, ctx.client(), arg(ctx.args, 0, 'application name'), ctx.flags),
};

export async function syncApp(
  p: Printer,
  client: DriftlessClient,
  name: string,
  flags: Flags,
): Promise<number> {
  if (flags['dry-run']) return diffOf(p, client, name, flags);
  const res = await client.request<SyncResponse>('POST', `/apps/${name}/sync`, {
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
      const h = await client.request<HistoryResponse>('GET', `/apps/${name}/history`, undefined, {
        cluster: op.cluster,
        limit: '20',
      });
      const done = h.targets[0]?.operations.find((o) => o.id === op.operationId);
      // The first page lists every target; only the summaries are needed.
      const { targets } = await client.request<AppDetailResponse>(
        'GET',
        `/apps/${name}`,
        undefined,
        {
          resources: '1',
        },
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
