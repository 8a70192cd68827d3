// Charts in OCI registries through the distribution API: tags (a chart
// version, with Helm's `_` for `+`), the manifest (checked against its own
// digest), and the chart layer's blob (checked against the layer digest by
// the store). Authentication follows the registry's challenge: a
// `WWW-Authenticate: Bearer realm=…,service=…,scope=…` answer is traded at
// the realm for a token (with the credentials, if any, as basic auth) that is
// kept until it expires; a `Basic` challenge gets the credentials directly.
// Loopback registries are spoken to over plain HTTP (as Docker treats
// localhost); every other registry over HTTPS.
//
// Registries whose credentials come from the worker's cloud identity (ECR's
// GetAuthorizationToken) plug in through `OciClientOptions.credentialsFor`.

import { DriftlessError } from '../errors.js';
import {
  basicAuth,
  type ChartCredentials,
  type ChartHttp,
  redact,
  statusError,
} from './chart-http.js';
import { normalizeDigest, sha256Digest } from './chart-store.js';
import { pickVersion } from './helmrepo.js';

export const HELM_CHART_LAYER = 'application/vnd.cncf.helm.chart.content.v1.tar+gzip';
const MANIFEST_TYPES = 'application/vnd.oci.image.manifest.v1+json';
/** How long a token without expires_in is kept (the distribution spec's default is 60 s). */
const DEFAULT_TOKEN_TTL_S = 60;

export interface OciReference {
  /** `host[:port]`. */
  registry: string;
  /** The repository: the URL's path and the chart's name. */
  repository: string;
  /** `http` for loopback registries, else `https`. */
  scheme: 'http' | 'https';
}

export interface OciClientOptions {
  /** Credentials for a registry without any in the source (the adapter hook for ECR). */
  credentialsFor?: (registry: string) => Promise<ChartCredentials | undefined>;
  /** Clock for token expiry. */
  now?: () => number;
}

export interface OciChartManifest {
  /** The manifest's own digest. */
  manifestDigest: string;
  /** The chart layer's digest (what the package must hash to). */
  layerDigest: string;
}

export function parseOciReference(repoURL: string, chart: string): OciReference {
  const m = /^oci:\/\/([^/]+)\/?(.*)$/.exec(repoURL);
  if (!m?.[1]) {
    throw new DriftlessError('InvalidSpec', `${repoURL} is not an oci://registry/path URL`, {
      field: 'source.repoURL',
    });
  }
  const registry = m[1];
  const base = (m[2] ?? '').replace(/\/+$/, '');
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  const loopback = host === 'localhost' || host === '::1' || /^127\./.test(host);
  return {
    registry,
    repository: base ? `${base}/${chart}` : chart,
    scheme: loopback ? 'http' : 'https',
  };
}

export class OciRegistryClient {
  private readonly tokens = new Map<string, { token: string; expires: number }>();
  private readonly now: () => number;

  constructor(
    private readonly http: ChartHttp,
    private readonly opts: OciClientOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
  }

  /** The chart versions the repository has (its tags, `_` read as `+`). */
  async versions(ref: OciReference, creds?: ChartCredentials): Promise<string[]> {
    const tags: string[] = [];
    let next: string | undefined = `/v2/${ref.repository}/tags/list?n=1000`;
    while (next) {
      const res = await this.get(ref, next, {}, creds);
      const url = this.url(ref, next);
      const body = JSON.parse((await this.http.body(res, url)).toString('utf8')) as {
        tags?: unknown;
      };
      if (Array.isArray(body.tags))
        tags.push(...body.tags.filter((t): t is string => typeof t === 'string'));
      next = nextLink(res.headers.get('link'));
    }
    return tags.map((t) => t.replace(/_/g, '+'));
  }

  async resolve(ref: OciReference, range: string, creds?: ChartCredentials): Promise<string> {
    const versions = await this.versions(ref, creds);
    const picked = pickVersion(versions, range);
    if (!picked) {
      throw new DriftlessError(
        'SourceUnavailable',
        `no tag of ${ref.registry}/${ref.repository} matches "${range}" ` +
          `(it has ${versions.slice(0, 5).join(', ') || 'none'}${versions.length > 5 ? ', …' : ''})`,
        { field: 'source.revision' },
      );
    }
    return picked;
  }

