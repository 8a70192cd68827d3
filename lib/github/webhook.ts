// GitHub webhooks: verify before anything else, then route a push to the
// targets that follow the pushed branch or tag, record the newest wanted
// revision (so bursts of pushes collapse into one reconcile), hand `pending`
// commit statuses to the outbox for the targets whose app path the push
// touched, and enqueue. Nothing is enqueued unless every step before
// succeeded, and GitHub is never called here: the reporter only enqueues
// (lib/github/outbox.ts), so the answer does not wait on GitHub.
//
// Responses: 401 bad or missing signature, 413 body over the cap, 400
// malformed body or headers, 200 ping, 202 accepted (with what was routed)
// or ignored (other events, branch deletions).

import { verifyWithFallback } from '@octokit/webhooks-methods';
import { z } from 'zod';
import { mapBounded } from '../concurrency.js';
import { shortSha } from '../model/revision.js';
import { normalizeRepoURL, targetKey } from '../model/target.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { JobQueue } from '../ports/queue.js';
import { type CommitStatusReporter, commitStatusContext } from '../ports/report.js';
import type { Catalog, TargetRecord } from '../ports/store.js';

export interface WebhookRequest {
  /** Header names in any case. */
  headers: Record<string, string | undefined>;
  /** The raw body, exactly as received (the signature covers these bytes). */
  body: string;
}

export interface WebhookResponse {
  status: number;
  body: Record<string, unknown>;
}

export interface WebhookDeps {
  /** getApplication: the apps' paths, read only when the push lists its changed files. */
  catalog: Pick<Catalog, 'targetsForRepo' | 'recordWantedRevision' | 'getApplication'>;
  queue: JobQueue;
  /** The status outbox's reporter: it enqueues, it does not call GitHub. */
  reporter: CommitStatusReporter;
  /** Current secret first; older ones still accepted during a rotation. */
  secrets: () => Promise<string[]>;
  clock?: Clock;
  /** Largest body accepted (bytes). GitHub caps payloads at 25 MB. */
  maxBodyBytes?: number;
  /** Link for the pending commit status. */
  statusUrl?: (target: TargetRecord) => string | undefined;
}

export const DEFAULT_MAX_BODY_BYTES = 5 * 1024 * 1024;
const ZERO_SHA = /^0{40}$/;

/** Wanted-revision writes in flight at once for a push routed to many targets. */
export const WEBHOOK_WRITE_CONCURRENCY = 10;

/** GitHub lists at most this many commits in a push payload: a push with as many may have more. */
export const PUSH_MAX_COMMITS = 2048;
/**
 * GitHub caps each of a commit's added/modified/removed lists and does not say
 * so in the payload: a list this long (or longer) may have been cut.
 */
export const PUSH_MAX_FILES_PER_LIST = 3000;

const PushCommit = z.object({
  added: z.array(z.string()).optional(),
  modified: z.array(z.string()).optional(),
  removed: z.array(z.string()).optional(),
});

const PushPayload = z.object({
  ref: z.string().min(1),
  after: z.string().regex(/^[0-9a-f]{40}$/),
  deleted: z.boolean().optional(),
  forced: z.boolean().optional(),
  commits: z.array(PushCommit).optional(),
  repository: z.object({
    clone_url: z.string().optional(),
    html_url: z.string().optional(),
    full_name: z.string().optional(),
    default_branch: z.string().optional(),
  }),
});
export type PushEvent = z.infer<typeof PushPayload>;

function header(req: WebhookRequest, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(req.headers)) if (k.toLowerCase() === want) return v;
  return undefined;
}

/** Constant-time HMAC SHA-256 check of the raw body against any configured secret. */
export async function verifyDelivery(req: WebhookRequest, secrets: string[]): Promise<boolean> {
  const signature = header(req, 'x-hub-signature-256');
  if (!signature || !/^sha256=[0-9a-f]{64}$/.test(signature) || secrets.length === 0) return false;
  const [first, ...rest] = secrets as [string, ...string[]];
  try {
    return Boolean(await verifyWithFallback(first, req.body, signature, rest));
  } catch {
    return false;
  }
}

/** Whether an app following `revision` follows the pushed ref. */
export function followsRef(revision: string, push: PushEvent): boolean {
  const ref = push.ref;
  if (revision === ref) return true;
  if (ref.startsWith('refs/heads/')) {
    const branch = ref.slice('refs/heads/'.length);
    return (
      revision === branch || (revision === 'HEAD' && branch === push.repository.default_branch)
    );
  }
  if (ref.startsWith('refs/tags/')) return revision === ref.slice('refs/tags/'.length);
  return false;
}

