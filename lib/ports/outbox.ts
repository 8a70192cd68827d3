// The status outbox port: commit statuses on their way to GitHub. The
// reporter (lib/github/outbox.ts) only puts entries here; a consumer posts
// them, coalesced and rate-limited. SQS FIFO in AWS (lib/aws/outbox.ts), in
// process in local mode (lib/local/outbox.ts).

import { normalizeRepoURL } from '../model/target.js';
import type { CommitStatus } from './report.js';

/** One report: the status and when it was made, so an older one never overwrites a newer. */
export interface OutboxEntry {
  status: CommitStatus;
  /** When it was reported (epoch ms); strictly increasing per reporter. */
  at: number;
}

export interface StatusOutbox {
  /** Queues the entries (FIFO per repository, commit and context); throws if they were not queued. */
  send(entries: OutboxEntry[]): Promise<void>;
}

/**
 * What the outbox orders and coalesces by: one repository's commit and
 * context (an SQS FIFO group in AWS, a group in local mode, the consumer's
 * newest-wins key).
 */
export function outboxKey(status: Pick<CommitStatus, 'repoURL' | 'commit' | 'context'>): string {
  return `${normalizeRepoURL(status.repoURL)}#${status.commit}#${status.context}`;
}
