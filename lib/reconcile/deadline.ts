// The invocation's deadline, as the engine sees it: a Lambda is killed at its
// timeout, so a reconcile must stop early enough to write its status. Every
// cluster request races the deadline; one still unanswered when it comes (a
// hanging admission webhook, an overloaded API server) is abandoned with a
// DeadlineExceeded error naming it, and the reconcile records why it stopped.

import { DriftlessError } from '../errors.js';
import type { KubeObject } from '../model/object.js';
import type { Clock } from '../ports/clock.js';
import type { ClusterClient } from '../ports/cluster.js';

/** Time kept back before the invocation's end to write status, history and the next job. */
export const DEADLINE_RESERVE_MS = 5_000;

export class Deadline {
  /** `at`: epoch ms by which the reconcile must have stopped touching the cluster; none = no deadline. */
  constructor(
    readonly at: number | undefined,
    private readonly clock: Clock,
  ) {}

  /** Milliseconds left (Infinity without a deadline). */
  left(): number {
    return this.at === undefined ? Number.POSITIVE_INFINITY : this.at - this.clock.now();
  }

  /** Settles as `work` does, or rejects with DeadlineExceeded when the deadline comes first. */
  race<T>(work: Promise<T>, what: () => string): Promise<T> {
    const left = this.left();
    if (left === Number.POSITIVE_INFINITY) return work;
    // The abandoned request may still fail later: nobody is waiting for it then.
    work.catch(() => {});
    if (left <= 0) return Promise.reject(this.exceeded(what()));
    let timer: NodeJS.Timeout | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(this.exceeded(what())), left);
    });
    return Promise.race([work, expired]).finally(() => clearTimeout(timer));
  }

  private exceeded(what: string): DriftlessError {
    return new DriftlessError(
      'DeadlineExceeded',
      `${what} did not answer before the invocation's deadline; stopped and saved the status, the next attempt continues`,
    );
  }
}

function describeObject(obj: Pick<KubeObject, 'kind' | 'metadata'>): string {
  const ns = obj.metadata.namespace ? `${obj.metadata.namespace}/` : '';
  return `${obj.kind}/${ns}${obj.metadata.name ?? obj.metadata.generateName ?? ''}`;
}

/** The client with every request raced against the deadline. */
export function clientWithDeadline(client: ClusterClient, deadline: Deadline): ClusterClient {
  if (deadline.at === undefined) return client;
  return {
    stats: client.stats,
    resource: (apiVersion, kind) =>
      deadline.race(client.resource(apiVersion, kind), () => `discovery of ${apiVersion} ${kind}`),
    list: (apiVersion, kind, opts) =>
      deadline.race(client.list(apiVersion, kind, opts), () => `LIST of ${apiVersion} ${kind}`),
    listMetadata: (apiVersion, kind, opts) =>
      deadline.race(
        client.listMetadata(apiVersion, kind, opts),
        () => `metadata LIST of ${apiVersion} ${kind}`,
      ),
    get: (apiVersion, kind, namespace, name) =>
      deadline.race(
        client.get(apiVersion, kind, namespace, name),
        () => `GET of ${kind}/${namespace ? `${namespace}/` : ''}${name}`,
      ),
    apply: (obj, opts) =>
      deadline.race(
        client.apply(obj, opts),
        () => `${opts?.dryRun ? 'dry-run ' : ''}apply of ${describeObject(obj)}`,
      ),
    delete: (ref, opts) =>
      deadline.race(
        client.delete(ref, opts),
        () => `DELETE of ${ref.kind}/${ref.namespace ? `${ref.namespace}/` : ''}${ref.name}`,
      ),
    invalidateDiscovery: () => client.invalidateDiscovery(),
    getJSON: (path) => deadline.race(client.getJSON(path), () => `GET ${path}`),
  };
}
