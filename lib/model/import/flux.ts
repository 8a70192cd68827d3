// Flux's GitRepository + Kustomization and HelmRepository + HelmRelease
// (source.toolkit.fluxcd.io/v1, kustomize.toolkit.fluxcd.io/v1,
// helm.toolkit.fluxcd.io/v2, as Flux 2.x's API types define them) to
// Driftless Applications. A Kustomization or HelmRelease becomes an
// Application; the source it refers to (by namespace/name, resolved within
// the input) gives its repository. Flux reconciles continuously and corrects
// drift on every interval: the Applications are automated with self-heal.

import { MAX_RETRY_LIMIT } from '../application.js';
import {
  fluxIgnoreRules,
  type ImportedApplication,
  type ImportedSource,
  type ImportedSyncPolicy,
  type ImportOptions,
  inCluster,
  isDnsLabel,
  mappedCluster,
  repoPath,
} from './common.js';
import { formatDuration, type ObjectFields, type Path, parseGoDuration } from './fields.js';

export const FLUX_SOURCE_GROUP = 'source.toolkit.fluxcd.io';
export const FLUX_KUSTOMIZE_GROUP = 'kustomize.toolkit.fluxcd.io';
export const FLUX_HELM_GROUP = 'helm.toolkit.fluxcd.io';

/** Flux checks out `master` when a GitRepository names no ref. */
export const FLUX_DEFAULT_BRANCH = 'master';

const IN_KUSTOMIZATION =
  'Driftless has no Kustomize options: put it in the kustomization.yaml at the path';
const HELM_ACTIONS =
  'Driftless does not run Helm actions (install, upgrade, test, rollback, uninstall): it renders the chart with helm template and applies the objects';
const SECRET_CREDENTIALS =
  'a Kubernetes Secret: store the credentials in Secrets Manager (or the local secrets file) and set source.credentials';

/** Sources by `namespace/name`, converted once however many objects use them. */
export class FluxSources {
  private readonly git = new Map<string, { f: ObjectFields; done?: GitSource | null }>();
  private readonly helm = new Map<string, { f: ObjectFields; done?: HelmRepoSource | null }>();

  add(f: ObjectFields): void {
    const key = `${f.namespace ?? ''}/${f.name}`;
    if (f.report.kind === 'GitRepository') this.git.set(key, { f });
    if (f.report.kind === 'HelmRepository') this.helm.set(key, { f });
  }

  gitRepository(namespace: string, name: string, user: string): GitSource | null | undefined {
    const entry = this.git.get(`${namespace}/${name}`);
    if (!entry) return undefined;
    entry.f.report.usedBy.push(user);
    if (entry.done === undefined) entry.done = convertGitRepository(entry.f);
    return entry.done;
  }

  helmRepository(namespace: string, name: string, user: string): HelmRepoSource | null | undefined {
    const entry = this.helm.get(`${namespace}/${name}`);
    if (!entry) return undefined;
    entry.f.report.usedBy.push(user);
    if (entry.done === undefined) entry.done = convertHelmRepository(entry.f);
    return entry.done;
  }

  /** Reports the fields of sources nothing used (each is still read, for its own report). */
  finish(): void {
    for (const entry of [...this.git.values(), ...this.helm.values()]) {
      if (entry.done !== undefined) continue;
      if (entry.f.report.kind === 'GitRepository') entry.done = convertGitRepository(entry.f);
      else entry.done = convertHelmRepository(entry.f);
      entry.f.note([], 'no Kustomization or HelmRelease in the input uses it');
    }
  }
}

interface GitSource {
  repoURL: string;
  revision: string;
  suspend: boolean;
}

interface HelmRepoSource {
  repoURL: string;
  suspend: boolean;
}

