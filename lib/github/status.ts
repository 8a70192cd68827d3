// Commit statuses on GitHub (or GitHub Enterprise Server): one POST per call,
// its answer classified for the status outbox's consumer (lib/github/outbox.ts),
// which owns every retry: posted, rate-limited (wait as GitHub asks), GitHub
// unavailable (5xx, network, timeout: back off) or rejected (a permanent 4xx:
// drop). Authenticated as a GitHub App (JWT → installation token, cached and
// renewed by @octokit/auth-app) or with a token; the App's private key or the
// token come from Secrets Manager (lib/aws/secrets.ts) and are never logged.

import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/core';
import { restEndpointMethods } from '@octokit/plugin-rest-endpoint-methods';
import { type Clock, systemClock } from '../ports/clock.js';
import type { CommitStatus } from '../ports/report.js';
import type { SecretSource } from '../ports/secrets.js';

/** GitHub rejects longer descriptions (422). */
export const MAX_DESCRIPTION_LENGTH = 140;

export type GitHubAuth =
  /** A GitHub App installed on the repositories' owner. */
  | {
      kind: 'app';
      appId: number | string;
      installationId: number;
      /** Secrets Manager ARN or name of the App's PEM private key. */
      privateKeySecretId: string;
    }
  /** A token (fine-grained PAT or similar) with commit statuses: write. */
  | { kind: 'token'; tokenSecretId: string };

export interface GitHubStatusClientOptions {
  auth: GitHubAuth;
  /** Reads the private key or token (cached: a rotated secret is picked up within its TTL). */
  secrets: SecretSource;
  /** REST API root: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server. */
  apiBaseUrl?: string;
  /** Host (and port) of repository URLs this GitHub serves. Default: github.com, or the API's host. */
  webHost?: string;
  /** Per HTTP request (default GITHUB_REQUEST_TIMEOUT_MS). */
  requestTimeoutMs?: number;
  clock?: Clock;
}

export const GITHUB_REQUEST_TIMEOUT_MS = 10_000;
/**
 * GitHub's advice for a secondary rate limit that names no time: wait at
 * least a minute.
 */
export const SECONDARY_LIMIT_DEFAULT_WAIT_S = 60;

/** What became of one POST; the outbox's consumer decides what follows. */
export type PostResult =
  | { kind: 'posted' }
  /** 403/429 with Retry-After or an exhausted x-ratelimit-remaining: wait retryAfterS. */
  | { kind: 'rate-limited'; retryAfterS: number; limit: 'primary' | 'secondary'; status: number }
  /** 5xx, a network error or a timeout: try again later with backoff. */
  | { kind: 'unavailable'; status?: number; message: string }
  /** A permanent refusal (422, 404, 401…) or a repository not on this GitHub: drop it. */
  | { kind: 'rejected'; status?: number; message: string };

export interface GitHubRepo {
  owner: string;
  repo: string;
}

