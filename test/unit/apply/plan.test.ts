import { describe, expect, it } from 'vitest';
import { buildPlan, globMatch } from '../../../lib/apply/plan.js';
import {
  type ApplicationInput,
  ApplicationSchema,
  type AppPolicy,
} from '../../../lib/model/application.js';
import type { PlannedManifest } from '../../../lib/model/manifest.js';
import type { KubeObject } from '../../../lib/model/object.js';
import { decidePrune } from '../../../lib/prune/index.js';
import { rejection } from '../../support/errors.js';
import { loadFixtures } from '../../support/fixtures.js';

function app(spec: Partial<ApplicationInput['spec']> = {}) {
  return ApplicationSchema.parse({
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name: 'web' },
    spec: {
      source: { repoURL: 'https://git.example/acme/deploy.git' },
      destinations: [{ cluster: 'prod', namespace: 'web' }],
      ...spec,
    },
  });
}

const scopes: Record<string, boolean> = {
  'v1/ConfigMap': true,
  'v1/Namespace': false,
  'apps/v1/Deployment': true,
  'batch/v1/Job': true,
  'rbac.authorization.k8s.io/v1/ClusterRole': false,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': false,
};
const scopeOf = async (apiVersion: string, kind: string) => scopes[`${apiVersion}/${kind}`];

let line = 0;
function m(
  apiVersion: string,
  kind: string,
  name: string,
  extra: Partial<KubeObject['metadata']> = {},
  body = {},
): PlannedManifest {
  return {
    object: { apiVersion, kind, metadata: { name, ...extra }, ...body },
    file: 'app.yaml',
    line: ++line,
  };
}

