// GitHub webhooks: verify before anything else, then route a push to the
// targets that follow the pushed branch or tag, record the newest wanted
// revision (so bursts of pushes collapse into one reconcile), hand `pending`
// commit statuses to the outbox for the targets whose app path the push
// touched, and enqueue. Nothing is enqueued unless every step before
// succeeded, and GitHub is never called here: the reporter only enqueues
// (lib/github/outbox.ts), so the answer does not wait on GitHub.
//
// Secrets are bound to repositories (lib/model/webhook-secrets.ts): the
// HMAC SHA-256 of the raw body is computed once per distinct secret and
// compared in constant time before anything is parsed; then the repository
// the payload names must be one the matching secret may sign for, or a
// secret of one repository could route pushes to another's targets.
//
// Responses: 401 bad or missing signature, or a secret of another
// repository; 413 body over the cap, 400 malformed body or headers, 200
// ping, 202 accepted (with what was routed) or ignored (other events, branch
// deletions, pushes older than the newest recorded for their targets).

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import { mapBounded } from '../concurrency.js';
import { shortSha } from '../model/revision.js';
import { normalizeRepoURL, targetKey } from '../model/target.js';
import { defaultSecrets, keyMatchesURL, type WebhookSecretSet } from '../model/webhook-secrets.js';
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
  /**
   * The secrets and what each may sign for (a plain list: default secrets,
   * current first; older ones still accepted during a rotation). Read only
   * for a delivery that carries a well-formed signature.
   */
  secrets: () => Promise<WebhookSecretSet | readonly string[]>;
  clock?: Clock;
  /** Largest body accepted (bytes). GitHub caps payloads at 25 MB. */
  maxBodyBytes?: number;
  /** A push this much older than the newest recorded for a target is ignored there (ms). */
  stalePushMs?: number;
  /** Link for the pending commit status. */
  statusUrl?: (target: TargetRecord) => string | undefined;
}

export const DEFAULT_MAX_WEBHOOK_BODY_BYTES = 5 * 1024 * 1024;

/**
 * A push whose time (the payload's `repository.pushed_at`, set by GitHub and
 * covered by the signature) is more than this before the newest push recorded
 * for a target (its `wantedAt`) enqueues nothing for it: a replay, or a
 * redelivery of a push a later one superseded. Within the bound, pushes
 * delivered out of order are still queued (the worker resolves the branch
 * head anyway), which also absorbs clock differences.
 */
export const DEFAULT_STALE_PUSH_MS = 10 * 60_000;

const SIGNATURE = /^sha256=[0-9a-f]{64}$/;
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
    /** Epoch seconds in push payloads (an ISO time elsewhere). */
    pushed_at: z.union([z.number(), z.string()]).nullish(),
  }),
});
export type PushEvent = z.infer<typeof PushPayload>;

function header(req: WebhookRequest, name: string): string | undefined {
  const want = name.toLowerCase();
  for (const [k, v] of Object.entries(req.headers)) if (k.toLowerCase() === want) return v;
  return undefined;
}

/** What the secret that signed a delivery may sign for. */
export interface SignatureMatch {
  /** A default secret: any repository. */
  anyRepository: boolean;
  /** Keys of the repositories the secret is bound to. */
  repositories: string[];
  /** The GitHub App's webhook secret: its installation, and its repositories when limited. */
  githubApp?: { installationId: number; repositories?: readonly string[] };
}

function secretSet(value: WebhookSecretSet | readonly string[]): WebhookSecretSet {
  return Array.isArray(value) ? defaultSecrets(value) : (value as WebhookSecretSet);
}

/**
 * The binding of the secret that signed `body`, or undefined: the HMAC
 * SHA-256 is computed once per distinct secret (a secret listed for several
 * repositories signs for all of them) and compared in constant time.
 */
