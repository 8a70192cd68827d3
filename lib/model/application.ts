// Application and Cluster: what users declare (apiVersion driftless.dev/v1),
// validated here and nowhere else. Errors name the file, line and field.

import { createHash } from 'node:crypto';
import { validRange } from 'semver';
import { z } from 'zod';
import { DriftlessError } from '../errors.js';
import { canonicalJson } from './canonical.js';
import { API_VERSION, DNS_LABEL, globMatch, NameSchema } from './common.js';
import { compileJqPath } from './jq.js';
import { groupKind } from './kinds.js';
import { DEFAULT_PROJECT, type Project, ProjectSchema } from './project.js';
import { parseYamlDocuments, type YamlDocument } from './yaml.js';

/** Highest syncPolicy.retry.limit an app may set (the job queue's redrive is sized from it). */
export const MAX_RETRY_LIMIT = 100;

export { API_VERSION, globMatch } from './common.js';

const name = NameSchema;

/** `30s`, `5m`, `1h30m`, `250ms` → milliseconds. */
export function parseDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    if (m.index !== consumed) break;
    const n = Number(m[1]);
    total += n * { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 }[m[2] as 'ms' | 's' | 'm' | 'h'];
    consumed += m[0].length;
  }
  if (consumed !== text.length || text.length === 0) {
    throw new Error(`invalid duration "${text}" (use e.g. 30s, 5m, 1h30m)`);
  }
  return total;
}

const duration = z.string().transform((s, ctx) => {
  try {
    return parseDuration(s);
  } catch (e) {
    ctx.addIssue({ code: 'custom', message: (e as Error).message });
    return z.NEVER;
  }
});

/** A relative path inside the repository: no absolute paths, no `..`. */
const repoPath = z
  .string()
  .default('.')
  .refine(
    (p) => !p.startsWith('/') && !p.split(/[\\/]/).includes('..') && !p.includes('\0'),
    'must be a relative path inside the repository (no leading /, no ..)',
  );

/** How the files at source.path become objects; unset: detected from the directory. */
export const SOURCE_TYPES = ['directory', 'kustomize', 'helm'] as const;
export type SourceType = (typeof SOURCE_TYPES)[number];

/**
 * A file named relative to a chart. `..` is allowed here (a values file shared
 * by several charts); render time confines the resolved path to the checkout.
 * URLs are refused: Helm would fetch them, and rendering has no network.
 */
const chartRelativeFile = z
  .string()
  .min(1)
  .refine((p) => !p.includes('\0'), 'must not contain a NUL byte')
  .refine(
    (p) => !p.startsWith('/') && !/^[A-Za-z]:[\\/]/.test(p),
    'must be a path relative to the chart, not absolute',
  )
  .refine(
    (p) => !/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(p),
    'must be a file in the repository, not a URL (rendering has no network access)',
  );

export const HelmSourceSchema = z
  .object({
    /** Helm release name (`.Release.Name`). Default: the application's name. */
    releaseName: z
      .string()
      .max(53)
      .regex(DNS_LABEL, 'must be a DNS label: lowercase letters, digits and -, at most 53')
      .optional(),
    /** Values files, relative to the chart, applied in order after the chart's values.yaml. */
    valueFiles: z.array(chartRelativeFile).default([]),
    /** Inline values, applied last (over the values files). */
    values: z.record(z.string(), z.unknown()).default({}),
  })
  .strict();

/** Room for Kustomize options; none yet, so a typo is an error rather than ignored. */
export const KustomizeSourceSchema = z.object({}).strict();

// --- Private Git: credentials by reference, never in a URL (see README, "Private repositories").

/** A URL's user info (`https://user:token@host`): a credential that must not be stored. */
export function hasUserInfo(url: string): boolean {
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*@/.test(url);
}

const NO_USER_INFO =
  'must not carry credentials (user info such as https://user:token@host): name a secret in source.credentials, or register a Repository for the URL prefix';

