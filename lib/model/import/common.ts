// What both importers emit and share: the Driftless Application they write
// (in the form a user would write it: durations as text, defaults spelled
// out where Argo CD's or Flux's differ from Driftless's), the command-line
// options that name clusters, and the small conversions both need.

import { type API_VERSION, IgnoreDifferenceSchema, type SourceType } from '../application.js';
import { DNS_LABEL } from '../common.js';
import type { ObjectFields, Path } from './fields.js';

/** A source as the importers write it; `chart` and `ref` are chart sources' (issue #13). */
export interface ImportedSource {
  repoURL: string;
  /** Git: branch, tag or SHA. Chart: version or semver range. */
  revision?: string;
  path?: string;
  /** Chart name in a Helm repository or OCI registry (repoURL `https://…` or `oci://…`). */
  chart?: string;
  /** Argo CD multi-source: the name other sources' `$NAME/…` value files refer to. */
  ref?: string;
  type?: SourceType;
  helm?: { releaseName?: string; valueFiles?: string[]; values?: Record<string, unknown> };
  kustomize?: Record<string, never>;
}

export interface ImportedSyncPolicy {
  automated: boolean;
  prune: boolean;
  selfHeal: boolean;
  allowEmpty?: boolean;
  interval?: string;
  healthTimeout?: string;
  retry?: {
    limit?: number;
    backoff?: { duration?: string; factor?: number; maxDuration?: string };
  };
}

export interface ImportedApplication {
  apiVersion: typeof API_VERSION;
  kind: 'Application';
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    source?: ImportedSource;
    /** Argo CD multi-source applications (issue #13's chart sources). */
    sources?: ImportedSource[];
    destinations: { cluster: string; namespace?: string }[];
    syncPolicy: ImportedSyncPolicy;
    ignoreDifferences?: Record<string, unknown>[];
    suspended?: boolean;
    /** SOPS decryption (Flux kustomize-controller spec.decryption). */
    decryption?: { provider: 'sops'; secretRef?: string };
  };
}

export interface ImportOptions {
  /** The Driftless cluster standing for the one Argo CD or Flux runs in (`--cluster`). */
  cluster?: string;
  /**
   * Argo CD destination servers or names, and Flux kubeConfig Secret names,
   * to Driftless cluster names (`--cluster-map KEY=NAME`).
   */
  clusterMap: Readonly<Record<string, string>>;
}

/** Whether a name is a Driftless name (a DNS label of at most `max`). */
export function isDnsLabel(s: string, max = 63): boolean {
  return s.length <= max && DNS_LABEL.test(s);
}

/**
 * A path inside the repository as Driftless writes it (`./apps/` → `apps`),
 * or undefined when it leaves the repository.
 */
export function repoPath(p: string | undefined): string | undefined {
  if (p === undefined) return '.';
  const parts = p.split('/').filter((s) => s !== '' && s !== '.');
  if (p.startsWith('/') || parts.includes('..')) return undefined;
  return parts.length ? parts.join('/') : '.';
}

/** A cluster named by `key` (a server URL, an Argo CD cluster name, a kubeconfig Secret), or why not. */
export function mappedCluster(
  options: ImportOptions,
  key: string,
): { cluster: string } | { missing: string } {
  const mapped = options.clusterMap[key] ?? options.clusterMap[key.replace(/\/+$/, '')];
  if (mapped) return { cluster: mapped };
  return { missing: `pass --cluster-map ${key}=NAME naming the Driftless cluster it is` };
}

/** The Driftless cluster for "the cluster the GitOps controller runs in". */
export function inCluster(
  f: ObjectFields,
  options: ImportOptions,
  path: Path,
  what: string,
  key?: string,
): string {
  const mapped = key ? mappedCluster(options, key) : undefined;
  if (mapped && 'cluster' in mapped) return mapped.cluster;
  if (options.cluster) return options.cluster;
  throw f.invalid(
    path,
    `${what} is the cluster the controller runs in: name its Driftless cluster with --cluster NAME`,
  );
}

/**
 * An ignore rule in Argo CD's shape, as Driftless checks it; the message of
 * the first problem when Driftless would refuse it.
 */
export function ignoreRule(rule: Record<string, unknown>): {
  rule?: Record<string, unknown>;
  problem?: string;
} {
  const parsed = IgnoreDifferenceSchema.safeParse(rule);
  if (parsed.success) return { rule };
  const issue = parsed.error.issues[0];
  const where = issue?.path.length ? `${issue.path.join('.')}: ` : '';
  return { problem: `${where}${issue?.message ?? 'invalid'}` };
}

/** Flux's drift-ignore rules (`paths` + a kustomize selector) as Argo CD-shaped ignore rules. */
export function fluxIgnoreRules(f: ObjectFields, path: Path): Record<string, unknown>[] {
  const rules: Record<string, unknown>[] = [];
  for (let i = 0; i < f.length(path); i++) {
    const at = [...path, i];
    const paths: string[] = [];
    for (let j = 0; j < f.length([...at, 'paths']); j++) {
      paths.push(f.requiredString([...at, 'paths', j]));
    }
    const target = [...at, 'target'];
    const selectors = ['labelSelector', 'annotationSelector'].filter((s) => f.has([...target, s]));
    if (selectors.length) {
      f.dropped(
        at,
        `a rule selecting objects by ${selectors.join(' and ')} has no Driftless equivalent (ignore rules select by group, kind, name and namespace)`,
      );
      continue;
    }
    f.ignore([...target, 'version']);
    const name = f.string([...target, 'name']);
    const namespace = f.string([...target, 'namespace']);
    // Kustomize selectors match names as regular expressions; Driftless exactly.
    const regex = [name, namespace].find((s) => s !== undefined && /[\^$*+?()[\]{}|\\]/.test(s));
    if (regex !== undefined) {
      f.dropped(
        at,
        `"${regex}" is a regular expression; Driftless ignore rules match names exactly`,
      );
      continue;
    }
    const rule: Record<string, unknown> = {
      group: f.string([...target, 'group']) ?? '*',
      kind: f.string([...target, 'kind']) ?? '*',
      ...(name ? { name } : {}),
      ...(namespace ? { namespace } : {}),
      jsonPointers: paths,
    };
    const checked = ignoreRule(rule);
    if (checked.rule) rules.push(checked.rule);
    else f.dropped(at, `Driftless refuses this rule: ${checked.problem}`);
  }
  return rules;
}

/** Whether the source is one only chart sources (issue #13) can express. */
export function needsChartSources(app: ImportedApplication): boolean {
  const sources = app.spec.sources ?? (app.spec.source ? [app.spec.source] : []);
  return (
    app.spec.sources !== undefined ||
    sources.some((s) => s.chart !== undefined || s.ref !== undefined)
  );
}
