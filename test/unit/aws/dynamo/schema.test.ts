// The DynamoDB table design without I/O: definition, keys, shards, page
// tokens, item sizes and capacity estimates, and the item codecs.

import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeStatus } from '../../../../lib/aws/catalog/status.js';
import { recordFromItem } from '../../../../lib/aws/catalog/targets.js';
import { itemSize, readEstimate, writeEstimate } from '../../../../lib/aws/dynamo/capacity.js';
import {
  decodePageToken,
  encodePageToken,
  startKeySchema,
} from '../../../../lib/aws/dynamo/items.js';
import {
  ATTR,
  appKey,
  clusterKey,
  createTableInput,
  historyKey,
  SK_HISTORY_PREFIX,
  SK_STATUS,
  SK_TARGET,
  sweepRecordKey,
  sweepTargetKey,
  TABLE_DEFINITION,
  targetRecordKey,
  targetStatusKey,
  timeToLiveInput,
} from '../../../../lib/aws/dynamo/schema.js';
import { DriftlessError } from '../../../../lib/errors.js';
import { ApplicationSchema, applicationInput } from '../../../../lib/model/application.js';

describe('table definition', () => {
  it('declares each key attribute once, with two INCLUDE indexes', () => {
    const input = createTableInput('t');
    expect(input.AttributeDefinitions).toEqual([
      { AttributeName: 'pk', AttributeType: 'S' },
      { AttributeName: 'sk', AttributeType: 'S' },
      { AttributeName: 'listPk', AttributeType: 'S' },
      { AttributeName: 'listSk', AttributeType: 'S' },
    ]);
    expect(input.BillingMode).toBe('PAY_PER_REQUEST');
    expect(input.GlobalSecondaryIndexes?.map((i) => i.IndexName)).toEqual(['list']);
    expect(timeToLiveInput('t').TimeToLiveSpecification).toEqual({
      Enabled: true,
      AttributeName: 'ttl',
    });
  });

  it('projects only small record attributes, never an index key or the lease', () => {
    let projected = 0;
    for (const index of TABLE_DEFINITION.globalSecondaryIndexes) {
      const keys = [index.partitionKey.name, index.sortKey.name, 'pk', 'sk'];
      expect(index.nonKeyAttributes.filter((a) => keys.includes(a))).toEqual([]);
      for (const volatile of [
        ATTR.leaseHolder,
        ATTR.leaseToken,
        ATTR.leaseExpiresAt,
        ATTR.fence,
        ATTR.statusHash,
        ATTR.lastCheckedAt,
        ATTR.checkStartedAt,
        ATTR.historySeq,
        ATTR.status,
      ]) {
        expect(index.nonKeyAttributes).not.toContain(volatile);
      }
      projected += index.nonKeyAttributes.length;
    }
    expect(projected).toBeLessThanOrEqual(100); // DynamoDB's limit across all indexes
  });
});

describe('keys', () => {
  const t = { app: 'web', cluster: 'prod' };

  it('builds item keys', () => {
    expect(appKey('web')).toEqual({ pk: { S: 'APP#web' }, sk: { S: 'SPEC' } });
    expect(clusterKey('prod')).toEqual({ pk: { S: 'CLUSTER#prod' }, sk: { S: 'SPEC' } });
    expect(targetRecordKey(t)).toEqual({ pk: { S: 'TARGET#web#prod' }, sk: { S: 'TARGET' } });
    expect(targetStatusKey(t).sk).toEqual({ S: 'STATUS' });
    expect(historyKey(t, 42).sk).toEqual({ S: 'HISTORY#000000000042' });
  });

  it('orders sort keys so status + record is one range and history sorts by sequence', () => {
    const sks = [SK_TARGET, SK_STATUS, historyKey(t, 10).sk.S, historyKey(t, 9).sk.S].sort();
    expect(sks).toEqual([historyKey(t, 9).sk.S, historyKey(t, 10).sk.S, SK_STATUS, SK_TARGET]);
    expect(`${SK_HISTORY_PREFIX}999999999999` < SK_STATUS).toBe(true);
  });

  it("keeps a cluster's sweep items in a partition of their own, the record beside its targets", () => {
    expect(sweepTargetKey(t).pk.S).toBe(sweepRecordKey(t.cluster).pk.S);
    expect(sweepTargetKey(t).pk.S).toBe(`SWEEP#${t.cluster}`);
    // Not the cluster spec's partition: the worker may write these and no spec.
    expect(sweepTargetKey(t).pk.S).not.toBe(clusterKey(t.cluster).pk.S);
    expect(sweepTargetKey(t).sk.S).toBe(`TARGET#${t.app}`);
  });
});

