// Several teams on one Driftless (#14): every route of the status API,
// called through the deployed API handler with IAM request contexts (as API
// Gateway hands them over after verifying the signature), for a viewer, a
// project member, a project admin, a platform admin and an unmapped
// principal. Then the engine side: an app reaching outside its project is
// refused before anything is applied, and a member cannot prune past the
// guard.

import { CoreV1Api } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { type DataPlane, startDataPlane } from '../support/dataplane.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { kubeConfig } from '../support/kube.js';
import { httpEvent, lambdaContext, pollOnce } from '../support/lambda.js';

let plane: DataPlane;
const ACCOUNT = '123456789012';
const PLATFORM_ADMIN = `arn:aws:iam::${ACCOUNT}:user/ops`;
// Roles are mapped by role ARN; the callers are assumed-role sessions of them.
const session = (role: string) => `arn:aws:sts::${ACCOUNT}:assumed-role/${role}/someone`;
const VIEWER = session('team-a-viewer');
const MEMBER = session('team-a-dev');
const PROJECT_ADMIN = session('team-a-lead');
const STRANGER = session('stranger');

async function as(principal: string, method: string, p: string, body?: unknown) {
  const res = await plane.api(
    httpEvent(method, p, {
      body: body === undefined ? undefined : JSON.stringify(body),
      iamUser: principal,
    }),
    lambdaContext('driftless-api'),
  );
  return { status: res.statusCode as number, body: res.body ? JSON.parse(res.body) : null };
}

let repo: TestRepo;
let ns: string;

function project(extra: Record<string, unknown> = {}) {
  return {
    apiVersion: 'driftless.dev/v1',
    kind: 'Project',
    metadata: { name: 'team-a' },
    spec: {
      sourceRepos: [`${repo.url.replace(/[^/]+$/, '')}*`],
      destinations: [{ cluster: 'local', namespace: `${ns}*` }],
      kinds: {
        allow: [
          { group: '', kind: 'ConfigMap' },
          { group: '', kind: 'Namespace' },
        ],
      },
      allowPruneOverride: true,
      roles: [
        {
          name: 'viewer',
          principals: [`arn:aws:iam::${ACCOUNT}:role/team-a-viewer`],
          actions: ['get'],
        },
        {
          name: 'developer',
          principals: [`arn:aws:iam::${ACCOUNT}:role/team-a-dev`],
          actions: ['get', 'sync', 'rollback', 'suspend', 'resume', 'terminate'],
        },
        {
          name: 'lead',
          principals: [`arn:aws:iam::${ACCOUNT}:role/path/to/team-a-lead`],
          actions: ['*'],
        },
      ],
      ...extra,
    },
  };
}

function app(name: string, namespace = ns, path = '.') {
  return {
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name },
    spec: {
      project: 'team-a',
      source: { repoURL: repo.url, revision: 'main', path },
      destinations: [{ cluster: 'local', namespace }],
      syncPolicy: { automated: false },
    },
  };
}

async function runJobs(): Promise<void> {
  for (let i = 0; i < 20; i++) {
    const got = (await pollOnce(plane.sqs, plane.queueUrl, plane.worker)).received;
    if (got === 0) return;
  }
}

beforeAll(async () => {
  plane = await startDataPlane('authz');
  ns = uniqueName('team-a');
  repo = await TestRepo.create('team-a');
  await repo.commit({
    'ok/ns.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
    'ok/cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: ${ns} }\ndata: { k: v }\n`,
    'ok/extra.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: extra, namespace: ${ns} }\ndata: { k: v }\n`,
    // Reaches outside the project: another namespace, and a kind it does not allow.
    'escape/cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: settings, namespace: ${ns} }\ndata: { k: v }\n`,
    'escape/other.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: sneaky, namespace: kube-public }\ndata: { k: v }\n`,
    'kinds/cm.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: fine, namespace: ${ns} }\ndata: { k: v }\n`,
    'kinds/sa.yaml': `apiVersion: v1\nkind: ServiceAccount\nmetadata: { name: nope, namespace: ${ns} }\n`,
  });
  const cluster = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: testenv().kube.kubeconfig } },
  };
  expect((await as(PLATFORM_ADMIN, 'PUT', '/clusters/local', cluster)).status).toBe(201);
  expect((await as(PLATFORM_ADMIN, 'PUT', '/projects/team-a', project())).status).toBe(201);
  expect((await as(PLATFORM_ADMIN, 'PUT', '/apps/web', app('web', ns, 'ok'))).status).toBe(201);
});

