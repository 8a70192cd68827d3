// Project: what platform admins allow a group of applications, in the shape
// of Argo CD's AppProject where the two overlap — the source repositories
// (globs), the destinations (cluster and namespace globs), the kinds allowed
// and denied, whether cluster-scoped objects are allowed, whether a manual
// sync may override the prune guard — and the roles that map IAM principals
// to the actions they may take on the project's applications. An
// application's own `policy` can narrow what its project allows, never
// widen it. Admin-owned: only the stack's admin principals write Projects.

import { z } from 'zod';
import { API_VERSION, globMatch, NameSchema } from './common.js';

/** The project an Application belongs to when it names none. */
export const DEFAULT_PROJECT = 'default';

/**
 * What a principal may do with a project's applications (Argo CD's RBAC
 * actions on `applications`, plus Driftless's own operations).
 */
export const ACTIONS = [
  'get',
  'create',
  'update',
  'delete',
  'sync',
  'rollback',
  'suspend',
  'resume',
  'terminate',
  /** Let a manual sync past the prune guard (`sync --prune`). */
  'override-prune',
] as const;
export type Action = (typeof ACTIONS)[number];

const GroupKindSchema = z
  .object({
    /** API group, '' for the core group; a glob. */
    group: z.string().default('*'),
    /** A glob. */
    kind: z.string().min(1),
  })
  .strict();

const RoleSchema = z
  .object({
    name: NameSchema,
    description: z.string().optional(),
    /**
     * IAM principals, as ARNs with `*` wildcards: `arn:aws:iam::123456789012:role/deployer`,
     * `arn:aws:iam::123456789012:role/team-a-*`. An assumed-role session acts as its role.
     */
    principals: z.array(z.string().min(1)).min(1),
    /** Actions, or `*` for all. */
    actions: z.array(z.union([z.enum(ACTIONS), z.literal('*')])).min(1),
  })
  .strict();

export const ProjectSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal('Project'),
  metadata: z.object({ name: NameSchema, labels: z.record(z.string(), z.string()).optional() }),
  spec: z
    .object({
      description: z.string().optional(),
      /** Repository URLs applications may use (globs); empty: none. */
      sourceRepos: z.array(z.string().min(1)).default([]),
      /** Where applications may deploy: cluster and namespace globs; empty: nowhere. */
      destinations: z
        .array(z.object({ cluster: z.string().min(1), namespace: z.string().min(1) }).strict())
        .default([]),
      /** Kinds allowed (empty: any) and denied (wins over allowed). */
      kinds: z
        .object({
          allow: z.array(GroupKindSchema).default([]),
          deny: z.array(GroupKindSchema).default([]),
        })
        .strict()
        .prefault({}),
      /** Whether cluster-scoped objects other than Namespaces are allowed (Argo CD: clusterResourceWhitelist). */
      clusterScoped: z.boolean().default(false),
      /** Whether a manual sync may let a prune past the guard (with the override-prune action). */
      allowPruneOverride: z.boolean().default(false),
      roles: z.array(RoleSchema).default([]),
    })
    .strict()
    .prefault({}),
});

export type Project = z.infer<typeof ProjectSchema>;
export type ProjectInput = z.input<typeof ProjectSchema>;

/**
 * The project used when an application names `default` and none is
 * registered: it allows every source, destination and kind (as Argo CD's
 * `default` project does) and maps no principal, so only admins act on its
 * applications.
 */
export function implicitDefaultProject(): Project {
  return ProjectSchema.parse({
    apiVersion: API_VERSION,
    kind: 'Project',
    metadata: { name: DEFAULT_PROJECT },
    spec: {
      sourceRepos: ['*'],
      destinations: [{ cluster: '*', namespace: '*' }],
      clusterScoped: true,
      allowPruneOverride: true,
    },
  });
}

/** Why a project refuses something, in words naming the project and the field. */
export interface ProjectRefusal {
  reason: 'ForbiddenNamespace' | 'ForbiddenKind' | 'InvalidSpec';
  field: string;
  message: string;
}

