// driftless redrive [--dry-run] [--max N]: moves dead letters (jobs that ran
// out of retries) back to the job queue, oldest first, through the status
// API (POST /deadletters/redrive) — SQS in AWS, the in-process queue in
// local mode. --dry-run lists what would be redriven and why each died.

import type { DeadLetter, RedriveResponse } from '../../api/contract.js';
import { type Command, type CommandContext, UsageError } from '../command.js';
import { emit, paint } from '../output.js';

/** What `--max` defaults to: the API's own default batch. */
const DEFAULT_MAX = 10;

export const redrive: Command = {
  name: 'redrive',
  async run(ctx: CommandContext): Promise<number> {
    if (ctx.args.length)
      throw new UsageError(`redrive takes no arguments, got ${ctx.args.join(' ')}`);
    const raw = ctx.flags.max;
    const max = raw === undefined ? DEFAULT_MAX : Number(raw);
    if (!Number.isInteger(max) || max < 1) {
      throw new UsageError(`--max must be a whole number of at least 1, got ${raw}`);
    }
    const dryRun = ctx.flags['dry-run'] === true;
    const res = await ctx
      .client()
      .request<RedriveResponse>('POST', '/deadletters/redrive', { max, dryRun });
    const { p } = ctx;
    if (p.format !== 'table') {
      emit(p, res, [], []);
      return 0;
    }
    const rows = [
      ...res.redriven.map((d) => row(d, dryRun ? 'would redrive' : 'redriven')),
      ...res.skipped.map((s) => row(s.deadLetter, `skipped: ${s.reason}`)),
    ];
    emit(
      p,
      rows,
      ['TARGET', 'TRIGGER', 'ATTEMPTS', 'REASON', 'ERROR', 'ACTION'],
      rows.map((r) => r.cells),
    );
    p.out(
      paint(
        p,
        'gray',
        dryRun
          ? `${res.redriven.length} would be redriven, ${res.skipped.length} skipped (nothing moved)`
          : `${res.redriven.length} redriven to the job queue, ${res.skipped.length} skipped`,
      ),
    );
    return 0;
  },
};

function row(d: DeadLetter, action: string): { cells: string[] } {
  return {
    cells: [
      d.job ? `${d.job.app} on ${d.job.cluster}` : '(not a job)',
      d.job?.trigger ?? '-',
      d.error?.attempts === undefined ? '-' : String(d.error.attempts),
      d.error?.reason ?? (d.error ? '-' : 'moved by the queue (receive limit)'),
      (d.error?.message ?? d.body ?? '').replace(/\s+/g, ' ').slice(0, 80),
      action,
    ],
  };
}
