// A generic Kubernetes client over a ClusterAccess (where the API server is and
// how to authenticate to it): one keep-alive HTTPS connection pool, aggregated discovery (two requests for the
// whole API surface), LIST by label selector with pagination, server-side apply
// (and its dry run), GET and DELETE. Transient failures (429 with its
// Retry-After, 5xx the server calls internal or a proxy returns, connection
// resets and timeouts) are retried with exponential backoff and full jitter,
// within a bounded number of attempts and a bounded total time, when the
// request is safe to repeat. Every HTTP status and network failure then
// becomes a DriftlessError with a reason a user can act on, and every request
// is counted, because a no-op drift check must stay O(kinds) requests.
//
// ClusterAccess is this module's own shape, not client-node's KubeConfig:
// @kubernetes/client-node (undici, generated API models) costs a Lambda about
// 1.4 MB of bundle and 150 ms of cold start, and the EKS path needs none of it.
// Kubeconfig files (client certificates, tokens, exec plugins) still go
// through client-node, loaded on demand (lib/kube/kubeconfig.ts).

import https from 'node:https';
import { DriftlessError } from '../errors.js';
import {
  describeRef,
  FIELD_MANAGER,
  groupOf,
  type KubeObject,
  type ObjectRef,
  versionOf,
} from '../model/object.js';
import {
  type ClusterClient,
  type DeleteOptions,
  type ListOptions,
  type ObjectMetadata,
  type RequestStats,
  type ResourceInfo,
  type ServerApplyOptions,
  toObjectMetadata,
} from '../ports/cluster.js';
import { Discovery } from './discovery.js';
import type { ClusterThrottle } from './throttle.js';

/** What a request authenticates with; asked for before every request, so tokens can rotate. */
export interface ClusterCredentials {
  /** Client certificate and key (PEM). */
  cert?: Buffer | string;
  key?: Buffer | string;
  /** Sent as `Authorization: Bearer <token>`. */
  token?: string;
  /** Extra request headers (e.g. what a kubeconfig's auth provider sets). */
  headers?: Record<string, string>;
  /** `user:password` basic authentication (legacy kubeconfigs). */
  auth?: string;
}

/** One Kubernetes API server and how to reach it. */
export interface ClusterAccess {
  /** The cluster's name in messages (unless KubeClientOptions.clusterName overrides it). */
  name: string;
  /** Base URL of the API server, e.g. https://host:6443. */
  server: string;
  /** CA bundle (PEM) the server's certificate must chain to; Node's defaults otherwise. */
  ca?: Buffer | string;
  insecureSkipTLSVerify?: boolean;
  /** SNI / certificate name to expect when it differs from the server's host. */
  tlsServerName?: string;
  credentials(): Promise<ClusterCredentials>;
}

/** Per-request timeout, and connections to one API server, unless configured otherwise. */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000;
export const DEFAULT_MAX_SOCKETS = 16;

/** Objects per LIST page (the `limit`), unless configured otherwise. */
export const DEFAULT_LIST_PAGE_SIZE = 500;
/**
 * Objects per page of a metadata-only LIST: each is a few hundred bytes (no
 * spec, data or status), so a cluster's sweep lists a kind of thousands of
 * objects in one request (bench:fleet: 500 apps took 30 requests at 500 a
 * page, 9 at this size).
 */
export const DEFAULT_METADATA_PAGE_SIZE = 5_000;

/**
 * What a metadata-only LIST accepts: PartialObjectMetadataList first, the full
 * list as the fallback of servers that do not serve that form.
 */
const METADATA_LIST_ACCEPT =
  'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

/**
 * Retries of one request on a transient failure: at most this many attempts
 * in all, within this long from the first (a Retry-After that would end past
 * it fails now), each wait drawn from [0, min(cap, base · 2^retry)) (full
 * jitter, so many workers throttled together do not come back together).
 * The budget is above the per-request timeout, so a request that timed out
 * is tried once more.
 */
export const DEFAULT_RETRY_ATTEMPTS = 6;
export const DEFAULT_RETRY_BUDGET_MS = 60_000;
export const DEFAULT_RETRY_BASE_DELAY_MS = 250;
export const DEFAULT_RETRY_MAX_DELAY_MS = 5_000;

