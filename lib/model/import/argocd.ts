// Argo CD's Application, AppProject and ApplicationSet (argoproj.io/v1alpha1,
// as Argo CD v3's pkg/apis/application/v1alpha1 types define them) to
// Driftless Applications. Each field maps to its Driftless equivalent or is
// reported with the reason it does not; what Argo CD means by a missing
// field (no `automated`: manual syncs; no `retry`: a fixed backoff) is
// written out, since Driftless's defaults differ.

import { MAX_RETRY_LIMIT } from '../application.js';
import { parseYamlDocuments } from '../yaml.js';
import {
  type ImportedApplication,
  type ImportedSource,
  type ImportedSyncPolicy,
  type ImportOptions,
  ignoreRule,
  inCluster,
  isDnsLabel,
  mappedCluster,
  repoPath,
} from './common.js';
import { formatDuration, type ObjectFields, type Path, parseGoDuration } from './fields.js';

export const ARGO_API_GROUP = 'argoproj.io';

/** Argo CD's name and URL for the cluster it runs in. */
export const ARGO_IN_CLUSTER_SERVER = 'https://kubernetes.default.svc';
export const ARGO_IN_CLUSTER_NAME = 'in-cluster';

/** Argo CD's retry backoff when `retry` sets none (its controller's defaults). */
export const ARGO_DEFAULT_BACKOFF = { duration: 5_000, factor: 2, maxDuration: 180_000 } as const;

export const PROJECTS_NOT_MAPPED = 'not mapped yet: projects arrive with tenancy (#14)';

const PER_OBJECT = (option: string) =>
  `Driftless reads ${option} per object, not per application: annotate the objects driftless.dev/sync-options: ${option}`;

/**
 * Application-wide sync options, by `Name=value`: undefined when Driftless
 * does the same (or the value is Argo CD's default), else why not.
 */
const SYNC_OPTIONS: Readonly<Record<string, (value: string) => string | undefined>> = {
  ServerSideApply: (v) =>
    v === 'true' ? undefined : 'Driftless always applies with server-side apply',
  RespectIgnoreDifferences: () => undefined, // Driftless always keeps ignored fields' live values.
  ApplyOutOfSyncOnly: () => undefined, // Driftless applies only objects that differ.
  CreateNamespace: (v) =>
    v === 'true'
      ? 'Driftless does not create the destination namespace: add a Namespace manifest to the source'
      : undefined,
  PruneLast: (v) => (v === 'true' ? PER_OBJECT('PruneLast=true') : undefined),
  Replace: (v) => (v === 'true' ? PER_OBJECT('Replace=true') : undefined),
  Force: (v) => (v === 'true' ? PER_OBJECT('Force=true') : undefined),
  Validate: (v) => (v === 'false' ? PER_OBJECT('Validate=false') : undefined),
  SkipDryRunOnMissingResource: (v) =>
    v === 'true' ? PER_OBJECT('SkipDryRunOnMissingResource=true') : undefined,
  Prune: (v) => (v === 'confirm' ? PER_OBJECT('Prune=confirm') : undefined),
  Delete: (v) =>
    v === 'confirm'
      ? 'Driftless deletes an application only when asked to (apps delete --cascade); there is no confirmation step'
      : undefined,
  FailOnSharedResource: (v) =>
    v === 'true'
      ? 'Driftless refuses only the shared object (SharedResource) and syncs the rest'
      : undefined,
  PrunePropagationPolicy: (v) =>
    v === 'foreground'
      ? undefined
      : 'Driftless prunes with foreground propagation; other policies are not supported',
};