describe('buildPlan', () => {
  it('labels objects, fills the destination namespace, drops it from cluster-scoped kinds', async () => {
    const plan = await buildPlan(
      [
        m('v1', 'ConfigMap', 'c'),
        m('rbac.authorization.k8s.io/v1', 'ClusterRole', 'r', { namespace: 'ignored' }),
      ],
      app(),
      'web',
      scopeOf,
    );
    const [cm, role] = plan.resources.map((r) => r.object);
    expect(cm?.metadata).toEqual({
      name: 'c',
      namespace: 'web',
      labels: { 'driftless.dev/app': 'web' },
    });
    expect(role?.metadata.namespace).toBeUndefined();
    expect(plan.resources[0]?.key).toBe('/ConfigMap/web/c');
  });

  it('puts Namespaces and CRDs first and groups the rest by wave, lowest first', async () => {
    const plan = await buildPlan(
      [
        m('apps/v1', 'Deployment', 'late', { annotations: { 'driftless.dev/sync-wave': '5' } }),
        m('v1', 'ConfigMap', 'early', { annotations: { 'driftless.dev/sync-wave': '-2' } }),
        m('v1', 'ConfigMap', 'default'),
        m('v1', 'Namespace', 'web', { annotations: { 'driftless.dev/sync-wave': '9' } }),
      ],
      app(),
      'web',
      scopeOf,
    );
    expect(plan.foundation.map((d) => d.object.metadata.name)).toEqual(['web']);
    expect(plan.waves.map((w) => [w.wave, w.objects.map((o) => o.object.metadata.name)])).toEqual([
      [-2, ['early']],
      [0, ['default']],
      [5, ['late']],
    ]);
  });

  it('learns the scope of custom kinds from CRDs in the same revision', async () => {
    const crd = m(
      'apiextensions.k8s.io/v1',
      'CustomResourceDefinition',
      'widgets.acme.io',
      {},
      {
        spec: { group: 'acme.io', scope: 'Namespaced', names: { kind: 'Widget' } },
      },
    );
    const plan = await buildPlan([crd, m('acme.io/v1', 'Widget', 'w')], app(), 'web', scopeOf);
    expect(plan.resources.find((r) => r.object.kind === 'Widget')?.object.metadata.namespace).toBe(
      'web',
    );
  });

  it('splits hooks from resources, with phases and delete policies', async () => {
    const plan = await buildPlan(
      [
        m('batch/v1', 'Job', 'migrate', {
          annotations: {
            'driftless.dev/hook': 'PreSync,SyncFail',
            'driftless.dev/hook-delete-policy': 'HookSucceeded',
          },
        }),
        m('v1', 'ConfigMap', 'c'),
      ],
      app(),
      'web',
      scopeOf,
    );
    expect(plan.resources).toHaveLength(1);
    expect(plan.hooks[0]).toMatchObject({
      phases: ['PreSync', 'SyncFail'],
      deletePolicies: ['HookSucceeded'],
    });
  });

  // What the policy refuses is in test/fixtures/plan/policy/.
  it('allows what the policy allows (namespace globs, kinds)', async () => {
    const policyApp = app({
      policy: { namespaces: ['team-*'], kinds: ['ConfigMap', 'apps/*'], clusterScoped: false },
    });
    const ok = await buildPlan(
      [m('v1', 'ConfigMap', 'c'), m('apps/v1', 'Deployment', 'd')],
      policyApp,
      'team-a',
      scopeOf,
    );
    expect(ok.resources).toHaveLength(2);
  });

  it("turns a Secret's stringData into base64 data, stringData winning, before hashing", async () => {
    const b64 = (v: string) => Buffer.from(v).toString('base64');
    const plan = await buildPlan(
      [
        m(
          'v1',
          'Secret',
          'mixed',
          {},
          { data: { a: b64('old'), c: b64('kept') }, stringData: { a: 'new', b: 'ünï' } },
        ),
        m(
          'v1',
          'Secret',
          'as-data',
          {},
          { data: { a: b64('new'), b: b64('ünï'), c: b64('kept') } },
        ),
        m('v1', 'Secret', 'empty', {}, { type: 'Opaque', stringData: null }),
        m('example.com/v1', 'Secret', 'not-core', {}, { stringData: { a: 'x' } }),
      ],
      app(),
      'web',
      async () => true,
    );
    const [mixed, asData, empty, notCore] = plan.resources;
    expect(mixed?.object.data).toEqual({ a: b64('new'), b: b64('ünï'), c: b64('kept') });
    expect(mixed?.object).not.toHaveProperty('stringData');
    // Written either way, it is the same desired object.
    expect(mixed?.hash).toBe(
      (
        await buildPlan(
          [m('v1', 'Secret', 'mixed', {}, { data: asData?.object.data })],
          app(),
          'web',
          async () => true,
        )
      ).resources[0]?.hash,
    );
    expect(empty?.object).toMatchObject({ type: 'Opaque' });
    expect(empty?.object).not.toHaveProperty('stringData');
    expect(notCore?.object.stringData).toEqual({ a: 'x' });
  });

  it('refuses stringData values that are not strings, as the API server does, naming the field', async () => {
    const manifest = m('v1', 'Secret', 's', {}, { stringData: { port: 8080 } });
    manifest.lineOf = (p) => (p.join('.') === 'stringData.port' ? 42 : 1);
    const e = await rejection(buildPlan([manifest], app(), 'web', async () => true));
    expect(e.reason).toBe('InvalidManifest');
    expect(e.location).toMatchObject({
      line: 42,
      field: 'stringData.port',
      object: 'Secret/s',
    });
    expect(e.message).toContain('must be a string');
    const notMap = await rejection(
      buildPlan(
        [m('v1', 'Secret', 's', {}, { stringData: ['a'] })],
        app(),
        'web',
        async () => true,
      ),
    );
    expect(notMap.location.field).toBe('stringData');
  });

  it("leaves out objects marked hook: Skip (Argo CD) and carries each object's sync options", async () => {
    const plan = await buildPlan(
      [
        m('v1', 'ConfigMap', 'skipped', { annotations: { 'argocd.argoproj.io/hook': 'Skip' } }),
        m('v1', 'ConfigMap', 'kept', {
          annotations: { 'argocd.argoproj.io/sync-options': 'Prune=false,Replace=true' },
        }),
      ],
      app(),
      'web',
      scopeOf,
    );
    expect(plan.skipped).toEqual(['/ConfigMap/web/skipped']);
    expect(plan.resources.map((r) => r.key)).toEqual(['/ConfigMap/web/kept']);
    expect(plan.hooks).toEqual([]);
    expect(plan.resources[0]?.options).toMatchObject({ prune: 'never', replace: true });
  });

  it('matches globs whole', () => {
    expect(globMatch('team-*', 'team-a')).toBe(true);
    expect(globMatch('team-*', 'my-team-a')).toBe(false);
    expect(globMatch('a.b', 'axb')).toBe(false);
  });
});