export interface RetryPolicy {
  /** Attempts in all, the first included; 1 disables retries. Default DEFAULT_RETRY_ATTEMPTS. */
  attempts?: number;
  /** Total time from the first attempt after which no retry starts. Default DEFAULT_RETRY_BUDGET_MS. */
  budgetMs?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
}

/** What a retry is about to wait for (logs, metrics, tests). */
export interface RetryEvent {
  verb: string;
  path: string;
  /** The attempt that failed, from 1. */
  attempt: number;
  /** HTTP status, or the network error's code. */
  cause: number | string;
  /** The wait before the next attempt. */
  delayMs: number;
  /** Whether the wait is the server's Retry-After. */
  retryAfter: boolean;
}

export interface KubeClientOptions {
  /** Per-request timeout (ms); default DEFAULT_REQUEST_TIMEOUT_MS. */
  timeoutMs?: number;
  retry?: RetryPolicy;
  /** Called before each retry's wait. */
  onRetry?: (event: RetryEvent) => void;
  /** Concurrent connections to the API server; default DEFAULT_MAX_SOCKETS. */
  maxSockets?: number;
  /** Objects per LIST page; default DEFAULT_LIST_PAGE_SIZE. */
  listPageSize?: number;
  /** Objects per metadata-only LIST page; default DEFAULT_METADATA_PAGE_SIZE. */
  metadataPageSize?: number;
  /** A name for messages, e.g. the Driftless cluster name. */
  clusterName?: string;
  /**
   * The cluster's throttle, shared with its other clients (ClusterRouter
   * keeps one per cluster name): a 429's pause holds back every request to it.
   */
  throttleFor?: (clusterName: string) => ClusterThrottle;
}

interface Status {
  kind?: string;
  status?: string;
  message?: string;
  reason?: string;
  code?: number;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    causes?: { reason?: string; message?: string; field?: string }[];
  };
}

export class KubeClient implements ClusterClient {
  readonly discovery: Discovery;
  readonly stats: RequestStats = { total: 0, byVerb: {}, retries: 0 };
  readonly clusterName: string;
  readonly server: string;
  private readonly agent: https.Agent;
  private readonly timeoutMs: number;
  private readonly listPageSize: number;
  private readonly metadataPageSize: number;
  private readonly retry: Required<RetryPolicy>;
  private readonly onRetry: ((event: RetryEvent) => void) | undefined;
  private readonly throttle: ClusterThrottle | undefined;

  constructor(
    private readonly access: ClusterAccess,
    opts: KubeClientOptions = {},
  ) {
    this.server = access.server.replace(/\/+$/, '');
    this.clusterName = opts.clusterName ?? access.name;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.listPageSize = opts.listPageSize ?? DEFAULT_LIST_PAGE_SIZE;
    this.metadataPageSize = opts.metadataPageSize ?? DEFAULT_METADATA_PAGE_SIZE;
    this.retry = {
      attempts: Math.max(1, opts.retry?.attempts ?? DEFAULT_RETRY_ATTEMPTS),
      budgetMs: opts.retry?.budgetMs ?? DEFAULT_RETRY_BUDGET_MS,
      baseDelayMs: opts.retry?.baseDelayMs ?? DEFAULT_RETRY_BASE_DELAY_MS,
      maxDelayMs: opts.retry?.maxDelayMs ?? DEFAULT_RETRY_MAX_DELAY_MS,
    };
    this.onRetry = opts.onRetry;
    this.throttle = opts.throttleFor?.(this.clusterName);
    this.agent = new https.Agent({
      keepAlive: true,
      maxSockets: opts.maxSockets ?? DEFAULT_MAX_SOCKETS,
    });
    this.discovery = new Discovery((path, accept) =>
      this.requestJson('GET', path, undefined, { accept }),
    );
  }

  invalidateDiscovery(): void {
    this.discovery.invalidate();
  }

  resetStats(): void {
    this.stats.total = 0;
    this.stats.byVerb = {};
    this.stats.retries = 0;
  }

  close(): void {
    this.agent.destroy();
  }

  async resource(apiVersion: string, kind: string): Promise<ResourceInfo> {
    return this.discovery.resourceFor(groupOf(apiVersion), versionOf(apiVersion), kind);
  }

