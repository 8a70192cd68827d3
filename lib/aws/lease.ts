// Per-target leases on DynamoDB, with the contract of lib/ports/lease.ts
// (lib/local/lease.ts has the same; test/support/contract/ checks both).
//
// The lease lives on the target's record item (dynamo/schema.ts): leaseHolder,
// leaseToken, leaseExpiresAt. Acquiring is one conditional UpdateItem that
// increments the token atomically, and the catalog's status and history
// writes are conditional on that same attribute (`leaseToken <= :myToken`),
// so a holder whose lease was taken over is fenced out from the moment the
// new holder acquires. The token is never reset: release clears the holder
// and keeps the token, so tokens only grow.
//
// A renewal needs the lease unexpired (an expired lease may be taken at any
// moment, so its holder must stop rather than race the next one), and the
// target not deleted (its record a tombstone).
//
// Expiry is judged by the caller's clock (epoch ms in leaseExpiresAt);
// workers' clocks must agree to well within a lease's TTL, which Lambda's
// NTP-synchronised clocks do.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DriftlessError } from '../errors.js';
import { type TargetId, targetKey } from '../model/target.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { Lease, LeaseManager } from '../ports/lease.js';
import type { CapacityListener } from './dynamo/capacity.js';
import { DynamoTable, isConditionFailure } from './dynamo/client.js';
import { Update } from './dynamo/expression.js';
import { av, readNumber, readString } from './dynamo/items.js';
import { ATTR, targetRecordKey } from './dynamo/schema.js';

export interface DynamoLeaseManagerOptions {
  client: DynamoDBClient;
  tableName: string;
  clock?: Clock;
  onConsumedCapacity?: CapacityListener;
}

/** `#holder = :holder AND #token = :token`: the lease is still this one. */
function stillHeld(u: Update, lease: Lease): string {
  return (
    `${u.name(ATTR.leaseHolder)} = ${u.value(av.s(lease.holder))} AND ` +
    `${u.name(ATTR.leaseToken)} = ${u.value(av.n(lease.fencingToken))}`
  );
}

export class DynamoLeaseManager implements LeaseManager {
  private readonly table: DynamoTable;
  private readonly clock: Clock;

  constructor(opts: DynamoLeaseManagerOptions) {
    this.table = new DynamoTable(opts);
    this.clock = opts.clock ?? systemClock;
  }

  async acquire(target: TargetId, holder: string, ttlMs: number): Promise<Lease | undefined> {
    const now = this.clock.now();
    const expiresAt = now + ttlMs;
    try {
      const u = new Update();
      const token = u.name(ATTR.leaseToken);
      const holderName = u.name(ATTR.leaseHolder);
      const holderValue = u.value(av.s(holder));
      u.setExpression(
        `${token} = if_not_exists(${token}, ${u.value(av.n(0))}) + ${u.value(av.n(1))}`,
      )
        .setExpression(`${holderName} = ${holderValue}`)
        .set(ATTR.leaseExpiresAt, av.n(expiresAt));
      // Free, expired, or already ours (re-acquiring bumps the token, like the embedded lease).
      const free =
        `attribute_not_exists(${holderName}) OR ` +
        `${u.name(ATTR.leaseExpiresAt)} <= ${u.value(av.n(now))} OR ${holderName} = ${holderValue}`;
      const out = await this.table.updateItem('acquireLease', {
        Key: targetRecordKey(target),
        ...u.build(free),
        ReturnValues: 'UPDATED_NEW',
      });
      const fencingToken = readNumber(out.Attributes, ATTR.leaseToken);
      if (fencingToken === undefined) {
        throw new DriftlessError('Internal', `lease on ${targetKey(target)}: no token returned`);
      }
      return { target, holder, fencingToken, expiresAt };
    } catch (e) {
      if (isConditionFailure(e)) return undefined;
      throw e;
    }
  }

  /** Extends the lease while it is still this one, unexpired, on a target not deleted. */
  async renew(lease: Lease, ttlMs: number): Promise<Lease> {
    const now = this.clock.now();
    const expiresAt = now + ttlMs;
    try {
      const u = new Update().set(ATTR.leaseExpiresAt, av.n(expiresAt));
      const condition =
        `${stillHeld(u, lease)} AND ${u.name(ATTR.leaseExpiresAt)} > ${u.value(av.n(now))} AND ` +
        `attribute_not_exists(${u.name(ATTR.ttl)})`;
      await this.table.updateItem('renewLease', {
        Key: targetRecordKey(lease.target),
        ...u.build(condition),
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
      return { ...lease, expiresAt };
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      const key = targetKey(lease.target);
      const holder = readString(e.Item, ATTR.leaseHolder);
      const token = readNumber(e.Item, ATTR.leaseToken);
      if (holder === lease.holder && token === lease.fencingToken) {
        const deleted = readNumber(e.Item, ATTR.ttl) !== undefined;
        throw new DriftlessError(
          'LeaseLost',
          deleted
            ? `lease on ${key} cannot be renewed: the target was deleted; holder ${lease.holder} must stop`
            : `lease on ${key} expired before it was renewed; holder ${lease.holder} with token ${lease.fencingToken} must stop`,
        );
      }
      throw new DriftlessError(
        'LeaseLost',
        `lease on ${key} was taken over` +
          (holder ? ` by ${holder} (token ${token})` : ' or released') +
          `; holder ${lease.holder} with token ${lease.fencingToken} must stop`,
      );
    }
  }

  /** Gives up the lease if it is still ours; the token stays so the next one is higher. */
  async release(lease: Lease): Promise<void> {
    try {
      const u = new Update().remove(ATTR.leaseHolder, ATTR.leaseExpiresAt);
      await this.table.updateItem('releaseLease', {
        Key: targetRecordKey(lease.target),
        ...u.build(stillHeld(u, lease)),
      });
    } catch (e) {
      // Already taken over or released: nothing of ours to give up.
      if (!isConditionFailure(e)) throw e;
    }
  }
}
