// Errors are values with a reason code users can act on and a message that
// names the file, object and field. Every failure Driftless reports to a user
// (status, CLI, API, commit status) is one of these.

export type ErrorReason =
  /** A manifest or spec cannot be parsed or is invalid (file:line, field). */
  | 'InvalidManifest'
  /** An Application or Cluster spec is invalid. */
  | 'InvalidSpec'
  /** Two manifests declare the same object. */
  | 'DuplicateObject'
  /** An object is outside the app's allowed namespaces. */
  | 'ForbiddenNamespace'
  /** An object's kind is outside the app's allowed kinds. */
  | 'ForbiddenKind'
  /** A path leaves the repository checkout (`..`, absolute, symlink). */
  | 'PathEscape'
  /** The revision cannot be fetched (unknown ref, auth, network). */
  | 'SourceUnavailable'
  /**
   * A downloaded chart's bytes do not match the digest its repository's
   * index or the registry's manifest declares (tampered or corrupted): refused.
   */
  | 'DigestMismatch'
  /** Kustomize or Helm failed to render the source (their message, the file it names). */
  | 'RenderFailed'
  /** A SOPS file cannot be decrypted: no usable key, a MAC mismatch, refused by KMS (the file it names). */
  | 'DecryptionFailed'
  /** The cluster's API server cannot be reached. */
  | 'ClusterUnreachable'
  /**
   * The cluster's API server kept throttling Driftless (429) past the
   * retries: it is up and asked for less, which is not an outage.
   */
  | 'ClusterThrottled'
  /**
   * A job waits for its cluster: at its concurrency, its circuit breaker
   * open, or a 429's pause; not a failed attempt.
   */
  | 'ClusterDeferred'
  /** The EKS cluster a Cluster names does not exist (in that region, for that account). */
  | 'ClusterNotFound'
  /** The cluster, or AWS, rejected our credentials (401, expired or invalid AWS keys). */
  | 'Unauthorized'
  /** The cluster refused an operation (403). */
  | 'Forbidden'
  /** The caller lacks a permission on Driftless itself (the status API's 403): it names the permission. */
  | 'AccessDenied'
  /** The object (or its namespace) does not exist. */
  | 'NotFound'
  /** The API server does not serve the object's group/version/kind. */
  | 'UnknownKind'
  /** Server-side apply conflicted with another field manager. */
  | 'ApplyConflict'
  /** The API server rejected the object (validation, admission). */
  | 'ApplyRejected'
  /** A prune was refused by the prune guard. */
  | 'PruneRefused'
  /** A sync hook failed. */
  | 'HookFailed'
  /** An applied object became Degraded during the sync. */
  | 'Unhealthy'
  /** Health did not converge within the app's timeout. */
  | 'HealthTimeout'
  /** Another worker holds the target's lease. */
  | 'LeaseHeld'
  /** A write was rejected because a newer lease holder exists. */
  | 'LeaseLost'
  /**
   * The invocation ran out of time with a cluster request still unanswered (a
   * hanging admission webhook, an overloaded API server): it stopped and wrote
   * its status before its deadline; the next attempt continues.
   */
  | 'DeadlineExceeded'
  /** Someone ended the running operation (`driftless terminate`, the API). */
  | 'Terminated'
  /** Anything else: a bug or an unexpected response. */
  | 'Internal';

export interface ErrorLocation {
  file?: string;
  line?: number;
  /** `kind/namespace/name` of the object concerned. */
  object?: string;
  /** Dotted path of the field concerned, e.g. `spec.replicas`. */
  field?: string;
}

export class DriftlessError extends Error {
  override name = 'DriftlessError';

  constructor(
    readonly reason: ErrorReason,
    message: string,
    readonly location: ErrorLocation = {},
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** The message prefixed with where it happened: `apps/web.yaml:12: Deployment/prod/web: ...`. */
  describe(): string {
    const where = [
      this.location.file
        ? `${this.location.file}${this.location.line ? `:${this.location.line}` : ''}`
        : undefined,
      this.location.object,
      this.location.field,
    ]
      .filter(Boolean)
      .join(': ');
    return where ? `${where}: ${this.message}` : this.message;
  }

  toJSON() {
    return { reason: this.reason, message: this.message, ...this.location };
  }
}

/**
 * Whether retrying the same request may succeed: the network, the cluster or
 * the source may come back, another worker may release the lease. Everything
 * else (an invalid revision, a refusal) fails the same way until something
 * changes.
 */
const RETRYABLE_REASONS: ReadonlySet<ErrorReason> = new Set([
  'ClusterUnreachable',
  'ClusterThrottled',
  'ClusterDeferred',
  'SourceUnavailable',
  'LeaseHeld',
  'DeadlineExceeded',
  'Internal',
]);

export function isRetryable(reason: ErrorReason): boolean {
  return RETRYABLE_REASONS.has(reason);
}

/** The status API's HTTP status for a failure with this reason. */
export function httpStatusFor(reason: ErrorReason): number {
  switch (reason) {
    case 'InvalidSpec':
    case 'InvalidManifest':
      return 400;
    case 'NotFound':
      return 404;
    case 'AccessDenied':
      return 403;
    default:
      // Something between the API and a cluster or a source failed.
      return 502;
  }
}

export function isDriftlessError(e: unknown): e is DriftlessError {
  return e instanceof DriftlessError;
}

/** Wraps anything thrown into a DriftlessError, keeping known ones as they are. */
export function asDriftlessError(e: unknown, fallback: ErrorReason = 'Internal'): DriftlessError {
  if (e instanceof DriftlessError) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new DriftlessError(fallback, message, {}, { cause: e });
}
