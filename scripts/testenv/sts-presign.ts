// An AWS endpoint on loopback in front of moto that gives it what real STS has
// and moto lacks: presigned (query-string) SigV4 requests. moto neither checks
// a presigned URL's signature nor reads its X-Amz-Credential (it identifies a
// caller only by an Authorization header), so a presigned GetCallerIdentity —
// an EKS token — would pass with any signature and always answer moto's
// default identity. This front does what STS does with such a request:
//
//   - looks up the access key's secret and session token in moto's own state
//     (the credentials moto's AssumeRole issued, from /moto-api/data.json);
//     an unknown key is InvalidClientTokenId, a wrong session token too;
//   - recomputes the SigV4 query signature over the request it received (its
//     host, path, query and the signed headers, e.g. x-k8s-aws-id) and answers
//     SignatureDoesNotMatch unless it matches, so a token for another cluster,
//     or with a changed signature, fails as it would on AWS;
//   - then hands the request to moto with the same credential in an
//     Authorization header, so moto answers with the caller's real identity.
//
// Time is not checked here: the EKS rule (15 minutes after X-Amz-Date) is the
// authenticator's, with the clock the test controls. Every other request
// (EKS, STS AssumeRole, ...) passes through to moto unchanged; all are counted
// by operation so tests can see what a client called.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import type { AddressInfo } from 'node:net';

interface MotoCredential {
  secretAccessKey: string;
  sessionToken?: string;
}

export class PresignAwareSts {
  /** Requests by operation, e.g. `sts:AssumeRole`, `eks:DescribeCluster`, `sts:GetCallerIdentity (presigned)`. */
  readonly calls = new Map<string, number>();
  /** Presigned requests rejected, with STS's error code. */
  readonly rejected: string[] = [];

  private constructor(
    readonly endpoint: string,
    private readonly motoEndpoint: string,
    private readonly server: http.Server,
  ) {}

  static async start(motoEndpoint: string): Promise<PresignAwareSts> {
    const server = http.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const front = new PresignAwareSts(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      motoEndpoint.replace(/\/+$/, ''),
      server,
    );
    server.on('request', (req, res) => {
      front.handle(req, res).catch((e: Error) => {
        if (!res.headersSent) res.writeHead(502, { 'content-type': 'text/plain' });
        res.end(`sts front: ${e.message}`);
      });
    });
    return front;
  }

  count(operation: string): number {
    return this.calls.get(operation) ?? 0;
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private bump(op: string) {
    this.calls.set(op, (this.calls.get(op) ?? 0) + 1);
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks);
    const url = new URL(req.url ?? '/', 'http://front');
    if (url.searchParams.has('X-Amz-Signature')) {
      await this.presigned(req, url, body, res);
      return;
    }
    this.bump(operationOf(req, url, body));
    await this.forward(req.method ?? 'GET', url, headersOf(req), body, res);
  }

