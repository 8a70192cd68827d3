// A TokenReview webhook that authenticates EKS-style tokens the way EKS does
// (aws-iam-authenticator, access entries), for a test kube-apiserver started
// with --authentication-token-webhook-config-file. For a bearer token
// `k8s-aws-v1.<base64url URL>` it:
//
//   1. decodes the URL and requires a presigned STS GetCallerIdentity request
//      to the expected STS endpoint (scheme, host, path `/`, no stray query
//      parameters, AWS4-HMAC-SHA256);
//   2. requires `x-k8s-aws-id` among the signed headers (it binds the token to
//      one cluster) and rejects a token older than 15 minutes after its
//      X-Amz-Date (X-Amz-Expires must be present but, as on EKS, does not
//      shorten that);
//   3. calls the URL with `x-k8s-aws-id: <this cluster's name>` — STS checks
//      the signature, so a token made for another cluster, or altered, fails
//      there — and reads the caller's ARN from the answer;
//   4. maps the ARN (an assumed-role ARN maps back to its role's ARN) to a
//      Kubernetes username and groups, like the aws-auth ConfigMap.
//
// Anything else is `authenticated: false` (the API server answers 401).

import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { stringify } from 'yaml';

const TOKEN_PREFIX = 'k8s-aws-v1.';
const TOKEN_LIFETIME_MS = 15 * 60_000;
const ALLOWED_PARAMS = new Set([
  'Action',
  'Version',
  'X-Amz-Algorithm',
  'X-Amz-Credential',
  'X-Amz-Date',
  'X-Amz-Expires',
  'X-Amz-Security-Token',
  'X-Amz-SignedHeaders',
  'X-Amz-Signature',
]);

/** One entry of the identity mapping, like aws-auth's mapRoles / mapUsers. */
export interface IdentityMapping {
  /** An IAM role ARN (for its assumed-role sessions) or an IAM user ARN. */
  arn: string;
  /** May use {{SessionName}} and {{AccountID}}. */
  username: string;
  groups: string[];
}

export interface EksAuthenticatorOptions {
  /** The EKS cluster name tokens must be bound to (x-k8s-aws-id). */
  clusterName: string;
  /** The STS endpoint tokens must point at, e.g. `https://sts.eu-west-1.amazonaws.com`. */
  stsEndpoint: string;
  mappings: IdentityMapping[];
  /** The authenticator's clock (ms); tests move it to expire tokens. */
  now?: () => number;
}

export interface TokenReviewRecord {
  authenticated: boolean;
  username?: string;
  arn?: string;
  /** The token's X-Amz-Date (ms), when it had one. */
  signedAt?: number;
  error?: string;
}

export class EksAuthenticator {
  readonly reviews: TokenReviewRecord[] = [];

  private constructor(
    readonly url: string,
    private readonly opts: EksAuthenticatorOptions,
    private readonly server: http.Server,
  ) {}