/** Whether the project lets an application use `repoURL`. */
export function sourceRefusal(project: Project, repoURL: string): ProjectRefusal | undefined {
  if (project.spec.sourceRepos.some((p) => globMatch(p, repoURL))) return undefined;
  return {
    reason: 'InvalidSpec',
    field: 'spec.source.repoURL',
    message: `project ${project.metadata.name} does not allow source repository ${repoURL} (allowed: ${project.spec.sourceRepos.join(', ') || 'none'})`,
  };
}

/**
 * sourceRefusal for every source of an app: with spec.sources (multi-source,
 * issue #13) each of them, `ref` values sources and charts included.
 */
export function appSourcesRefusal(
  project: Project,
  spec: { source: { repoURL: string }; sources?: readonly { repoURL: string }[] },
): ProjectRefusal | undefined {
  if (!spec.sources) return sourceRefusal(project, spec.source.repoURL);
  for (const [i, s] of spec.sources.entries()) {
    const refused = sourceRefusal(project, s.repoURL);
    if (refused) return { ...refused, field: `spec.sources[${i}].repoURL` };
  }
  return undefined;
}

/** Whether the project lets an application deploy to `namespace` on `cluster`. */
export function destinationRefusal(
  project: Project,
  cluster: string,
  namespace: string | undefined,
): ProjectRefusal | undefined {
  const ok = project.spec.destinations.some(
    (d) =>
      globMatch(d.cluster, cluster) &&
      (namespace === undefined || globMatch(d.namespace, namespace)),
  );
  if (ok) return undefined;
  return {
    reason: 'InvalidSpec',
    field: 'spec.destinations',
    message: `project ${project.metadata.name} does not allow destination ${cluster}${namespace ? `/${namespace}` : ''} (allowed: ${project.spec.destinations.map((d) => `${d.cluster}/${d.namespace}`).join(', ') || 'none'})`,
  };
}

/** An object as the project sees it. */
export interface ProjectSubject {
  group: string;
  kind: string;
  /** '' for cluster-scoped objects. */
  namespace: string;
  name: string;
  namespaced: boolean;
}

/**
 * Whether the project lets an application on `cluster` touch the object:
 * its namespace among the project's destinations for that cluster, its kind
 * allowed and not denied, a cluster-scoped object only if allowed. Checked
 * for what a sync applies and for what it prunes.
 */
export function objectRefusal(
  project: Project,
  cluster: string,
  o: ProjectSubject,
): ProjectRefusal | undefined {
  const p = project.metadata.name;
  const isNamespace = o.kind === 'Namespace' && o.group === '';
  const namespaces = project.spec.destinations
    .filter((d) => globMatch(d.cluster, cluster))
    .map((d) => d.namespace);
  const ns = isNamespace ? o.name : o.namespace;
  if (ns && !namespaces.some((g) => globMatch(g, ns))) {
    return {
      reason: 'ForbiddenNamespace',
      field: isNamespace ? 'metadata.name' : 'metadata.namespace',
      message: `namespace ${ns} is not allowed by project ${p} on cluster ${cluster} (allowed: ${namespaces.join(', ') || 'none'})`,
    };
  }
  const gk = `${o.group || 'core'}/${o.kind}`;
  const matches = (r: { group: string; kind: string }) =>
    globMatch(r.group, o.group) && globMatch(r.kind, o.kind);
  if (project.spec.kinds.deny.some(matches)) {
    return {
      reason: 'ForbiddenKind',
      field: 'kind',
      message: `kind ${gk} is denied by project ${p}`,
    };
  }
  const allow = project.spec.kinds.allow;
  if (allow.length && !allow.some(matches)) {
    return {
      reason: 'ForbiddenKind',
      field: 'kind',
      message: `kind ${gk} is not allowed by project ${p} (allowed: ${allow.map((r) => `${r.group || 'core'}/${r.kind}`).join(', ')})`,
    };
  }
  if (!o.namespaced && !isNamespace && !project.spec.clusterScoped) {
    return {
      reason: 'ForbiddenKind',
      field: 'kind',
      message: `cluster-scoped ${gk} is not allowed by project ${p} (spec.clusterScoped)`,
    };
  }
  return undefined;
}
