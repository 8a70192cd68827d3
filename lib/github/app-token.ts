// Git credentials from the GitHub App configured for commit statuses: an
// installation token for the one repository read (`contents: read`, scoped
// to that repository), minted with the App's private key from Secrets Manager
// and cached by @octokit/auth-app until shortly before it expires. The token
// is the password of HTTP basic auth with user `x-access-token`, as GitHub
// documents for Apps. Neither key nor token is ever put in a message.

import { createAppAuth } from '@octokit/auth-app';
import { Octokit } from '@octokit/core';
import { DriftlessError } from '../errors.js';
import type { GitCredentials } from '../ports/git.js';
import type { SecretSource } from '../ports/secrets.js';
import {
  classifyGitHubError,
  GITHUB_REQUEST_TIMEOUT_MS,
  type GitHubAuth,
  octokitOptions,
  parseGitHubRepo,
} from './status.js';

/** The user name GitHub wants with an installation token over HTTPS. */
export const INSTALLATION_TOKEN_USERNAME = 'x-access-token';

export interface GitHubAppTokensOptions {
  auth: Extract<GitHubAuth, { kind: 'app' }>;
  secrets: SecretSource;
  /** REST API root (default https://api.github.com). */
  apiBaseUrl?: string;
  /** Host of the repository URLs this GitHub serves. Default: github.com, or the API's host. */
  webHost?: string;
  requestTimeoutMs?: number;
}

export class GitHubAppTokens {
  private readonly apiBaseUrl: string;
  private readonly webHost: string;
  private client: { octokit: Octokit; key: string } | undefined;

  constructor(private readonly opts: GitHubAppTokensOptions) {
    this.apiBaseUrl = (opts.apiBaseUrl ?? 'https://api.github.com').replace(/\/+$/, '');
    const apiHost = new URL(this.apiBaseUrl).host;
    this.webHost = opts.webHost ?? (apiHost === 'api.github.com' ? 'github.com' : apiHost);
  }

  get describe(): string {
    return `the GitHub App ${this.opts.auth.appId} (installation ${this.opts.auth.installationId})`;
  }

  async credentialsFor(repoURL: string): Promise<GitCredentials> {
    const repo = parseGitHubRepo(repoURL, this.webHost);
    if (!repo) {
      throw new DriftlessError(
        'InvalidSpec',
        `${repoURL} is not a repository on ${this.webHost}, so ${this.describe} cannot mint a token for it`,
      );
    }
    const octokit = await this.octokit();
    let token: string;
    try {
      const auth = (await octokit.auth({
        type: 'installation',
        repositoryNames: [repo.repo],
        permissions: { contents: 'read' },
      })) as { token: string };
      token = auth.token;
    } catch (e) {
      // A permanent refusal (wrong key, not installed there) is Unauthorized;
      // rate limits, 5xx and the network are worth another attempt.
      const answer = classifyGitHubError(e, Date.now());
      const status = (e as { status?: unknown }).status;
      const detail = String((e as Error).message ?? e).split('\n')[0];
      throw new DriftlessError(
        answer.kind === 'rejected' ? 'Unauthorized' : 'SourceUnavailable',
        `${this.describe} could not mint a token for ${repo.owner}/${repo.repo}: ${typeof status === 'number' ? `HTTP ${status}: ` : ''}${detail}`,
      );
    }
    return {
      username: INSTALLATION_TOKEN_USERNAME,
      password: token,
      source: this.describe,
      // Tokens change hourly; what they read does not.
      cacheIdentity: `github-app:${this.apiBaseUrl}:${this.opts.auth.appId}:${this.opts.auth.installationId}`,
    };
  }

  /** The client for the current private key; a rotated key gets a new one (and new tokens). */
  private async octokit(): Promise<Octokit> {
    const key = await this.opts.secrets.getSecretString(this.opts.auth.privateKeySecretId);
    if (this.client?.key === key) return this.client.octokit;
    const octokit = new Octokit({
      ...octokitOptions(this.apiBaseUrl, this.opts.requestTimeoutMs ?? GITHUB_REQUEST_TIMEOUT_MS),
      authStrategy: createAppAuth,
      auth: {
        appId: this.opts.auth.appId,
        privateKey: key,
        installationId: this.opts.auth.installationId,
      },
    });
    this.client = { octokit, key };
    return octokit;
  }
}