/**
 * A secret's name: in AWS, under the stack's prefix in Secrets Manager
 * (driftless/<stack>/<name>); in local mode, a key of the secrets file.
 */
export const secretName = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9/_+=.@-]{0,199}$/,
    'must be a secret name (letters, digits and /_+=.@-, at most 200; not an ARN)',
  )
  .refine((n) => !n.split('/').includes('..'), 'must not contain a .. segment');

// --- end Private Git

export const SourceSchema = z
  .object({
    repoURL: z
      .string()
      .refine(
        (u) =>
          /^(https?):\/\/[^\s]+$/.test(u) ||
          /^file:\/\/\/[^\s]+$/.test(u) ||
          /^oci:\/\/[^\s/]+\/[^\s]+$/.test(u),
        'must be an http(s) Git URL (or file:///path for a local repository in local mode; ' +
          'oci://registry/path or an https:// Helm repository with chart)',
      )
      .refine((u) => !hasUserInfo(u), NO_USER_INFO),
    /** Branch, tag or commit SHA. */
    revision: z.string().min(1).default('HEAD'),
    path: repoPath,
    /** Private Git: the secret holding Git credentials (README, "Private repositories"). */
    credentials: secretName.optional(),
    /** Unset: kustomization.yaml at the path → kustomize, Chart.yaml → helm, else directory. */
    type: z.enum(SOURCE_TYPES).optional(),
    helm: HelmSourceSchema.optional(),
    kustomize: KustomizeSourceSchema.optional(),
    // Chart sources (issue #13, Argo CD's `chart`): with chart set, repoURL is
    // a Helm repository (https://…) or an OCI registry (oci://host/path),
    // revision a chart version or a semver range, and path is unused.
    /** The chart's name in the Helm repository or under the OCI path. */
    chart: z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a chart name (letters, digits, ., _ and -)')
      .optional(),
    // Multi-source (issue #13, Argo CD's `ref`): a Git source other sources'
    // values files name as `$NAME/path`; it renders nothing itself.
    ref: z
      .string()
      .regex(/^[A-Za-z0-9_-]+$/, 'must be a name of letters, digits, _ and -')
      .optional(),
  })
  .superRefine((source, ctx) => {
    // Chart sources (issue #13).
    if (source.chart !== undefined) {
      if (!/^(https?|oci):\/\//.test(source.repoURL)) {
        ctx.addIssue({
          code: 'custom',
          path: ['repoURL'],
          message: 'a chart source needs an https:// Helm repository or an oci:// registry',
        });
      }
      if (source.revision === 'HEAD' || validRange(source.revision) === null) {
        ctx.addIssue({
          code: 'custom',
          path: ['revision'],
          message:
            'a chart source needs a chart version or a semver range (e.g. 1.2.3, ^1.2.0 or *)' +
            (source.revision === 'HEAD' ? '' : `, got "${source.revision}"`),
        });
      }
      if (source.path !== '.') {
        ctx.addIssue({
          code: 'custom',
          path: ['path'],
          message: 'path is not used with chart (the chart package is rendered)',
        });
      }
      if (source.type !== undefined && source.type !== 'helm') {
        ctx.addIssue({ code: 'custom', path: ['type'], message: 'a chart source is type helm' });
      }
      if (source.ref !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['ref'],
          message: 'ref names a Git source for $values; a chart source cannot carry it',
        });
      }
    } else if (source.repoURL.startsWith('oci://')) {
      ctx.addIssue({
        code: 'custom',
        path: ['chart'],
        message: 'an oci:// repoURL needs chart (the chart under the registry path)',
      });
    }
    for (const option of ['helm', 'kustomize'] as const) {
      if (source[option] !== undefined && source.type !== undefined && source.type !== option) {
        ctx.addIssue({
          code: 'custom',
          path: [option],
          message: `${option} options need type ${option} (type is ${source.type})`,
        });
      }
    }
    if (source.helm !== undefined && source.kustomize !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['kustomize'],
        message: 'set helm or kustomize options, not both',
      });
    }
  });