/** Argo CD Application → Driftless Application; undefined when it cannot be imported. */
export function convertArgoApplication(
  f: ObjectFields,
  options: ImportOptions,
): ImportedApplication | undefined {
  const spec = ['spec'];
  f.ignore(['spec', 'project']);
  const project = f.string(['spec', 'project']);
  if (project && project !== 'default') f.dropped(['spec', 'project'], PROJECTS_NOT_MAPPED);

  // Sources: `sources` wins over `source` in Argo CD; a hydrator syncs its sync source.
  const sources: ImportedSource[] = [];
  let ok = true;
  const multi = f.length(['spec', 'sources']);
  if (f.has(['spec', 'sourceHydrator'])) {
    const h = ['spec', 'sourceHydrator'];
    f.note(h, 'Driftless does not hydrate: it syncs the hydrated branch (syncSource)');
    sources.push({
      repoURL: f.requiredString([...h, 'drySource', 'repoURL']),
      revision: f.requiredString([...h, 'syncSource', 'targetBranch']),
      path: repoPath(f.string([...h, 'syncSource', 'path'])) ?? '.',
    });
    f.ignore(h);
  } else if (multi > 0) {
    if (f.has(['spec', 'source'])) {
      f.dropped(['spec', 'source'], 'ignored by Argo CD when spec.sources is set');
    }
    for (let i = 0; i < multi; i++) {
      const s = argoSource(f, ['spec', 'sources', i], true);
      if (s) sources.push(s);
      else ok = false;
    }
  } else if (f.has(['spec', 'source'])) {
    const s = argoSource(f, ['spec', 'source'], false);
    if (s) sources.push(s);
    else ok = false;
  } else {
    throw f.invalid(spec, 'needs spec.source or spec.sources');
  }

  const destination = argoDestination(f, options);
  const syncPolicy = argoSyncPolicy(f);
  const ignoreDifferences = argoIgnoreDifferences(f);
  f.drop(
    ['spec', 'revisionHistoryLimit'],
    'Driftless keeps its own bounded history (failures collapsed, successes kept)',
  );
  f.drop(['spec', 'info'], 'informational links are not kept');
  f.reportUnread([spec], 'not recognized by the importer (Argo CD v3 Application)');
  if (!ok) return undefined;

  const [first] = sources;
  if (!first) return undefined;
  return {
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name: f.name },
    spec: {
      ...(sources.length === 1 ? { source: first } : { sources }),
      destinations: [destination],
      syncPolicy,
      ...(ignoreDifferences.length ? { ignoreDifferences } : {}),
    },
  };
}

function argoSource(f: ObjectFields, at: Path, inList: boolean): ImportedSource | undefined {
  const repoURL = f.requiredString([...at, 'repoURL']);
  const revision = f.string([...at, 'targetRevision']);
  const chart = f.string([...at, 'chart']);
  const out: ImportedSource = chart
    ? {
        // Argo CD names an OCI Helm registry without its scheme.
        repoURL: /^[a-z][a-z0-9+.-]*:\/\//i.test(repoURL) ? repoURL : `oci://${repoURL}`,
        chart,
        revision: revision || '*',
      }
    : { repoURL, revision: revision || 'HEAD' };
  // Everything is read before deciding, so the report lists all of it.
  let ok = true;
  if (!chart && !/^https?:\/\//.test(repoURL)) {
    f.dropped(
      [...at, 'repoURL'],
      'Driftless reads Git over http(s) only: use the https:// URL (credentials go in source.credentials)',
    );
    ok = false;
  }
  if (chart) {
    f.drop([...at, 'path'], 'a chart from a chart repository has no path');
  } else {
    const path = repoPath(f.string([...at, 'path']));
    if (path === undefined) {
      f.dropped([...at, 'path'], 'must be a relative path inside the repository');
      ok = false;
    }
    out.path = path;
  }

  const ref = f.string([...at, 'ref']);
  if (ref) {
    if (inList) out.ref = ref;
    else f.dropped([...at, 'ref'], 'only sources in spec.sources are referred to by ref');
  }
  f.drop([...at, 'name'], 'a display name only');

  if (f.has([...at, 'plugin'])) {
    f.dropped(
      [...at, 'plugin'],
      'Driftless runs no config management plugins: render in CI and commit the output, or use Helm or Kustomize',
    );
    ok = false;
  }
  if (f.has([...at, 'helm'])) {
    out.type = 'helm';
    const helm = argoHelm(f, [...at, 'helm']);
    if (Object.keys(helm).length) out.helm = helm;
  } else if (f.has([...at, 'kustomize'])) {
    out.type = 'kustomize';
    argoKustomize(f, [...at, 'kustomize']);
  } else if (f.has([...at, 'directory'])) {
    out.type = 'directory';
    const d = [...at, 'directory'];
    f.ignore([...d, 'recurse']); // Driftless reads a directory recursively.
    f.drop([...d, 'include'], 'Driftless reads every manifest under the path (no include globs)');
    f.drop([...d, 'exclude'], 'Driftless reads every manifest under the path (no exclude globs)');
    f.drop([...d, 'jsonnet'], 'Driftless does not evaluate Jsonnet');
  }
  if (chart) delete out.type; // a chart is always Helm
  return ok ? out : undefined;
}