/** A GitRepository's URL and ref; null when Driftless cannot read it. */
function convertGitRepository(f: ObjectFields): GitSource | null {
  const s = ['spec'];
  const url = f.requiredString([...s, 'url']);
  let ok = true;
  if (!/^https?:\/\//.test(url)) {
    f.dropped(
      [...s, 'url'],
      'Driftless reads Git over http(s) only: use the https:// URL (credentials go in source.credentials)',
    );
    ok = false;
  }
  // Flux's precedence: commit, name, semver, tag, branch.
  const r = [...s, 'ref'];
  const commit = f.string([...r, 'commit']);
  const refName = f.string([...r, 'name']);
  const semver = f.string([...r, 'semver']);
  const tag = f.string([...r, 'tag']);
  const branch = f.string([...r, 'branch']);
  let revision = FLUX_DEFAULT_BRANCH;
  if (commit) revision = commit;
  else if (refName) {
    const m = /^refs\/(?:heads|tags)\/(.+)$/.exec(refName);
    if (m) revision = m[1] as string;
    else {
      f.dropped([...r, 'name'], 'Driftless checks out branches, tags and commits only');
      ok = false;
    }
  } else if (semver) {
    f.dropped(
      [...r, 'semver'],
      'Driftless does not pick Git tags by semver range: pin a tag or follow a branch',
    );
    ok = false;
  } else if (tag) revision = tag;
  else if (branch) revision = branch;
  f.ignore(['spec', 'interval']); // Driftless learns of new commits by webhook and its sweep.
  f.drop([...s, 'secretRef'], SECRET_CREDENTIALS);
  f.drop(
    [...s, 'provider'],
    'set source.credentials (a token, basic auth or the GitHub App) instead',
    (v) => v === 'generic',
  );
  f.drop([...s, 'serviceAccountName'], 'Driftless authenticates with source.credentials');
  f.drop([...s, 'timeout'], 'Driftless times Git operations itself');
  f.drop([...s, 'verify'], 'Driftless does not verify commit signatures');
  f.drop([...s, 'proxySecretRef'], 'Driftless reaches Git without a proxy');
  f.drop([...s, 'ignore'], 'Driftless reads every manifest under the path (no .sourceignore)');
  f.drop([...s, 'recurseSubmodules'], 'Driftless does not check out submodules');
  f.drop([...s, 'include'], 'Driftless does not combine repositories into one source');
  f.drop([...s, 'sparseCheckout'], 'Driftless checks out what the path needs');
  const suspend = f.bool([...s, 'suspend']) ?? false;
  f.reportUnread([s], 'not recognized by the importer (Flux source.toolkit.fluxcd.io/v1)');
  return ok ? { repoURL: url, revision, suspend } : null;
}

function convertHelmRepository(f: ObjectFields): HelmRepoSource | null {
  const s = ['spec'];
  const url = f.requiredString([...s, 'url']);
  const type = f.string([...s, 'type']);
  let repoURL = url;
  if (type === 'oci' && !url.startsWith('oci://'))
    repoURL = `oci://${url.replace(/^[a-z]+:\/\//, '')}`;
  let ok = true;
  if (!/^(https?|oci):\/\//.test(repoURL)) {
    f.dropped([...s, 'url'], 'a chart repository is an https:// or oci:// URL');
    ok = false;
  }
  f.ignore([...s, 'interval']);
  f.drop([...s, 'secretRef'], SECRET_CREDENTIALS);
  f.drop([...s, 'certSecretRef'], 'Driftless uses the system trust store for chart repositories');
  f.drop([...s, 'passCredentials'], 'Driftless passes chart credentials to their repository only');
  f.drop([...s, 'insecure'], 'Driftless reaches chart repositories over TLS only');
  f.drop(
    [...s, 'provider'],
    'Driftless reaches ECR with its own role; other providers need source.credentials',
    (v) => v === 'generic',
  );
  f.drop([...s, 'timeout'], 'Driftless times chart downloads itself');
  f.drop([...s, 'accessFrom'], 'cross-namespace access has no meaning in Driftless');
  const suspend = f.bool([...s, 'suspend']) ?? false;
  f.reportUnread([s], 'not recognized by the importer (Flux source.toolkit.fluxcd.io/v1)');
  return ok ? { repoURL, suspend } : null;
}