// --- SOPS decryption (issue #13): spec.decryption, in the shape of Flux's
// kustomize-controller `spec.decryption` (provider sops, a secret holding the
// age identities), plus `roleArn` for KMS keys of another tenant.
export const DECRYPTION_PROVIDERS = ['sops'] as const;

export const DecryptionSchema = z
  .object({
    /** Only `sops` (as Flux). */
    provider: z.enum(DECRYPTION_PROVIDERS),
    /** A secret (Secrets Manager name or ARN; local mode: the secrets file's entry) holding age identities (AGE-SECRET-KEY-1…), one a line. */
    secretRef: z.string().min(1).optional(),
    /** A role assumed for AWS KMS Decrypt (tenant isolation); unset, the worker's own role. */
    roleArn: z
      .string()
      .regex(
        /^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/,
        'must be an IAM role ARN (arn:aws:iam::<account>:role/<name>)',
      )
      .optional(),
  })
  .strict();
export type Decryption = z.infer<typeof DecryptionSchema>;
// --- end SOPS decryption

export const DestinationSchema = z.object({
  cluster: name,
  /** Namespace for namespaced objects that do not set one. */
  namespace: name.optional(),
  /**
   * Set by Driftless, not by users: the destination was removed (or its app
   * deleted) with cascade, and its objects are being pruned. The worker
   * forgets the destination once the cascade ran (and the app with its last
   * destination); until then the target keeps its status, whose inventory
   * says what to delete.
   */
  deleting: z
    .object({
      /** When the cascade was asked for (ISO 8601). */
      requestedAt: z.string().min(1),
      /** Allow what the prune guard refuses (pruneLimit, Namespaces, PVCs, CRDs). */
      allowPrune: z.boolean().default(false),
    })
    .optional(),
});

/** Retry backoff of an app that sets none: 10 s, doubling, at most 5 min. */
/**
 * A target's drift check interval unless its app says otherwise: every tick
 * of the sweep. A check that finds nothing costs no request of the target's
 * own (lib/sweep/cluster.ts), so a minute is cheap.
 */
export const DEFAULT_DRIFT_INTERVAL_MS = 60_000;

export const DEFAULT_RETRY_BACKOFF = { duration: 10_000, factor: 2, maxDuration: 300_000 } as const;

export const RetrySchema = z.object({
  limit: z.number().int().min(0).max(MAX_RETRY_LIMIT).default(5),
  backoff: z
    .object({
      duration: duration.default(DEFAULT_RETRY_BACKOFF.duration),
      factor: z.number().min(1).max(10).default(DEFAULT_RETRY_BACKOFF.factor),
      maxDuration: duration.default(DEFAULT_RETRY_BACKOFF.maxDuration),
    })
    .prefault({}),
});

export const SyncPolicySchema = z.object({
  /** Sync on push and on drift sweeps; off means preview-only until a manual sync. */
  automated: z.boolean().default(true),
  /** Delete objects removed from Git. */
  prune: z.boolean().default(false),
  /** Revert changes made in the cluster outside Git. */
  selfHeal: z.boolean().default(false),
  /** How often the cluster's sweep checks the target for drift (DEFAULT_DRIFT_INTERVAL_MS). */
  interval: duration.default(DEFAULT_DRIFT_INTERVAL_MS),
  retry: RetrySchema.prefault({}),
  /** How long a rollout may stay Progressing before the sync is Degraded. */
  healthTimeout: duration.default(600_000),
  /** Refuse a prune larger than this many objects (0 = no limit). */
  pruneLimit: z.number().int().min(0).default(20),
  /** Kinds (`Namespace`, `PersistentVolumeClaim`, `CustomResourceDefinition`) the guard lets prune. */
  allowPruneOf: z.array(z.string()).default([]),
  /** Apply with force (take fields over from other managers). */
  force: z.boolean().default(true),
  /**
   * Let an automated sync proceed when the render is empty or would prune
   * every object the app manages (Argo CD's `automated.allowEmpty`). Off, such
   * a sync is refused with a status that says so; a manual sync that allows
   * the prune proceeds either way.
   */
  allowEmpty: z.boolean().default(false),
});

