// Helm HTTP repositories: index.yaml (fetched conditionally — an unchanged
// index costs one 304 — and parsed once per change), the highest version in
// a semver range, and packages verified against the index's sha256 digest.
// Credentials go only to the repository's origin, as Helm does without
// --pass-credentials.

import { maxSatisfying, valid } from 'semver';
import { parse as parseYaml } from 'yaml';
import { DriftlessError } from '../errors.js';
import { DEFAULT_MAX_ALIAS_COUNT } from '../model/yaml.js';
import {
  basicAuth,
  type ChartCredentials,
  type ChartHttp,
  redact,
  statusError,
} from './chart-http.js';
import { normalizeDigest } from './chart-store.js';

/** One version of a chart in index.yaml. */
export interface IndexedChart {
  version: string;
  /** `sha256:<hex>`, or undefined when the index declares none. */
  digest: string | undefined;
  /** Absolute URLs of the package. */
  urls: string[];
}

interface CachedIndex {
  etag?: string;
  lastModified?: string;
  charts: Map<string, IndexedChart[]>;
}

export class HelmRepositoryClient {
  private readonly indexes = new Map<string, CachedIndex>();

  constructor(private readonly http: ChartHttp) {}

  /** Every version of `chart` the repository's index lists. */
  async versions(
    repoURL: string,
    chart: string,
    creds?: ChartCredentials,
  ): Promise<IndexedChart[]> {
    const index = await this.index(repoURL, creds);
    const versions = index.charts.get(chart);
    if (!versions?.length) {
      throw new DriftlessError(
        'SourceUnavailable',
        `chart ${chart} is not in the index of ${redact(repoURL)}`,
        { field: 'source.chart' },
      );
    }
    return versions;
  }

  /** The highest version inside `range` (an exact version matches only itself). */
  async resolve(
    repoURL: string,
    chart: string,
    range: string,
    creds?: ChartCredentials,
  ): Promise<IndexedChart> {
    const versions = await this.versions(repoURL, chart, creds);
    const picked = pickVersion(
      versions.map((v) => v.version),
      range,
    );
    const found = versions.find((v) => v.version === picked);
    if (!found) {
      throw new DriftlessError(
        'SourceUnavailable',
        `no version of chart ${chart} in ${redact(repoURL)} matches "${range}" ` +
          `(it has ${versions
            .slice(0, 5)
            .map((v) => v.version)
            .join(', ')}${versions.length > 5 ? ', …' : ''})`,
        { field: 'source.revision' },
      );
    }
    return found;
  }

  /** The package's bytes (unverified: the store checks them against the digest). */
  async download(repoURL: string, entry: IndexedChart, creds?: ChartCredentials): Promise<Buffer> {
    const url = entry.urls[0];
    if (!url)
      throw new DriftlessError(
        'SourceUnavailable',
        `index.yaml of ${redact(repoURL)} lists no URL for ${entry.version}`,
      );
    const res = await this.http.request(url, this.authFor(repoURL, url, creds));
    return this.http.body(res, url);
  }

  private async index(repoURL: string, creds?: ChartCredentials): Promise<CachedIndex> {
    const url = `${repoURL.replace(/\/+$/, '')}/index.yaml`;
    const cached = this.indexes.get(url);
    const headers: Record<string, string> = { ...this.authFor(repoURL, url, creds) };
    if (cached?.etag) headers['if-none-match'] = cached.etag;
    if (cached?.lastModified) headers['if-modified-since'] = cached.lastModified;
    const res = await this.http.request(url, headers);
    if (res.status === 304 && cached) {
      await res.body?.cancel();
      return cached;
    }
    if (!res.ok) throw statusError(res, url);
    const text = (await this.http.body(res, url)).toString('utf8');
    const index: CachedIndex = {
      etag: res.headers.get('etag') ?? undefined,
      lastModified: res.headers.get('last-modified') ?? undefined,
      charts: parseIndex(text, url),
    };
    this.indexes.set(url, index);
    return index;
  }

  private authFor(repoURL: string, url: string, creds?: ChartCredentials): Record<string, string> {
    if (!creds || new URL(url).origin !== new URL(repoURL).origin) return {};
    return { authorization: basicAuth(creds) };
  }
}

/** The highest version in `range`: exact versions match themselves, prereleases only when named. */
export function pickVersion(versions: readonly string[], range: string): string | undefined {
  if (valid(range) !== null) return versions.find((v) => v === range || valid(v) === valid(range));
  const usable = versions.filter((v) => valid(v) !== null);
  return maxSatisfying(usable, range) ?? undefined;
}

/** index.yaml's entries: chart name → versions with absolute URLs. */
export function parseIndex(text: string, url: string): Map<string, IndexedChart[]> {
  let doc: unknown;
  try {
    doc = parseYaml(text, { maxAliasCount: DEFAULT_MAX_ALIAS_COUNT });
  } catch (e) {
    throw new DriftlessError(
      'SourceUnavailable',
      `${redact(url)} is not a Helm repository index: ${(e as Error).message}`,
    );
  }
  const entries = (doc as { entries?: unknown } | null)?.entries;
  if (typeof entries !== 'object' || entries === null) {
    throw new DriftlessError(
      'SourceUnavailable',
      `${redact(url)} is not a Helm repository index (no entries)`,
    );
  }
  const charts = new Map<string, IndexedChart[]>();
  for (const [name, list] of Object.entries(entries as Record<string, unknown>)) {
    if (!Array.isArray(list)) continue;
    const versions: IndexedChart[] = [];
    for (const item of list as { version?: unknown; digest?: unknown; urls?: unknown }[]) {
      if (typeof item?.version !== 'string') continue;
      const urls = Array.isArray(item.urls)
        ? item.urls.filter((u): u is string => typeof u === 'string')
        : [];
      versions.push({
        version: item.version,
        digest: typeof item.digest === 'string' ? normalizeDigest(item.digest) : undefined,
        // Relative URLs are relative to the index (as Helm resolves them).
        urls: urls.map((u) => new URL(u, url).toString()),
      });
    }
    charts.set(name, versions);
  }
  return charts;
}
