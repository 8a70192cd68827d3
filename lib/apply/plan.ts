// From parsed manifests to a sync plan, validated before anything touches the
// cluster: the tracking label, the destination's default namespace, a
// Secret's stringData as data, the app's blast-radius policy (allowed
// namespaces and kinds), sync waves, and hooks split from the resources they
// run around. Any error fails the whole plan.

import { type DesiredObject, hashObject } from '../diff/index.js';
import { DriftlessError } from '../errors.js';
import {
  type HookDeletePolicy,
  type HookPhase,
  hasHookAnnotation,
  hookOf,
  isSkipped,
  syncOptionsOf,
  syncWaveOf,
} from '../model/annotations.js';
import { type Application, globMatch, policyViolation } from '../model/application.js';
import {
  groupKind,
  groupKindOf,
  isCustomResourceDefinition,
  isFoundationKind,
} from '../model/kinds.js';
import type { Manifest, PlannedManifest } from '../model/manifest.js';
import { describeObject, groupOf, type KubeObject, LABEL_APP, objectKey } from '../model/object.js';
import { objectRefusal, type Project } from '../model/project.js';

export interface HookObject extends DesiredObject {
  phases: HookPhase[];
  deletePolicies: HookDeletePolicy[];
  /** The annotation the hook was declared with. */
  annotation: string;
}

export interface SyncPlan {
  /** Namespaces and CRDs: applied before everything else. */
  foundation: DesiredObject[];
  /** The rest, grouped by wave, lowest first. */
  waves: { wave: number; objects: DesiredObject[] }[];
  hooks: HookObject[];
  /** All non-hook objects (foundation + waves): what the drift check compares. */
  resources: DesiredObject[];
  /** Keys of objects marked `hook: Skip`: in the source, neither applied nor run. */
  skipped: string[];
}

/** Scope of a kind: true namespaced, false cluster-scoped, undefined unknown. */
export type ScopeLookup = (apiVersion: string, kind: string) => Promise<boolean | undefined>;

export { globMatch };

/** Fails the plan naming the file, the field's line, the object and the field. */
function fail(
  reason: 'InvalidManifest' | 'ForbiddenNamespace' | 'ForbiddenKind' | 'UnknownKind',
  m: PlannedManifest,
  fieldPath: string[],
  message: string,
): never {
  throw new DriftlessError(reason, message, {
    file: m.file,
    line: m.lineOf?.(fieldPath) ?? m.line,
    object: describeObject(m.object),
    field: fieldPath.join('.'),
  });
}

/**
 * A Secret's stringData merged into data (base64; stringData wins), as the API
 * server stores it. Applied as written, stringData is owned as stringData and
 * the data it becomes by no one, so server-side apply never removes a key
 * deleted from Git (kubernetes#108008); applied as data, it does. Hashes,
 * comparisons and diffs then see what the server has.
 */
function withStringDataAsData(object: KubeObject, m: PlannedManifest): KubeObject {
  if (object.kind !== 'Secret' || groupOf(object.apiVersion) !== '') return object;
  const { stringData, ...rest } = object;
  if (stringData === undefined) return object;
  if (stringData === null) return rest as KubeObject;
  if (typeof stringData !== 'object' || Array.isArray(stringData)) {
    fail('InvalidManifest', m, ['stringData'], 'stringData must be a mapping of strings');
  }
  const data = rest.data ?? {};
  if (typeof data !== 'object' || Array.isArray(data)) {
    fail('InvalidManifest', m, ['data'], 'data must be a mapping of base64 strings');
  }
  const merged: Record<string, unknown> = { ...(data as Record<string, unknown>) };
  for (const [key, value] of Object.entries(stringData as Record<string, unknown>)) {
    if (typeof value !== 'string') {
      // The API server refuses these too; base64 of "8080" would hide the mistake.
      fail(
        'InvalidManifest',
        m,
        ['stringData', key],
        `stringData.${key} must be a string: quote it`,
      );
    }
    merged[key] = Buffer.from(value, 'utf8').toString('base64');
  }
  return { ...rest, data: merged } as KubeObject;
}

/** The project whose limits a plan must stay within, on the target's cluster. */
export interface ProjectLimits {
  project: Project;
  cluster: string;
}