  /** Every object of one kind matching the options, across pages. */
  async list(apiVersion: string, kind: string, opts: ListOptions = {}): Promise<KubeObject[]> {
    const res = await this.resource(apiVersion, kind);
    const items: KubeObject[] = [];
    await this.eachPage(res, opts, 'application/json', this.listPageSize, (page) => {
      for (const item of page) {
        // LIST responses omit each item's apiVersion/kind.
        items.push({ ...item, apiVersion: res.apiVersion, kind: res.kind });
      }
    });
    return items;
  }

  /**
   * The metadata of every object of one kind matching the options, across
   * pages: the same LIST asking for a PartialObjectMetadataList, so the answer
   * holds no spec, data or status. A server that cannot answer that form
   * (only ones older than 1.15, or a proxy in between) answers the full list
   * instead, which the Accept header's fallback allows; both map alike.
   */
  async listMetadata(
    apiVersion: string,
    kind: string,
    opts: ListOptions = {},
  ): Promise<ObjectMetadata[]> {
    const res = await this.resource(apiVersion, kind);
    const items: ObjectMetadata[] = [];
    await this.eachPage(res, opts, METADATA_LIST_ACCEPT, this.metadataPageSize, (page) => {
      for (const item of page)
        items.push(toObjectMetadata(res.apiVersion, res.kind, item.metadata));
    });
    return items;
  }

  /** One LIST (verb `list` in the stats) followed through its continue tokens, a page at a time. */
  private async eachPage(
    res: ResourceInfo,
    opts: ListOptions,
    accept: string,
    pageSize: number,
    onPage: (items: KubeObject[]) => void,
  ): Promise<void> {
    const base = collectionPath(res, res.namespaced ? opts.namespace : undefined);
    let cont: string | undefined;
    do {
      const q = new URLSearchParams({ limit: String(pageSize) });
      if (opts.labelSelector) q.set('labelSelector', opts.labelSelector);
      if (cont) q.set('continue', cont);
      const page = (await this.requestJson('GET', `${base}?${q}`, undefined, {
        verb: 'list',
        accept,
      })) as { items?: KubeObject[]; metadata?: { continue?: string } };
      onPage(page.items ?? []);
      cont = page.metadata?.continue || undefined;
    } while (cont);
  }

  async get(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
  ): Promise<KubeObject | undefined> {
    const res = await this.resource(apiVersion, kind);
    try {
      const obj = (await this.requestJson('GET', objectPath(res, namespace, name), undefined, {
        verb: 'get',
      })) as KubeObject;
      return obj;
    } catch (e) {
      if (e instanceof DriftlessError && e.reason === 'NotFound') return undefined;
      throw e;
    }
  }

  /** Server-side apply of the whole object (the fields it sets are ours). */
  async apply(obj: KubeObject, opts: ServerApplyOptions = {}): Promise<KubeObject> {
    const res = await this.resource(obj.apiVersion, obj.kind);
    const name = obj.metadata.name;
    if (!name) {
      throw new DriftlessError(
        'InvalidManifest',
        'metadata.name is required for server-side apply',
        {
          object: `${obj.kind}/${obj.metadata.namespace ?? ''}`,
          field: 'metadata.name',
        },
      );
    }
    // Never a guessed namespace: the plan sets the destination's, or says why not.
    if (res.namespaced && !obj.metadata.namespace) {
      throw new DriftlessError(
        'InvalidManifest',
        `${res.kind} is namespaced and the object names no namespace`,
        { object: `${obj.kind}/${name}`, field: 'metadata.namespace' },
      );
    }
    const namespace = res.namespaced ? (obj.metadata.namespace as string) : '';
    const q = new URLSearchParams({ fieldManager: opts.fieldManager ?? FIELD_MANAGER });
    if (opts.force ?? true) q.set('force', 'true');
    if (opts.dryRun) q.set('dryRun', 'All');
    const body = res.namespaced ? { ...obj, metadata: { ...obj.metadata, namespace } } : obj;
    return (await this.requestJson('PATCH', `${objectPath(res, namespace, name)}?${q}`, body, {
      contentType: APPLY_PATCH,
      verb: opts.dryRun ? 'apply-dry-run' : 'apply',
      ref: { group: res.group, kind: res.kind, namespace, name },
    })) as KubeObject;
  }

