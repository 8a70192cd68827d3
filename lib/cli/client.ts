// How the CLI reaches Driftless: the status API over HTTPS with SigV4
// (IAM auth, credentials from the usual AWS chain), or `driftless dev` on
// loopback with no auth. The endpoint comes from --endpoint, DRIFTLESS_API_URL,
// or ~/.config/driftless/config.json ({"endpoint": ..., "region": ...});
// the default is local mode's http://127.0.0.1:7777.

import { readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fromNodeProviderChain } from '@aws-sdk/credential-providers';
import {
  type ApiErrorBody,
  type AppDetailResponse,
  PRINCIPAL_HEADER,
  type TargetDetail,
} from '../api/contract.js';
import { signRequest } from '../aws/sigv4.js';
import { DriftlessError } from '../errors.js';

export interface ClientConfig {
  endpoint: string;
  region?: string;
  /**
   * Who the CLI acts as in local mode (`driftless dev` checks the same
   * permissions as AWS): DRIFTLESS_PRINCIPAL or the config file's
   * `principal`. In AWS the caller is whoever signed the request.
   */
  principal?: string;
  /**
   * Sign requests even to a loopback endpoint (DRIFTLESS_SIGV4=always): an
   * API behind a local gateway or tunnel that checks SigV4 as API Gateway does.
   */
  alwaysSign?: boolean;
}

export const DEFAULT_LOCAL_ENDPOINT = 'http://127.0.0.1:7777';

export function resolveClientConfig(
  flags: { endpoint?: string; region?: string },
  env = process.env,
): ClientConfig {
  let file: Partial<ClientConfig> = {};
  const configPath =
    env.DRIFTLESS_CONFIG ?? path.join(os.homedir(), '.config', 'driftless', 'config.json');
  try {
    file = JSON.parse(readFileSync(configPath, 'utf8')) as Partial<ClientConfig>;
  } catch {
    // no config file: defaults
  }
  return {
    endpoint: (
      flags.endpoint ??
      env.DRIFTLESS_API_URL ??
      file.endpoint ??
      DEFAULT_LOCAL_ENDPOINT
    ).replace(/\/+$/, ''),
    region: flags.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? file.region,
    principal: env.DRIFTLESS_PRINCIPAL ?? file.principal,
    alwaysSign: env.DRIFTLESS_SIGV4 === 'always',
  };
}

function isLoopback(url: URL): boolean {
  return ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
}

/** How long the CLI waits for one API answer (a preview renders and diffs a whole app). */
export const DEFAULT_API_TIMEOUT_MS = 120_000;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field?: string,
  ) {
    super(message);
  }
}

export class DriftlessClient {
  constructor(private readonly config: ClientConfig) {}

  get endpoint(): string {
    return this.config.endpoint;
  }

  async request<T = unknown>(
    method: string,
    p: string,
    body?: unknown,
    query?: Record<string, string | undefined>,
  ): Promise<T> {
    const url = new URL(this.config.endpoint + p);
    for (const [k, v] of Object.entries(query ?? {}))
      if (v !== undefined) url.searchParams.set(k, v);
    const payload = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      accept: 'application/json',
    };
    const unsigned = isLoopback(url) && !this.config.alwaysSign;
    if (unsigned && this.config.principal) headers[PRINCIPAL_HEADER] = this.config.principal;
    const sent = unsigned ? headers : await this.sign(method, url, payload, headers);
    let res: Response;
    try {
      res = await fetch(url, {
        method,
        headers: sent,
        body: payload || undefined,
        signal: AbortSignal.timeout(DEFAULT_API_TIMEOUT_MS),
      });
    } catch (e) {
      const local = isLoopback(url);
      throw new DriftlessError(
        'ClusterUnreachable',
        `cannot reach the Driftless API at ${this.config.endpoint}` +
          (local ? ' — is `driftless dev` running?' : ` (${(e as Error).message})`),
      );
    }
    const text = await res.text();
    const data = text ? (JSON.parse(text) as T) : (null as T);
    if (!res.ok) {
      // The contract's one error shape; a proxy in between may answer with anything.
      const err = data as Partial<ApiErrorBody> | null;
      throw new ApiError(
        res.status,
        err?.code ?? `HTTP${res.status}`,
        err?.message ?? res.statusText,
        err?.field,
      );
    }
    return data;
  }

  /** GET /apps/NAME with every page of resources, each target's resources concatenated. */
  async appDetail(name: string): Promise<AppDetailResponse> {
    const first = await this.request<AppDetailResponse>('GET', `/apps/${name}`);
    const byCluster = new Map<string, TargetDetail>(
      first.targets.map((t) => [t.cluster, { ...t, resources: [...t.resources] }]),
    );
    let next = first.next;
    while (next) {
      const page: AppDetailResponse = await this.request<AppDetailResponse>(
        'GET',
        `/apps/${name}`,
        undefined,
        { next },
      );
      for (const t of page.targets) {
        const known = byCluster.get(t.cluster);
        if (known) known.resources.push(...t.resources);
        else byCluster.set(t.cluster, { ...t, resources: [...t.resources] });
      }
      next = page.next;
    }
    return { app: first.app, targets: [...byCluster.values()] };
  }

  /** SigV4 for API Gateway (service execute-api), credentials from the usual AWS chain. */
  private async sign(method: string, url: URL, payload: string, headers: Record<string, string>) {
    const region =
      this.config.region ?? /execute-api\.([a-z0-9-]+)\.amazonaws\.com/.exec(url.hostname)?.[1];
    if (!region) {
      throw new DriftlessError(
        'InvalidSpec',
        'no AWS region for signing: set AWS_REGION or --region',
      );
    }
    const credentials = await fromNodeProviderChain()();
    return signRequest({
      method,
      url,
      body: payload,
      headers,
      service: 'execute-api',
      region,
      credentials,
    });
  }
}
