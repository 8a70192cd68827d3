// An HTTP API front door on loopback that authenticates requests the way API
// Gateway's IAM authorization does: it parses the SigV4 Authorization header,
// recomputes the signature from the request as received (canonical request,
// string to sign, signing key — implemented here from AWS's documented
// algorithm, independently of the signer the CLI uses) with the secret of the
// access key, and refuses a wrong key, a wrong region or service, a clock
// skewed by more than five minutes and a body that does not match what was
// signed, with API Gateway's 403 messages. A verified request is handed to
// the status API's Lambda handler with the key's principal in the request
// context, as API Gateway hands it over.

import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { type HttpHandler, httpEvent, lambdaContext } from './lambda.js';

export interface GatewayIdentity {
  secretAccessKey: string;
  /** The principal API Gateway would put in requestContext.authorizer.iam.userArn. */
  principal: string;
}

export interface SigV4Gateway {
  url: string;
  /** Why each request was refused (empty when all passed). */
  readonly refusals: string[];
  close(): Promise<void>;
}

/** API Gateway refuses requests signed more than five minutes away from its clock. */
export const MAX_SKEW_MS = 5 * 60_000;

const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
const hmac = (key: Buffer | string, data: string) =>
  createHmac('sha256', key).update(data).digest();

/** RFC 3986 encoding, as SigV4 wants it. */
function uriEncode(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

function parseAmzDate(text: string): number | undefined {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(text);
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [
    number,
    number,
    number,
    number,
    number,
    number,
  ];
  return Date.UTC(y, mo - 1, d, h, mi, s);
}

/** Verifies one request; returns the principal, or why it is refused. */
export function verifySigV4(
  req: {
    method: string;
    path: string;
    query: URLSearchParams;
    headers: http.IncomingHttpHeaders;
    body: Buffer;
  },
  opts: {
    region: string;
    service?: string;
    identities: Record<string, GatewayIdentity>;
    now: number;
  },
): { principal: string } | { refused: string } {
  const service = opts.service ?? 'execute-api';
  const auth = req.headers.authorization;
  if (!auth) return { refused: 'Missing Authentication Token' };
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^,]+), ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m)
    return { refused: 'Authorization header requires Credential, SignedHeaders and Signature' };
  const [akid, date, region, svc, terminator] = (m[1] as string).split('/');
  const signedHeaders = (m[2] as string).split(';');
  const signature = m[3] as string;
  const identity = akid ? opts.identities[akid] : undefined;
  if (!identity) return { refused: 'The security token included in the request is invalid.' };
  if (region !== opts.region)
    return { refused: `Credential should be scoped to a valid region, not '${region}'.` };
  if (svc !== service || terminator !== 'aws4_request') {
    return { refused: `Credential should be scoped to correct service: '${service}'.` };
  }
  const amzDate = String(req.headers['x-amz-date'] ?? '');
  const signedAt = parseAmzDate(amzDate);
  if (signedAt === undefined || !amzDate.startsWith(date ?? '-')) {
    return {
      refused:
        'Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP.',
    };
  }
  if (Math.abs(opts.now - signedAt) > MAX_SKEW_MS) {
    return {
      refused: `Signature expired: ${amzDate} is now earlier than the allowed window (5 min.)`,
    };
  }
  if (!signedHeaders.includes('host'))
    return { refused: "'Host' must be a 'SignedHeader' in the AWS Authorization." };
  // The canonical request, from the request as it arrived.
  const canonicalPath =
    req.path
      .split('/')
      .map((seg) => uriEncode(uriEncode(decodeURIComponent(seg))))
      .join('/') || '/';
  const canonicalQuery = [...req.query.entries()]
    .map(([k, v]) => [uriEncode(k), uriEncode(v)] as const)
    .sort(([a, av], [b, bv]) => (a === b ? (av < bv ? -1 : 1) : a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const canonicalHeaders = signedHeaders
    .map(
      (h) =>
        `${h}:${String(req.headers[h] ?? '')
          .trim()
          .replace(/\s+/g, ' ')}\n`,
    )
    .join('');
  const canonicalRequest = [
    req.method,
    canonicalPath,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders.join(';'),
    sha256(req.body),
  ].join('\n');
  const scope = `${date}/${region}/${service}/aws4_request`;
  const stringToSign = ['AWS4-HMAC-SHA256', amzDate, scope, sha256(canonicalRequest)].join('\n');
  const key = hmac(
    hmac(hmac(hmac(`AWS4${identity.secretAccessKey}`, date as string), region), service),
    'aws4_request',
  );
  const expected = createHmac('sha256', key).update(stringToSign).digest();
  if (!timingSafeEqual(expected, Buffer.from(signature, 'hex'))) {
    return {
      refused:
        'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.',
    };
  }
  return { principal: identity.principal };
}

export async function sigv4Gateway(opts: {
  region: string;
  identities: Record<string, GatewayIdentity>;
  handler: HttpHandler;
  now?: () => number;
}): Promise<SigV4Gateway> {
  const refusals: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://gateway');
      const verdict = verifySigV4(
        {
          method: req.method ?? 'GET',
          path: url.pathname,
          query: url.searchParams,
          headers: req.headers,
          body,
        },
        { region: opts.region, identities: opts.identities, now: (opts.now ?? Date.now)() },
      );
      if ('refused' in verdict) {
        refusals.push(verdict.refused);
        res.writeHead(403, {
          'content-type': 'application/json',
          'x-amzn-errortype': 'InvalidSignatureException',
        });
        res.end(JSON.stringify({ message: verdict.refused }));
        return;
      }
      const out = await opts.handler(
        httpEvent(req.method ?? 'GET', url.pathname, {
          body: body.length ? body.toString('utf8') : undefined,
          query: Object.fromEntries(url.searchParams),
          iamUser: verdict.principal,
        }),
        lambdaContext('driftless-api'),
      );
      res.writeHead(out.statusCode ?? 200, { 'content-type': 'application/json' });
      res.end(out.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    refusals,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