function argoHelm(f: ObjectFields, h: Path): NonNullable<ImportedSource['helm']> {
  const out: NonNullable<ImportedSource['helm']> = {};
  const releaseName = f.string([...h, 'releaseName']);
  if (releaseName !== undefined) {
    if (isDnsLabel(releaseName, 53)) out.releaseName = releaseName;
    else
      f.dropped(
        [...h, 'releaseName'],
        'Driftless needs a release name that is a DNS label of at most 53 characters',
      );
  }
  const valueFiles: string[] = [];
  for (let i = 0; i < f.length([...h, 'valueFiles']); i++) {
    const file = f.requiredString([...h, 'valueFiles', i]);
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(file)) {
      f.dropped(
        [...h, 'valueFiles', i],
        'a values file from a URL: rendering has no network access; put the file in the repository',
      );
    } else valueFiles.push(file);
  }
  if (valueFiles.length) out.valueFiles = valueFiles;

  // Argo CD: valuesObject takes precedence over values; parameters over both.
  let values: Record<string, unknown> = {};
  const object = f.record([...h, 'valuesObject']);
  f.ignore([...h, 'valuesObject']);
  if (object) {
    values = structuredClone(object);
    f.drop([...h, 'values'], 'ignored by Argo CD: valuesObject takes precedence');
  } else {
    const text = f.string([...h, 'values']);
    if (text?.trim()) {
      let parsed: unknown;
      try {
        parsed = parseYamlDocuments(text, 'helm.values')[0]?.value;
      } catch (e) {
        throw f.invalid([...h, 'values'], `not YAML: ${(e as Error).message}`);
      }
      if (parsed !== null && parsed !== undefined) {
        if (typeof parsed !== 'object' || Array.isArray(parsed)) {
          throw f.invalid([...h, 'values'], 'must be YAML of a mapping');
        }
        values = parsed as Record<string, unknown>;
      }
    }
  }
  for (let i = 0; i < f.length([...h, 'parameters']); i++) {
    const p = [...h, 'parameters', i];
    const name = f.requiredString([...p, 'name']);
    const value = f.string([...p, 'value']) ?? '';
    const problem = setHelmParameter(values, name, value, f.bool([...p, 'forceString']) ?? false);
    if (problem) f.dropped(p, problem);
  }
  if (Object.keys(values).length) out.values = values;

  f.drop(
    [...h, 'fileParameters'],
    'Driftless has no --set-file: put the file content in values or a values file',
  );
  f.drop([...h, 'version'], 'Driftless renders with Helm 3', (v) => v === 'v3' || v === '3');
  f.drop([...h, 'passCredentials'], 'Driftless passes chart credentials to their repository only');
  f.drop([...h, 'ignoreMissingValueFiles'], 'a missing values file fails the render in Driftless');
  f.drop([...h, 'skipCrds'], "Driftless applies the chart's CRDs (helm template --include-crds)");
  f.ignore([...h, 'skipTests']); // Driftless never applies Helm test hooks.
  f.drop([...h, 'skipSchemaValidation'], "Driftless validates values against the chart's schema");
  f.drop(
    [...h, 'namespace'],
    "Helm's namespace is the destination's namespace in Driftless: set spec.destination.namespace",
  );
  f.drop([...h, 'kubeVersion'], "Driftless renders with the target cluster's Kubernetes version");
  f.drop([...h, 'apiVersions'], "Driftless renders with the target cluster's API versions");
  return out;
}

