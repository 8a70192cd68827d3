// driftless get app NAME: per-resource status, with the reason for anything
// not Synced/Healthy.

import { shortSha } from '../../model/revision.js';
import type { DriftlessClient } from '../client.js';
import { arg, type Command, type CommandContext, UsageError } from '../command.js';
import { emit, type Printer, paint, state } from '../output.js';

export const get: Command = {
  name: 'get',
  run(ctx: CommandContext): Promise<number> {
    if (ctx.args[0] !== 'app') throw new UsageError('usage: driftless get app NAME');
    return getApp(ctx.p, ctx.client(), arg(ctx.args, 1, 'application name'), ctx.flags.cluster);
  },
};

async function getApp(
  p: Printer,
  client: DriftlessClient,
  name: string,
  cluster?: string,
): Promise<number> {
  const { targets } = await client.appDetail(name);
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
