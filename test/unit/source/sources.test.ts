// SourceDispatcher: each source by its kind, revisions joined and split
// again, credentials from the secret source; its collaborators (the Git
// port, the chart fetcher, the secret source) are this unit's fakes.

import { describe, expect, it } from 'vitest';
import { type Application, parseApplication } from '../../../lib/model/application.js';
import type { GitCredentials, GitSource } from '../../../lib/ports/git.js';
import type { ChartCredentials, ChartSource } from '../../../lib/source/chart.js';
import { SourceDispatcher } from '../../../lib/source/sources.js';

const SHA = 'a'.repeat(40);

function fakes() {
  const calls: string[] = [];
  const git: GitSource = {
    resolve: async (url, rev, creds?: GitCredentials) => {
      calls.push(`git.resolve ${url} ${rev} ${creds?.username ?? '-'}`);
      return SHA;
    },
    checkout: async (url, commit) => {
      calls.push(`git.checkout ${url} ${commit}`);
      return { dir: `/checkouts/${commit}`, commit };
    },
  };
  const charts: ChartSource = {
    resolve: async (at, range, creds?: ChartCredentials) => {
      calls.push(`chart.resolve ${at.chart} ${range} ${creds?.username ?? '-'}`);
      return '1.4.1';
    },
    fetch: async (at, version) => {
      calls.push(`chart.fetch ${at.chart} ${version}`);
      return { digest: 'sha256:x', dir: `/charts/${at.chart}-${version}`, tgz: '/x.tgz' };
    },
  };
  return { calls, git, charts };
}

const app = (spec: Record<string, unknown>): Application =>
  parseApplication({
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name: 'web' },
    spec: { ...spec, destinations: [{ cluster: 'prod' }] },
  });

const multi = app({
  sources: [
    {
      repoURL: 'https://charts.example.com',
      chart: 'web',
      revision: '^1.0.0',
      credentials: 'charts-secret',
      helm: { valueFiles: ['$values/prod.yaml'] },
    },
    { repoURL: 'https://git.example.com/config.git', revision: 'main', ref: 'values' },
  ],
});

describe('SourceDispatcher', () => {
  it('joins the revisions of every source and fetches them back by position', async () => {
    const { calls, git, charts } = fakes();
    const secrets = {
      getSecretString: async () => JSON.stringify({ username: 'robot', password: 'pw' }),
    };
    const d = new SourceDispatcher({ git, charts, secrets });
    const revision = await d.resolve(multi.spec, undefined);
    expect(revision).toBe(`1.4.1,${SHA}`);
    const fetched = await d.fetch(multi.spec, revision);
    expect(fetched.rendered.map((f) => f.dir)).toEqual(['/charts/web-1.4.1']);
    expect(fetched.refs).toEqual({ values: `/checkouts/${SHA}` });
    // Sources resolve and fetch concurrently: the calls, in any order.
    expect([...calls].sort()).toEqual(
      [
        'git.resolve https://git.example.com/config.git main -',
        'chart.resolve web ^1.0.0 robot',
        'chart.fetch web 1.4.1',
        `git.checkout https://git.example.com/config.git ${SHA}`,
      ].sort(),
    );
  });

  it('takes an explicit revision whole, or as the first source', async () => {
    const { calls, git, charts } = fakes();
    const d = new SourceDispatcher({
      git,
      charts,
      secrets: { getSecretString: async () => '{"username":"u","password":"p"}' },
    });
    await d.resolve(multi.spec, `1.0.0,${SHA}`);
    await d.resolve(multi.spec, '1.2.0');
    expect(calls.filter((c) => c.startsWith('chart.resolve'))).toEqual([
      'chart.resolve web 1.0.0 u',
      'chart.resolve web 1.2.0 u',
    ]);
    await expect(d.resolve(multi.spec, 'a,b,c')).rejects.toThrow(
      /revision a,b,c names 3 source revisions, but the app has 2 sources/,
    );
  });

  it('refuses chart credentials it cannot read, and a malformed secret, naming the field', async () => {
    const { git, charts } = fakes();
    await expect(
      new SourceDispatcher({ git, charts }).resolve(multi.spec, undefined),
    ).rejects.toMatchObject({
      reason: 'InvalidSpec',
      location: { field: 'source.credentials' },
    });
    const bad = new SourceDispatcher({
      git,
      charts,
      secrets: { getSecretString: async () => 'hunter2' },
    });
    const e = (await bad.resolve(multi.spec, undefined).catch((x: unknown) => x)) as Error;
    expect(e.message).toBe(
      'secret charts-secret (source.credentials) must be JSON: {"type": "basic", "username": …, "password": …} or {"type": "token", "token": …}',
    );
    expect(e.message).not.toContain('hunter2');
  });

  it('reads a token secret, and prefers the app credentials for the first source', async () => {
    const { calls, git, charts } = fakes();
    const token = { getSecretString: async () => '{"type":"token","token":"t0k"}' };
    await new SourceDispatcher({ git, charts, secrets: token }).resolve(multi.spec, undefined);
    await new SourceDispatcher({ git, charts, secrets: token }).resolve(multi.spec, undefined, {
      username: 'from-resolver',
      password: 'p',
    });
    expect(calls.filter((c) => c.startsWith('chart.resolve'))).toEqual([
      'chart.resolve web ^1.0.0 token',
      'chart.resolve web ^1.0.0 from-resolver',
    ]);
  });

  it('keeps a single Git source as it was: the commit is the revision', async () => {
    const { calls, git, charts } = fakes();
    const single = app({
      source: { repoURL: 'https://git.example.com/app.git', revision: 'main' },
    });
    const d = new SourceDispatcher({ git, charts });
    expect(await d.resolve(single.spec, undefined, { username: 'git', password: 'x' })).toBe(SHA);
    expect((await d.fetch(single.spec, SHA)).rendered).toEqual([
      { source: single.spec.source, dir: `/checkouts/${SHA}`, revision: SHA },
    ]);
    expect(calls[0]).toBe('git.resolve https://git.example.com/app.git main git');
  });
});
