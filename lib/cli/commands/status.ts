// driftless status [APP]: sync, health, revision and last operation per target.

import type { AppListItem, AppListResponse, TargetListRow } from '../../api/contract.js';
import { shortSha } from '../../model/revision.js';
import type { DriftlessClient } from '../client.js';
import type { Command, CommandContext } from '../command.js';
import { age, emit, type Printer, state } from '../output.js';

export const status: Command = {
  name: 'status',
  run: (ctx: CommandContext) => statusOf(ctx.p, ctx.client(), ctx.args[0]),
};

/** A row of the table: a list row, or a target's detail (which says more of its operation). */
type Row = TargetListRow & { app: string; operationMessage?: string };

async function statusOf(p: Printer, client: DriftlessClient, app?: string): Promise<number> {
  const rows: Row[] = [];
  if (app) {
    for (const t of (await client.appDetail(app)).targets) {
      rows.push({
        app,
        cluster: t.cluster,
        sync: t.sync,
        health: t.health,
        syncedRevision: t.syncedRevision,
        wantedRevision: t.wantedRevision,
        lastCheckedAt: t.lastCheckedAt,
        operationPhase: t.operation?.phase,
        operationMessage: t.operation?.message,
      });
    }
  } else {
    const apps: AppListItem[] = [];
    let next: string | undefined;
    do {
      const page = await client.request<AppListResponse>('GET', '/apps', undefined, {
        limit: '500',
        next,
      });
      apps.push(...page.items);
      next = page.next;
    } while (next);
    for (const a of apps) for (const t of a.targets) rows.push({ app: a.name, ...t });
  }
  emit(
    p,
    rows,
    ['APP', 'CLUSTER', 'SYNC', 'HEALTH', 'REVISION', 'LAST OPERATION', 'AGE'],
    rows.map((t) => [
      t.app,
      t.cluster,
      state(p, t.sync),
      state(p, t.health),
      shortSha(t.syncedRevision ?? t.wantedRevision),
      t.operationPhase
        ? `${state(p, t.operationPhase)} ${t.operationMessage ?? ''}`.trimEnd().slice(0, 80)
        : '-',
      age(t.lastCheckedAt),
    ]),
  );
  return 0;
}
