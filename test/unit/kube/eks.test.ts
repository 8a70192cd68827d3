import { describe, expect, it } from 'vitest';
import { forbiddenMessage } from '../../../lib/kube/client.js';
import { EKS_TOKEN_PREFIX, EksTokenSource, presignEksToken } from '../../../lib/kube/eks.js';

const credentials = {
  accessKeyId: 'ASIAEXAMPLEEXAMPLE01',
  secretAccessKey: 'secret/with+chars=',
  sessionToken: 'token+with/chars==',
};

function decode(token: string): URL {
  return new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString());
}

describe('presignEksToken', () => {
  it('is k8s-aws-v1. and an unpadded base64url presigned GetCallerIdentity URL', async () => {
    const token = await presignEksToken({
      clusterName: 'prod',
      region: 'eu-west-1',
      credentials,
      signingDate: new Date('2026-01-02T03:04:05Z'),
    });
    expect(token.startsWith('k8s-aws-v1.')).toBe(true);
    expect(token.slice(EKS_TOKEN_PREFIX.length)).toMatch(/^[A-Za-z0-9_-]+$/);
    const url = decode(token);
    expect(url.origin).toBe('https://sts.eu-west-1.amazonaws.com');
    expect(url.pathname).toBe('/');
    const q = url.searchParams;
    expect(q.get('Action')).toBe('GetCallerIdentity');
    expect(q.get('Version')).toBe('2011-06-15');
    expect(q.get('X-Amz-Algorithm')).toBe('AWS4-HMAC-SHA256');
    expect(q.get('X-Amz-Credential')).toBe(
      'ASIAEXAMPLEEXAMPLE01/20260102/eu-west-1/sts/aws4_request',
    );
    expect(q.get('X-Amz-Date')).toBe('20260102T030405Z');
    expect(q.get('X-Amz-Expires')).toBe('60');
    expect(q.get('X-Amz-SignedHeaders')).toBe('host;x-k8s-aws-id');
    expect(q.get('X-Amz-Security-Token')).toBe(credentials.sessionToken);
    expect(q.get('X-Amz-Signature')).toMatch(/^[0-9a-f]{64}$/);
    // The secret never travels.
    expect(url.toString()).not.toContain('secret');
  });

  it('binds the signature to the cluster name', async () => {
    const at = new Date('2026-01-02T03:04:05Z');
    const sig = async (clusterName: string) =>
      decode(
        await presignEksToken({ clusterName, region: 'eu-west-1', credentials, signingDate: at }),
      ).searchParams.get('X-Amz-Signature');
    expect(await sig('prod')).toBe(await sig('prod'));
    expect(await sig('prod')).not.toBe(await sig('staging'));
  });

  it('signs for a configured STS endpoint', async () => {
    const url = decode(
      await presignEksToken({
        clusterName: 'c',
        region: 'us-east-1',
        credentials,
        stsEndpoint: 'http://127.0.0.1:4566',
      }),
    );
    expect(url.origin).toBe('http://127.0.0.1:4566');
  });
});

describe('EksTokenSource', () => {
  it('reuses a token until its refresh time and shares one presign between callers', async () => {
    let now = 0;
    let minted = 0;
    const source = new EksTokenSource(
      async () => {
        minted++;
        await new Promise((r) => setTimeout(r, 5));
        return { token: `t${minted}`, refreshAt: now + 14 * 60_000 };
      },
      { now: () => now },
    );
    expect(await Promise.all([source.token(), source.token(), source.token()])).toEqual([
      't1',
      't1',
      't1',
    ]);
    now += 14 * 60_000 - 1;
    expect(await source.token()).toBe('t1');
    now += 1;
    expect(await source.token()).toBe('t2');
    source.invalidate();
    expect(await source.token()).toBe('t3');
  });

  it('does not cache a failed presign', async () => {
    let calls = 0;
    const source = new EksTokenSource(
      async () => {
        calls++;
        if (calls === 1) throw new Error('no credentials');
        return { token: 'ok', refreshAt: Number.POSITIVE_INFINITY };
      },
      { now: () => 0 },
    );
    await expect(source.token()).rejects.toThrow('no credentials');
    expect(await source.token()).toBe('ok');
  });
});

describe('forbiddenMessage', () => {
  it("leads with who may not do what where, and keeps the API server's words", () => {
    const server =
      'configmaps is forbidden: User "deployer" cannot list resource "configmaps" in API group "" in the namespace "denied"';
    expect(forbiddenMessage(server, 'prod')).toBe(
      `forbidden: user deployer cannot list configmaps in namespace denied on cluster prod (${server})`,
    );
    const clusterScoped =
      'clusterroles.rbac.authorization.k8s.io "x" is forbidden: User "u" cannot patch resource "clusterroles" in API group "rbac.authorization.k8s.io" at the cluster scope';
    expect(forbiddenMessage(clusterScoped, 'prod')).toMatch(
      /^forbidden: user u cannot patch clusterroles\.rbac\.authorization\.k8s\.io at the cluster scope on cluster prod \(/,
    );
    expect(forbiddenMessage('admission webhook denied', 'prod')).toBe(
      'forbidden by cluster prod: admission webhook denied',
    );
  });
});
