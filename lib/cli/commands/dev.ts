// driftless dev: webhook, API, queue and worker in this process, against a
// kubeconfig; prints progress (waves, applies, hooks, health) as it changes.

import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { DEFAULT_DEV_PORT, startLocalMode } from '../../local/dev.js';
import type { Application, Repository } from '../../model/application.js';
import { parseSpecs } from '../../model/application.js';
import { shortSha } from '../../model/revision.js';
import type { ReconcileEvent } from '../../reconcile/index.js';
import { type Command, type CommandContext, type Flags, UsageError } from '../command.js';
import { type Printer, paint, state } from '../output.js';

export const dev: Command = {
  name: 'dev',
  local: true,
  run: (ctx: CommandContext) => runDev(ctx.p, ctx.flags),
};

async function runDev(p: Printer, flags: Flags): Promise<number> {
  const kubeconfig = flags.kubeconfig ?? process.env.KUBECONFIG?.split(path.delimiter)[0];
  if (!kubeconfig) throw new UsageError('dev needs a cluster: --kubeconfig FILE or $KUBECONFIG');
  const apps: Application[] = [];
  const repositories: Repository[] = [];
  for (const file of flags.file ?? []) {
    for (const s of parseSpecs(await readFile(file, 'utf8'), file)) {
      if (s.kind === 'Application') apps.push(s.value);
      if (s.kind === 'Repository') repositories.push(s.value);
    }
  }
  const progress = progressPrinter(p);
  const local = await startLocalMode({
    kubeconfig: path.resolve(kubeconfig),
    context: flags.context,
    port: flags.port ? Number(flags.port) : DEFAULT_DEV_PORT,
    apps,
    repositories,
    webhookSecret: process.env.DRIFTLESS_WEBHOOK_SECRET,
    secretsFile: flags.secrets ? path.resolve(flags.secrets) : undefined,
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

/** Prints reconcile events; periodic checks that change nothing stay quiet. */
function progressPrinter(p: Printer): (e: ReconcileEvent) => void {
  const lastDone = new Map<string, string>();
  return (e: ReconcileEvent) => {
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
}
