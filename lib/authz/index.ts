// Who may do what: the caller's IAM principal (from the API's verified
// request context, or the local CLI's configured identity) against the
// stack's admin principals and the roles of the application's Project.
// Admins may do everything, and alone manage clusters, projects and
// repository credentials. Everyone else gets exactly what a role of the
// app's project maps their principal to. A denial names the permission that
// is missing, so the CLI can say what to ask for.

import { DriftlessError } from '../errors.js';
import { globMatch } from '../model/common.js';
import type { Action, Project } from '../model/project.js';

/** What only admins do. */
export type AdminAction =
  | 'clusters:write'
  | 'projects:write'
  | 'repositories:write'
  | 'deadletters';

export interface Caller {
  /** As verified: an IAM user or role ARN, an assumed-role session ARN, or `local:<user>`. */
  arn: string;
  /** The ARNs the caller acts as: itself and, for an assumed-role session, its role. */
  identities: string[];
  admin: boolean;
}

/**
 * `arn:aws:sts::123456789012:assumed-role/deployer/jane` acts as
 * `arn:aws:iam::123456789012:role/deployer` (the session's role; its path is
 * not in the session ARN, so a pattern's path is ignored when it is matched
 * against a role).
 */
export function identitiesOf(arn: string): string[] {
  const m = /^arn:(aws[a-z-]*):sts::(\d{12}):assumed-role\/([^/]+)\/.+$/.exec(arn);
  if (!m) return [arn];
  return [arn, `arn:${m[1]}:iam::${m[2]}:role/${m[3]}`];
}

/** Matches a principal pattern against one identity; a role pattern's path may be left out by the identity. */
function principalMatches(pattern: string, identity: string): boolean {
  if (globMatch(pattern, identity)) return true;
  const role = /^(arn:[^:]+:iam::[^:]*:role\/)(?:.*\/)?([^/]+)$/.exec(pattern);
  return !!role && globMatch(`${role[1]}${role[2]}`, identity);
}

export function callerOf(arn: string | undefined, adminPatterns: readonly string[]): Caller {
  if (!arn) return { arn: 'anonymous', identities: [], admin: false };
  const identities = identitiesOf(arn);
  const admin = adminPatterns.some((p) => identities.some((i) => principalMatches(p, i)));
  return { arn, identities, admin };
}

/** The actions the caller's roles in `project` grant. */
export function grantedActions(caller: Caller, project: Project): Set<Action | '*'> {
  const granted = new Set<Action | '*'>();
  for (const role of project.spec.roles) {
    const mapped = role.principals.some((p) =>
      caller.identities.some((i) => principalMatches(p, i)),
    );
    if (mapped) for (const a of role.actions) granted.add(a);
  }
  return granted;
}

export function can(caller: Caller, action: Action, project: Project): boolean {
  if (caller.admin) return true;
  const granted = grantedActions(caller, project);
  return granted.has('*') || granted.has(action);
}

/** The permission's name as a denial states it. */
export function permissionName(action: Action, project: string): string {
  return `applications:${action} on project ${project}`;
}

/** Throws AccessDenied (403) naming the missing permission. */
export function authorize(caller: Caller, action: Action, project: Project, app?: string): void {
  if (can(caller, action, project)) return;
  throw new DriftlessError(
    'AccessDenied',
    `${caller.arn} may not ${action} ${app ? `application ${app}` : 'applications'}: missing permission ${permissionName(action, project.metadata.name)}`,
    { field: permissionName(action, project.metadata.name) },
  );
}

/** Throws AccessDenied (403) unless the caller is an admin. */
export function authorizeAdmin(caller: Caller, action: AdminAction): void {
  if (caller.admin) return;
  throw new DriftlessError(
    'AccessDenied',
    `${caller.arn} may not ${action.replace(':', ' ')}: missing permission ${action} (admins only: the stack's adminPrincipals)`,
    { field: action },
  );
}

/** Whether the caller may see anything of the project (any role in it). */
export function canSee(caller: Caller, project: Project): boolean {
  return caller.admin || grantedActions(caller, project).size > 0;
}