/**
 * The paths a push changed, from its commits' added, modified and removed
 * lists; undefined when the payload cannot tell: no commits listed (a new
 * branch or tag at an existing commit), a forced push (the commits it
 * dropped are not listed), or a payload GitHub may have cut (PUSH_MAX_COMMITS
 * commits, or a file list of PUSH_MAX_FILES_PER_LIST). As Argo CD's webhook
 * handler does, a push whose changed files are unknown touches every app.
 */
export function changedPaths(push: PushEvent): Set<string> | undefined {
  const commits = push.commits ?? [];
  if (push.forced || commits.length === 0 || commits.length >= PUSH_MAX_COMMITS) return undefined;
  const paths = new Set<string>();
  for (const c of commits) {
    for (const list of [c.added ?? [], c.modified ?? [], c.removed ?? []]) {
      if (list.length >= PUSH_MAX_FILES_PER_LIST) return undefined;
      for (const p of list) paths.add(p);
    }
  }
  return paths.size === 0 ? undefined : paths;
}

/** Whether a change to `paths` touches the app at `appPath` (a directory of the repository). */
export function touchesPath(paths: Set<string> | undefined, appPath: string | undefined): boolean {
  if (!paths) return true;
  const dir = (appPath ?? '.').replace(/^(\.\/)+/, '').replace(/\/+$/, '');
  if (dir === '' || dir === '.') return true;
  for (const p of paths) if (p === dir || p.startsWith(`${dir}/`)) return true;
  return false;
}

/** The dedup id of one target's job for one delivery: a redelivery is sent once. */
export function deliveryDedupId(deliveryId: string, target: TargetRecord): string {
  return `push:${deliveryId}:${target.app}#${target.cluster}`;
}

/** A delivery whose size, signature and headers passed: safe to parse and route. */
export interface VerifiedDelivery {
  request: WebhookRequest;
  event: string;
  deliveryId: string;
}

/**
 * The checks before anything is parsed or stored: the size cap, the HMAC
 * (computed once, here) and the GitHub headers. A rejection is the response
 * to send; a forged request must not create records anywhere.
 */
export async function checkDelivery(
  req: WebhookRequest,
  secrets: string[],
  maxBodyBytes = DEFAULT_MAX_BODY_BYTES,
): Promise<{ verified: VerifiedDelivery } | { rejected: WebhookResponse }> {
  const declared = Number(header(req, 'content-length') ?? Number.NaN);
  if (Buffer.byteLength(req.body) > maxBodyBytes || declared > maxBodyBytes) {
    return {
      rejected: {
        status: 413,
        body: { code: 'PayloadTooLarge', message: `body over ${maxBodyBytes} bytes` },
      },
    };
  }
  if (!(await verifyDelivery(req, secrets))) {
    return {
      rejected: {
        status: 401,
        body: { code: 'BadSignature', message: 'missing or invalid X-Hub-Signature-256' },
      },
    };
  }
  const event = header(req, 'x-github-event');
  const deliveryId = header(req, 'x-github-delivery');
  if (!event || !deliveryId || !/^[A-Za-z0-9-]{1,100}$/.test(deliveryId)) {
    return {
      rejected: {
        status: 400,
        body: { code: 'BadRequest', message: 'X-GitHub-Event and X-GitHub-Delivery are required' },
      },
    };
  }
  return { verified: { request: req, event, deliveryId } };
}

/** Verifies and routes one delivery. Throws only for infrastructure failures (then nothing was enqueued). */
export async function handleWebhook(
  deps: WebhookDeps,
  req: WebhookRequest,
): Promise<WebhookResponse> {
  const checked = await checkDelivery(req, await deps.secrets(), deps.maxBodyBytes);
  if ('rejected' in checked) return checked.rejected;
  return routeDelivery(deps, checked.verified);
}