// Plans that must fail, one YAML file each under test/fixtures/plan/<group>/:
// the manifests (file app.yaml, one line each), the app's spec over app()'s,
// the destination namespace (default web; null for none), and the error:
// whichever of reason, field (dotted) and message (a regular expression) the
// case names.
interface PlanErrorCase {
  name: string;
  app?: Partial<ApplicationInput['spec']>;
  destinationNamespace?: string | null;
  manifests: KubeObject[];
  expect: { error: { reason?: string; field?: string; message?: string } };
}

const planErrorCases = loadFixtures('plan').map(({ file, group, data }) => {
  const c = data as PlanErrorCase;
  const error = c?.expect?.error;
  if (
    typeof c?.name !== 'string' ||
    !Array.isArray(c.manifests) ||
    !error ||
    (error.reason ?? error.field ?? error.message) === undefined
  ) {
    throw new Error(
      `test/fixtures/plan/${file}: needs name, manifests and expect.error with reason, field or message`,
    );
  }
  return { ...c, group };
});

describe('buildPlan refuses', () => {
  it('finds the plan fixtures', () => {
    expect(planErrorCases.length).toBeGreaterThan(0);
  });

  it.each(planErrorCases)('$group: $name', async (c) => {
    const manifests: PlannedManifest[] = c.manifests.map((object, i) => ({
      object,
      file: 'app.yaml',
      line: i + 1,
    }));
    const namespace =
      c.destinationNamespace === undefined ? 'web' : (c.destinationNamespace ?? undefined);
    const e = await rejection(buildPlan(manifests, app(c.app), namespace, scopeOf));
    const { reason, field, message } = c.expect.error;
    if (reason !== undefined) expect(e.reason).toBe(reason);
    if (field !== undefined) expect(e.location.field).toBe(field);
    if (message !== undefined) expect(e.message).toMatch(new RegExp(message));
  });
});

