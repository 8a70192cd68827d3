// One cold worker for the data-plane cost benchmark (bench/cost.bench.ts): a
// fresh Node process — no Git cache, no render cache, no discovery, no open
// connections, as a new Lambda execution environment — runs processMessage
// once on the message (a reconcile job or a cluster's sweep) it reads from stdin and prints what it measured as one JSON
// line. The benchmark bundles this file with esbuild first (as the CDK stack
// bundles functions/worker.ts), so `initMs` (process start to the first line
// of main: Node's start-up plus loading the bundle) approximates a Lambda
// INIT phase.
//
//   node cost-worker.mjs < {"plane": …, "cluster": …, "job": …, "attempt": 1, "waitBudgetMs": 20000}

import { performance } from 'node:perf_hooks';
import type { Cluster } from '../lib/model/application.js';
import type { QueueMessage } from '../lib/ports/queue.js';
import type { ClusterSweepCounters } from '../lib/ports/store.js';
import { processMessage } from '../lib/worker.js';
import {
  describeOutcome,
  type MeterSnapshot,
  meteredPlane,
  type PlaneConfig,
} from './cost-wiring.js';

export interface ColdWorkerInput {
  plane: PlaneConfig;
  cluster: Cluster;
  job: QueueMessage;
  attempt: number;
  waitBudgetMs: number;
}

export interface ColdWorkerOutput {
  /** A cluster's sweep: its counters. */
  swept?: ClusterSweepCounters;
  initMs: number;
  ms: number;
  cpuMs: number;
  outcome: string;
  applied: number;
  sync?: string;
  health?: string;
  meter: MeterSnapshot;
  kube: { total: number; byVerb: Record<string, number> };
}

const initMs = performance.now();

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

async function main() {
  const input = JSON.parse(await readStdin()) as ColdWorkerInput;
  const plane = meteredPlane(input.plane);
  try {
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const outcome = await processMessage(plane.workerDeps, input.job, input.attempt, {
      waitBudgetMs: input.waitBudgetMs,
    });
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    const client = await plane.kubeClient(input.cluster);
    const status = outcome.kind === 'done' ? outcome.status : undefined;
    const out: ColdWorkerOutput = {
      initMs,
      ms,
      cpuMs: (cpu.user + cpu.system) / 1000,
      outcome: describeOutcome(outcome),
      ...(outcome.kind === 'swept' && outcome.result.record
        ? { swept: outcome.result.record.counters }
        : {}),
      applied: status?.operation?.applied ?? 0,
      sync: status?.sync,
      health: status?.health,
      meter: plane.meter.snapshot(),
      kube: { total: client.stats.total, byVerb: { ...client.stats.byVerb } },
    };
    process.stdout.write(`${JSON.stringify(out)}\n`);
  } finally {
    plane.close();
  }
}

main().catch((e: unknown) => {
  console.error(`[cost-worker] failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
  process.exit(1);
});
