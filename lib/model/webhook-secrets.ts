// The webhook secret document (the value of the webhook secret in Secrets
// Manager): which secrets may sign deliveries for which repositories. Kept
// formats: a plain string, and {"secrets": [current, previous]}; both are
// secrets any repository may sign with (the default). Per repository:
//
//   {
//     "repositories": {
//       "acme/web": ["new", "old"],             // owner/name: any host
//       "github.example.com/acme/api": "s3cret" // a normalized repoURL
//     },
//     "default": "…",                           // optional; any repository
//     "githubApp": { "secret": "…", "installationId": 42, "repositories": ["acme/web"] }
//   }
//
// Values are never put in an error message; errors name the field.

import { z } from 'zod';
import { DriftlessError } from '../errors.js';
import { normalizeRepoURL } from './target.js';

export interface WebhookSecretSet {
  /** Secrets any repository may sign with (the plain secret, `secrets` or `default`). */
  readonly default: readonly string[];
  /** Secrets bound to repositories (keys from `boundRepositoryKey`), current first, then previous ones. */
  readonly repositories: ReadonlyMap<string, readonly string[]>;
  /** A GitHub App's webhook secret: deliveries of one installation, optionally of some repositories. */
  readonly githubApp?: {
    readonly secrets: readonly string[];
    readonly installationId: number;
    /** Keys from `boundRepositoryKey`; absent, every repository the installation sends. */
    readonly repositories?: readonly string[];
  };
}

const OneOrMore = z.union(
  [
    z.string().min(1, 'must not be empty'),
    z.array(z.string().min(1, 'must not be empty')).min(1, 'must list at least one secret'),
  ],
  { error: 'must be a secret (a non-empty string) or a list of them' },
);

const Document = z
  .object({
    secrets: OneOrMore.optional(),
    default: OneOrMore.optional(),
    repositories: z.record(z.string().min(1), OneOrMore).optional(),
    githubApp: z
      .object({
        secret: OneOrMore,
        installationId: z.number().int().positive(),
        repositories: z.array(z.string().min(1)).min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const list = (v: string | string[] | undefined): string[] =>
  v === undefined ? [] : typeof v === 'string' ? [v] : v;

/**
 * The key a repository is bound by: `owner/name` (lowercased) when given so,
 * else the normalized repoURL (`normalizeRepoURL`).
 */
export function boundRepositoryKey(name: string): string {
  const t = name.trim();
  if (/^[^/:@\s]+\/[^/\s]+$/.test(t) && !t.includes('://'))
    return t.replace(/\.git$/i, '').toLowerCase();
  return normalizeRepoURL(t);
}

/** Whether a normalized repository URL is the repository a key names. */
export function keyMatchesURL(key: string, normalizedURL: string): boolean {
  if (key === normalizedURL) return true;
  // owner/name: the last two path segments of the URL, on any host.
  return key.split('/').length === 2 && normalizedURL.endsWith(`/${key}`);
}

/** Parses the webhook secret's value; an invalid document is an error naming the field. */
export function parseWebhookSecrets(raw: string): WebhookSecretSet {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    json = undefined;
  }
  // Anything but a JSON object is a plain secret (as before documents existed).
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    if (raw.length === 0) throw new DriftlessError('InvalidSpec', 'webhook secret: it is empty');
    return { default: [raw], repositories: new Map() };
  }
  const parsed = Document.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue?.path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`));
    throw new DriftlessError(
      'InvalidSpec',
      `webhook secret document${where?.join('') ?? ''}: ${issue?.message ?? 'invalid'}`,
    );
  }
  const doc = parsed.data;
  if (doc.secrets !== undefined && doc.default !== undefined) {
    throw new DriftlessError(
      'InvalidSpec',
      'webhook secret document: give "default" or "secrets" (the same thing), not both',
    );
  }
  const repositories = new Map<string, string[]>();
  for (const [name, value] of Object.entries(doc.repositories ?? {})) {
    const key = boundRepositoryKey(name);
    repositories.set(key, [...(repositories.get(key) ?? []), ...list(value)]);
  }
  const set: WebhookSecretSet = {
    default: list(doc.default ?? doc.secrets),
    repositories,
    ...(doc.githubApp
      ? {
          githubApp: {
            secrets: list(doc.githubApp.secret),
            installationId: doc.githubApp.installationId,
            ...(doc.githubApp.repositories
              ? { repositories: doc.githubApp.repositories.map(boundRepositoryKey) }
              : {}),
          },
        }
      : {}),
  };
  if (set.default.length === 0 && repositories.size === 0 && !set.githubApp) {
    throw new DriftlessError(
      'InvalidSpec',
      'webhook secret document: no secret in it (give "default", "repositories" or "githubApp")',
    );
  }
  return set;
}

/** A secret set of default secrets only (current first), as a plain list configures. */
export function defaultSecrets(secrets: readonly string[]): WebhookSecretSet {
  return { default: secrets, repositories: new Map() };
}