  /** Deletes; resolves false if it was already gone. */
  async delete(
    ref: ObjectRef & { apiVersion: string },
    opts: DeleteOptions = {},
  ): Promise<boolean> {
    const res = await this.resource(ref.apiVersion, ref.kind);
    const q = new URLSearchParams();
    if (opts.dryRun) q.set('dryRun', 'All');
    const body = {
      apiVersion: 'v1',
      kind: 'DeleteOptions',
      propagationPolicy: opts.propagationPolicy ?? 'Background',
      ...(opts.uid ? { preconditions: { uid: opts.uid } } : {}),
    };
    const path = objectPath(res, res.namespaced ? ref.namespace : '', ref.name);
    try {
      await this.requestJson('DELETE', `${path}${q.size ? `?${q}` : ''}`, body, {
        verb: 'delete',
        ref,
        // With a UID precondition a repeat can only delete that same object.
        idempotent: !!opts.uid,
      });
      return true;
    } catch (e) {
      if (e instanceof DriftlessError && e.reason === 'NotFound') return false;
      // The UID precondition failed: the object we meant is gone, and the one
      // by that name now is another (recreated since); it is not ours to delete.
      if (e instanceof DriftlessError && opts.uid && e.location.field === PRECONDITION_FAILED)
        return false;
      throw e;
    }
  }

  /** GET a path of the API server as JSON (the OpenAPI documents the pre-sync schema check reads). */
  getJSON(path: string): Promise<unknown> {
    return this.requestJson('GET', path, undefined, { verb: 'openapi' });
  }

