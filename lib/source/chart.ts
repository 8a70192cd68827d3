// Charts from Helm repositories (https://) and OCI registries (oci://): a
// version range resolved to the highest matching version, the package
// fetched, verified against its declared digest and kept by digest
// (ChartStore). Once this process has fetched a version, fetching it again
// costs no request: chart versions are immutable releases, so the version →
// digest mapping is remembered (resolving a range still asks the repository,
// which is how a new version inside the range is seen).

import { DriftlessError } from '../errors.js';
import { type ChartCredentials, ChartHttp, type ChartHttpOptions, redact } from './chart-http.js';
import { ChartStore, type StoredChart } from './chart-store.js';
import { HelmRepositoryClient } from './helmrepo.js';
import { type OciClientOptions, OciRegistryClient, parseOciReference } from './oci.js';

export type { ChartCredentials } from './chart-http.js';
export type { StoredChart } from './chart-store.js';

export interface ChartFetcherOptions extends ChartHttpOptions, OciClientOptions {
  /** Where packages are kept by digest. Default: `$TMPDIR/driftless-charts`. */
  cacheRoot?: string;
}

/** What names one chart: its repository and name. */
export interface ChartLocation {
  repoURL: string;
  chart: string;
}

export function isChartRepository(repoURL: string): boolean {
  return /^(https?|oci):\/\//.test(repoURL);
}

/** Resolving and fetching charts: what sources and renders need of ChartFetcher. */
export interface ChartSource {
  /** The highest version of the chart inside `range`. */
  resolve(at: ChartLocation, range: string, creds?: ChartCredentials): Promise<string>;
  /** One version of the chart, unpacked and verified. */
  fetch(at: ChartLocation, version: string, creds?: ChartCredentials): Promise<StoredChart>;
}

export class ChartFetcher implements ChartSource {
  private readonly store: ChartStore;
  private readonly helm: HelmRepositoryClient;
  private readonly oci: OciRegistryClient;
  /** `repoURL \0 chart \0 version` → digest, for versions fetched before. */
  private readonly digests = new Map<string, string>();

  constructor(opts: ChartFetcherOptions = {}) {
    const http = new ChartHttp(opts);
    this.store = new ChartStore(opts.cacheRoot);
    this.helm = new HelmRepositoryClient(http);
    this.oci = new OciRegistryClient(http, opts);
  }

  /** The highest version of the chart inside `range`. */
  async resolve(at: ChartLocation, range: string, creds?: ChartCredentials): Promise<string> {
    if (at.repoURL.startsWith('oci://')) {
      return this.oci.resolve(parseOciReference(at.repoURL, at.chart), range, creds);
    }
    return (await this.helm.resolve(at.repoURL, at.chart, range, creds)).version;
  }

  /** One version of the chart, unpacked (from the store when this digest was seen before). */
  async fetch(at: ChartLocation, version: string, creds?: ChartCredentials): Promise<StoredChart> {
    const key = `${at.repoURL}\0${at.chart}\0${version}`;
    const known = this.digests.get(key);
    const hit = known ? await this.store.lookup(known) : undefined;
    if (hit) return hit;
    const what = `chart ${at.chart} ${version} from ${redact(at.repoURL)}`;
    let stored: StoredChart;
    if (at.repoURL.startsWith('oci://')) {
      const ref = parseOciReference(at.repoURL, at.chart);
      const manifest = await this.oci.manifest(ref, version, creds);
      stored =
        (await this.store.lookup(manifest.layerDigest)) ??
        (await this.store.put(
          manifest.layerDigest,
          await this.oci.blob(ref, manifest.layerDigest, creds),
          what,
        ));
    } else {
      const entry = await this.helm.resolve(at.repoURL, at.chart, version, creds);
      if (!entry.digest) {
        throw new DriftlessError(
          'DigestMismatch',
          `${what}: index.yaml declares no sha256 digest for it, so it cannot be verified; refused`,
        );
      }
      stored =
        (await this.store.lookup(entry.digest)) ??
        (await this.store.put(
          entry.digest,
          await this.helm.download(at.repoURL, entry, creds),
          what,
        ));
    }
    this.digests.set(key, stored.digest);
    return stored;
  }
}

let shared: ChartFetcher | undefined;
/** The process's chart fetcher (its memory is what a warm invocation reuses). */
export function sharedChartFetcher(): ChartFetcher {
  shared ??= new ChartFetcher();
  return shared;
}
