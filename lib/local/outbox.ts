// The status outbox of local mode: the SQS FIFO outbox's semantics in one
// process, feeding the same consumer (lib/github/outbox.ts deliverOutbox).
// Entries of one repository+commit+context are a group, delivered in order;
// a group with an entry in flight or waiting out a retry delivers nothing
// else, so an older report never lands after a newer one; batches of up to
// ten entries, one batch at a time; a retry comes back after its delay with
// its receive count grown, exactly as a message's visibility timeout would.

import {
  type DeliverOptions,
  deliverOutbox,
  type OutboxDecision,
  type OutboxRecord,
} from '../github/outbox.js';
import { type OutboxEntry, outboxKey, type StatusOutbox } from '../ports/outbox.js';

/** Entries per delivery: what one SQS receive returns at most. */
export const LOCAL_OUTBOX_BATCH_SIZE = 10;

interface Message {
  id: string;
  group: string;
  body: string;
  receiveCount: number;
  /** In a batch, or waiting out a retry: its group is held. */
  held: boolean;
}

export class LocalStatusOutbox implements StatusOutbox {
  private readonly messages: Message[] = [];
  private readonly timers = new Set<NodeJS.Timeout>();
  private nextId = 1;
  private running = false;
  private stopped = false;
  private idleWaiters: (() => void)[] = [];
  /** Every decision made, in order (what the consumer did with each message). */
  readonly decisions: (OutboxDecision & { entry: OutboxEntry })[] = [];

  constructor(
    private readonly deliver: DeliverOptions,
    private readonly batchSize = LOCAL_OUTBOX_BATCH_SIZE,
  ) {}

  async send(entries: OutboxEntry[]): Promise<void> {
    for (const entry of entries) {
      this.messages.push({
        id: String(this.nextId++),
        group: outboxKey(entry.status),
        body: JSON.stringify(entry),
        receiveCount: 0,
        held: false,
      });
    }
    this.pump();
  }

  /** Stops the retry timers; a batch being delivered finishes. */
  stop(): void {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  /** Resolves when nothing is waiting or being delivered (retries waiting out a delay aside). */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private isIdle(): boolean {
    return !this.running && this.messages.every((m) => m.held);
  }

  /** The next batch: in queue order, the messages of groups nothing holds. */
  private take(): Message[] {
    const held = new Set(this.messages.filter((m) => m.held).map((m) => m.group));
    const batch: Message[] = [];
    for (const m of this.messages) {
      if (batch.length >= this.batchSize) break;
      if (held.has(m.group)) continue;
      batch.push(m);
    }
    return batch;
  }

  private pump(): void {
    if (this.running || this.stopped) return;
    const batch = this.take();
    if (batch.length === 0) {
      if (this.isIdle()) for (const w of this.idleWaiters.splice(0)) w();
      return;
    }
    this.running = true;
    for (const m of batch) {
      m.held = true;
      m.receiveCount++;
    }
    const records: OutboxRecord[] = batch.map((m) => ({
      id: m.id,
      body: m.body,
      receiveCount: m.receiveCount,
    }));
    void deliverOutbox(this.deliver, records)
      .then((decisions) => this.apply(batch, decisions))
      .catch(() => this.apply(batch, [])) // deliverOutbox does not throw; if it did, all come back
      .finally(() => {
        this.running = false;
        this.pump();
      });
  }

  private apply(batch: Message[], decisions: OutboxDecision[]): void {
    const byId = new Map(decisions.map((d) => [d.id, d]));
    for (const m of batch) {
      const d = byId.get(m.id) ?? {
        id: m.id,
        action: 'retry' as const,
        delaySeconds: 1,
        why: 'unavailable' as const,
      };
      this.decisions.push({ ...d, entry: JSON.parse(m.body) as OutboxEntry });
      if (d.action === 'delete') {
        this.messages.splice(this.messages.indexOf(m), 1);
        continue;
      }
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        m.held = false;
        this.pump();
      }, d.delaySeconds * 1000);
      timer.unref();
      this.timers.add(timer);
    }
  }
}
