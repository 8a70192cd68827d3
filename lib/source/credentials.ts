// Git credentials of an application, by reference (README, "Private
// repositories"): the secret its source.credentials names, else the secret of
// the Repository record whose urlPrefix is the longest prefix of its repoURL
// (Argo CD's credential templates: best match wins, order does not matter),
// else none. A secret holds JSON:
//
//   {"type": "token", "token": "…", "username"?: "…"}    basic auth, the token as the password
//   {"type": "basic", "username": "…", "password": "…"}
//   {"type": "githubApp"}                                 the GitHub App configured for commit
//                                                         statuses mints an installation token
//
// Values are never put in a message: errors name the secret and the app.

import { z } from 'zod';
import { DriftlessError, isDriftlessError } from '../errors.js';
import type { CredentialsSubject, Repository } from '../model/application.js';
import type { Clock } from '../ports/clock.js';
import { systemClock } from '../ports/clock.js';
import type { GitCredentials } from '../ports/git.js';
import type { SecretSource } from '../ports/secrets.js';
import type { Page } from '../ports/store.js';

/** The user name sent with a token that names none (GitHub's for tokens; others accept any). */
export const DEFAULT_TOKEN_USERNAME = 'x-access-token';
/** How long the list of Repository records is reused before it is read again. */
export const DEFAULT_REPOSITORY_TTL_MS = 30_000;
/** Repository records read per page when matching. */
const REPOSITORY_PAGE = 500;

const SecretDocumentSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('token'),
    token: z.string().min(1),
    username: z.string().min(1).optional(),
  }),
  z.object({ type: z.literal('basic'), username: z.string().min(1), password: z.string().min(1) }),
  z.object({ type: z.literal('githubApp') }),
]);

/** Mints credentials for a repository from the configured GitHub App (lib/github/app-token.ts). */
export interface GitHubAppCredentials {
  credentialsFor(repoURL: string): Promise<GitCredentials>;
}

export interface CredentialsResolverOptions {
  secrets: SecretSource;
  /** The catalog's Repository records. */
  repositories: { listRepositories(limit?: number, next?: string): Promise<Page<Repository>> };
  /** Prepended to every secret name (AWS: `driftless/<stack>/`); default none. */
  secretPrefix?: string;
  /** The GitHub App for `{"type":"githubApp"}`; unset, such a secret is an error. */
  githubApp?: GitHubAppCredentials;
  /** Default DEFAULT_REPOSITORY_TTL_MS. */
  repositoryTtlMs?: number;
  clock?: Clock;
}

/** Where an app's credentials come from: its own reference, or a Repository record. */
export interface CredentialsReference {
  secret: string;
  /** The Repository record that supplied it, when the app names none. */
  repository?: string;
}

export class CredentialsResolver {
  private readonly prefix: string;
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private records: { at: number; value: Promise<Repository[]> } | undefined;

  constructor(private readonly opts: CredentialsResolverOptions) {
    this.prefix = opts.secretPrefix ?? '';
    this.ttlMs = opts.repositoryTtlMs ?? DEFAULT_REPOSITORY_TTL_MS;
    this.clock = opts.clock ?? systemClock;
  }

  /** ReconcileDeps.credentialsFor: undefined for a public repository (or a local file:// one). */
  readonly credentialsFor = async (
    app: CredentialsSubject,
  ): Promise<GitCredentials | undefined> => {
    const { repoURL } = app.spec.source;
    if (repoURL.startsWith('file:')) return undefined;
    const ref = await this.referenceFor(app);
    if (!ref) return undefined;
    return this.fromSecret(app, ref);
  };

  /** The secret an app's credentials come from, if any. */
  async referenceFor(app: CredentialsSubject): Promise<CredentialsReference | undefined> {
    const own = app.spec.source.credentials;
    if (own) return { secret: own };
    const record = longestPrefixMatch(await this.repositoryRecords(), app.spec.source.repoURL);
    return record && { secret: record.spec.credentials, repository: record.metadata.name };
  }

  private async fromSecret(
    app: CredentialsSubject,
    ref: CredentialsReference,
  ): Promise<GitCredentials> {
    const id = `${this.prefix}${ref.secret}`;
    const via = ref.repository
      ? ` (Repository ${ref.repository} matches ${app.spec.source.repoURL})`
      : '';
    const where = {
      object: `Application/${app.metadata.name}`,
      field: ref.repository ? undefined : 'spec.source.credentials',
    };
    let text: string;
    try {
      text = await this.opts.secrets.getSecretString(id);
    } catch (e) {
      // The adapters' messages name the secret, never a value.
      const message = isDriftlessError(e) ? e.message : `cannot read secret ${id}`;
      const reason = isDriftlessError(e) ? e.reason : 'Internal';
      throw new DriftlessError(reason, `Git credentials${via}: ${message}`, where, { cause: e });
    }
    const doc = parseSecretDocument(text);
    if (!doc) {
      throw new DriftlessError(
        'InvalidSpec',
        `Git credentials${via}: secret ${id} is not a credentials document (expected JSON with "type": "token" and "token", "basic" with "username" and "password", or "githubApp")`,
        where,
      );
    }
    const source = `secret ${id}`;
    switch (doc.type) {
      case 'token':
        return {
          username: doc.username ?? DEFAULT_TOKEN_USERNAME,
          password: doc.token,
          source,
        };
      case 'basic':
        return { username: doc.username, password: doc.password, source };
      case 'githubApp': {
        if (!this.opts.githubApp) {
          throw new DriftlessError(
            'InvalidSpec',
            `Git credentials${via}: secret ${id} asks for the GitHub App, and no GitHub App is configured here (DRIFTLESS_GITHUB_APP_ID; in local mode use a token)`,
            where,
          );
        }
        const minted = await this.opts.githubApp.credentialsFor(app.spec.source.repoURL);
        return { ...minted, source: `${minted.source ?? 'the GitHub App'} (secret ${id})` };
      }
    }
  }

  private repositoryRecords(): Promise<Repository[]> {
    const now = this.clock.now();
    if (this.records && now - this.records.at < this.ttlMs) return this.records.value;
    const value = this.readAll();
    this.records = { at: now, value };
    value.catch(() => {
      if (this.records?.value === value) this.records = undefined;
    });
    return value;
  }

  private async readAll(): Promise<Repository[]> {
    const all: Repository[] = [];
    let next: string | undefined;
    do {
      const page = await this.opts.repositories.listRepositories(REPOSITORY_PAGE, next);
      all.push(...page.items);
      next = page.next;
    } while (next);
    return all;
  }
}

/** The record whose urlPrefix is the longest prefix of repoURL (as written), if any. */
export function longestPrefixMatch(
  records: readonly Repository[],
  repoURL: string,
): Repository | undefined {
  let best: Repository | undefined;
  for (const r of records) {
    if (!repoURL.startsWith(r.spec.urlPrefix)) continue;
    if (!best || r.spec.urlPrefix.length > best.spec.urlPrefix.length) best = r;
  }
  return best;
}

function parseSecretDocument(text: string): z.infer<typeof SecretDocumentSchema> | undefined {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = SecretDocumentSchema.safeParse(value);
  return parsed.success ? parsed.data : undefined;
}