  static async start(opts: EksAuthenticatorOptions): Promise<EksAuthenticator> {
    const server = http.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const auth = new EksAuthenticator(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}/authenticate`,
      opts,
      server,
    );
    server.on('request', (req, res) => {
      auth.handle(req, res).catch((e: Error) => {
        res.writeHead(500, { 'content-type': 'text/plain' }).end(e.message);
      });
    });
    return auth;
  }

  /** The kubeconfig-format file kube-apiserver's --authentication-token-webhook-config-file reads. */
  async writeWebhookConfig(file: string): Promise<void> {
    const config = {
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'eks-authenticator', cluster: { server: this.url } }],
      users: [{ name: 'kube-apiserver', user: {} }],
      contexts: [
        { name: 'webhook', context: { cluster: 'eks-authenticator', user: 'kube-apiserver' } },
      ],
      'current-context': 'webhook',
    };
    await writeFile(file, stringify(config), { mode: 0o600 });
  }

  /** kube-apiserver flags for this webhook (caching off: tests move the clock). */
  apiserverArgs(configFile: string): string[] {
    return [
      `--authentication-token-webhook-config-file=${configFile}`,
      '--authentication-token-webhook-version=v1',
      '--authentication-token-webhook-cache-ttl=0s',
    ];
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const review = JSON.parse(Buffer.concat(chunks).toString('utf8')) as {
      apiVersion?: string;
      spec?: { token?: string; audiences?: string[] };
    };
    const answer = (status: Record<string, unknown>) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          apiVersion: review.apiVersion ?? 'authentication.k8s.io/v1',
          kind: 'TokenReview',
          status,
        }),
      );
    };
    const seen: { signedAt?: number } = {};
    try {
      const identity = await this.authenticate(review.spec?.token ?? '', seen);
      this.reviews.push({
        authenticated: true,
        username: identity.username,
        arn: identity.arn,
        signedAt: seen.signedAt,
      });
      answer({
        authenticated: true,
        user: {
          username: identity.username,
          uid: `aws-iam-authenticator:${identity.accountId}:${identity.userId}`,
          groups: identity.groups,
          extra: {
            arn: [identity.arn],
            canonicalArn: [identity.canonicalArn],
            sessionName: identity.sessionName ? [identity.sessionName] : [],
            accessKeyId: [identity.accessKeyId],
          },
        },
        ...(review.spec?.audiences ? { audiences: review.spec.audiences } : {}),
      });
    } catch (e) {
      const error = (e as Error).message;
      this.reviews.push({ authenticated: false, error, signedAt: seen.signedAt });
      answer({ authenticated: false, error });
    }
  }

  private async authenticate(token: string, seen: { signedAt?: number }) {
    if (!token.startsWith(TOKEN_PREFIX)) throw new Error('not an EKS token (k8s-aws-v1.)');
    const encoded = token.slice(TOKEN_PREFIX.length);
    if (!/^[A-Za-z0-9_-]+$/.test(encoded)) throw new Error('token is not base64url');
    let url: URL;
    try {
      url = new URL(Buffer.from(encoded, 'base64url').toString('utf8'));
    } catch {
      throw new Error('token does not decode to a URL');
    }
    const sts = new URL(this.opts.stsEndpoint);
    if (url.protocol !== sts.protocol || url.host !== sts.host) {
      throw new Error(
        `token is for ${url.protocol}//${url.host}, not the STS endpoint ${sts.host}`,
      );
    }
    if (url.pathname !== '/') throw new Error(`unexpected path ${url.pathname}`);
    const q = url.searchParams;
    const params = new Set<string>();
    for (const k of q.keys()) {
      if (!ALLOWED_PARAMS.has(k)) throw new Error(`unexpected query parameter ${k}`);
      if (params.has(k)) throw new Error(`duplicate query parameter ${k}`);
      params.add(k);
    }
    if (q.get('Action') !== 'GetCallerIdentity') throw new Error('not a GetCallerIdentity request');
    if (q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256' || !q.get('X-Amz-Signature')) {
      throw new Error('not a presigned SigV4 request');
    }
    const signed = (q.get('X-Amz-SignedHeaders') ?? '').split(';');
    if (!signed.includes('x-k8s-aws-id')) {
      throw new Error('x-k8s-aws-id is not among the signed headers');
    }
    const expires = q.get('X-Amz-Expires');
    if (!expires || !/^\d+$/.test(expires) || Number(expires) * 1000 > TOKEN_LIFETIME_MS) {
      throw new Error(`invalid X-Amz-Expires ${expires}`);
    }
    const date = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(q.get('X-Amz-Date') ?? '');
    if (!date) throw new Error('missing or malformed X-Amz-Date');
    const [, y, mo, d, h, mi, s] = date.map(Number) as number[];
    const signedAt = Date.UTC(y!, mo! - 1, d!, h!, mi!, s!);
    seen.signedAt = signedAt;
    const now = this.opts.now?.() ?? Date.now();
    if (now > signedAt + TOKEN_LIFETIME_MS) {
      throw new Error(
        `token expired: signed ${new Date(signedAt).toISOString()}, valid for 15 minutes`,
      );
    }

    const res = await fetch(url, {
      headers: { 'x-k8s-aws-id': this.opts.clusterName },
      signal: AbortSignal.timeout(5_000),
    });
    const text = await res.text();
    if (res.status !== 200) {
      const code = /<Code>([^<]+)<\/Code>/.exec(text)?.[1] ?? `HTTP ${res.status}`;
      throw new Error(`STS rejected the token: ${code}`);
    }
    const arn = /<Arn>([^<]+)<\/Arn>/.exec(text)?.[1];
    const accountId = /<Account>([^<]+)<\/Account>/.exec(text)?.[1];
    const userId = /<UserId>([^<]+)<\/UserId>/.exec(text)?.[1];
    if (!arn || !accountId || !userId) throw new Error('STS answered without an identity');
    const { canonicalArn, sessionName } = canonicalize(arn);
    const mapping = this.opts.mappings.find((m) => m.arn === canonicalArn);
    if (!mapping) throw new Error(`ARN ${canonicalArn} is not mapped to a Kubernetes identity`);
    const username = mapping.username
      .replaceAll('{{SessionName}}', sessionName ?? '')
      .replaceAll('{{AccountID}}', accountId);
    return {
      username,
      groups: mapping.groups,
      arn,
      canonicalArn,
      sessionName,
      accountId,
      userId,
      accessKeyId: (q.get('X-Amz-Credential') ?? '').split('/')[0] ?? '',
    };
  }
}

/** `arn:aws:sts::A:assumed-role/R/S` → the role's ARN `arn:aws:iam::A:role/R` (and S). */
function canonicalize(arn: string): { canonicalArn: string; sessionName?: string } {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/(.+)$/.exec(arn);
  if (m) return { canonicalArn: `arn:${m[1]}:iam::${m[2]}:role/${m[3]}`, sessionName: m[4] };
  if (/^arn:aws[a-z-]*:iam::\d{12}:(user\/.+|root)$/.test(arn)) return { canonicalArn: arn };
  throw new Error(`unsupported identity ARN ${arn}`);
}
