// The webhook secret document: today's formats kept, per-repository secrets,
// the GitHub App's, and errors that name the field and never a value.

import { describe, expect, it } from 'vitest';
import {
  boundRepositoryKey,
  keyMatchesURL,
  parseWebhookSecrets,
} from '../../../lib/model/webhook-secrets.js';

describe('webhook secret document', () => {
  it('keeps a plain string and {"secrets": [...]} as default secrets', () => {
    expect(parseWebhookSecrets('s3cret')).toEqual({ default: ['s3cret'], repositories: new Map() });
    expect(parseWebhookSecrets('{"secrets": ["new", "old"]}')).toMatchObject({
      default: ['new', 'old'],
    });
    // Not a JSON object: a plain secret, as before.
    expect(parseWebhookSecrets('[1]').default).toEqual(['[1]']);
  });

  it('binds secrets to repositories by owner/name or normalized repoURL', () => {
    const set = parseWebhookSecrets(
      JSON.stringify({
        repositories: {
          'Acme/Web': ['new', 'old'],
          'https://git.example.com/acme/api.git': 'api',
          'acme/web.git': 'third',
        },
        default: 'shared',
        githubApp: { secret: 'app', installationId: 7, repositories: ['Acme/Web'] },
      }),
    );
    expect(set.default).toEqual(['shared']);
    expect([...set.repositories]).toEqual([
      ['acme/web', ['new', 'old', 'third']],
      ['git.example.com/acme/api', ['api']],
    ]);
    expect(set.githubApp).toEqual({
      secrets: ['app'],
      installationId: 7,
      repositories: ['acme/web'],
    });
  });

  it('matches owner/name keys on any host, URL keys exactly', () => {
    expect(boundRepositoryKey('git@github.com:Acme/Web.git')).toBe('github.com/acme/web');
    expect(keyMatchesURL('acme/web', 'github.com/acme/web')).toBe(true);
    expect(keyMatchesURL('acme/web', 'github.com/xacme/web')).toBe(false);
    expect(keyMatchesURL('github.com/acme/web', 'github.com/acme/web')).toBe(true);
    expect(keyMatchesURL('github.com/acme/web', 'ghe.example.com/acme/web')).toBe(false);
  });

  it('rejects an invalid document naming the field, never a value', () => {
    const bad = (d: unknown) => () => parseWebhookSecrets(JSON.stringify(d));
    expect(bad({ repositories: { 'acme/web': '' } })).toThrow(
      /webhook secret document\.repositories\.acme\/web: must not be empty/,
    );
    expect(bad({ repositories: { 'acme/web': 42 } })).toThrow(/repositories\.acme\/web/);
    expect(bad({ githubApp: { secret: 'x' } })).toThrow(/githubApp\.installationId/);
    expect(bad({ secret: 'typo' })).toThrow(/webhook secret document: .*secret/);
    expect(bad({ secrets: ['a'], default: 'b' })).toThrow(/not both/);
    expect(bad({})).toThrow(/no secret in it/);
    const error = (() => {
      try {
        parseWebhookSecrets(JSON.stringify({ repositories: { 'acme/web': ['hunter2', 7] } }));
      } catch (e) {
        return e as Error;
      }
    })();
    expect(error?.message).toMatch(/repositories\.acme\/web: must be a secret/);
    expect(error?.message).not.toContain('hunter2');
    expect(() => parseWebhookSecrets('')).toThrow(/empty/);
  });
});
