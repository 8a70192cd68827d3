// The table client: adds the table name and ReturnConsumedCapacity, reports
// capacity (estimated only when someone listens), and turns infrastructure
// failures into DriftlessErrors. ConditionalCheckFailedException passes
// through: callers decide what it means.

import {
  BatchWriteItemCommand,
  type BatchWriteItemCommandInput,
  type BatchWriteItemCommandOutput,
  ConditionalCheckFailedException,
  type ConsumedCapacity,
  DeleteItemCommand,
  type DeleteItemCommandInput,
  type DeleteItemCommandOutput,
  type DynamoDBClient,
  GetItemCommand,
  type GetItemCommandInput,
  type GetItemCommandOutput,
  PutItemCommand,
  type PutItemCommandInput,
  type PutItemCommandOutput,
  QueryCommand,
  type QueryCommandInput,
  type QueryCommandOutput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
  type UpdateItemCommandOutput,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import { DriftlessError } from '../../errors.js';
import {
  type CapacityEstimate,
  type CapacityListener,
  itemSize,
  readEstimate,
  writeEstimate,
} from './capacity.js';

type Scoped<T> = Omit<T, 'TableName' | 'ReturnConsumedCapacity'>;

/** DynamoDB's limit on the requests of one BatchWriteItem. */
const BATCH_WRITE_MAX_REQUESTS = 25;
/** Calls per batch before its unprocessed writes are an error (each waits longer: throttling). */
const BATCH_WRITE_ATTEMPTS = 6;
/** Backoff between those calls: BASE × 2^attempt, capped. */
const BATCH_WRITE_BACKOFF_BASE_MS = 50;
const BATCH_WRITE_BACKOFF_MAX_MS = 2_000;

export interface DynamoTableOptions {
  client: DynamoDBClient;
  tableName: string;
  onConsumedCapacity?: CapacityListener;
}

export class DynamoTable {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  private readonly onConsumedCapacity?: CapacityListener;

  constructor(opts: DynamoTableOptions) {
    this.client = opts.client;
    this.tableName = opts.tableName;
    this.onConsumedCapacity = opts.onConsumedCapacity;
  }

  async getItem(op: string, input: Scoped<GetItemCommandInput>): Promise<GetItemCommandOutput> {
    const out = await this.run(op, 'GetItem', () =>
      this.client.send(new GetItemCommand({ ...this.scope(), ...input })),
    );
    this.report(op, out.ConsumedCapacity, () =>
      readEstimate(out.Item ? [out.Item] : [], !!input.ConsistentRead),
    );
    return out;
  }

  async query(op: string, input: Scoped<QueryCommandInput>): Promise<QueryCommandOutput> {
    const out = await this.run(op, 'Query', () =>
      this.client.send(new QueryCommand({ ...this.scope(), ...input })),
    );
    this.report(op, out.ConsumedCapacity, () =>
      readEstimate(out.Items ?? [], !!input.ConsistentRead),
    );
    return out;
  }

  /** `indexWrites`: index entries this write adds, changes or removes (for the estimate). */
  async putItem(
    op: string,
    input: Scoped<PutItemCommandInput>,
    indexWrites = 0,
  ): Promise<PutItemCommandOutput> {
    const estimate = () => writeEstimate(itemSize(input.Item ?? {}), indexWrites);
    const out = await this.run(
      op,
      'PutItem',
      () => this.client.send(new PutItemCommand({ ...this.scope(), ...input })),
      estimate,
    );
    this.report(op, out.ConsumedCapacity, estimate);
    return out;
  }

  /**
   * The estimate counts the key and the values written: the table's updates
   * are all on small items (records), which round to 1 KB anyway.
   */
  async updateItem(
    op: string,
    input: Scoped<UpdateItemCommandInput>,
    indexWrites = 0,
  ): Promise<UpdateItemCommandOutput> {
    const written = () => itemSize({ ...input.Key, ...input.ExpressionAttributeValues });
    const estimate = () => writeEstimate(written(), indexWrites);
    const out = await this.run(
      op,
      'UpdateItem',
      () => this.client.send(new UpdateItemCommand({ ...this.scope(), ...input })),
      estimate,
    );
    this.report(op, out.ConsumedCapacity, () => {
      const returned = out.Attributes ? itemSize(out.Attributes) : 0;
      return returned > written() ? writeEstimate(returned, indexWrites) : estimate();
    });
    return out;
  }

  async deleteItem(
    op: string,
    input: Scoped<DeleteItemCommandInput>,
    indexWrites = 0,
  ): Promise<DeleteItemCommandOutput> {
    const estimate = () => writeEstimate(itemSize(input.Key ?? {}), indexWrites);
    const out = await this.run(
      op,
      'DeleteItem',
      () => this.client.send(new DeleteItemCommand({ ...this.scope(), ...input })),
      estimate,
    );
    this.report(op, out.ConsumedCapacity, estimate);
    return out;
  }

  /** Writes up to any number of requests, 25 per call, retrying unprocessed ones. */
  async batchWrite(op: string, requests: WriteRequest[]): Promise<void> {
    for (let i = 0; i < requests.length; i += BATCH_WRITE_MAX_REQUESTS) {
      let pending = requests.slice(i, i + BATCH_WRITE_MAX_REQUESTS);
      for (let attempt = 1; pending.length; attempt++) {
        if (attempt > BATCH_WRITE_ATTEMPTS) {
          throw new DriftlessError(
            'Internal',
            `DynamoDB BatchWriteItem (${op}) on table ${this.tableName} left ${pending.length} writes unprocessed after ${attempt - 1} attempts (throttled?); retry the operation`,
          );
        }
        if (attempt > 1)
          await sleep(
            Math.min(BATCH_WRITE_BACKOFF_MAX_MS, BATCH_WRITE_BACKOFF_BASE_MS * 2 ** attempt),
          );
        const input: BatchWriteItemCommandInput = {
          RequestItems: { [this.tableName]: pending },
          ReturnConsumedCapacity: 'TOTAL',
        };
        const sent = pending;
        const estimate = (): CapacityEstimate => {
          const sizes = sent.map((r) => itemSize(r.PutRequest?.Item ?? r.DeleteRequest?.Key ?? {}));
          return {
            readUnits: 0,
            writeUnits: sizes.reduce((n, b) => n + Math.max(1, Math.ceil(b / 1024)), 0),
            bytes: sizes.reduce((n, b) => n + b, 0),
          };
        };
        const out: BatchWriteItemCommandOutput = await this.run(op, 'BatchWriteItem', () =>
          this.client.send(new BatchWriteItemCommand(input)),
        );
        const consumed = out.ConsumedCapacity?.reduce<ConsumedCapacity | undefined>(
          (sum, c) => ({
            TableName: this.tableName,
            CapacityUnits: (sum?.CapacityUnits ?? 0) + (c.CapacityUnits ?? 0),
          }),
          undefined,
        );
        this.report(op, consumed, estimate);
        pending = out.UnprocessedItems?.[this.tableName] ?? [];
      }
    }
  }

  private scope() {
    return { TableName: this.tableName, ReturnConsumedCapacity: 'TOTAL' as const };
  }

  /** `estimate` is computed only when a listener is set: sizing items is not free. */
  private report(
    op: string,
    consumed: ConsumedCapacity | undefined,
    estimate: () => CapacityEstimate,
  ) {
    if (!this.onConsumedCapacity) return;
    const e = estimate();
    this.onConsumedCapacity(
      op,
      consumed ?? {
        TableName: this.tableName,
        CapacityUnits: e.readUnits + e.writeUnits,
        ReadCapacityUnits: e.readUnits,
        WriteCapacityUnits: e.writeUnits,
      },
      e,
    );
  }

  /**
   * Runs one request. A failed condition is still billed, so it is reported
   * (with the estimate) before it is rethrown for the caller to interpret.
   */
  private async run<T>(
    op: string,
    command: string,
    send: () => Promise<T>,
    failedWriteEstimate?: () => CapacityEstimate,
  ): Promise<T> {
    try {
      return await send();
    } catch (e) {
      if (e instanceof ConditionalCheckFailedException) {
        if (failedWriteEstimate) this.report(op, undefined, failedWriteEstimate);
        throw e;
      }
      if (e instanceof DriftlessError) throw e;
      const err = e instanceof Error ? e : new Error(String(e));
      const hint =
        err.name === 'ResourceNotFoundException'
          ? ` (does table ${this.tableName} exist in this account and region? check the table name the function was configured with)`
          : '';
      throw new DriftlessError(
        'Internal',
        `DynamoDB ${command} (${op}) on table ${this.tableName} failed: ${err.name}: ${err.message}${hint}`,
        {},
        { cause: e },
      );
    }
  }
}

export function isConditionFailure(e: unknown): e is ConditionalCheckFailedException {
  return e instanceof ConditionalCheckFailedException;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
