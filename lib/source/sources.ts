// The source port over Git and charts: each of an app's sources resolved and
// fetched by its kind (a Git repository through the Git port; a chart from a
// Helm repository or an OCI registry through the chart fetcher), their
// revisions joined into the app's (lib/ports/source.ts says how).

import { DriftlessError } from '../errors.js';
import { type ApplicationSource, appSources } from '../model/application.js';
import type { GitCredentials, GitSource } from '../ports/git.js';
import type { SecretSource } from '../ports/secrets.js';
import {
  type FetchedSource,
  type FetchedSources,
  REVISION_SEPARATOR,
  type SourceFetcher,
  type SourcesSpec,
} from '../ports/source.js';
import { type ChartCredentials, type ChartSource, sharedChartFetcher } from './chart.js';

export interface SourceDispatcherOptions {
  git: GitSource;
  /** Default: the process's shared fetcher (its cache is what warm invocations reuse). */
  charts?: ChartSource;
  /** Resolves a chart source's `credentials` reference; without it only the app's own credentials apply. */
  secrets?: SecretSource;
}

export class SourceDispatcher implements SourceFetcher {
  private readonly charts: ChartSource;

  constructor(private readonly opts: SourceDispatcherOptions) {
    this.charts = opts.charts ?? sharedChartFetcher();
  }

  async resolve(
    spec: SourcesSpec,
    revision: string | undefined,
    credentials?: GitCredentials,
  ): Promise<string> {
    const list = appSources(spec);
    const asked = askedRevisions(revision, list.length);
    const revisions = await Promise.all(
      list.map(async (s, i) => {
        const wanted = asked[i] ?? s.revision;
        if (s.chart === undefined)
          return this.opts.git.resolve(s.repoURL, wanted, i === 0 ? credentials : undefined);
        return this.charts.resolve(
          { repoURL: s.repoURL, chart: s.chart },
          wanted,
          await this.chartCredentials(s, i, credentials),
        );
      }),
    );
    return revisions.join(REVISION_SEPARATOR);
  }

  async fetch(
    spec: SourcesSpec,
    revision: string,
    credentials?: GitCredentials,
  ): Promise<FetchedSources> {
    const list = appSources(spec);
    const revisions = list.length === 1 ? [revision] : revision.split(REVISION_SEPARATOR);
    if (revisions.length !== list.length) {
      throw new DriftlessError(
        'InvalidSpec',
        `revision ${revision} names ${revisions.length} source revisions, but the app has ${list.length} sources`,
        { field: 'spec.sources' },
      );
    }
    const fetched = await Promise.all(
      list.map(async (s, i): Promise<FetchedSource> => {
        const rev = revisions[i] as string;
        if (s.chart === undefined) {
          const checkout = await this.opts.git.checkout(
            s.repoURL,
            rev,
            i === 0 ? credentials : undefined,
          );
          return { source: s, dir: checkout.dir, revision: checkout.commit };
        }
        const chart = await this.charts.fetch(
          { repoURL: s.repoURL, chart: s.chart },
          rev,
          await this.chartCredentials(s, i, credentials),
        );
        return { source: s, dir: chart.dir, revision: rev };
      }),
    );
    const refs: Record<string, string> = {};
    for (const f of fetched) if (f.source.ref !== undefined) refs[f.source.ref] = f.dir;
    return {
      revision: fetched.map((f) => f.revision).join(REVISION_SEPARATOR),
      rendered: fetched.filter((f) => f.source.ref === undefined),
      refs,
    };
  }

  /**
   * A chart source's credentials: for the first source, the app's own (what
   * ReconcileDeps.credentialsFor resolved: its reference or a Repository
   * record); for another, its reference read through the secret source.
   */
  private async chartCredentials(
    s: ApplicationSource,
    index: number,
    given: GitCredentials | undefined,
  ): Promise<ChartCredentials | undefined> {
    if (index === 0 && given) return given;
    if (s.credentials === undefined) return undefined;
    const field = index === 0 ? 'source.credentials' : `spec.sources[${index}].credentials`;
    if (this.opts.secrets) {
      return parseChartSecret(
        await this.opts.secrets.getSecretString(s.credentials),
        s.credentials,
        field,
      );
    }
    throw new DriftlessError(
      'InvalidSpec',
      `${field} names secret ${s.credentials}, but this worker has no secret source to read it from`,
      { field },
    );
  }
}

/**
 * A chart repository secret, in the shape of Git credentials' secrets:
 * `{"type": "basic", "username", "password"}` or `{"type": "token", "token",
 * "username"?}` (plain `{"username", "password"}` too). Its value never
 * appears in errors.
 */
export function parseChartSecret(text: string, name: string, field: string): ChartCredentials {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    value = undefined;
  }
  const v = (value ?? {}) as {
    type?: unknown;
    username?: unknown;
    password?: unknown;
    token?: unknown;
  };
  if (v.type === 'token' && typeof v.token === 'string') {
    return {
      username: typeof v.username === 'string' ? v.username : DEFAULT_CHART_TOKEN_USERNAME,
      password: v.token,
    };
  }
  if (
    (v.type === undefined || v.type === 'basic') &&
    typeof v.username === 'string' &&
    typeof v.password === 'string'
  ) {
    return { username: v.username, password: v.password };
  }
  throw new DriftlessError(
    'InvalidSpec',
    `secret ${name} (${field}) must be JSON: {"type": "basic", "username": …, "password": …} or {"type": "token", "token": …}`,
    { field },
  );
}

/** The user name sent with a token that names none (registries accept any). */
export const DEFAULT_CHART_TOKEN_USERNAME = 'token';

/** An explicit revision per source: a whole app revision, or (no separator) the first source's. */
function askedRevisions(revision: string | undefined, count: number): (string | undefined)[] {
  if (revision === undefined) return [];
  if (count === 1) return [revision];
  const parts = revision.split(REVISION_SEPARATOR);
  if (parts.length === 1) return [revision];
  if (parts.length !== count) {
    throw new DriftlessError(
      'InvalidSpec',
      `revision ${revision} names ${parts.length} source revisions, but the app has ${count} sources`,
      { field: 'spec.sources' },
    );
  }
  return parts;
}
