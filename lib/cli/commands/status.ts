// driftless status [APP]: sync, health, revision and last operation per target.

import type { AppDetailResponse, AppListResponse } from '../../api/contract.js';
import { shortSha } from '../../model/revision.js';
import type { DriftlessClient } from '../client.js';
import type { Command, CommandContext } from '../command.js';
import { age, emit, type Printer, state } from '../output.js';

export const status: Command = {
  name: 'status',
  run: (ctx: CommandContext) => statusOf(ctx.p, ctx.client(), ctx.args[0]),
};

async function statusOf(p: Printer, client: DriftlessClient, app?: string): Promise<number> {
  const apps = app
    ? [
        {
          name: app,
          targets: (await client.request<AppDetailResponse>('GET', `/apps/${app}`)).targets,
        },
      ]
    : (await client.request<AppListResponse>('GET', '/apps', undefined, { limit: '500' })).items;
  const rows = apps.flatMap((a) =>
    a.targets.map((t) => ({ app: a.name, ...t, resources: undefined })),
  );
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
      t.operation
        ? `${state(p, t.operation.phase)} ${t.operation.message ?? ''}`.slice(0, 80)
        : '-',
      age(t.lastCheckedAt),
    ]),
  );
  return 0;
}
