import { describe, expect, it } from 'vitest';
import { DriftlessError } from '../../../lib/errors.js';
import {
  type Application,
  ApplicationSchema,
  type Repository,
  RepositorySchema,
} from '../../../lib/model/application.js';
import {
  CredentialsResolver,
  DEFAULT_TOKEN_USERNAME,
  longestPrefixMatch,
} from '../../../lib/source/credentials.js';
import { rejection } from '../../support/errors.js';

const app = (repoURL: string, credentials?: string): Application =>
  ApplicationSchema.parse({
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name: 'web' },
    spec: {
      source: { repoURL, ...(credentials ? { credentials } : {}) },
      destinations: [{ cluster: 'prod' }],
    },
  });

const repository = (name: string, urlPrefix: string, credentials: string): Repository =>
  RepositorySchema.parse({
    apiVersion: 'driftless.dev/v1',
    kind: 'Repository',
    metadata: { name },
    spec: { urlPrefix, credentials },
  });

/** A resolver over in-memory secrets and records, counting reads of each. */
function resolver(
  secrets: Record<string, string>,
  records: Repository[] = [],
  opts: Partial<ConstructorParameters<typeof CredentialsResolver>[0]> = {},
) {
  const reads = { secrets: [] as string[], listings: 0 };
  let now = 0;
  const r = new CredentialsResolver({
    secrets: {
      getSecretString: async (id) => {
        reads.secrets.push(id);
        const v = secrets[id];
        if (v === undefined) {
          throw new DriftlessError('InvalidSpec', `secret ${id} does not exist in Secrets Manager`);
        }
        return v;
      },
    },
    repositories: {
      listRepositories: async () => {
        reads.listings++;
        return { items: records };
      },
    },
    clock: { now: () => now },
    ...opts,
  });
  return { r, reads, advance: (ms: number) => (now += ms) };
}

describe('CredentialsResolver', () => {
  it('reads a token, basic auth, under the prefix; a public app (or a file:// one) reads nothing', async () => {
    const { r, reads } = resolver(
      {
        'driftless/prod/tok': JSON.stringify({ type: 'token', token: 't0k' }),
        'driftless/prod/gl': JSON.stringify({ type: 'token', token: 'g', username: 'oauth2' }),
        'driftless/prod/basic': JSON.stringify({ type: 'basic', username: 'bot', password: 'pw' }),
      },
      [],
      { secretPrefix: 'driftless/prod/' },
    );
    expect(await r.credentialsFor(app('https://git.example.com/a.git', 'tok'))).toEqual({
      username: DEFAULT_TOKEN_USERNAME,
      password: 't0k',
      source: 'secret driftless/prod/tok',
    });
    expect(await r.credentialsFor(app('https://git.example.com/a.git', 'gl'))).toMatchObject({
      username: 'oauth2',
      password: 'g',
    });
    expect(await r.credentialsFor(app('https://git.example.com/a.git', 'basic'))).toMatchObject({
      username: 'bot',
      password: 'pw',
    });
    expect(await r.credentialsFor(app('https://git.example.com/public.git'))).toBeUndefined();
    expect(await r.credentialsFor(app('file:///tmp/repo', 'tok'))).toBeUndefined();
    expect(reads.secrets).toEqual([
      'driftless/prod/tok',
      'driftless/prod/gl',
      'driftless/prod/basic',
    ]);
  });

  it('uses the Repository record of the longest matching prefix only when the app names none', async () => {
    const records = [
      repository('host', 'https://git.example.com/', 'host-creds'),
      repository('acme', 'https://git.example.com/acme/', 'acme-creds'),
      repository('other', 'https://other.example.com/', 'other-creds'),
    ];
    const { r } = resolver(
      {
        'host-creds': JSON.stringify({ type: 'token', token: 'host' }),
        'acme-creds': JSON.stringify({ type: 'token', token: 'acme' }),
        own: JSON.stringify({ type: 'token', token: 'own' }),
      },
      records,
    );
    expect((await r.credentialsFor(app('https://git.example.com/acme/x.git')))?.password).toBe(
      'acme',
    );
    expect((await r.credentialsFor(app('https://git.example.com/beta/x.git')))?.password).toBe(
      'host',
    );
    expect(
      (await r.credentialsFor(app('https://git.example.com/acme/x.git', 'own')))?.password,
    ).toBe('own');
    expect(await r.credentialsFor(app('https://elsewhere.example.com/x.git'))).toBeUndefined();
    expect(await r.referenceFor(app('https://git.example.com/acme/x.git'))).toEqual({
      secret: 'acme-creds',
      repository: 'acme',
    });
    // The order of the records does not matter.
    expect(
      longestPrefixMatch([...records].reverse(), 'https://git.example.com/acme/y')?.metadata.name,
    ).toBe('acme');
  });

  it('reads the records once per TTL', async () => {
    const { r, reads, advance } = resolver({}, [], { repositoryTtlMs: 1000 });
    await r.credentialsFor(app('https://git.example.com/a.git'));
    await r.credentialsFor(app('https://git.example.com/b.git'));
    expect(reads.listings).toBe(1);
    advance(1000);
    await r.credentialsFor(app('https://git.example.com/a.git'));
    expect(reads.listings).toBe(2);
  });

  it('names a missing or malformed secret and the app, never a value', async () => {
    const { r } = resolver(
      {
        'not-json': 'hunter2',
        'no-type': JSON.stringify({ password: 'hunter2' }),
        app: JSON.stringify({ type: 'githubApp' }),
      },
      [repository('acme', 'https://git.example.com/', 'gone')],
    );
    const missing = await rejection(
      r.credentialsFor(app('https://git.example.com/a.git', 'absent')),
    );
    expect(missing.reason).toBe('InvalidSpec');
    expect(missing.describe()).toBe(
      'Application/web: spec.source.credentials: Git credentials: secret absent does not exist in Secrets Manager',
    );
    const viaRecord = await rejection(r.credentialsFor(app('https://git.example.com/a.git')));
    expect(viaRecord.message).toBe(
      'Git credentials (Repository acme matches https://git.example.com/a.git): secret gone does not exist in Secrets Manager',
    );
    for (const name of ['not-json', 'no-type']) {
      const bad = await rejection(r.credentialsFor(app('https://git.example.com/a.git', name)));
      expect(bad.message).toContain(`secret ${name} is not a credentials document`);
      expect(bad.describe()).not.toContain('hunter2');
    }
    const noApp = await rejection(r.credentialsFor(app('https://git.example.com/a.git', 'app')));
    expect(noApp.message).toContain('no GitHub App is configured here');
  });

  it('asks the GitHub App for a githubApp secret, naming both in its source', async () => {
    const asked: string[] = [];
    const { r } = resolver({ gh: JSON.stringify({ type: 'githubApp' }) }, [], {
      githubApp: {
        credentialsFor: async (url) => {
          asked.push(url);
          return {
            username: 'x-access-token',
            password: 'ghs_minted',
            source: 'the GitHub App 1 (installation 2)',
            cacheIdentity: 'github-app:1:2',
          };
        },
      },
    });
    expect(await r.credentialsFor(app('https://github.com/acme/x.git', 'gh'))).toEqual({
      username: 'x-access-token',
      password: 'ghs_minted',
      source: 'the GitHub App 1 (installation 2) (secret gh)',
      cacheIdentity: 'github-app:1:2',
    });
    expect(asked).toEqual(['https://github.com/acme/x.git']);
  });
});
