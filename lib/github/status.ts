// Commit statuses on GitHub (or GitHub Enterprise Server): `driftless/<app>/
// <cluster>` goes pending → success / failure / error on the synced commit,
// with a short description and a link into the status API. Authenticated as a
// GitHub App (JWT → installation token, cached and renewed by
// @octokit/auth-app) or with a token; the App's private key or the token come
// from Secrets Manager (lib/aws/secrets.ts) and are never logged.
// 5xx answers are retried with backoff (@octokit/plugin-retry), primary and
// secondary rate limits wait as GitHub asks (@octokit/plugin-throttling).
// Reporting never fails a reconcile: whatever goes wrong is logged, not thrown.

import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/core';
import { restEndpointMethods } from '@octokit/plugin-rest-endpoint-methods';
import { retry } from '@octokit/plugin-retry';
import { throttling } from '@octokit/plugin-throttling';
import type { CommitStatus, CommitStatusReporter } from '../ports/report.js';
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

/** Structured warnings; the functions pass Powertools' logger. */
export interface ReporterLogger {
  warn(message: string, fields?: Record<string, unknown>): void;
}

const silent: ReporterLogger = { warn() {} };

export interface GitHubReporterOptions {
  auth: GitHubAuth;
  /** Reads the private key or token (cached: a rotated secret is picked up within its TTL). */
  secrets: SecretSource;
  /** REST API root: https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server. */
  apiBaseUrl?: string;
  /** Host (and port) of repository URLs this GitHub serves. Default: github.com, or the API's host. */
  webHost?: string;
  logger?: ReporterLogger;
  /** Retries of 5xx answers: waits baseDelayMs × 1, 4, 9… (defaults 3 and 1000). */
  retries?: number;
  retryBaseDelayMs?: number;
  /** Rate-limit waits: retry at most this often, and only if GitHub asks for no longer than maxWaitS. */
  rateLimitRetries?: number;
  rateLimitMaxWaitS?: number;
  /** Per HTTP request (default 10 s). */
  requestTimeoutMs?: number;
}

/** What a GitHubStatusReporter uses for the options it is not given (see its options). */
export const GITHUB_REPORTER_DEFAULTS = {
  retries: 3,
  retryBaseDelayMs: 1000,
  rateLimitRetries: 2,
  rateLimitMaxWaitS: 60,
  requestTimeoutMs: 10_000,
} as const;

const DriftlessOctokit = Octokit.plugin(restEndpointMethods, retry, throttling);
type GitHubClient = InstanceType<typeof DriftlessOctokit>;

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

export class GitHubCommitStatusReporter implements CommitStatusReporter {
  private readonly apiBaseUrl: string;
  private readonly webHost: string;
  private readonly logger: ReporterLogger;
  private client: { octokit: GitHubClient; secret: string } | undefined;

  constructor(private readonly opts: GitHubReporterOptions) {
    this.apiBaseUrl = (opts.apiBaseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
    const apiHost = new URL(this.apiBaseUrl).host;
    this.webHost = opts.webHost ?? (apiHost === 'api.github.com' ? 'github.com' : apiHost);
    this.logger = opts.logger ?? silent;
  }

  async report(input: CommitStatus): Promise<void> {
    const fields = { repoURL: input.repoURL, commit: input.commit, context: input.context };
    const repo = parseGitHubRepo(input.repoURL, this.webHost);
    if (!repo) {
      this.logger.warn(`commit status not reported: ${input.repoURL} is not on ${this.webHost}`, {
        ...fields,
        state: input.state,
      });
      return;
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
    } catch (e) {
      // Only the message and status: a request error also carries the request.
      const err = e as { message?: string; status?: number };
      this.logger.warn(`commit status ${input.state} not reported to ${repo.owner}/${repo.repo}`, {
        ...fields,
        state: input.state,
        status: err.status,
        error: err.message ?? String(e),
      });
    }
  }

  /** The client for the current secret; a rotated secret gets a new one. */
  private async octokit(): Promise<GitHubClient> {
    const auth = this.opts.auth;
    const secret = await this.opts.secrets.getSecretString(
      auth.kind === 'app' ? auth.privateKeySecretId : auth.tokenSecretId,
    );
    if (this.client?.secret === secret) return this.client.octokit;
    const timeoutMs = this.opts.requestTimeoutMs ?? GITHUB_REPORTER_DEFAULTS.requestTimeoutMs;
    const maxWaitS = this.opts.rateLimitMaxWaitS ?? GITHUB_REPORTER_DEFAULTS.rateLimitMaxWaitS;
    const rateLimitRetries =
      this.opts.rateLimitRetries ?? GITHUB_REPORTER_DEFAULTS.rateLimitRetries;
    const onLimit =
      (kind: string) =>
      (
        retryAfter: number,
        options: { method?: string; url?: string },
        _o: unknown,
        count: number,
      ) => {
        const retrying = count < rateLimitRetries && retryAfter <= maxWaitS;
        this.logger.warn(`GitHub ${kind} rate limit`, {
          request: `${options.method} ${options.url}`,
          retryAfterS: retryAfter,
          retrying,
        });
        return retrying;
      };
    const common = {
      baseUrl: this.apiBaseUrl,
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
      retry: {
        retries: this.opts.retries ?? GITHUB_REPORTER_DEFAULTS.retries,
        retryAfterBaseValue:
          this.opts.retryBaseDelayMs ?? GITHUB_REPORTER_DEFAULTS.retryBaseDelayMs,
      },
      throttle: { onRateLimit: onLimit('primary'), onSecondaryRateLimit: onLimit('secondary') },
      log: {
        debug: () => {},
        info: () => {},
        warn: (message: string) => this.logger.warn(message),
        error: (message: string) => this.logger.warn(message),
      },
    };
    const octokit =
      auth.kind === 'app'
        ? new DriftlessOctokit({
            ...common,
            authStrategy: createAppAuth,
            auth: { appId: auth.appId, privateKey: secret, installationId: auth.installationId },
          })
        : new DriftlessOctokit({ ...common, auth: secret.trim() });
    this.client = { octokit, secret };
    return octokit;
  }
}
