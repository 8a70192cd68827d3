// The cluster guard on DynamoDB, with the contract of lib/local/cluster-guard.ts.
//
// One item per cluster (GUARD#<name> / GUARD, dynamo/schema.ts) holds the
// whole GuardRecord as JSON and a version. Acquire and release read it
// strongly consistently, move it with the port's rules and write it back
// conditional on the version they read, so two workers racing for the last
// slot cannot both get it: the loser reads again and decides again. Holders
// carry an expiry (the caller's clock, like the lease), so a crashed
// worker's slot is free again after its TTL.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { DriftlessError } from '../errors.js';
import { type Clock, systemClock } from '../ports/clock.js';
import {
  type Admission,
  admit,
  type BreakerPolicy,
  CLUSTER_FULL_RETRY_MS,
  type ClusterAnswer,
  type ClusterGuard,
  type ClusterGuardState,
  type ClusterSlot,
  DEFAULT_BREAKER_POLICY,
  emptyGuardRecord,
  type GuardRecord,
  guardState,
  type SlotRequest,
  settle,
} from '../ports/cluster-guard.js';
import type { CapacityListener } from './dynamo/capacity.js';
import { DynamoTable, isConditionFailure } from './dynamo/client.js';
import { Expression } from './dynamo/expression.js';
import { av, type Item, readNumber, readString } from './dynamo/items.js';
import { ATTR, clusterGuardKey } from './dynamo/schema.js';

/** Compare-and-set rounds before giving up on a contended guard item. */
export const GUARD_CAS_ATTEMPTS = 8;
/** Upper bound of the pause between rounds, times the round. */
const GUARD_CAS_JITTER_MS = 20;

const GuardRecordSchema = z.object({
  holders: z.record(z.string(), z.object({ expiresAt: z.number(), probe: z.boolean().optional() })),
  breaker: z.enum(['closed', 'open', 'half-open']),
  since: z.number().optional(),
  failures: z.number(),
  opens: z.number(),
  probeAt: z.number().optional(),
  lastError: z.string().optional(),
  backoffUntil: z.number().optional(),
  throttled: z.number(),
});

export interface DynamoClusterGuardOptions {
  client: DynamoDBClient;
  tableName: string;
  clock?: Clock;
  policy?: BreakerPolicy;
  onConsumedCapacity?: CapacityListener;
}

export class DynamoClusterGuard implements ClusterGuard {
  private readonly table: DynamoTable;
  private readonly clock: Clock;
  private readonly policy: BreakerPolicy;

  constructor(opts: DynamoClusterGuardOptions) {
    this.table = new DynamoTable(opts);
    this.clock = opts.clock ?? systemClock;
    this.policy = opts.policy ?? DEFAULT_BREAKER_POLICY;
  }

  async acquire(req: SlotRequest): Promise<Admission> {
    try {
      return await this.update(req.cluster, 'acquireClusterSlot', (rec, now) => {
        const { record, admission } = admit(rec, req, now);
        // A refusal changes nothing worth a write (expired holders go with the next grant).
        return { record: admission.granted ? record : undefined, result: admission };
      });
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      // Lost every round to other workers: as good as full, ask again shortly.
      return {
        granted: false,
        reason: 'full',
        retryAt: this.clock.now() + CLUSTER_FULL_RETRY_MS,
        message: `cluster ${req.cluster}'s slots are contended by other workers`,
      };
    }
  }

  async release(slot: ClusterSlot, answer: ClusterAnswer): Promise<void> {
    await this.update(slot.cluster, 'releaseClusterSlot', (rec, now) => ({
      record: settle(rec, slot, answer, now, this.policy),
      result: undefined,
    }));
  }

  async state(cluster: string, concurrency: number): Promise<ClusterGuardState> {
    const { record } = await this.read(cluster);
    return guardState(record, cluster, concurrency, this.clock.now());
  }

  private async read(cluster: string): Promise<{ record: GuardRecord; version: number }> {
    const out = await this.table.getItem('getClusterGuard', {
      Key: clusterGuardKey(cluster),
      ConsistentRead: true,
    });
    return {
      record: parseRecord(cluster, out.Item),
      version: readNumber(out.Item, ATTR.version) ?? 0,
    };
  }

  /** Read, decide, write back if the version is still the one read; again on a race. */
  private async update<T>(
    cluster: string,
    op: string,
    decide: (rec: GuardRecord, now: number) => { record: GuardRecord | undefined; result: T },
  ): Promise<T> {
    for (let round = 1; ; round++) {
      const { record, version } = await this.read(cluster);
      const decided = decide(record, this.clock.now());
      if (!decided.record) return decided.result;
      const x = new Expression();
      const v = x.name(ATTR.version);
      const condition =
        version === 0 ? `attribute_not_exists(${v})` : `${v} = ${x.value(av.n(version))}`;
      try {
        await this.table.putItem(op, {
          Item: {
            ...clusterGuardKey(cluster),
            [ATTR.itemType]: av.s('ClusterGuard'),
            [ATTR.guard]: av.s(JSON.stringify(decided.record)),
            [ATTR.version]: av.n(version + 1),
          },
          ConditionExpression: condition,
          ...x.fields(),
        });
        return decided.result;
      } catch (e) {
        if (!isConditionFailure(e) || round >= GUARD_CAS_ATTEMPTS) throw e;
        // Spread the next round of the racers a little.
        await new Promise((r) => setTimeout(r, Math.random() * GUARD_CAS_JITTER_MS * round));
      }
    }
  }
}

function parseRecord(cluster: string, item: Item | undefined): GuardRecord {
  const raw = readString(item, ATTR.guard);
  if (raw === undefined) return emptyGuardRecord();
  const parsed = GuardRecordSchema.safeParse(JSON.parse(raw));
  if (!parsed.success) {
    throw new DriftlessError(
      'Internal',
      `the guard item of cluster ${cluster} does not parse: ${parsed.error.issues[0]?.message ?? ''}`,
      { object: `Cluster/${cluster}`, field: ATTR.guard },
    );
  }
  return parsed.data;
}