  /**
   * One call to the API server, JSON in and out, errors mapped to reasons.
   * GET, server-side apply (PATCH) and DELETE with a UID precondition are
   * repeated on a transient failure; anything else only where the server
   * cannot have acted (429).
   */
  async requestJson(
    method: string,
    path: string,
    body?: unknown,
    extra: {
      contentType?: string;
      accept?: string;
      verb?: string;
      ref?: ObjectRef;
      idempotent?: boolean;
    } = {},
  ): Promise<unknown> {
    const verb = extra.verb ?? method.toLowerCase();
    const idempotent =
      extra.idempotent ??
      (method === 'GET' || (method === 'PATCH' && extra.contentType === APPLY_PATCH));
    const payload = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      const turn = await this.throttle?.enter();
      this.stats.total++;
      this.stats.byVerb[verb] = (this.stats.byVerb[verb] ?? 0) + 1;
      let outcome: Attempt;
      try {
        outcome = await this.send(method, path, payload, extra);
      } catch (e) {
        outcome = { error: e as NodeJS.ErrnoException };
      }
      turn?.('status' in outcome && outcome.status === 429);
      if ('status' in outcome && outcome.status >= 200 && outcome.status < 300) {
        return outcome.text ? JSON.parse(outcome.text) : {};
      }
      const transient = transientCause(outcome, idempotent);
      const elapsed = Date.now() - started;
      let delayMs = 0;
      let retryAfter = false;
      if (transient !== undefined && attempt < this.retry.attempts) {
        const after = 'status' in outcome ? retryAfterMs(outcome.retryAfter) : undefined;
        retryAfter = after !== undefined;
        delayMs =
          after ??
          Math.random() *
            Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
      }
      // The whole cluster pauses for a 429, whether or not this request is repeated.
      if (transient === 429 && 'status' in outcome) {
        this.throttle?.note(retryAfterMs(outcome.retryAfter) ?? delayMs);
      }
      if (
        transient === undefined ||
        attempt >= this.retry.attempts ||
        elapsed + delayMs > this.retry.budgetMs
      ) {
        const tried =
          transient !== undefined && attempt > 1
            ? ` (gave up after ${attempt} attempts in ${(elapsed / 1000).toFixed(1)}s)`
            : '';
        if ('error' in outcome) throw this.networkError(outcome.error, extra.ref, tried);
        throw this.statusError(method, path, outcome.status, outcome.text, extra.ref, tried);
      }
      this.stats.retries = (this.stats.retries ?? 0) + 1;
      this.onRetry?.({ verb, path, attempt, cause: transient, delayMs, retryAfter });
      await new Promise((r) => setTimeout(r, delayMs));
    }
  }

  private async send(
    method: string,
    path: string,
    payload: Buffer | undefined,
    extra: { contentType?: string; accept?: string },
  ): Promise<Attempt> {
    const creds = await this.access.credentials();
    const url = new URL(this.server + path);
    const headers: Record<string, string> = {
      ...creds.headers,
      ...(creds.token ? { Authorization: `Bearer ${creds.token}` } : {}),
      accept: extra.accept ?? 'application/json',
      'user-agent': 'driftless',
    };
    if (payload) {
      headers['content-type'] = extra.contentType ?? 'application/json';
      headers['content-length'] = String(payload.length);
    }
    return new Promise<Attempt>((resolve, reject) => {
      const req = https.request(
        {
          protocol: url.protocol,
          hostname: url.hostname,
          port: url.port,
          path: url.pathname + url.search,
          method,
          headers,
          ca: this.access.ca,
          cert: creds.cert,
          key: creds.key,
          // Unset unless asked, so NODE_TLS_REJECT_UNAUTHORIZED keeps its meaning.
          rejectUnauthorized: this.access.insecureSkipTLSVerify ? false : undefined,
          servername: this.access.tlsServerName,
          auth: creds.auth,
          agent: this.agent,
          timeout: this.timeoutMs,
        },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => {
            const after = res.headers['retry-after'];
            resolve({
              status: res.statusCode ?? 0,
              text: Buffer.concat(chunks).toString('utf8'),
              retryAfter: Array.isArray(after) ? after[0] : after,
            });
          });
          res.on('error', reject);
        },
      );
      req.on('timeout', () =>
        req.destroy(Object.assign(new Error('request timed out'), { code: 'ETIMEDOUT' })),
      );
      req.on('error', reject);
      if (payload) req.write(payload);
      req.end();
    });
  }

  private networkError(e: NodeJS.ErrnoException, ref: ObjectRef | undefined, tried: string) {
    return new DriftlessError(
      'ClusterUnreachable',
      `cannot reach the API server of cluster ${this.clusterName} at ${this.server}: ${e.code ?? ''} ${e.message}${tried}`.replace(
        /\s+/g,
        ' ',
      ),
      ref ? { object: describeRef(ref) } : {},
      { cause: e },
    );
  }

  private statusError(
    method: string,
    path: string,
    status: number,
    text: string,
    ref?: ObjectRef,
    tried = '',
  ) {
    let st: Status = {};
    try {
      st = JSON.parse(text) as Status;
    } catch {
      st = { message: text.slice(0, 500) };
    }
    const object = ref ? describeRef(ref) : undefined;
    const message = st.message ?? `HTTP ${status}`;
    const loc = object ? { object } : {};
    switch (status) {
      case 401:
        return new DriftlessError(
          'Unauthorized',
          `the API server of cluster ${this.clusterName} rejected the credentials (401): ${message}`,
          loc,
        );
      case 403:
        return new DriftlessError('Forbidden', forbiddenMessage(message, this.clusterName), loc);
      case 409:
        if (method === 'DELETE' && /precondition/i.test(message)) {
          return new DriftlessError('Internal', message, { ...loc, field: PRECONDITION_FAILED });
        }
        if (method === 'PATCH') {
          const fields = (st.details?.causes ?? []).map((c) => c.field).filter(Boolean);
          return new DriftlessError('ApplyConflict', message, {
            ...loc,
            ...(fields.length ? { field: fields.join(', ') } : {}),
          });
        }
        return new DriftlessError('Internal', message, loc);
      case 400:
      case 422: {
        const causes = st.details?.causes ?? [];
        const field = causes
          .map((c) => c.field)
          .filter(Boolean)
          .join(', ');
        return new DriftlessError('ApplyRejected', message, {
          ...loc,
          ...(field ? { field } : {}),
        });
      }
      case 404:
        return new DriftlessError('NotFound', message, loc);
      case 500:
        // A manifest the server cannot even turn into a typed patch (a string
        // where an integer belongs, a list for a map) is a bad manifest.
        if (BAD_PATCH.test(message)) return new DriftlessError('ApplyRejected', message, loc);
        return new DriftlessError(
          'ClusterUnreachable',
          `the API server of cluster ${this.clusterName} answered ${status}: ${message}${tried}`,
          loc,
        );
      case 429:
        // Throttled past the retries: the server is up and asked for less.
        return new DriftlessError(
          'ClusterThrottled',
          `the API server of cluster ${this.clusterName} answered ${status} (too many requests): ${message}${tried}`,
          loc,
        );
      case 502:
      case 503:
      case 504:
        return new DriftlessError(
          'ClusterUnreachable',
          `the API server of cluster ${this.clusterName} answered ${status}: ${message}${tried}`,
          loc,
        );
      default:
        return new DriftlessError('Internal', `${method} ${path}: HTTP ${status}: ${message}`, loc);
    }
  }
}