  private async presigned(
    req: http.IncomingMessage,
    url: URL,
    body: Buffer,
    res: http.ServerResponse,
  ) {
    const action = url.searchParams.get('Action') ?? '?';
    this.bump(`sts:${action} (presigned)`);
    const q = url.searchParams;
    const deny = (code: string, message: string) => {
      this.rejected.push(code);
      res.writeHead(403, { 'content-type': 'text/xml' });
      res.end(
        `<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>` +
          `<Code>${code}</Code><Message>${message}</Message></Error><RequestId>front</RequestId></ErrorResponse>`,
      );
    };
    const credential = q.get('X-Amz-Credential') ?? '';
    const [accessKeyId, date, region, service, terminator] = credential.split('/');
    if (
      q.get('X-Amz-Algorithm') !== 'AWS4-HMAC-SHA256' ||
      !accessKeyId ||
      !date ||
      !region ||
      service !== 'sts' ||
      terminator !== 'aws4_request'
    ) {
      deny('IncompleteSignature', 'malformed X-Amz-Credential or X-Amz-Algorithm');
      return;
    }
    const known = await this.credentialOf(accessKeyId);
    if (!known) {
      deny('InvalidClientTokenId', 'The security token included in the request is invalid.');
      return;
    }
    if ((known.sessionToken ?? undefined) !== (q.get('X-Amz-Security-Token') ?? undefined)) {
      deny('InvalidClientTokenId', 'The security token included in the request is invalid.');
      return;
    }
    const amzDate = q.get('X-Amz-Date') ?? '';
    const signedHeaders = (q.get('X-Amz-SignedHeaders') ?? '').split(';').filter(Boolean);
    if (!signedHeaders.includes('host') || !amzDate.startsWith(date)) {
      deny('IncompleteSignature', 'host must be signed and X-Amz-Date must match the scope');
      return;
    }
    const canonicalQuery = [...q.entries()]
      .filter(([k]) => k !== 'X-Amz-Signature')
      .map(([k, v]) => [rfc3986(k), rfc3986(v)] as const)
      .sort(([a, av], [b, bv]) => (a === b ? cmp(av, bv) : cmp(a, b)))
      .map(([k, v]) => `${k}=${v}`)
      .join('&');
    const canonicalHeaders = signedHeaders
      .map((h) => `${h}:${headerValue(req, h).trim().replace(/\s+/g, ' ')}\n`)
      .join('');
    const canonicalRequest = [
      req.method ?? 'GET',
      url.pathname.split('/').map(rfc3986).join('/') || '/',
      canonicalQuery,
      canonicalHeaders,
      signedHeaders.join(';'),
      sha256Hex(body),
    ].join('\n');
    const scope = `${date}/${region}/${service}/aws4_request`;
    const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256Hex(canonicalRequest)].join(
      '\n',
    );
    let key = hmac(`AWS4${known.secretAccessKey}`, date);
    for (const part of [region, service, 'aws4_request']) key = hmac(key, part);
    const expected = createHmac('sha256', key).update(stringToSign).digest();
    const given = Buffer.from(q.get('X-Amz-Signature') ?? '', 'hex');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      deny(
        'SignatureDoesNotMatch',
        'The request signature we calculated does not match the signature you provided.',
      );
      return;
    }
    // Verified: let moto answer, identifying the caller the way it can.
    const forwardUrl = new URL(url);
    for (const k of [...forwardUrl.searchParams.keys()]) {
      if (k.startsWith('X-Amz-')) forwardUrl.searchParams.delete(k);
    }
    const headers = headersOf(req);
    headers.authorization = `AWS4-HMAC-SHA256 Credential=${credential}, SignedHeaders=${signedHeaders.join(';')}, Signature=${q.get('X-Amz-Signature')}`;
    headers['x-amz-date'] = amzDate;
    const token = q.get('X-Amz-Security-Token');
    if (token) headers['x-amz-security-token'] = token;
    await this.forward(req.method ?? 'GET', forwardUrl, headers, body, res);
  }

  /** The secret and session token moto issued for an access key, from moto's own state. */
  private async credentialOf(accessKeyId: string): Promise<MotoCredential | undefined> {
    const res = await fetch(`${this.motoEndpoint}/moto-api/data.json`);
    const data = (await res.json()) as {
      sts?: {
        AssumedRole?: { access_key_id: string; secret_access_key: string; session_token: string }[];
      };
      iam?: { AccessKey?: { access_key_id: string; secret_access_key: string }[] };
    };
    const role = data.sts?.AssumedRole?.find((r) => r.access_key_id === accessKeyId);
    if (role) return { secretAccessKey: role.secret_access_key, sessionToken: role.session_token };
    const key = data.iam?.AccessKey?.find((k) => k.access_key_id === accessKeyId);
    return key ? { secretAccessKey: key.secret_access_key } : undefined;
  }

  private async forward(
    method: string,
    url: URL,
    headers: Record<string, string>,
    body: Buffer,
    res: http.ServerResponse,
  ) {
    delete headers.host;
    delete headers['content-length'];
    delete headers.connection;
    const upstream = await fetch(`${this.motoEndpoint}${url.pathname}${url.search}`, {
      method,
      headers,
      body: method === 'GET' || method === 'HEAD' ? undefined : body,
    });
    const out = Buffer.from(await upstream.arrayBuffer());
    const resHeaders: Record<string, string> = {};
    upstream.headers.forEach((v, k) => {
      if (!['content-length', 'content-encoding', 'transfer-encoding', 'connection'].includes(k))
        resHeaders[k] = v;
    });
    res.writeHead(upstream.status, resHeaders);
    res.end(out);
  }
}

function operationOf(req: http.IncomingMessage, url: URL, body: Buffer): string {
  const target = headerValue(req, 'x-amz-target');
  if (target) return target;
  const action =
    url.searchParams.get('Action') ?? new URLSearchParams(body.toString('utf8')).get('Action');
  if (action) return `sts:${action}`;
  // EKS is a REST API: GET /clusters/{name} is DescribeCluster.
  if (req.method === 'GET' && /^\/clusters\/[^/]+$/.test(url.pathname))
    return 'eks:DescribeCluster';
  if (req.method === 'POST' && url.pathname === '/clusters') return 'eks:CreateCluster';
  return `${req.method} ${url.pathname}`;
}

function headersOf(req: http.IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) out[k] = Array.isArray(v) ? v.join(',') : v;
  }
  return out;
}

function headerValue(req: http.IncomingMessage, name: string): string {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(',') : (v ?? '');
}

function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function sha256Hex(data: string | Buffer): string {
  return createHash('sha256').update(data).digest('hex');
}

function hmac(key: string | Buffer, data: string): Buffer {
  return createHmac('sha256', key).update(data).digest();
}