export function matchSignature(
  body: string,
  signature: string | undefined,
  value: WebhookSecretSet | readonly string[],
): SignatureMatch | undefined {
  if (!signature || !SIGNATURE.test(signature)) return undefined;
  const set = secretSet(value);
  const bindings = new Map<string, SignatureMatch>();
  const bound = (secret: string): SignatureMatch => {
    let m = bindings.get(secret);
    if (!m) {
      m = { anyRepository: false, repositories: [] };
      bindings.set(secret, m);
    }
    return m;
  };
  for (const s of set.default) bound(s).anyRepository = true;
  for (const [key, secrets] of set.repositories)
    for (const s of secrets) bound(s).repositories.push(key);
  const app = set.githubApp;
  if (app) {
    for (const s of app.secrets) {
      bound(s).githubApp = {
        installationId: app.installationId,
        ...(app.repositories ? { repositories: app.repositories } : {}),
      };
    }
  }
  const given = Buffer.from(signature.slice('sha256='.length), 'hex');
  for (const [secret, match] of bindings) {
    const digest = createHmac('sha256', secret).update(body).digest();
    if (timingSafeEqual(digest, given)) return match;
  }
  return undefined;
}

const Named = z.object({
  repository: z
    .object({
      clone_url: z.string().optional(),
      html_url: z.string().optional(),
      full_name: z.string().optional(),
    })
    .nullish(),
  installation: z.object({ id: z.number() }).nullish(),
});

/**
 * Why the signer may not send this payload, or undefined when it may: the
 * repository the payload names (every URL the webhook routes by) must be one
 * the secret is bound to, or the secret a default one, or the GitHub App's
 * for its installation (and its repositories, when limited). The reason names
 * the repository, never a secret.
 */
export function signerMayNotSend(match: SignatureMatch, payload: unknown): string | undefined {
  if (match.anyRepository) return undefined;
  const named = Named.safeParse(payload);
  const repo = named.success ? named.data.repository : undefined;
  const urls = [repo?.clone_url, repo?.html_url]
    .filter((u): u is string => !!u)
    .map(normalizeRepoURL);
  const name = repo?.full_name ?? urls[0];
  if (!name || urls.length === 0) {
    return 'the delivery names no repository, and its signature is not from a default secret';
  }
  const covered = (keys: readonly string[]) =>
    urls.every((u) => keys.some((k) => keyMatchesURL(k, u)));
  if (covered(match.repositories)) return undefined;
  const app = match.githubApp;
  if (app) {
    const installation = named.success ? named.data.installation?.id : undefined;
    if (installation !== app.installationId) {
      return `the GitHub App delivery for ${name} is not from the configured installation`;
    }
    if (!app.repositories || covered(app.repositories)) return undefined;
    return `repository ${name} is not one the GitHub App's webhook routes`;
  }
  return `X-Hub-Signature-256 is not signed with a secret of repository ${name}`;
}

/** The SHA-256 of the body (hex): the idempotency key, so a replayed body is one delivery. */
export function bodyHash(body: string): string {
  return createHash('sha256').update(body).digest('hex');
}

