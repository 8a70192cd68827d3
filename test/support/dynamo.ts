// A Driftless table of its own per test file, created in moto from the same
// definition the CDK stack uses, and a clock tests can move.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  CreateTableCommand,
  DynamoDBClient,
  UpdateTimeToLiveCommand,
} from '@aws-sdk/client-dynamodb';
import { createTableInput, timeToLiveInput } from '../../lib/aws/dynamo/schema.js';
import type { Clock } from '../../lib/ports/clock.js';
import { awsClientConfig } from './aws.js';
import { uniqueName } from './env.js';

export async function createDriftlessTable(
  prefix = 'driftless',
): Promise<{ client: DynamoDBClient; tableName: string }> {
  const client = new DynamoDBClient(awsClientConfig());
  const tableName = uniqueName(prefix);
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  await client.send(new UpdateTimeToLiveCommand(timeToLiveInput(tableName)));
  return { client, tableName };
}

export interface ManualClock extends Clock {
  advance(ms: number): void;
}

export function manualClock(start = Date.parse('2026-03-01T12:00:00Z')): ManualClock {
  let now = start;
  return {
    now: () => now,
    advance: (ms) => {
      now += ms;
    },
  };
}

/**
 * An HTTP proxy to moto that forwards one request at a time. DynamoDB applies
 * conditional writes to one item one after another; moto's threaded server
 * does not (its update_item reads, checks and writes with no lock, so two
 * racing conditional updates can both pass). Racing requests through this
 * proxy are still concurrent on the client side, and are applied in turn
 * like DynamoDB applies them.
 */
export async function serializingProxy(
  target: string,
): Promise<{ endpoint: string; close: () => Promise<void> }> {
  let queue: Promise<void> = Promise.resolve();
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      queue = queue.then(async () => {
        try {
          const headers = new Headers();
          for (const [k, v] of Object.entries(req.headers)) {
            // fetch sets content-length from the body itself (and some undici versions reject it).
            if (typeof v === 'string' && !['host', 'connection', 'content-length'].includes(k)) {
              headers.set(k, v);
            }
          }
          const upstream = await fetch(new URL(req.url ?? '/', target), {
            method: req.method,
            headers,
            body: chunks.length ? Buffer.concat(chunks) : undefined,
          });
          const body = Buffer.from(await upstream.arrayBuffer());
          const out: Record<string, string> = {};
          upstream.headers.forEach((v, k) => {
            if (k !== 'content-encoding' && k !== 'transfer-encoding' && k !== 'connection')
              out[k] = v;
          });
          out['content-length'] = String(body.byteLength);
          res.writeHead(upstream.status, out).end(body);
        } catch (e) {
          const err = e as Error & { cause?: unknown };
          res
            .writeHead(502)
            .end(`${String(err)}${err.cause ? ` (cause: ${String(err.cause)})` : ''}`);
        }
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
