// driftless rollback APP [--to N]: sync to the revision of the N-th previous
// successful sync.

import type { HistoryResponse } from '../../api/contract.js';
import { shortSha } from '../../model/revision.js';
import type { DriftlessClient } from '../client.js';
import { arg, type Command, type CommandContext, type Flags, UsageError } from '../command.js';
import type { Printer } from '../output.js';
import { syncApp } from './sync.js';

export const rollback: Command = {
  name: 'rollback',
  run: (ctx: CommandContext) =>
    rollbackApp(ctx.p, ctx.client(), arg(ctx.args, 0, 'application name'), ctx.flags),
};

async function rollbackApp(
  p: Printer,
  client: DriftlessClient,
  name: string,
  flags: Flags,
): Promise<number> {
  const n = Number(flags.to ?? 1);
  if (!Number.isInteger(n) || n < 1) throw new UsageError('--to must be a positive integer');
  const h = await client.request<HistoryResponse>('GET', `/apps/${name}/history`, undefined, {
    cluster: flags.cluster,
    limit: '100',
    // Successful syncs are kept apart from failures, so a rollback target is never pushed out.
    succeeded: 'true',
  });
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
  return syncApp(p, client, name, { ...flags, revision, 'dry-run': false });
}