/** Routes a verified delivery: parse, match targets, record the wanted revision, enqueue, report. */
export async function routeDelivery(
  deps: Omit<WebhookDeps, 'secrets' | 'maxBodyBytes'>,
  delivery: VerifiedDelivery,
): Promise<WebhookResponse> {
  const { request: req, event, deliveryId } = delivery;
  let payload: unknown;
  try {
    payload = JSON.parse(req.body);
  } catch {
    return { status: 400, body: { code: 'BadRequest', message: 'body is not JSON' } };
  }
  if (event === 'ping') return { status: 200, body: { event, delivery: deliveryId, pong: true } };
  if (event !== 'push')
    return { status: 202, body: { event, delivery: deliveryId, ignored: `event ${event}` } };

  const parsed = PushPayload.safeParse(payload);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return {
      status: 400,
      body: {
        code: 'BadRequest',
        message: `push payload: ${issue?.path.join('.') || 'body'}: ${issue?.message ?? 'invalid'}`,
      },
    };
  }
  const push = parsed.data;
  if (push.deleted || ZERO_SHA.test(push.after)) {
    return { status: 202, body: { event, delivery: deliveryId, ignored: `${push.ref} deleted` } };
  }

  // Route: every target of an app on this repository following this ref.
  const urls = [push.repository.clone_url, push.repository.html_url].filter(
    (u): u is string => !!u,
  );
  const seen = new Set<string>();
  const targets: TargetRecord[] = [];
  for (const url of new Set(urls.map(normalizeRepoURL))) {
    for (const t of await deps.catalog.targetsForRepo(url)) {
      const key = targetKey(t);
      if (seen.has(key) || t.suspended || !followsRef(t.revision, push)) continue;
      seen.add(key);
      targets.push(t);
    }
  }
  if (targets.length === 0) {
    return { status: 202, body: { event, delivery: deliveryId, ref: push.ref, targets: [] } };
  }

  const clock = deps.clock ?? systemClock;
  const now = clock.now();
  await mapBounded(targets, WEBHOOK_WRITE_CONCURRENCY, (t) =>
    deps.catalog.recordWantedRevision(t, push.after, now),
  );

  // Pending only where the push touched the app's path; every target still
  // gets its job (a path outside the app's, a Kustomize base, can change its
  // render, and the reconcile reports what it finds).
  const paths = changedPaths(push);
  const appPaths = new Map<string, string | undefined>();
  if (paths) {
    const apps = [...new Set(targets.map((t) => t.app))];
    const specs = await Promise.all(apps.map((a) => deps.catalog.getApplication(a)));
    for (const [i, a] of apps.entries()) appPaths.set(a, specs[i]?.spec.source.path);
  }
  const touched = new Set(
    targets.filter((t) => touchesPath(paths, appPaths.get(t.app))).map((t) => targetKey(t)),
  );
  const statusOf = (t: TargetRecord, state: 'pending' | 'error', description: string) => ({
    repoURL: t.repoURL,
    commit: push.after,
    context: commitStatusContext(t),
    state,
    description,
    targetUrl: deps.statusUrl?.(t),
  });
  const report = (state: 'pending' | 'error', description: (t: TargetRecord) => string) =>
    Promise.all(
      targets
        .filter((t) => touched.has(targetKey(t)))
        .map((t) => deps.reporter.report(statusOf(t, state, description(t)))),
    );
  // Before the jobs: a worker's report for this commit is always queued after
  // this pending one (the outbox keeps each context's order).
  await report('pending', (t) => `queued ${shortSha(push.after)} for ${t.cluster}`);
  try {
    await deps.queue.enqueue(
      targets.map((t) => ({
        dedupId: deliveryDedupId(deliveryId, t),
        job: {
          app: t.app,
          cluster: t.cluster,
          trigger: 'webhook' as const,
          deliveryId,
          enqueuedAt: new Date(now).toISOString(),
          // The job resolves the pending status if it ends without a reconcile.
          ...(touched.has(targetKey(t)) ? { commit: push.after, repoURL: t.repoURL } : {}),
        },
      })),
    );
  } catch (e) {
    // No pending status left behind by a push that was not queued.
    await report('error', () => `not queued: ${e instanceof Error ? e.message : String(e)}`);
    throw e;
  }
  return {
    status: 202,
    body: {
      event,
      delivery: deliveryId,
      ref: push.ref,
      commit: push.after,
      targets: targets.map((t) => ({ app: t.app, cluster: t.cluster })),
      // The targets whose app path the push touched: their contexts went pending.
      pending: targets
        .filter((t) => touched.has(targetKey(t)))
        .map((t) => ({ app: t.app, cluster: t.cluster })),
    },
  };
}