describe('decidePrune', () => {
  const live = (kind: string, name: string, annotations?: Record<string, string>): KubeObject => ({
    apiVersion:
      kind === 'Namespace' || kind === 'ConfigMap' || kind === 'PersistentVolumeClaim'
        ? 'v1'
        : 'apps/v1',
    kind,
    metadata: { name, annotations },
  });
  const defaults = { prune: true, pruneLimit: 20, allowPruneOf: [] as string[] };
  const ctx = (syncPolicy: Partial<typeof defaults> = {}, policy: Partial<AppPolicy> = {}) => ({
    app: 'web',
    syncPolicy: { ...defaults, ...syncPolicy },
    policy: { namespaces: [], kinds: [], clusterScoped: true, ...policy },
  });
  const policy = ctx();

  it('deletes in reverse wave order, Namespaces last', () => {
    const decision = decidePrune(
      [
        { key: '/Namespace//web', live: live('Namespace', 'web') },
        { key: '/ConfigMap/web/a', live: live('ConfigMap', 'a') },
        { key: 'apps/Deployment/web/d', live: live('Deployment', 'd') },
      ],
      [
        {
          key: '/ConfigMap/web/a',
          apiVersion: 'v1',
          desiredHash: '',
          resourceVersion: '1',
          wave: -1,
        },
        {
          key: 'apps/Deployment/web/d',
          apiVersion: 'apps/v1',
          desiredHash: '',
          resourceVersion: '1',
          wave: 3,
        },
      ],
      ctx({ allowPruneOf: ['Namespace'] }),
    );
    expect(decision.toDelete.map((c) => c.key)).toEqual([
      'apps/Deployment/web/d',
      '/ConfigMap/web/a',
      '/Namespace//web',
    ]);
    expect(decision.refusal).toBeUndefined();
  });

  it('keeps annotated objects, and everything when prune is off', () => {
    const candidates = [
      { key: 'a', live: live('ConfigMap', 'a', { 'driftless.dev/prune': 'false' }) },
      { key: 'b', live: live('ConfigMap', 'b') },
    ];
    expect(decidePrune(candidates, [], policy).toDelete.map((c) => c.key)).toEqual(['b']);
    const off = decidePrune(candidates, [], ctx({ prune: false }));
    expect(off.toDelete).toEqual([]);
    expect(off.kept.map((k) => k.reason)).toEqual([
      'annotated driftless.dev/prune: "false"',
      'would be pruned, but prune is off for this application',
    ]);
  });

  it('refuses protected kinds and oversized prunes unless allowed', () => {
    const pvc = { key: 'p', live: live('PersistentVolumeClaim', 'data') };
    const guarded = decidePrune([pvc, { key: 'b', live: live('ConfigMap', 'b') }], [], policy);
    expect(guarded.toDelete.map((c) => c.key)).toEqual(['b']);
    expect(guarded.refusal).toMatch(/refused to prune PersistentVolumeClaim\/data/);
    expect(decidePrune([pvc], [], policy, { allowGuarded: true }).toDelete).toHaveLength(1);
    const many = Array.from({ length: 3 }, (_, i) => ({
      key: `c${i}`,
      live: live('ConfigMap', `c${i}`),
    }));
    const limited = decidePrune(many, [], ctx({ pruneLimit: 2 }));
    expect(limited.toDelete).toEqual([]);
    expect(limited.refusal).toMatch(/more than the application's pruneLimit of 2/);
  });

  it('refuses what the policy forbids, waits for confirmation, and orders PruneLast before Namespaces', () => {
    const withKey = (o: KubeObject) => ({
      key: `/${o.kind}/${o.metadata.namespace ?? ''}/${o.metadata.name}`,
      live: o,
    });
    const inNs = (o: KubeObject, ns: string) => ({
      ...o,
      metadata: { ...o.metadata, namespace: ns },
    });
    const candidates = [
      withKey(inNs(live('ConfigMap', 'other'), 'elsewhere')),
      withKey(
        inNs(
          live('ConfigMap', 'confirm', { 'argocd.argoproj.io/sync-options': 'Prune=confirm' }),
          'web',
        ),
      ),
      withKey(
        inNs(
          live('ConfigMap', 'last', { 'argocd.argoproj.io/sync-options': 'PruneLast=true' }),
          'web',
        ),
      ),
      withKey(inNs(live('ConfigMap', 'z'), 'web')),
      withKey(live('Namespace', 'web')),
    ];
    const policy = ctx({ allowPruneOf: ['Namespace'] }, { namespaces: ['web'] });
    const d = decidePrune(candidates, [], policy);
    expect(d.toDelete.map((c) => c.live.metadata.name)).toEqual(['z', 'last', 'web']);
    expect(d.kept.map((k) => [k.key, k.code])).toEqual([
      ['/ConfigMap/elsewhere/other', 'ForbiddenByPolicy'],
      ['/ConfigMap/web/confirm', 'AwaitingConfirmation'],
    ]);
    expect(d.refusal).toMatch(
      /refused to prune ConfigMap\/elsewhere\/other \(namespace elsewhere is not allowed/,
    );
    const confirmed = decidePrune(candidates, [], policy, { allowGuarded: true });
    expect(confirmed.toDelete.map((c) => c.live.metadata.name)).toEqual([
      'confirm',
      'z',
      'last',
      'web',
    ]);
  });

  it('in a cascade keeps Delete=false and Flux prune: disabled, deletes Argo CD Prune=false', () => {
    const candidates = [
      {
        key: '/ConfigMap/web/keep',
        live: live('ConfigMap', 'keep', { 'argocd.argoproj.io/sync-options': 'Delete=false' }),
      },
      {
        key: '/ConfigMap/web/flux',
        live: live('ConfigMap', 'flux', { 'kustomize.toolkit.fluxcd.io/prune': 'disabled' }),
      },
      {
        key: '/ConfigMap/web/argo',
        live: live('ConfigMap', 'argo', { 'argocd.argoproj.io/sync-options': 'Prune=false' }),
      },
      { key: '/ConfigMap/web/plain', live: live('ConfigMap', 'plain') },
    ];
    const d = decidePrune(candidates, [], ctx({ prune: false }), { cascade: true });
    expect(d.toDelete.map((c) => c.live.metadata.name)).toEqual(['argo', 'plain']);
    expect(d.kept.map((k) => k.reason)).toEqual([
      'annotated argocd.argoproj.io/sync-options: "Delete=false"',
      'annotated kustomize.toolkit.fluxcd.io/prune: "disabled"',
    ]);
  });
});