describe('the authorization matrix of the status API', () => {
  type Who = 'viewer' | 'member' | 'projectAdmin' | 'platformAdmin' | 'stranger';
  const principals: Record<Who, string> = {
    viewer: VIEWER,
    member: MEMBER,
    projectAdmin: PROJECT_ADMIN,
    platformAdmin: PLATFORM_ADMIN,
    stranger: STRANGER,
  };
  // route → who may call it; the rest get 403 naming the permission.
  const cases: {
    name: string;
    method: string;
    /** A route, or one per caller (a create must name a new app each time). */
    path: string | ((who: string) => string);
    body?: (who: string) => unknown;
    allowed: Who[];
    permission: RegExp;
  }[] = [
    {
      name: 'get an app',
      method: 'GET',
      path: '/apps/web',
      allowed: ['viewer', 'member', 'projectAdmin', 'platformAdmin'],
      permission: /applications:get on project team-a/,
    },
    {
      name: 'read its history',
      method: 'GET',
      path: '/apps/web/history',
      allowed: ['viewer', 'member', 'projectAdmin', 'platformAdmin'],
      permission: /applications:get on project team-a/,
    },
    {
      name: 'sync',
      method: 'POST',
      path: '/apps/web/sync',
      body: () => ({}),
      allowed: ['member', 'projectAdmin', 'platformAdmin'],
      permission: /applications:sync on project team-a/,
    },
    {
      name: 'sync past the prune guard',
      method: 'POST',
      path: '/apps/web/sync',
      body: () => ({ prune: true }),
      allowed: ['projectAdmin', 'platformAdmin'],
      permission: /applications:(sync|override-prune) on project team-a/,
    },
    {
      name: 'suspend',
      method: 'POST',
      path: '/apps/web/suspend',
      allowed: ['member', 'projectAdmin', 'platformAdmin'],
      permission: /applications:suspend on project team-a/,
    },
    {
      name: 'resume',
      method: 'POST',
      path: '/apps/web/resume',
      allowed: ['member', 'projectAdmin', 'platformAdmin'],
      permission: /applications:resume on project team-a/,
    },
    {
      name: 'update the app',
      method: 'PUT',
      path: '/apps/web',
      body: () => app('web', ns, 'ok'),
      allowed: ['projectAdmin', 'platformAdmin'],
      permission: /applications:update on project team-a/,
    },
    {
      name: 'create an app',
      method: 'PUT',
      path: (who) => `/apps/new-${who.toLowerCase()}`,
      body: (who) => app(`new-${who.toLowerCase()}`, ns, 'ok'),
      allowed: ['projectAdmin', 'platformAdmin'],
      permission: /applications:create on project team-a/,
    },
    {
      name: 'change a cluster',
      method: 'PUT',
      path: '/clusters/local',
      body: () => ({
        apiVersion: 'driftless.dev/v1',
        kind: 'Cluster',
        metadata: { name: 'local' },
        spec: { kubeconfig: { path: testenv().kube.kubeconfig } },
      }),
      allowed: ['platformAdmin'],
      permission: /clusters:write/,
    },
    {
      name: 'change a project',
      method: 'PUT',
      path: '/projects/team-a',
      body: () => project(),
      allowed: ['platformAdmin'],
      permission: /projects:write/,
    },
    {
      name: 'list dead letters',
      method: 'GET',
      path: '/deadletters',
      allowed: ['platformAdmin'],
      permission: /deadletters/,
    },
  ];

  for (const c of cases) {
    it(`${c.name}: ${c.allowed.join(', ')} only`, async () => {
      for (const who of Object.keys(principals) as Who[]) {
        const path = typeof c.path === 'string' ? c.path : c.path(who);
        const res = await as(principals[who], c.method, path, c.body?.(who));
        if (c.allowed.includes(who)) {
          expect(
            res.status,
            `${who} ${c.method} ${path}: ${JSON.stringify(res.body)}`,
          ).toBeLessThan(400);
        } else {
          expect(res.status, `${who} ${c.method} ${path}`).toBe(403);
          expect(res.body.code).toBe('AccessDenied');
          expect(res.body.message).toMatch(c.permission);
          expect(res.body.message).toContain(principals[who]);
        }
      }
    });
  }

  it('lists only the apps a principal may get', async () => {
    const names = async (who: string) =>
      ((await as(who, 'GET', '/apps')).body.items as { name: string }[]).map((a) => a.name);
    expect(await names(VIEWER)).toContain('web');
    expect(await names(STRANGER)).toEqual([]);
    expect(await names(PLATFORM_ADMIN)).toContain('web');
  });

  it('refuses an app whose source or destination the project does not allow', async () => {
    const outside = app('outside', 'default', 'ok');
    const res = await as(PROJECT_ADMIN, 'PUT', '/apps/outside', outside);
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/project team-a does not allow destination local\/default/);
    const foreign = {
      ...app('foreign', ns, 'ok'),
      spec: {
        ...app('foreign', ns, 'ok').spec,
        source: { repoURL: 'https://example.com/x.git', revision: 'main', path: '.' },
      },
    };
    const res2 = await as(PROJECT_ADMIN, 'PUT', '/apps/foreign', foreign);
    expect(res2.status).toBe(403);
    expect(res2.body.message).toMatch(
      /does not allow source repository https:\/\/example.com\/x.git/,
    );
  });
});

