// driftless diff APP [--revision R]: what a sync would change; exit 1 on drift.

import type { DiffResponse } from '../../api/contract.js';
import { shortSha } from '../../model/revision.js';
import type { DriftlessClient } from '../client.js';
import { arg, type Command, type CommandContext, type Flags } from '../command.js';
import { emit, type Printer, paint, state } from '../output.js';

export const diff: Command = {
  name: 'diff',
  run: (ctx: CommandContext) =>
    diffOf(ctx.p, ctx.client(), arg(ctx.args, 0, 'application name'), ctx.flags),
};

export async function diffOf(
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