function argoKustomize(f: ObjectFields, k: Path): void {
  const reason =
    'Driftless has no Kustomize options: put it in the kustomization.yaml at the source path';
  for (const key of f.keys(k)) {
    if (key === 'version')
      f.drop([...k, key], 'Driftless renders with the kustomize built into its kubectl');
    else if (key === 'kubeVersion' || key === 'apiVersions')
      f.drop([...k, key], "Driftless renders with the target cluster's versions");
    else f.drop([...k, key], reason);
  }
}

/**
 * Sets an Argo CD Helm parameter (`--set name=value`) into values: dotted
 * paths with `\.` escapes and `[i]` indexes, values typed as Helm types
 * them (true, false, null, integers, `{a,b}` lists) unless forceString.
 */
export function setHelmParameter(
  values: Record<string, unknown>,
  name: string,
  value: string,
  forceString: boolean,
): string | undefined {
  const segments: (string | number)[] = [];
  for (const part of name.split(/(?<!\\)\./)) {
    const m = /^((?:[^[\]]|\\.)*)((?:\[\d+\])*)$/.exec(part);
    if (!m || m[1] === '') return `cannot read the parameter name "${name}"`;
    segments.push((m[1] as string).replace(/\\\./g, '.'));
    for (const idx of (m[2] as string).matchAll(/\[(\d+)\]/g)) segments.push(Number(idx[1]));
  }
  let node: Record<string, unknown> | unknown[] = values;
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i] as string | number;
    const last = i === segments.length - 1;
    const next = segments[i + 1];
    const leaf = last ? typed(value, forceString) : undefined;
    if (typeof seg === 'number') {
      if (!Array.isArray(node)) return `cannot set "${name}": not a list there`;
      while (node.length < seg) node.push(null);
      if (last) node[seg] = leaf;
      else {
        const child = node[seg];
        node[seg] = isContainer(child, next) ? child : typeof next === 'number' ? [] : {};
        node = node[seg] as Record<string, unknown> | unknown[];
      }
    } else {
      if (Array.isArray(node)) return `cannot set "${name}": a list there`;
      if (last) node[seg] = leaf;
      else {
        const child = node[seg];
        node[seg] = isContainer(child, next) ? child : typeof next === 'number' ? [] : {};
        node = node[seg] as Record<string, unknown> | unknown[];
      }
    }
  }
  return undefined;
}