/** Kustomization → Application; undefined when its source cannot be imported. */
export function convertKustomization(
  f: ObjectFields,
  sources: FluxSources,
  options: ImportOptions,
): ImportedApplication | undefined {
  const s = ['spec'];
  const ref = [...s, 'sourceRef'];
  const kind = f.requiredString([...ref, 'kind']);
  const refName = f.requiredString([...ref, 'name']);
  const refNamespace = f.string([...ref, 'namespace']) ?? f.namespace ?? '';
  f.ignore([...ref, 'apiVersion']);
  let git: GitSource | null | undefined;
  if (kind !== 'GitRepository') {
    f.dropped(
      [...ref, 'kind'],
      `${kind} sources are not supported: Driftless reads Git repositories`,
    );
  } else {
    git = sources.gitRepository(refNamespace, refName, f.report.object);
    if (git === undefined)
      f.dropped(
        ref,
        `dangling reference: GitRepository ${refNamespace}/${refName} is not in the input`,
      );
    else if (git === null)
      f.dropped(
        ref,
        `GitRepository ${refNamespace}/${refName} cannot be imported (see its report)`,
      );
  }
  const path = repoPath(f.string([...s, 'path']));
  if (path === undefined)
    f.dropped([...s, 'path'], 'must be a relative path inside the repository');

  const cluster = fluxCluster(f, options);
  const namespace = f.string([...s, 'targetNamespace']);
  if (namespace)
    f.note(
      [...s, 'targetNamespace'],
      'Flux sets it on every object; Driftless puts objects that set no namespace there',
    );
  const syncPolicy = fluxSyncPolicy(f);
  syncPolicy.prune = f.bool([...s, 'prune']) ?? false;
  const retryInterval = fluxDuration(f, [...s, 'retryInterval']);
  if (retryInterval !== undefined) {
    syncPolicy.retry = {
      limit: MAX_RETRY_LIMIT,
      backoff: {
        duration: formatDuration(retryInterval),
        factor: 1,
        maxDuration: formatDuration(retryInterval),
      },
    };
    f.note(
      [...s, 'retryInterval'],
      `Flux retries without end; Driftless retries ${MAX_RETRY_LIMIT} times, then waits for a new commit or a manual sync`,
    );
  }
  const ignoreDifferences = fluxIgnoreRules(f, [...s, 'driftIgnoreRules']);

  const wait = f.bool([...s, 'wait']) ?? false; // Driftless assesses the health of all it applies.
  if (!wait)
    f.drop(
      [...s, 'healthChecks'],
      'Driftless assesses the health of every object it applies, and of nothing else',
    );
  else f.ignore([...s, 'healthChecks']); // Flux ignores them when wait is on.
  f.drop([...s, 'healthCheckExprs'], 'Driftless has no CEL health checks');
  f.drop(
    [...s, 'force'],
    'Driftless recreates per object: annotate the objects driftless.dev/force: Enabled (or kustomize.toolkit.fluxcd.io/force: Enabled)',
  );
  f.drop(
    [...s, 'decryption'],
    'SOPS decryption (spec.decryption) is not in the Driftless schema yet (issue #13)',
  );
  for (const field of [
    'patches',
    'images',
    'namePrefix',
    'nameSuffix',
    'components',
    'commonMetadata',
  ]) {
    f.drop([...s, field], IN_KUSTOMIZATION);
  }
  f.drop([...s, 'ignoreMissingComponents'], IN_KUSTOMIZATION);
  f.drop([...s, 'postBuild'], 'Driftless applies manifests as rendered: no variable substitution');
  f.drop(
    [...s, 'dependsOn'],
    'Driftless has no dependencies between applications: order objects with sync waves',
  );
  f.drop(
    [...s, 'serviceAccountName'],
    "Driftless applies with the cluster's credentials (no impersonation)",
  );
  f.drop(
    [...s, 'deletionPolicy'],
    'Driftless prunes on deletion when asked (apps delete --cascade)',
    (v) => v === 'MirrorPrune',
  );
  f.reportUnread([s], 'not recognized by the importer (Flux kustomize.toolkit.fluxcd.io/v1)');
  if (!git || path === undefined) return undefined;

  const source: ImportedSource = { repoURL: git.repoURL, revision: git.revision, path };
  const suspended = (f.bool([...s, 'suspend']) ?? false) || git.suspend;
  return {
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name: f.name },
    spec: {
      source,
      destinations: [{ cluster, ...(namespace ? { namespace } : {}) }],
      syncPolicy,
      ...(ignoreDifferences.length ? { ignoreDifferences } : {}),
      ...(suspended ? { suspended } : {}),
    },
  };
}

