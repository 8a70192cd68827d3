// SigV4 with node:crypto: the hash in the shape @smithy/signature-v4 wants,
// and request signing for the status API (service execute-api).

import { createHash, createHmac, type Hash, type Hmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

/** SHA-256 and HMAC-SHA-256 from node:crypto, in the shape SignatureV4 wants. */
export class NodeSha256 {
  private hash: Hash | Hmac;
  constructor(private readonly secret?: string | ArrayBuffer | ArrayBufferView) {
    this.hash = this.fresh();
  }
  private fresh(): Hash | Hmac {
    return this.secret === undefined
      ? createHash('sha256')
      : createHmac('sha256', toBuffer(this.secret));
  }
  update(data: string | ArrayBuffer | ArrayBufferView): void {
    this.hash.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.hash.digest());
  }
  reset(): void {
    this.hash = this.fresh();
  }
}

function toBuffer(data: string | ArrayBuffer | ArrayBufferView): Buffer {
  if (typeof data === 'string') return Buffer.from(data, 'utf8');
  if (ArrayBuffer.isView(data)) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.from(data);
}

export interface SigningCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

/** The headers that authenticate `method url` (with `body`) to an AWS service. */
export async function signRequest(input: {
  method: string;
  url: URL;
  body: string;
  headers: Record<string, string>;
  service: string;
  region: string;
  credentials: SigningCredentials;
  /** When the request is signed (default now): tests of a verifier's clock skew. */
  signingDate?: Date;
}): Promise<Record<string, string>> {
  const signer = new SignatureV4({
    service: input.service,
    region: input.region,
    credentials: input.credentials,
    sha256: NodeSha256,
  });
  const query: Record<string, string> = {};
  for (const [k, v] of input.url.searchParams) query[k] = v;
  const signed = await signer.sign(
    {
      method: input.method,
      protocol: input.url.protocol,
      hostname: input.url.hostname,
      port: input.url.port ? Number(input.url.port) : undefined,
      path: input.url.pathname,
      query,
      headers: { ...input.headers, host: input.url.host },
      body: input.body,
    },
    input.signingDate ? { signingDate: input.signingDate } : undefined,
  );
  const { host: _host, ...headers } = signed.headers as Record<string, string>;
  return headers;
}