/** `https://github.com/owner/repo(.git)` → owner and repo, if the URL is on `webHost`. */
export function parseGitHubRepo(repoURL: string, webHost = 'github.com'): GitHubRepo | undefined {
  let url: URL;
  try {
    url = new URL(repoURL);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return undefined;
  if (url.host.toLowerCase() !== webHost.toLowerCase()) return undefined;
  const parts = url.pathname.replace(/\/+$/, '').split('/').filter(Boolean);
  if (parts.length !== 2) return undefined;
  const owner = parts[0] as string;
  const repo = (parts[1] as string).replace(/\.git$/, '');
  if (!/^[A-Za-z0-9-]+$/.test(owner) || !/^[A-Za-z0-9._-]+$/.test(repo)) return undefined;
  return { owner, repo };
}

/** One line of at most 140 characters; a cut one ends with `…`, at a word break when one is near. */
export function statusDescription(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  if (line.length <= MAX_DESCRIPTION_LENGTH) return line;
  const room = MAX_DESCRIPTION_LENGTH - 1;
  const cut = line.slice(0, room);
  const space = cut.lastIndexOf(' ');
  return `${(space >= room - 25 ? cut.slice(0, space) : cut).trimEnd()}…`;
}

/** The parts of an Octokit RequestError (or any error) the classification reads. */
interface AnswerError {
  status?: number;
  message?: string;
  response?: { headers?: Record<string, string | number | undefined>; data?: unknown };
}

/**
 * Classifies a failed request as GitHub documents its answers: a 403 or 429
 * with Retry-After is a secondary limit, with x-ratelimit-remaining 0 the
 * primary one (until x-ratelimit-reset); a 403/429 that says "rate limit"
 * without a time waits a minute; 5xx and answers that never came are
 * transient; any other 4xx is permanent.
 */
export function classifyGitHubError(
  e: unknown,
  nowMs: number,
): Exclude<PostResult, { kind: 'posted' }> {
  const err = (e ?? {}) as AnswerError;
  const status = typeof err.status === 'number' && err.status > 0 ? err.status : undefined;
  const message = err.message ?? String(e);
  if (status === undefined) return { kind: 'unavailable', message };
  const headers = err.response?.headers ?? {};
  const header = (name: string) => {
    const v = headers[name];
    return v === undefined ? undefined : String(v);
  };
  if (status === 403 || status === 429) {
    const retryAfter = Number(header('retry-after'));
    if (Number.isFinite(retryAfter) && retryAfter >= 0 && header('retry-after') !== undefined) {
      return {
        kind: 'rate-limited',
        limit: 'secondary',
        retryAfterS: Math.ceil(retryAfter),
        status,
      };
    }
    const reset = Number(header('x-ratelimit-reset'));
    if (header('x-ratelimit-remaining') === '0' && Number.isFinite(reset)) {
      const wait = Math.max(1, Math.ceil(reset - nowMs / 1000));
      return { kind: 'rate-limited', limit: 'primary', retryAfterS: wait, status };
    }
    if (status === 429 || /rate limit/i.test(message)) {
      return {
        kind: 'rate-limited',
        limit: 'secondary',
        retryAfterS: SECONDARY_LIMIT_DEFAULT_WAIT_S,
        status,
      };
    }
  }
  if (status >= 500) return { kind: 'unavailable', status, message };
  return { kind: 'rejected', status, message };
}

/** What every Octokit of Driftless is made with: the API root, a timeout per request, no logging. */
export function octokitOptions(apiBaseUrl: string, timeoutMs: number) {
  return {
    baseUrl: apiBaseUrl,
    userAgent: 'driftless',
    request: {
      fetch: (url: string | URL, init?: RequestInit) =>
        fetch(url, {
          ...init,
          signal: init?.signal
            ? AbortSignal.any([init.signal, AbortSignal.timeout(timeoutMs)])
            : AbortSignal.timeout(timeoutMs),
        }),
    },
    // Callers log outcomes with their fields; Octokit's own lines would repeat them.
    log: { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} },
  };
}

const StatusOctokit = Octokit.plugin(restEndpointMethods);
type GitHubClient = InstanceType<typeof StatusOctokit>;

/** Posts commit statuses; never retries (the outbox does) and never throws. */
export class GitHubStatusClient {
  private readonly apiBaseUrl: string;
  private readonly webHost: string;
  private readonly clock: Clock;
  private client: { octokit: GitHubClient; secret: string } | undefined;

  constructor(private readonly opts: GitHubStatusClientOptions) {
    this.apiBaseUrl = (opts.apiBaseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
    const apiHost = new URL(this.apiBaseUrl).host;
    this.webHost = opts.webHost ?? (apiHost === 'api.github.com' ? 'github.com' : apiHost);
    this.clock = opts.clock ?? systemClock;
  }

  /** Whose rate limits a post counts against: the App installation, or the token. */
  get installation(): string {
    const auth = this.opts.auth;
    return auth.kind === 'app' ? `installation:${auth.installationId}` : 'token';
  }

  async post(input: CommitStatus): Promise<PostResult> {
    const repo = parseGitHubRepo(input.repoURL, this.webHost);
    if (!repo) {
      return {
        kind: 'rejected',
        message: `${input.repoURL} is not a repository on ${this.webHost}`,
      };
    }
    try {
      const octokit = await this.octokit();
      await octokit.rest.repos.createCommitStatus({
        ...repo,
        sha: input.commit,
        state: input.state,
        context: input.context,
        description: statusDescription(input.description),
        ...(input.targetUrl ? { target_url: input.targetUrl } : {}),
      });
      return { kind: 'posted' };
    } catch (e) {
      return classifyGitHubError(e, this.clock.now());
    }
  }

  /** The client for the current secret; a rotated secret gets a new one. */
  private async octokit(): Promise<GitHubClient> {
    const auth = this.opts.auth;
    const secret = await this.opts.secrets.getSecretString(
      auth.kind === 'app' ? auth.privateKeySecretId : auth.tokenSecretId,
    );
    if (this.client?.secret === secret) return this.client.octokit;
    const common = octokitOptions(
      this.apiBaseUrl,
      this.opts.requestTimeoutMs ?? GITHUB_REQUEST_TIMEOUT_MS,
    );
    const octokit =
      auth.kind === 'app'
        ? new StatusOctokit({
            ...common,
            authStrategy: createAppAuth,
            auth: { appId: auth.appId, privateKey: secret, installationId: auth.installationId },
          })
        : new StatusOctokit({ ...common, auth: secret.trim() });
    this.client = { octokit, secret };
    return octokit;
  }
}