/** HelmRelease → Application with a chart source (or a chart in Git). */
export function convertHelmRelease(
  f: ObjectFields,
  sources: FluxSources,
  options: ImportOptions,
): ImportedApplication | undefined {
  const s = ['spec'];
  const c = [...s, 'chart', 'spec'];
  let source: ImportedSource | undefined;
  let suspendedSource = false;
  if (f.has([...s, 'chartRef'])) {
    f.dropped(
      [...s, 'chartRef'],
      'charts from OCIRepository or HelmChart objects are not imported: use spec.chart with a HelmRepository',
    );
  } else {
    const chart = f.requiredString([...c, 'chart']);
    const version = f.string([...c, 'version']);
    const ref = [...c, 'sourceRef'];
    const kind = f.requiredString([...ref, 'kind']);
    const refName = f.requiredString([...ref, 'name']);
    const refNamespace = f.string([...ref, 'namespace']) ?? f.namespace ?? '';
    f.ignore([...ref, 'apiVersion']);
    const valueFiles: string[] = [];
    const legacy = f.string([...c, 'valuesFile']);
    if (legacy) valueFiles.push(legacy);
    for (let i = 0; i < f.length([...c, 'valuesFiles']); i++) {
      valueFiles.push(f.requiredString([...c, 'valuesFiles', i]));
    }
    if (kind === 'HelmRepository') {
      const repo = sources.helmRepository(refNamespace, refName, f.report.object);
      if (repo === undefined)
        f.dropped(
          ref,
          `dangling reference: HelmRepository ${refNamespace}/${refName} is not in the input`,
        );
      else if (repo === null)
        f.dropped(
          ref,
          `HelmRepository ${refNamespace}/${refName} cannot be imported (see its report)`,
        );
      else {
        source = { repoURL: repo.repoURL, chart, revision: version || '*' };
        if (valueFiles.length) source.helm = { valueFiles };
        suspendedSource = repo.suspend;
      }
    } else if (kind === 'GitRepository') {
      const git = sources.gitRepository(refNamespace, refName, f.report.object);
      const path = repoPath(chart);
      f.drop([...c, 'version'], 'a chart in Git renders at the GitRepository revision');
      if (git === undefined)
        f.dropped(
          ref,
          `dangling reference: GitRepository ${refNamespace}/${refName} is not in the input`,
        );
      else if (git === null)
        f.dropped(
          ref,
          `GitRepository ${refNamespace}/${refName} cannot be imported (see its report)`,
        );
      else if (path === undefined)
        f.dropped([...c, 'chart'], 'must be a relative path inside the repository');
      else {
        source = { repoURL: git.repoURL, revision: git.revision, path, type: 'helm' };
        // Flux names values files from the repository root; Driftless from the chart.
        const relative = valueFiles.map((v) => relativeTo(path, repoPath(v) ?? v));
        if (relative.length) source.helm = { valueFiles: relative };
        suspendedSource = git.suspend;
      }
    } else {
      f.dropped([...ref, 'kind'], `${kind} sources are not supported`);
    }
    f.ignore([...c, 'interval']);
    f.drop(
      [...c, 'reconcileStrategy'],
      'Driftless renders a chart in Git at every new commit',
      (v) => v === 'ChartVersion',
    );
    f.drop(
      [...c, 'ignoreMissingValuesFiles'],
      'a missing values file fails the render in Driftless',
    );
    f.drop([...c, 'verify'], 'Driftless verifies chart digests, not signatures');
    f.drop([...s, 'chart', 'metadata'], 'Driftless makes no HelmChart object to label');
  }

  const targetNamespace = f.string([...s, 'targetNamespace']);
  const namespace = targetNamespace ?? f.namespace;
  let releaseName = f.string([...s, 'releaseName']);
  if (!releaseName) releaseName = targetNamespace ? `${targetNamespace}-${f.name}` : f.name;
  const cluster = fluxCluster(f, options);
  const syncPolicy = fluxSyncPolicy(f);
  // A Helm upgrade removes what the chart no longer renders.
  syncPolicy.prune = true;
  const mode = f.string([...s, 'driftDetection', 'mode']) ?? 'disabled';
  // Only `enabled` corrects drift; `warn` reports it, as Driftless does without self-heal.
  syncPolicy.selfHeal = mode === 'enabled';
  const ignoreDifferences = fluxIgnoreRules(f, [...s, 'driftDetection', 'ignore']);
  const retries = Math.max(
    f.number([...s, 'install', 'remediation', 'retries']) ?? 0,
    f.number([...s, 'upgrade', 'remediation', 'retries']) ?? 0,
  );
  const negative = [
    f.number([...s, 'install', 'remediation', 'retries']),
    f.number([...s, 'upgrade', 'remediation', 'retries']),
  ].some((n) => n !== undefined && n < 0);
  if (negative || retries > MAX_RETRY_LIMIT) {
    f.note(
      [...s, 'upgrade', 'remediation', 'retries'],
      `retries become Driftless's maximum, ${MAX_RETRY_LIMIT}`,
    );
  }
  syncPolicy.retry = { limit: negative ? MAX_RETRY_LIMIT : Math.min(retries, MAX_RETRY_LIMIT) };

  let values: Record<string, unknown> | undefined;
  const v = f.record([...s, 'values']);
  f.ignore([...s, 'values']);
  if (v && Object.keys(v).length) values = v;
  f.drop(
    [...s, 'valuesFrom'],
    'values from ConfigMaps and Secrets in the cluster: Driftless renders from the source only; inline them in values or a values file',
  );
  f.drop(
    [...s, 'install', 'createNamespace'],
    'Driftless does not create the destination namespace: add a Namespace manifest',
  );
  f.drop([...s, 'install', 'crds'], "Driftless applies the chart's CRDs", (x) => x !== 'Skip');
  f.drop(
    [...s, 'upgrade', 'crds'],
    "Driftless applies the chart's CRDs on every sync",
    (x) => x !== 'Skip',
  );
  for (const action of ['install', 'upgrade', 'test', 'rollback', 'uninstall']) {
    f.reportUnread([[...s, action]], HELM_ACTIONS);
  }
  f.drop([...s, 'storageNamespace'], 'Driftless keeps no Helm release storage');
  f.drop([...s, 'maxHistory'], 'Driftless keeps its own bounded history');
  f.drop([...s, 'persistentClient'], HELM_ACTIONS);
  f.drop([...s, 'postRenderers'], 'Driftless applies the chart as rendered: no post-renderers');
  f.drop([...s, 'commonMetadata'], 'Driftless adds only its own label to what it applies');
  f.drop(
    [...s, 'dependsOn'],
    'Driftless has no dependencies between applications: order objects with sync waves',
  );
  f.drop(
    [...s, 'serviceAccountName'],
    "Driftless applies with the cluster's credentials (no impersonation)",
  );
  f.reportUnread([s], 'not recognized by the importer (Flux helm.toolkit.fluxcd.io/v2)');
  if (!source) return undefined;

  if (isDnsLabel(releaseName, 53)) source.helm = { releaseName, ...source.helm };
  else
    f.note(
      [...s, 'releaseName'],
      `release name ${releaseName} is not a DNS label of at most 53 characters: Driftless names the release after the application`,
    );
  if (values) source.helm = { ...source.helm, values };
  const suspended = (f.bool([...s, 'suspend']) ?? false) || suspendedSource;
  return {
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name: f.name },
    spec: {
      source,
      destinations: [{ cluster, ...(namespace && isDnsLabel(namespace) ? { namespace } : {}) }],
      syncPolicy,
      ...(ignoreDifferences.length ? { ignoreDifferences } : {}),
      ...(suspended ? { suspended } : {}),
    },
  };
}