describe('the project enforced by the engine', () => {
  it('refuses, before anything is applied, an app whose manifests reach outside its namespaces or kinds', async () => {
    const core = kubeConfig().makeApiClient(CoreV1Api);
    for (const [name, path, message] of [
      ['escape', 'escape', /namespace kube-public is not allowed by project team-a/],
      ['kinds', 'kinds', /kind core\/ServiceAccount is not allowed by project team-a/],
    ] as const) {
      expect((await as(PLATFORM_ADMIN, 'PUT', `/apps/${name}`, app(name, ns, path))).status).toBe(
        201,
      );
      expect((await as(MEMBER, 'POST', `/apps/${name}/sync`, {})).status).toBe(202);
      await runJobs();
      const t = (await as(MEMBER, 'GET', `/apps/${name}`)).body.targets[0];
      expect(t.operation?.phase, JSON.stringify(t)).toBe('Failed');
      expect(t.operation.message).toMatch(message);
    }
    // Nothing of either app was applied, not even its allowed objects.
    await expect(
      core.readNamespacedConfigMap({ name: 'sneaky', namespace: 'kube-public' }),
    ).rejects.toMatchObject({ code: 404 });
    await expect(
      core.readNamespacedConfigMap({ name: 'fine', namespace: ns }),
    ).rejects.toMatchObject({ code: 404 });
  });

  it('lets a member sync but not prune past the guard; history names who did what', async () => {
    expect((await as(MEMBER, 'POST', '/apps/web/sync', {})).status).toBe(202);
    await runJobs();
    const denied = await as(MEMBER, 'POST', '/apps/web/sync', { prune: true });
    expect(denied.status).toBe(403);
    expect(denied.body.message).toMatch(
      /missing permission applications:override-prune on project team-a/,
    );
    expect((await as(MEMBER, 'POST', '/apps/web/suspend')).status).toBe(200);
    const h = (await as(VIEWER, 'GET', '/apps/web/history')).body;
    const sync = h.targets[0].operations.find((o: { trigger: string }) => o.trigger === 'manual');
    expect(sync?.initiator).toBe(MEMBER);
    expect(
      h.events.map((e: { action: string; principal: string }) => [e.action, e.principal]),
    ).toContainEqual(['suspend', MEMBER]);
  });

  it('refuses prune-guard overrides when the project does not allow them, even to its lead', async () => {
    expect(
      (await as(PLATFORM_ADMIN, 'PUT', '/projects/team-a', project({ allowPruneOverride: false })))
        .status,
    ).toBe(200);
    const res = await as(PROJECT_ADMIN, 'POST', '/apps/web/sync', { prune: true });
    expect(res.status).toBe(403);
    expect(res.body.message).toMatch(/project team-a does not allow prune-guard overrides/);
  });
});