const APPLY_PATCH = 'application/apply-patch+yaml';

/** The field of the error a DELETE gets when its UID precondition fails (409). */
const PRECONDITION_FAILED = 'metadata.uid (precondition)';

/** The API server's words for an apply body it cannot type (a 500 that is the manifest's fault). */
const BAD_PATCH = /failed to create typed (patch|live) object|cannot convert .* to typed/i;

/** A server failure a repeat may not meet: an internal error, not a refusal of this request. */
const INTERNAL_500 = /internal error|InternalError/i;

/**
 * Network failures worth repeating: the connection broke (reset, closed
 * mid-request, a proxy gave up) or went silent (timeout). A refused or
 * unroutable connection is not among them: nothing is listening, the worker's
 * own retries (with their backoff and dead letter) handle a cluster that is
 * down, and an operation against it fails at once with ClusterUnreachable.
 */
const TRANSIENT_NETWORK = new Set([
  'ECONNRESET',
  'ETIMEDOUT',
  'EPIPE',
  'ECONNABORTED',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
]);

type Attempt =
  | { status: number; text: string; retryAfter?: string }
  | { error: NodeJS.ErrnoException };

/**
 * Why a failed attempt may succeed if repeated (its status or error code), or
 * undefined. A request that is not idempotent is repeated only when the server
 * cannot have acted on it: APF's 429 rejects before the handler runs.
 */
function transientCause(outcome: Attempt, idempotent: boolean): number | string | undefined {
  if ('error' in outcome) {
    const code = outcome.error.code ?? '';
    return idempotent && TRANSIENT_NETWORK.has(code) ? code : undefined;
  }
  const { status, text } = outcome;
  if (status === 429) return status;
  if (!idempotent) return undefined;
  if (status === 502 || status === 503 || status === 504) return status;
  if (status === 500 && INTERNAL_500.test(text) && !BAD_PATCH.test(text)) return status;
  return undefined;
}

/** Retry-After in ms (seconds, or an HTTP date), or undefined when absent or unreadable. */
function retryAfterMs(value: string | undefined): number | undefined {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}

// RBAC's wording: `configmaps is forbidden: User "u" cannot list resource
// "configmaps" in API group "" in the namespace "ns"` (or `at the cluster scope`).
const RBAC_DENIAL =
  /User "([^"]*)" cannot (\S+) resource "([^"]+)" in API group "([^"]*)"(?: in the namespace "([^"]+)"| at the cluster scope)?/;

/** `forbidden: user U cannot VERB RESOURCE in namespace NS on cluster C (<the API server's words>)`. */
export function forbiddenMessage(serverMessage: string, clusterName: string): string {
  const m = RBAC_DENIAL.exec(serverMessage);
  if (!m) return `forbidden by cluster ${clusterName}: ${serverMessage}`;
  const [, user, verb, resource, group, namespace] = m;
  const what = group ? `${resource}.${group}` : resource;
  const where = namespace ? `in namespace ${namespace}` : 'at the cluster scope';
  return `forbidden: user ${user} cannot ${verb} ${what} ${where} on cluster ${clusterName} (${serverMessage})`;
}

function collectionPath(res: ResourceInfo, namespace?: string): string {
  const prefix = res.group ? `/apis/${res.group}/${res.version}` : `/api/${res.version}`;
  return namespace
    ? `${prefix}/namespaces/${encodeURIComponent(namespace)}/${res.plural}`
    : `${prefix}/${res.plural}`;
}

function objectPath(res: ResourceInfo, namespace: string, name: string): string {
  return `${collectionPath(res, res.namespaced ? namespace : undefined)}/${encodeURIComponent(name)}`;
}