function isContainer(v: unknown, next: string | number | undefined): boolean {
  return typeof next === 'number'
    ? Array.isArray(v)
    : typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typed(value: string, forceString: boolean): unknown {
  if (forceString) return value;
  if (/^\{.*\}$/.test(value)) {
    const inner = value.slice(1, -1);
    return inner === '' ? [] : inner.split(',').map((v) => typed(v, false));
  }
  if (value === 'true') return true;
  if (value === 'false') return false;
  if (value === 'null') return null;
  if (/^-?(0|[1-9]\d*)$/.test(value) && Number.isSafeInteger(Number(value))) return Number(value);
  return value;
}

function argoDestination(
  f: ObjectFields,
  options: ImportOptions,
): { cluster: string; namespace?: string } {
  const d = ['spec', 'destination'];
  if (!f.has(d)) throw f.invalid(d, 'is required');
  const server = f.string([...d, 'server']);
  const name = f.string([...d, 'name']);
  if (server && name) throw f.invalid(d, 'set server or name, not both');
  let cluster: string;
  if (server === ARGO_IN_CLUSTER_SERVER || name === ARGO_IN_CLUSTER_NAME) {
    const field = server ? [...d, 'server'] : [...d, 'name'];
    cluster = inCluster(f, options, field, (server ?? name) as string, server ?? name);
  } else if (server) {
    const mapped = mappedCluster(options, server);
    if (!('cluster' in mapped)) throw f.invalid([...d, 'server'], `${server}: ${mapped.missing}`);
    cluster = mapped.cluster;
  } else if (name) {
    const mapped = mappedCluster(options, name);
    if ('cluster' in mapped) cluster = mapped.cluster;
    else if (isDnsLabel(name)) cluster = name;
    else throw f.invalid([...d, 'name'], `${name}: ${mapped.missing}`);
  } else {
    throw f.invalid(d, 'needs server or name');
  }
  const namespace = f.string([...d, 'namespace']);
  if (namespace && !isDnsLabel(namespace)) {
    f.dropped([...d, 'namespace'], 'a Driftless destination namespace must be a DNS label');
    return { cluster };
  }
  return { cluster, ...(namespace ? { namespace } : {}) };
}

function argoSyncPolicy(f: ObjectFields): ImportedSyncPolicy {
  const sp = ['spec', 'syncPolicy'];
  const a = [...sp, 'automated'];
  // `automated: {}` turns automation on; `enabled: false` keeps it off (Argo CD 3).
  const automated = f.has(a) && f.bool([...a, 'enabled']) !== false;
  f.record(a);
  const out: ImportedSyncPolicy = {
    automated,
    prune: f.bool([...a, 'prune']) ?? false,
    selfHeal: f.bool([...a, 'selfHeal']) ?? false,
    allowEmpty: f.bool([...a, 'allowEmpty']) ?? false,
  };
  for (let i = 0; i < f.length([...sp, 'syncOptions']); i++) {
    const at = [...sp, 'syncOptions', i];
    const option = f.requiredString(at);
    const [name = '', value = ''] = option.split('=', 2).map((s) => s.trim());
    const check = SYNC_OPTIONS[name];
    const reason = check ? check(value) : 'not a sync option Driftless knows';
    if (reason) f.dropped(at, `${option}: ${reason}`);
  }
  f.drop(
    [...sp, 'managedNamespaceMetadata'],
    'Driftless does not create the destination namespace: put its labels and annotations on a Namespace manifest',
  );
  const r = [...sp, 'retry'];
  if (f.has(r)) {
    let limit = f.number([...r, 'limit']) ?? 0;
    if (limit < 0 || limit > MAX_RETRY_LIMIT) {
      f.note(
        [...r, 'limit'],
        `${limit < 0 ? 'unlimited retries' : `${limit} retries`} become Driftless's maximum, ${MAX_RETRY_LIMIT}`,
      );
      limit = MAX_RETRY_LIMIT;
    }
    const b = [...r, 'backoff'];
    const duration = argoDuration(f, [...b, 'duration']) ?? ARGO_DEFAULT_BACKOFF.duration;
    const maxDuration = argoDuration(f, [...b, 'maxDuration']) ?? ARGO_DEFAULT_BACKOFF.maxDuration;
    let factor = f.number([...b, 'factor']) ?? ARGO_DEFAULT_BACKOFF.factor;
    if (factor < 1 || factor > 10) {
      f.note(
        [...b, 'factor'],
        `Driftless's backoff factor is 1 to 10: ${factor} becomes ${factor < 1 ? 1 : 10}`,
      );
      factor = Math.min(10, Math.max(1, factor));
    }
    out.retry = {
      limit,
      backoff: {
        duration: formatDuration(duration),
        factor,
        maxDuration: formatDuration(maxDuration),
      },
    };
  } else {
    // Without `retry`, Argo CD does not retry a failed sync.
    out.retry = { limit: 0 };
  }
  return out;
}

function argoDuration(f: ObjectFields, at: Path): number | undefined {
  const text = f.string(at);
  if (text === undefined) return undefined;
  const ms = parseGoDuration(text, true);
  if (ms === undefined) throw f.invalid(at, `invalid duration "${text}"`);
  return ms;
}

function argoIgnoreDifferences(f: ObjectFields): Record<string, unknown>[] {
  const at = ['spec', 'ignoreDifferences'];
  const rules: Record<string, unknown>[] = [];
  for (let i = 0; i < f.length(at); i++) {
    const rule = f.record([...at, i]) ?? {};
    f.ignore([...at, i]);
    const checked = ignoreRule(rule);
    if (checked.rule) rules.push(checked.rule);
    else f.dropped([...at, i], `Driftless refuses this rule: ${checked.problem}`);
  }
  return rules;
}

/** AppProject: no Driftless kind yet. */
export function reportArgoProject(f: ObjectFields): void {
  f.dropped([], PROJECTS_NOT_MAPPED);
}

/** ApplicationSet: generators are not imported. */
export function reportArgoApplicationSet(f: ObjectFields): void {
  f.dropped([], 'ApplicationSets are not supported: import the Applications it generates instead');
}
