// HTTP for chart repositories and registries: one request with a bounded
// body and a timeout, credentials sent only to the origin they are for, and
// failures as SourceUnavailable naming the URL (never its credentials).

import { DriftlessError } from '../errors.js';

/** Credentials for a chart repository or registry (basic auth; registries trade them for a token). */
export interface ChartCredentials {
  username: string;
  password: string;
}

/** The fetch Driftless calls (the global one by default; tests may count requests instead). */
export type FetchFunction = (url: string, init: RequestInit) => Promise<Response>;

/** One response body's size limit (a chart package, an index, a manifest). */
export const DEFAULT_MAX_CHART_RESPONSE_BYTES = 64 * 1024 * 1024;
/** One request's time limit. */
export const DEFAULT_CHART_REQUEST_TIMEOUT_MS = 30_000;

export interface ChartHttpOptions {
  fetch?: FetchFunction;
  maxResponseBytes?: number;
  requestTimeoutMs?: number;
}

export class ChartHttp {
  private readonly fetchFn: FetchFunction;
  private readonly maxBytes: number;
  private readonly timeoutMs: number;

  constructor(opts: ChartHttpOptions = {}) {
    this.fetchFn = opts.fetch ?? ((url, init) => fetch(url, init));
    this.maxBytes = opts.maxResponseBytes ?? DEFAULT_MAX_CHART_RESPONSE_BYTES;
    this.timeoutMs = opts.requestTimeoutMs ?? DEFAULT_CHART_REQUEST_TIMEOUT_MS;
  }

  async request(
    url: string,
    headers: Record<string, string> = {},
    method = 'GET',
  ): Promise<Response> {
    try {
      return await this.fetchFn(url, {
        method,
        headers,
        redirect: 'follow',
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new DriftlessError(
        'SourceUnavailable',
        `GET ${redact(url)}: ${(e as Error).message}`,
        {},
        { cause: e },
      );
    }
  }

  /** The body of an OK response, bounded; anything else is SourceUnavailable. */
  async body(res: Response, url: string): Promise<Buffer> {
    if (!res.ok) throw statusError(res, url);
    const declared = Number(res.headers.get('content-length') ?? '0');
    if (declared > this.maxBytes) throw tooBig(url, this.maxBytes);
    const chunks: Buffer[] = [];
    let total = 0;
    for await (const chunk of res.body ?? []) {
      total += chunk.length;
      if (total > this.maxBytes) throw tooBig(url, this.maxBytes);
      chunks.push(Buffer.from(chunk));
    }
    return Buffer.concat(chunks);
  }
}

export function statusError(res: Response, url: string): DriftlessError {
  const why =
    res.status === 401 || res.status === 403
      ? ' (check source.credentials)'
      : res.status === 404
        ? ' (not found)'
        : '';
  return new DriftlessError('SourceUnavailable', `GET ${redact(url)}: HTTP ${res.status}${why}`);
}

function tooBig(url: string, max: number): DriftlessError {
  return new DriftlessError(
    'SourceUnavailable',
    `GET ${redact(url)}: the response is over ${max} bytes`,
  );
}

export function basicAuth(c: ChartCredentials): string {
  return `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
}

/** A URL without user info or query (for messages). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    u.search = '';
    return u.toString();
  } catch {
    return url;
  }
}
