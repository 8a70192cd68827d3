// driftless status [APP]: sync, health, revision and last operation per target.

import type {
  AppDetailResponse,
  AppListItem,
  AppListResponse,
  OperationSummary,
  TargetListRow,
} from '../../api/contract.js';
import { shortSha } from '../../model/revision.js';
import type { DriftlessClient } from '../client.js';
import type { Command, CommandContext } from '../command.js';
import { age, emit, type Printer, state } from '../output.js';

export const status: Command = {
  name: 'status',
  run: (ctx: CommandContext) => statusOf(ctx.p, ctx.client(), ctx.args[0]),
};

/** A row of the table: a list row, or a target's detail (which says more of its operation). */
type Row = TargetListRow & { app: string; operation?: OperationSummary };

async function statusOf(p: Printer, client: DriftlessClient, app?: string): Promise<number> {
  const rows: Row[] = [];
  if (app) {
    // The first page lists every target; its resources are not needed here.
    const detail = await client.request<AppDetailResponse>('GET', `/apps/${app}`, undefined, {
      resources: '1',
    });
    for (const { resources: _, ...t } of detail.targets) {
      rows.push({ app, ...t, operationPhase: t.operation?.phase });
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
        ? `${state(p, t.operationPhase)} ${t.operation?.message ?? ''}`.trimEnd().slice(0, 80)
        : '-',
      age(t.lastCheckedAt),
    ]),
  );
  return 0;
}
