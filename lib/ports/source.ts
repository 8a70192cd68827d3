// The source port: an application's sources (Git repositories, charts from
// Helm repositories and OCI registries; several with multi-source) resolved
// to one revision string and fetched as directories. lib/source/sources.ts
// implements it over the Git port and the chart fetcher.
//
// The revision is what status and history show and what "a new revision"
// means: a commit SHA for a Git source, the chart version (`1.2.3`) for a
// chart source, and for spec.sources each source's revision in order,
// joined by REVISION_SEPARATOR.

import type { ApplicationSource } from '../model/application.js';
import type { GitCredentials } from './git.js';

/** Between the revisions of a multi-source app's sources (never in a SHA or a semver version). */
export const REVISION_SEPARATOR = ',';

/** What fetching needs of an app's spec. */
export interface SourcesSpec {
  source: ApplicationSource;
  sources?: readonly ApplicationSource[];
}

export interface FetchedSource {
  source: ApplicationSource;
  /** The directory the source renders from: a checkout, or an unpacked chart. */
  dir: string;
  /** This source's own revision (SHA or chart version). */
  revision: string;
}

export interface FetchedSources {
  /** The app's revision (see above). */
  revision: string;
  /** The sources that render, in spec order. */
  rendered: FetchedSource[];
  /** Checkouts of the `ref` sources by name, for `$NAME/…` values files. */
  refs: Readonly<Record<string, string>>;
}

export interface SourceFetcher {
  /**
   * The revision the spec's sources are at now (one cheap request each). An
   * explicit `revision` (a manual sync, a rollback) is a whole app revision
   * or, without separators, the first source's.
   */
  resolve(
    spec: SourcesSpec,
    revision: string | undefined,
    credentials?: GitCredentials,
  ): Promise<string>;
  /** The files of a resolved revision (cached: an unchanged revision costs no download). */
  fetch(spec: SourcesSpec, revision: string, credentials?: GitCredentials): Promise<FetchedSources>;
}