/**
 * Argo CD's `ignoreDifferences` entry, in its shape. What a rule covers is
 * left out of the comparison, and what is applied keeps the live value there
 * (Argo CD's RespectIgnoreDifferences), so a rule never removes a field.
 */
export const IgnoreDifferenceSchema = z
  .object({
    /** API group (`apps`; empty for the core group); `*` globs allowed. */
    group: z.string().default(''),
    /** Kind (`Deployment`); `*` globs allowed. */
    kind: z.string().min(1),
    name: z.string().optional(),
    namespace: z.string().optional(),
    /** RFC 6901 pointers into the object, e.g. /spec/replicas. */
    jsonPointers: z
      .array(
        z.string().regex(/^(\/([^/~]|~[01])*)+$/, 'must be a JSON pointer like /spec/replicas'),
      )
      .default([]),
    /** jq path expressions, e.g. `.spec.template.spec.containers[] | select(.name == "sidecar") | .image`. */
    jqPathExpressions: z
      .array(
        z.string().superRefine((expression, ctx) => {
          try {
            compileJqPath(expression);
          } catch (e) {
            ctx.addIssue({ code: 'custom', message: `${(e as Error).message}: ${expression}` });
          }
        }),
      )
      .default([]),
    /** Fields owned by these field managers are ignored (an HPA's replicas: kube-controller-manager). */
    managedFieldsManagers: z.array(z.string().min(1)).default([]),
  })
  .strict()
  .refine(
    (r) =>
      r.jsonPointers.length > 0 ||
      r.jqPathExpressions.length > 0 ||
      r.managedFieldsManagers.length > 0,
    'needs jsonPointers, jqPathExpressions or managedFieldsManagers',
  );

export const PolicySchema = z.object({
  /** Namespaces objects may be in (globs like `team-*`); empty = any. */
  namespaces: z.array(z.string().min(1)).default([]),
  /** Kinds allowed, as `Kind` or `group/Kind` (globs allowed); empty = any. */
  kinds: z.array(z.string().min(1)).default([]),
  /** Whether cluster-scoped objects (other than Namespaces) are allowed. */
  clusterScoped: z.boolean().default(true),
});

/** An object as the app's policy sees it. */
export interface PolicySubject {
  group: string;
  kind: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
  namespaced: boolean;
}

export interface PolicyViolation {
  reason: 'ForbiddenNamespace' | 'ForbiddenKind';
  /** What the policy refuses: the object's namespace (a Namespace's name) or its kind. */
  field: 'namespace' | 'name' | 'kind';
  message: string;
}

/**
 * Whether the app's policy (namespaces, kinds, cluster-scoped objects) lets it
 * touch the object: checked for what it applies and for what it prunes.
 */
export function policyViolation(
  policy: AppPolicy,
  appName: string,
  o: PolicySubject,
): PolicyViolation | undefined {
  const isNamespace = o.kind === 'Namespace' && o.group === '';
  if (policy.namespaces.length) {
    const ns = isNamespace ? o.name : o.namespace;
    if (ns && !policy.namespaces.some((p) => globMatch(p, ns))) {
      return {
        reason: 'ForbiddenNamespace',
        field: isNamespace ? 'name' : 'namespace',
        message: `namespace ${ns} is not allowed for application ${appName} (allowed: ${policy.namespaces.join(', ')})`,
      };
    }
  }
  if (!o.namespaced && !policy.clusterScoped && !isNamespace) {
    return {
      reason: 'ForbiddenKind',
      field: 'kind',
      message: `cluster-scoped ${o.kind} is not allowed for application ${appName}`,
    };
  }
  const gk = groupKind(o.group, o.kind);
  if (
    policy.kinds.length &&
    !policy.kinds.some((p) => globMatch(p, p.includes('/') ? gk : o.kind))
  ) {
    return {
      reason: 'ForbiddenKind',
      field: 'kind',
      message: `kind ${gk.replace(/^\//, '')} is not allowed for application ${appName} (allowed: ${policy.kinds.join(', ')})`,
    };
  }
  return undefined;
}