describe('page tokens', () => {
  const schema = startKeySchema(['pk', 'sk']);

  it('round-trips a key', () => {
    const key = { pk: { S: 'APP#web' }, sk: { S: 'SPEC' } };
    expect(decodePageToken(encodePageToken(key), schema)).toEqual(key);
  });

  it('rejects garbage and keys with other attributes', () => {
    for (const token of [
      'garbage!',
      encodePageToken({ pk: { S: 'x' } }),
      encodePageToken({ pk: { S: 'x' }, sk: { S: 'y' }, other: { S: 'z' } }),
      encodePageToken({ pk: { S: 'x' }, sk: { B: 'eQ==' } }),
    ]) {
      expect(() => decodePageToken(token, schema)).toThrow(DriftlessError);
    }
  });
});

describe('capacity estimates', () => {
  it('sizes items the way DynamoDB bills them', () => {
    expect(itemSize({ a: { S: 'abc' } })).toBe(4);
    expect(itemSize({ n: { N: '123' } })).toBe(1 + 3);
    expect(itemSize({ n: { N: '-0.5' } })).toBe(1 + 2);
    expect(itemSize({ b: { B: new Uint8Array(100) } })).toBe(101);
    expect(itemSize({ t: { BOOL: true } })).toBe(2);
    expect(itemSize({ m: { M: { k: { S: 'v' } } } })).toBe(1 + 3 + 1 + 1 + 1);
    expect(itemSize({ é: { S: 'é' } })).toBe(4);
  });

  it('rounds reads to 4 KB and writes to 1 KB, with index writes on top', () => {
    const item = (bytes: number) => ({ x: { S: 'x'.repeat(bytes - 1) } });
    expect(readEstimate([item(4096)], true).readUnits).toBe(1);
    expect(readEstimate([item(4097)], true).readUnits).toBe(2);
    expect(readEstimate([item(4097)], false).readUnits).toBe(1);
    expect(readEstimate([], false).readUnits).toBe(0.5);
    expect(writeEstimate(1024).writeUnits).toBe(1);
    expect(writeEstimate(1025, 2).writeUnits).toBe(4);
    expect(writeEstimate(0).writeUnits).toBe(1);
  });
});

describe('item codecs', () => {
  it('stores an Application in the form its schema parses back to the same value', () => {
    const app = ApplicationSchema.parse({
      apiVersion: 'driftless.dev/v1',
      kind: 'Application',
      metadata: { name: 'web' },
      spec: {
        source: { repoURL: 'https://github.com/acme/deploy' },
        destinations: [{ cluster: 'prod' }],
        syncPolicy: {
          interval: '1h30m',
          healthTimeout: '250ms',
          retry: { backoff: { duration: '1.5s', maxDuration: '10m' } },
        },
      },
    });
    const stored = JSON.parse(JSON.stringify(applicationInput(app)));
    expect(stored.spec.syncPolicy.interval).toBe('5400000ms');
    expect(ApplicationSchema.parse(stored)).toEqual(app);
  });

  it('reads a record only when it is a live target (not a tombstone or a bare lease)', () => {
    expect(
      recordFromItem({
        app: { S: 'web' },
        cluster: { S: 'prod' },
        leaseToken: { N: '4' },
        ttl: { N: '1' },
      }),
    ).toBeUndefined();
    expect(
      recordFromItem({
        app: { S: 'web' },
        cluster: { S: 'prod' },
        repoURL: { S: 'https://x/y' },
        revision: { S: 'main' },
        suspended: { BOOL: true },
        intervalMs: { N: '60000' },
        wantedRevision: { S: 'abc' },
        wantedAt: { N: '7' },
      }),
    ).toEqual({
      app: 'web',
      cluster: 'prod',
      repoURL: 'https://x/y',
      revision: 'main',
      suspended: true,
      intervalMs: 60_000,
      wantedRevision: 'abc',
      wantedAt: 7,
    });
  });

  it('decodes a gzip status and reports a corrupt one as a DriftlessError', async () => {
    const status = { app: 'web', cluster: 'prod', resources: [] };
    expect(await decodeStatus(gzipSync(JSON.stringify(status)), 'web#prod')).toEqual(status);
    await expect(decodeStatus(new Uint8Array([1, 2, 3]), 'web#prod')).rejects.toMatchObject({
      reason: 'Internal',
      message: expect.stringContaining('web#prod'),
    });
  });
});