function relativeTo(from: string, to: string): string {
  const a = from === '.' ? [] : from.split('/');
  const b = to === '.' ? [] : to.split('/');
  let i = 0;
  while (i < a.length && i < b.length && a[i] === b[i]) i++;
  return [...a.slice(i).map(() => '..'), ...b.slice(i)].join('/') || '.';
}

/** Interval, timeout and suspension, common to Kustomization and HelmRelease. */
function fluxSyncPolicy(f: ObjectFields): ImportedSyncPolicy {
  const s = ['spec'];
  const out: ImportedSyncPolicy = { automated: true, prune: false, selfHeal: true };
  const interval = fluxDuration(f, [...s, 'interval']);
  if (interval !== undefined) out.interval = formatDuration(interval);
  const timeout = fluxDuration(f, [...s, 'timeout']);
  if (timeout !== undefined) out.healthTimeout = formatDuration(timeout);
  f.ignore([...s, 'suspend']);
  return out;
}

function fluxDuration(f: ObjectFields, at: Path): number | undefined {
  const text = f.string(at);
  if (text === undefined) return undefined;
  const ms = parseGoDuration(text);
  if (ms === undefined) throw f.invalid(at, `invalid duration "${text}" (Go duration, e.g. 5m0s)`);
  return ms;
}

/** Flux reconciles in its own cluster unless spec.kubeConfig names another. */
function fluxCluster(f: ObjectFields, options: ImportOptions): string {
  const k = ['spec', 'kubeConfig'];
  if (!f.has(k)) return inCluster(f, options, ['spec'], `${f.report.object} (no spec.kubeConfig)`);
  const secret = f.requiredString([...k, 'secretRef', 'name']);
  f.ignore(k);
  const mapped = mappedCluster(options, secret);
  if ('cluster' in mapped) return mapped.cluster;
  throw f.invalid([...k, 'secretRef', 'name'], `kubeconfig Secret ${secret}: ${mapped.missing}`);
}