/**
 * The Application's fields as an object schema (for `.shape`); ApplicationSchema
 * adds the rules across them and normalizes (multi-source).
 */
export const ApplicationFields = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Application'),
  metadata: z.object({ name, labels: z.record(z.string(), z.string()).optional() }),
  spec: z.object({
    /** The Project whose limits and roles apply (lib/model/project.ts). */
    project: NameSchema.default(DEFAULT_PROJECT),
    // Multi-source (issue #13): `source`, or `sources` (Argo CD's multi-source),
    // never both; checked and normalized by ApplicationSchema.
    source: SourceSchema.optional(),
    sources: z.array(SourceSchema).min(1).optional(),
    /** SOPS decryption of the source's files (issue #13). */
    decryption: DecryptionSchema.optional(),
    destinations: z
      .array(DestinationSchema)
      .min(1)
      .superRefine((destinations, ctx) => {
        const first = new Map<string, number>();
        destinations.forEach((d, i) => {
          const seen = first.get(d.cluster);
          if (seen === undefined) first.set(d.cluster, i);
          else
            ctx.addIssue({
              code: 'custom',
              path: [i, 'cluster'],
              message: `cluster ${d.cluster} is already a destination (spec.destinations[${seen}]): one cluster, one destination`,
            });
        });
      }),
    syncPolicy: SyncPolicySchema.prefault({}),
    ignoreDifferences: z.array(IgnoreDifferenceSchema).default([]),
    policy: PolicySchema.prefault({}),
    suspended: z.boolean().default(false),
  }),
});

export const ApplicationSchema = ApplicationFields.superRefine((app, ctx) =>
  checkSources(app.spec, ctx),
).transform(({ spec: { source, ...spec }, ...app }) => ({
  ...app,
  spec: {
    ...spec,
    // Multi-source (issue #13): `source` is always set after parsing — with
    // `sources`, the first of them (the repository commit statuses and
    // webhooks go by); appSources() lists them all.
    source: (source ?? spec.sources?.[0]) as ApplicationSource,
  },
}));

/** `$NAME/path` in a values file (multi-source): the Git source with ref NAME. */
export const VALUES_REF = /^\$([A-Za-z0-9_-]+)\/(.+)$/;

// Multi-source (issue #13): exactly one of source/sources; refs unique and
// used only by name; at least one source renders.
function checkSources(
  spec: { source?: ApplicationSource; sources?: ApplicationSource[] },
  ctx: z.core.$RefinementCtx,
): void {
  if ((spec.source === undefined) === (spec.sources === undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['spec', spec.source === undefined ? 'source' : 'sources'],
      message: 'set exactly one of source or sources',
    });
    return;
  }
  const list = spec.sources ?? [spec.source as ApplicationSource];
  const field = (i: number) => (spec.sources ? ['spec', 'sources', i] : ['spec', 'source']);
  const refs = new Map<string, number>();
  list.forEach((s, i) => {
    if (s.ref === undefined) return;
    if (!spec.sources) {
      ctx.addIssue({
        code: 'custom',
        path: [...field(i), 'ref'],
        message: 'ref is for spec.sources (a Git source other sources name in $ref/ values files)',
      });
    } else if (refs.has(s.ref)) {
      ctx.addIssue({
        code: 'custom',
        path: [...field(i), 'ref'],
        message: `ref ${s.ref} is already spec.sources[${refs.get(s.ref)}]`,
      });
    } else refs.set(s.ref, i);
  });
  if (list.every((s) => s.ref !== undefined)) {
    ctx.addIssue({
      code: 'custom',
      path: ['spec', spec.sources ? 'sources' : 'source'],
      message: 'no source renders: every source carries ref (a values source)',
    });
  }
  list.forEach((s, i) => {
    s.helm?.valueFiles.forEach((file, j) => {
      const m = VALUES_REF.exec(file);
      if (file.startsWith('$') && !m) {
        ctx.addIssue({
          code: 'custom',
          path: [...field(i), 'helm', 'valueFiles', j],
          message: `"${file}" must be $NAME/path naming a source's ref`,
        });
      } else if (m?.[1] !== undefined && !refs.has(m[1])) {
        ctx.addIssue({
          code: 'custom',
          path: [...field(i), 'helm', 'valueFiles', j],
          message: `"${file}" names $${m[1]}, but no source of spec.sources has ref: ${m[1]}`,
        });
      }
    });
  });
}

