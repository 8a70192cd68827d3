// Per-target leases on DynamoDB, with the contract of lib/local/lease.ts.
//
// The lease lives on the target's record item (table.ts): leaseHolder,
// leaseToken, leaseExpiresAt. Acquiring is one conditional UpdateItem that
// increments the token atomically, and the catalog's status and history
// writes are conditional on that same attribute (`leaseToken <= :myToken`),
// so a holder whose lease was taken over is fenced out from the moment the
// new holder acquires. The token is never reset: release clears the holder
// and keeps the token, so tokens only grow.
//
// Expiry is judged by the caller's clock (epoch ms in leaseExpiresAt);
// workers' clocks must agree to well within a lease's TTL, which Lambda's
// NTP-synchronised clocks do.

import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DriftlessError } from '../errors.js';
import { type TargetId, targetKey } from '../model/target.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { Lease, LeaseManager } from '../ports/lease.js';
import {
  ATTR,
  av,
  type CapacityListener,
  DynamoTable,
  isConditionFailure,
  readNumber,
  readString,
  targetRecordKey,
} from './table.js';

export interface DynamoLeaseManagerOptions {
  client: DynamoDBClient;
  tableName: string;
  clock?: Clock;
  onConsumedCapacity?: CapacityListener;
}

const NAMES = {
  '#holder': ATTR.leaseHolder,
  '#token': ATTR.leaseToken,
  '#expiresAt': ATTR.leaseExpiresAt,
};

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
      const out = await this.table.updateItem('acquireLease', {
        Key: targetRecordKey(target),
        UpdateExpression:
          'SET #token = if_not_exists(#token, :zero) + :one, #holder = :holder, #expiresAt = :expiresAt',
        // Free, expired, or already ours (re-acquiring bumps the token, like the embedded lease).
        ConditionExpression:
          'attribute_not_exists(#holder) OR #expiresAt <= :now OR #holder = :holder',
        ExpressionAttributeNames: NAMES,
        ExpressionAttributeValues: {
          ':zero': av.n(0),
          ':one': av.n(1),
          ':holder': av.s(holder),
          ':expiresAt': av.n(expiresAt),
          ':now': av.n(now),
        },
        ReturnValues: 'UPDATED_NEW',
      });
      const token = readNumber(out.Attributes, ATTR.leaseToken);
      if (token === undefined) {
        throw new DriftlessError('Internal', `lease on ${targetKey(target)}: no token returned`);
      }
      return { target, holder, fencingToken: token, expiresAt };
    } catch (e) {
      if (isConditionFailure(e)) return undefined;
      throw e;
    }
  }

  async renew(lease: Lease, ttlMs: number): Promise<Lease> {
    const expiresAt = this.clock.now() + ttlMs;
    try {
      await this.table.updateItem('renewLease', {
        Key: targetRecordKey(lease.target),
        UpdateExpression: 'SET #expiresAt = :expiresAt',
        ConditionExpression: '#holder = :holder AND #token = :token',
        ExpressionAttributeNames: NAMES,
        ExpressionAttributeValues: {
          ':expiresAt': av.n(expiresAt),
          ':holder': av.s(lease.holder),
          ':token': av.n(lease.fencingToken),
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
      return { ...lease, expiresAt };
    } catch (e) {
      if (!isConditionFailure(e)) throw e;
      const holder = readString(e.Item, ATTR.leaseHolder);
      const token = readNumber(e.Item, ATTR.leaseToken);
      throw new DriftlessError(
        'LeaseLost',
        `lease on ${targetKey(lease.target)} was taken over` +
          (holder ? ` by ${holder} (token ${token})` : ' or released') +
          `; holder ${lease.holder} with token ${lease.fencingToken} must stop`,
      );
    }
  }

  /** Gives up the lease if it is still ours; the token stays so the next one is higher. */
  async release(lease: Lease): Promise<void> {
    try {
      await this.table.updateItem('releaseLease', {
        Key: targetRecordKey(lease.target),
        UpdateExpression: 'REMOVE #holder, #expiresAt',
        ConditionExpression: '#holder = :holder AND #token = :token',
        ExpressionAttributeNames: NAMES,
        ExpressionAttributeValues: {
          ':holder': av.s(lease.holder),
          ':token': av.n(lease.fencingToken),
        },
      });
    } catch (e) {
      // Already taken over or released: nothing of ours to give up.
      if (!isConditionFailure(e)) throw e;
    }
  }
}