  /** The chart manifest of `version`, its bytes checked against the digest the registry names. */
  async manifest(
    ref: OciReference,
    version: string,
    creds?: ChartCredentials,
  ): Promise<OciChartManifest> {
    const tag = version.replace(/\+/g, '_');
    const pathname = `/v2/${ref.repository}/manifests/${tag}`;
    const res = await this.get(ref, pathname, { accept: MANIFEST_TYPES }, creds);
    const bytes = await this.http.body(res, this.url(ref, pathname));
    const manifestDigest = sha256Digest(bytes);
    const declared = res.headers.get('docker-content-digest');
    if (declared && normalizeDigest(declared) !== manifestDigest) {
      throw new DriftlessError(
        'DigestMismatch',
        `${ref.registry}/${ref.repository}:${tag}: the manifest's digest is ${manifestDigest}, but the registry declares ${declared}; refused`,
      );
    }
    const manifest = JSON.parse(bytes.toString('utf8')) as {
      layers?: { mediaType?: string; digest?: string }[];
    };
    const layer = manifest.layers?.find((l) => l.mediaType === HELM_CHART_LAYER);
    const layerDigest = layer?.digest ? normalizeDigest(layer.digest) : undefined;
    if (!layerDigest) {
      throw new DriftlessError(
        'SourceUnavailable',
        `${ref.registry}/${ref.repository}:${tag} is not a Helm chart (no ${HELM_CHART_LAYER} layer)`,
      );
    }
    return { manifestDigest, layerDigest };
  }

  /** The blob's bytes (unverified: the store checks them against the digest). */
  async blob(ref: OciReference, digest: string, creds?: ChartCredentials): Promise<Buffer> {
    const pathname = `/v2/${ref.repository}/blobs/${digest}`;
    const res = await this.get(ref, pathname, {}, creds);
    return this.http.body(res, this.url(ref, pathname));
  }

  private url(ref: OciReference, pathname: string): string {
    return `${ref.scheme}://${ref.registry}${pathname}`;
  }

  /** A GET that answers the registry's auth challenge once. */
  private async get(
    ref: OciReference,
    pathname: string,
    headers: Record<string, string>,
    given?: ChartCredentials,
  ): Promise<Response> {
    const url = this.url(ref, pathname);
    const scope = `repository:${ref.repository}:pull`;
    const tokenKey = `${ref.registry}\0${scope}`;
    const held = this.tokens.get(tokenKey);
    const first: Record<string, string> =
      held && held.expires > this.now() ? { authorization: `Bearer ${held.token}` } : {};
    let res = await this.http.request(url, { ...headers, ...first });
    if (res.status !== 401) return res;
    const challenge = res.headers.get('www-authenticate') ?? '';
    await res.body?.cancel();
    const creds = given ?? (await this.opts.credentialsFor?.(ref.registry));
    let authorization: string;
    if (/^bearer\s/i.test(challenge)) {
      const token = await this.token(challenge, scope, creds, url);
      this.tokens.set(tokenKey, { token: token.token, expires: this.now() + token.ttlS * 1000 });
      authorization = `Bearer ${token.token}`;
    } else if (/^basic/i.test(challenge) && creds) {
      authorization = basicAuth(creds);
    } else {
      throw statusError(res, url);
    }
    res = await this.http.request(url, { ...headers, authorization });
    if (!res.ok) throw statusError(res, url);
    return res;
  }

  private async token(
    challenge: string,
    scope: string,
    creds: ChartCredentials | undefined,
    forUrl: string,
  ): Promise<{ token: string; ttlS: number }> {
    const params = challengeParams(challenge);
    if (!params.realm) {
      throw new DriftlessError(
        'SourceUnavailable',
        `GET ${redact(forUrl)}: a Bearer challenge without realm`,
      );
    }
    const realm = new URL(params.realm);
    if (params.service) realm.searchParams.set('service', params.service);
    realm.searchParams.set('scope', params.scope ?? scope);
    const res = await this.http.request(
      realm.toString(),
      creds ? { authorization: basicAuth(creds) } : {},
    );
    if (!res.ok) {
      const e = statusError(res, realm.toString());
      throw new DriftlessError(
        'SourceUnavailable',
        `registry token for ${redact(forUrl)}: ${e.message}`,
      );
    }
    const body = JSON.parse((await this.http.body(res, realm.toString())).toString('utf8')) as {
      token?: string;
      access_token?: string;
      expires_in?: number;
    };
    const token = body.token ?? body.access_token;
    if (!token)
      throw new DriftlessError(
        'SourceUnavailable',
        `the token service at ${redact(params.realm)} returned no token`,
      );
    return { token, ttlS: Math.max(1, (body.expires_in ?? DEFAULT_TOKEN_TTL_S) - 5) };
  }
}

/** `Bearer realm="…",service="…",scope="…"` → its parameters. */
export function challengeParams(header: string): Record<string, string> {
  const params: Record<string, string> = {};
  for (const m of header.replace(/^\w+\s+/, '').matchAll(/(\w+)="([^"]*)"/g)) {
    if (m[1] !== undefined && m[2] !== undefined) params[m[1].toLowerCase()] = m[2];
  }
  return params;
}

/** The next page of a `Link: </v2/…?last=x>; rel="next"` header. */
function nextLink(link: string | null): string | undefined {
  const m = link ? /<([^>]+)>\s*;\s*rel="?next"?/.exec(link) : null;
  return m?.[1];
}
