// Driftless for the fleet benchmark (bench/fleet.bench.ts): local mode
// (startLocalMode, what `driftless dev` runs) in a process of its own, so that
// its CPU time and peak memory can be read from /proc apart from the
// benchmark's. Reads its settings from a JSON file, prints one JSON line
// `{"url": …}` once it serves, then one line per reconcile event the benchmark
// times (drift found, object applied, reconcile done), and stops when its
// parent closes stdin (or dies).
//   fleet-driftless.ts <settings.json>

import { readFile } from 'node:fs/promises';
import { startLocalMode } from '../lib/local/dev.js';
import { ApplicationSchema } from '../lib/model/application.js';
import type { ReconcileEvent } from '../lib/reconcile/index.js';

export interface FleetDriftlessSettings {
  kubeconfig: string;
  /** Application documents (parsed with ApplicationSchema here). */
  apps: unknown[];
  webhookSecret: string;
  gitCacheDir: string;
  /** Local mode's sweep tick (its default is a quick 5 s for development). */
  sweepIntervalMs: number;
}

/** One line of this process's output after the first. */
export type FleetEvent =
  | { t: number; type: 'drift'; app: string; changed: number }
  | { t: number; type: 'applied'; app: string; key: string }
  | {
      t: number;
      type: 'done';
      app: string;
      sync: string;
      health: string;
      revision?: string;
      phase?: string;
    };

const file = process.argv[2];
if (!file) {
  console.error('usage: fleet-driftless.ts <settings.json>');
  process.exit(2);
}
const settings = JSON.parse(await readFile(file, 'utf8')) as FleetDriftlessSettings;
const emit = (e: FleetEvent) => process.stdout.write(`${JSON.stringify(e)}\n`);
const onEvent = (e: ReconcileEvent) => {
  const t = Date.now();
  const app = e.target.app;
  if (e.type === 'drift') {
    const changed = e.outOfSync + e.missing + e.extra;
    if (changed > 0) emit({ t, type: 'drift', app, changed });
  } else if (e.type === 'applied') {
    emit({ t, type: 'applied', app, key: e.key });
  } else if (e.type === 'done') {
    const s = e.status;
    emit({
      t,
      type: 'done',
      app,
      sync: s.sync,
      health: s.health,
      revision: s.syncedRevision,
      phase: s.operation?.phase,
    });
  }
};
const local = await startLocalMode({
  kubeconfig: settings.kubeconfig,
  port: 0,
  apps: settings.apps.map((a) => ApplicationSchema.parse(a)),
  webhookSecret: settings.webhookSecret,
  gitCacheDir: settings.gitCacheDir,
  sweepIntervalMs: settings.sweepIntervalMs,
  onEvent,
  onLog: (m) => process.stderr.write(`[driftless] ${m}\n`),
});
process.stdout.write(`${JSON.stringify({ url: local.url })}\n`);
let stopping = false;
const stop = () => {
  if (stopping) return;
  stopping = true;
  local.stop().finally(() => process.exit(0));
};
process.stdin.on('end', stop);
process.stdin.on('error', stop);
process.stdin.resume();
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