export async function buildPlan(
  manifests: readonly PlannedManifest[],
  app: Application,
  destinationNamespace: string | undefined,
  scopeOf: ScopeLookup,
  limits?: ProjectLimits,
): Promise<SyncPlan> {
  const appName = app.metadata.name;
  const policy = app.spec.policy;

  // CRDs in this revision define the scope of their kinds before they exist.
  const crdScopes = new Map<string, boolean>();
  for (const m of manifests) {
    const o = m.object as KubeObject & {
      spec?: { group?: string; names?: { kind?: string }; scope?: string };
    };
    if (isCustomResourceDefinition(o)) {
      if (o.spec?.group && o.spec.names?.kind) {
        crdScopes.set(groupKind(o.spec.group, o.spec.names.kind), o.spec.scope !== 'Cluster');
      }
    }
  }

  const resources: DesiredObject[] = [];
  const hooks: HookObject[] = [];
  const skipped: string[] = [];
  const seen = new Map<string, PlannedManifest>();
  for (const m of manifests) {
    const src = m.object;
    const gk = groupKindOf(src);
    let namespaced = crdScopes.get(gk) ?? (await scopeOf(src.apiVersion, src.kind));
    if (namespaced === undefined) {
      // A kind the cluster does not serve and no CRD here defines: an error,
      // unless the object says its CRD comes some other way (Argo CD's
      // SkipDryRunOnMissingResource); then it is applied after the foundation
      // as written, in its own namespace if it names one and never in a
      // guessed one (`default`), since its scope is unknown.
      const read = syncOptionsOf(src);
      if (!read.ok || !read.value.skipDryRunOnMissingResource) {
        fail(
          'UnknownKind',
          m,
          ['kind'],
          `the cluster does not serve kind ${src.kind} in ${src.apiVersion} and no CustomResourceDefinition in this revision defines it: ` +
            'install its CRD, or set argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true to apply it after the CRDs',
        );
      }
      namespaced = src.metadata.namespace !== undefined;
    }
    const metadata = { ...src.metadata };
    delete metadata.creationTimestamp;
    if (namespaced) {
      metadata.namespace ??= destinationNamespace;
      if (!metadata.namespace) {
        fail(
          'InvalidManifest',
          m,
          ['metadata', 'namespace'],
          'namespaced object has no namespace and the destination sets none',
        );
      }
    } else if (metadata.namespace) {
      delete metadata.namespace; // the server ignores it for cluster-scoped kinds; so do we
    }
    metadata.labels = { ...(metadata.labels ?? {}), [LABEL_APP]: appName };
    const { status: _status, ...body } = src;
    const object = withStringDataAsData({ ...body, metadata }, m);

    // Blast radius: namespaces and kinds the app may touch.
    const violation = policyViolation(policy, appName, {
      group: groupOf(src.apiVersion),
      kind: src.kind,
      namespace: object.metadata.namespace ?? '',
      name: object.metadata.name ?? '',
      namespaced,
    });
    if (violation) {
      const field = {
        namespace: ['metadata', 'namespace'],
        name: ['metadata', 'name'],
        kind: ['kind'],
      };
      fail(violation.reason, m, field[violation.field], violation.message);
    }
    // The project's limits, which the app's policy can only narrow.
    const refused =
      limits &&
      objectRefusal(limits.project, limits.cluster, {
        group: groupOf(src.apiVersion),
        kind: src.kind,
        namespace: object.metadata.namespace ?? '',
        name: object.metadata.name ?? '',
        namespaced,
      });
    if (refused && refused.reason !== 'InvalidSpec') {
      fail(refused.reason, m, refused.field.split('.'), refused.message);
    }

    // `hook: Skip` (Argo CD): in the source, neither applied nor run.
    if (isSkipped(object)) {
      skipped.push(objectKey(object));
      continue;
    }
    // A hook may be written with generateName only: it is named when it runs
    // (lib/apply/hooks.ts); until then its generateName stands for its name (refOf).
    const generateName = object.metadata.name ? undefined : object.metadata.generateName;
    if (generateName && !hasHookAnnotation(object)) {
      fail(
        'InvalidManifest',
        m,
        ['metadata', 'generateName'],
        'generateName is only supported on hooks (argocd.argoproj.io/hook or driftless.dev/hook): set metadata.name',
      );
    }
    const key = objectKey(object);
    const previous = seen.get(key);
    if (previous) {
      throw new DriftlessError(
        'DuplicateObject',
        `${describeObject(object)} is declared twice: ${previous.file}:${previous.line} and ${m.file}:${m.line}`,
        { file: m.file, line: m.line, object: describeObject(object) },
      );
    }
    seen.set(key, m);

    const wave = syncWaveOf(object);
    if (!wave.ok) {
      fail('InvalidManifest', m, ['metadata', 'annotations', wave.annotation], wave.message);
    }
    const options = syncOptionsOf(object);
    if (!options.ok) {
      fail('InvalidManifest', m, ['metadata', 'annotations', options.annotation], options.message);
    }
    const desired: DesiredObject = {
      key,
      object,
      hash: hashObject(object),
      wave: wave.value,
      options: options.value,
      file: m.file,
      line: m.line,
    };
    const hook = hookOf(object);
    if (!hook.ok) {
      fail('InvalidManifest', m, ['metadata', 'annotations', hook.annotation], hook.message);
    }
    if (hook.value) {
      hooks.push({ ...desired, ...hook.value });
    } else {
      resources.push(desired);
    }
  }

  const foundation = resources.filter((d) => isFoundationKind(d.object));
  const rest = resources.filter((d) => !foundation.includes(d));
  const waveNumbers = [...new Set(rest.map((d) => d.wave))].sort((a, b) => a - b);
  return {
    foundation,
    waves: waveNumbers.map((wave) => ({ wave, objects: rest.filter((d) => d.wave === wave) })),
    hooks: hooks.sort((a, b) => a.wave - b.wave || (a.key < b.key ? -1 : 1)),
    resources,
    skipped,
  };
}

/** The plan's objects (namespace defaulted, labelled) with their source's file and field lines. */
export function plannedManifests(plan: SyncPlan, manifests: readonly Manifest[]): Manifest[] {
  const bySource = new Map(manifests.map((m) => [`${m.file}:${m.line}`, m]));
  return [...plan.resources, ...plan.hooks].flatMap((d) => {
    const source = bySource.get(`${d.file}:${d.line}`);
    return source ? [{ ...source, object: d.object }] : [];
  });
}