/** Every source of an app (multi-source: spec.sources; else spec.source), in order. */
export function appSources(spec: {
  source: ApplicationSource;
  sources?: readonly ApplicationSource[];
}): readonly ApplicationSource[] {
  return spec.sources ?? [spec.source];
}

export const ClusterSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Cluster'),
  metadata: z.object({ name }),
  spec: z
    .object({
      eks: z
        .object({
          name: z.string().min(1),
          region: z
            .string()
            .regex(/^[a-z]{2}(-[a-z]+)+-\d$/, 'must be an AWS region like eu-west-1'),
          roleArn: z
            .string()
            .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/.+$/)
            .optional(),
        })
        .optional(),
      kubeconfig: z.object({ path: z.string().min(1), context: z.string().optional() }).optional(),
      /** Maximum concurrent reconciles against this cluster. */
      concurrency: z.number().int().min(1).max(100).default(4),
    })
    .refine(
      (s) => (s.eks ? 1 : 0) + (s.kubeconfig ? 1 : 0) === 1,
      'set exactly one of eks or kubeconfig',
    ),
});

// --- Private Git: a Repository record gives every app under a URL prefix its
// credentials (Argo CD's credential templates: the longest matching prefix wins).
export const RepositorySchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Repository'),
  metadata: z.object({ name }),
  spec: z
    .object({
      /** Apps whose repoURL starts with this (as written) and name no credentials use this record. */
      urlPrefix: z
        .string()
        .regex(
          /^https?:\/\/[^\s]+$/,
          'must be an http(s) URL prefix, e.g. https://github.com/acme/',
        )
        .refine((u) => !hasUserInfo(u), NO_USER_INFO),
      /** The secret holding the credentials (its name; never its value). */
      credentials: secretName,
    })
    .strict(),
});
export type Repository = z.infer<typeof RepositorySchema>;
// --- end Private Git

export type Application = z.infer<typeof ApplicationSchema>;

/**
 * A short hash of an app's spec: the view a check writes records it, so the
 * cluster's sweep checks a target whose spec changed since (a new path, new
 * sources, new ignore rules) at its next tick, whatever its interval.
 */
export function specHash(app: Pick<Application, 'spec'>): string {
  return createHash('sha256').update(canonicalJson(app.spec)).digest('base64url').slice(0, 16);
}

/** What choosing an app's Git credentials reads of it (the reconcile passes the app, the sweep this much). */
export interface CredentialsSubject {
  metadata: { name: string };
  spec: { source: ApplicationSource };
}
export type ApplicationInput = z.input<typeof ApplicationSchema>;
export type ApplicationSource = z.infer<typeof SourceSchema>;
export type HelmSource = z.infer<typeof HelmSourceSchema>;
export type SyncPolicy = z.infer<typeof SyncPolicySchema>;
export type IgnoreDifference = z.infer<typeof IgnoreDifferenceSchema>;
export type IgnoreDifferenceInput = z.input<typeof IgnoreDifferenceSchema>;
export type AppPolicy = z.infer<typeof PolicySchema>;
export type Cluster = z.infer<typeof ClusterSchema>;
export type ClusterInput = z.input<typeof ClusterSchema>;