/** When GitHub says the push happened (epoch ms), from `repository.pushed_at`; undefined if absent. */
export function pushTime(push: PushEvent): number | undefined {
  const at = push.repository.pushed_at;
  if (typeof at === 'number') return Number.isFinite(at) && at > 0 ? at * 1000 : undefined;
  if (typeof at === 'string') {
    const ms = Date.parse(at);
    return Number.isNaN(ms) ? undefined : ms;
  }
  return undefined;
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

/** A delivery whose size, signature, headers and signer passed: safe to route. */
export interface VerifiedDelivery {
  request: WebhookRequest;
  event: string;
  deliveryId: string;
  /** The body, parsed once (after the signature was verified). */
  payload: unknown;
  /** SHA-256 of the body: the idempotency key (a replay with a fresh delivery id is the same delivery). */
  bodyHash: string;
}

const reject = (status: number, code: string, message: string) => ({
  rejected: { status, body: { code, message } },
});

/**
 * The checks before anything is stored: the size cap, the HMAC (computed
 * once, here, before the body is parsed; the secrets are read only for a
 * well-formed signature), the GitHub headers, then the body parsed and its
 * repository checked against what the matching secret may sign for. A
 * rejection is the response to send; a forged request must not create
 * records anywhere.
 */
export async function checkDelivery(
  req: WebhookRequest,
  secrets: () => Promise<WebhookSecretSet | readonly string[]>,
  maxBodyBytes = DEFAULT_MAX_WEBHOOK_BODY_BYTES,
): Promise<{ verified: VerifiedDelivery } | { rejected: WebhookResponse }> {
  const declared = Number(header(req, 'content-length') ?? Number.NaN);
  if (Buffer.byteLength(req.body) > maxBodyBytes || declared > maxBodyBytes) {
    return reject(413, 'PayloadTooLarge', `body over ${maxBodyBytes} bytes`);
  }
  const signature = header(req, 'x-hub-signature-256');
  const match =
    signature && SIGNATURE.test(signature)
      ? matchSignature(req.body, signature, await secrets())
      : undefined;
  if (!match) return reject(401, 'BadSignature', 'missing or invalid X-Hub-Signature-256');
  const event = header(req, 'x-github-event');
  const deliveryId = header(req, 'x-github-delivery');
  if (!event || !deliveryId || !/^[A-Za-z0-9-]{1,100}$/.test(deliveryId)) {
    return reject(400, 'BadRequest', 'X-GitHub-Event and X-GitHub-Delivery are required');
  }
  let payload: unknown;
  try {
    payload = JSON.parse(req.body);
  } catch {
    return reject(400, 'BadRequest', 'body is not JSON');
  }
  const refused = signerMayNotSend(match, payload);
  if (refused) return reject(401, 'BadSignature', refused);
  return { verified: { request: req, event, deliveryId, payload, bodyHash: bodyHash(req.body) } };
}

/** Verifies and routes one delivery. Throws only for infrastructure failures (then nothing was enqueued). */
export async function handleWebhook(
  deps: WebhookDeps,
  req: WebhookRequest,
): Promise<WebhookResponse> {
  const checked = await checkDelivery(req, deps.secrets, deps.maxBodyBytes);
  if ('rejected' in checked) return checked.rejected;
  return routeDelivery(deps, checked.verified);
}

/** Routes a verified delivery: match targets, drop stale ones, record the wanted revision, enqueue, report. */
export async function routeDelivery(
  deps: Omit<WebhookDeps, 'secrets' | 'maxBodyBytes'>,
  delivery: VerifiedDelivery,
): Promise<WebhookResponse> {
  const { event, deliveryId, payload } = delivery;
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
  // A push older than the bound before the newest one recorded for a target
  // is a replay or superseded: nothing for that target.
  const pushedAt = pushTime(push);
  const staleBefore = (t: TargetRecord) =>
    pushedAt !== undefined &&
    t.wantedAt !== undefined &&
    pushedAt < t.wantedAt - (deps.stalePushMs ?? DEFAULT_STALE_PUSH_MS);
  const stale: TargetRecord[] = [];
  for (const url of new Set(urls.map(normalizeRepoURL))) {
    for (const t of await deps.catalog.targetsForRepo(url)) {
      const key = targetKey(t);
      if (seen.has(key) || t.suspended || !followsRef(t.revision, push)) continue;
      seen.add(key);
      (staleBefore(t) ? stale : targets).push(t);
    }
  }
  const staleBody =
    stale.length > 0 ? { stale: stale.map((t) => ({ app: t.app, cluster: t.cluster })) } : {};
  if (targets.length === 0) {
    return {
      status: 202,
      body: { event, delivery: deliveryId, ref: push.ref, targets: [], ...staleBody },
    };
  }

  const clock = deps.clock ?? systemClock;
  const now = clock.now();
  // Recorded at the push's own time when the payload says it, so a push
  // delivered after a newer one never becomes the wanted revision.
  await mapBounded(targets, WEBHOOK_WRITE_CONCURRENCY, (t) =>
    deps.catalog.recordWantedRevision(t, push.after, pushedAt ?? now),
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
      ...staleBody,
    },
  };
}