type Spec =
  | { kind: 'Application'; value: Application }
  | { kind: 'Cluster'; value: Cluster }
  | { kind: 'Project'; value: Project }
  | { kind: 'Repository'; value: Repository };

/** `spec.destinations[1].cluster`: a field as kubectl names it. */
export function fieldPath(path: readonly (string | number)[]): string | undefined {
  const text = path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${p}`)).join('');
  return text.replace(/^\./, '') || undefined;
}

/** Validates one parsed document; issues name the field and, given a YAML document, its line. */
export function validateSpec(
  value: unknown,
  where: { file?: string; doc?: YamlDocument } = {},
): Spec {
  const kind = (value as { kind?: unknown } | null)?.kind;
  const schemas: Record<string, z.ZodType> = {
    Application: ApplicationSchema,
    Cluster: ClusterSchema,
    Repository: RepositorySchema,
    Project: ProjectSchema,
  };
  const schema = typeof kind === 'string' ? schemas[kind] : undefined;
  if (!schema) {
    throw new DriftlessError(
      'InvalidSpec',
      `kind must be Application, Cluster, Project or Repository (apiVersion ${API_VERSION}), got ${JSON.stringify(kind ?? null)}`,
      { file: where.file, line: where.doc?.line, field: 'kind' },
    );
  }
  const result = schema.safeParse(value);
  if (!result.success) {
    const issue = result.error.issues[0] as z.core.$ZodIssue;
    const path = issue.path.filter((p): p is string | number => typeof p !== 'symbol');
    const objName = (value as { metadata?: { name?: unknown } }).metadata?.name;
    throw new DriftlessError('InvalidSpec', issue.message, {
      file: where.file,
      line: where.doc?.lineOf(path),
      object: `${kind}/${typeof objName === 'string' ? objName : '?'}`,
      field: fieldPath(path),
    });
  }
  return { kind, value: result.data } as Spec;
}

/** Parses a YAML file of Application, Cluster and Repository documents. */
export function parseSpecs(text: string, file: string): Spec[] {
  return parseYamlDocuments(text, file)
    .filter((d) => d.value !== null)
    .map((doc) => validateSpec(doc.value, { file, doc }));
}

export function parseApplication(value: unknown, file?: string): Application {
  const spec = validateSpec(value, { file });
  if (spec.kind !== 'Application') {
    throw new DriftlessError('InvalidSpec', 'expected an Application', { file, field: 'kind' });
  }
  return spec.value;
}

export function parseRepository(value: unknown, file?: string): Repository {
  const spec = validateSpec(value, { file });
  if (spec.kind !== 'Repository') {
    throw new DriftlessError('InvalidSpec', 'expected a Repository', { file, field: 'kind' });
  }
  return spec.value;
}

export function parseCluster(value: unknown, file?: string): Cluster {
  const spec = validateSpec(value, { file });
  if (spec.kind !== 'Cluster') {
    throw new DriftlessError('InvalidSpec', 'expected a Cluster', { file, field: 'kind' });
  }
  return spec.value;
}

/**
 * The form ApplicationSchema parses: durations back to strings (`300000ms`).
 * Typed as the schema's input, so a new duration field fails to compile here.
 */
export function applicationInput(app: Application): ApplicationInput {
  const policy = app.spec.syncPolicy;
  const ms = (n: number) => `${n}ms`;
  // Multi-source: `source` mirrors sources[0] after parsing; the input names one of them.
  const { source, ...spec } = app.spec;
  return {
    ...app,
    spec: {
      ...spec,
      ...(spec.sources ? {} : { source }),
      syncPolicy: {
        ...policy,
        interval: ms(policy.interval),
        healthTimeout: ms(policy.healthTimeout),
        retry: {
          ...policy.retry,
          backoff: {
            ...policy.retry.backoff,
            duration: ms(policy.retry.backoff.duration),
            maxDuration: ms(policy.retry.backoff.maxDuration),
          },
        },
      },
    },
  };
}
