import { describe, expect, it } from 'vitest';
import { compareDesired } from '../../../lib/diff/compare.js';
import {
  type FieldsV1,
  ownedNotDesired,
  unownedLeaves,
  withoutFields,
  withoutPointer,
} from '../../../lib/diff/fields.js';
import { ignoredView } from '../../../lib/diff/ignore.js';
import {
  applyObjectFor,
  COMPARISON_VERSION,
  desiredFingerprint,
  hashObject,
} from '../../../lib/diff/index.js';
import { maskSecretPair, unifiedDiff } from '../../../lib/diff/render.js';
import {
  type IgnoreDifferenceInput,
  IgnoreDifferenceSchema,
} from '../../../lib/model/application.js';
import { canonicalJson } from '../../../lib/model/canonical.js';
import type { KubeObject } from '../../../lib/model/object.js';
import { parseQuantity, quantitiesEqual } from '../../../lib/model/quantity.js';

describe('quantities', () => {
  it.each([
    ['0.5', '500m', true],
    ['1', '1000m', true],
    ['0.125Gi', '128Mi', true],
    ['1e3', '1k', true],
    ['64Mi', '67108864', true],
    ['1Gi', '1G', false],
    ['100m', '0.2', false],
  ])('%s vs %s → %s', (a, b, equal) => {
    expect(quantitiesEqual(a, b)).toBe(equal);
  });

  it('rejects what is not a quantity', () => {
    expect(parseQuantity('lots')).toBeUndefined();
    expect(parseQuantity('1.5.2')).toBeUndefined();
  });
});

describe('compareDesired (desired ⊆ live, normalized)', () => {
  it('ignores server defaults absent from the desired object', () => {
    const desired = {
      spec: { template: { spec: { containers: [{ name: 'web', image: 'nginx' }] } } },
    };
    const live = {
      spec: {
        strategy: { type: 'RollingUpdate' },
        template: {
          spec: {
            containers: [
              {
                name: 'web',
                image: 'nginx',
                terminationMessagePath: '/dev/termination-log',
                imagePullPolicy: 'IfNotPresent',
              },
            ],
          },
        },
      },
    };
    expect(compareDesired(desired, live)).toEqual([]);
  });

  it('compares resource quantities by value', () => {
    const desired = { resources: { requests: { cpu: 0.5, memory: '0.125Gi' } } };
    expect(
      compareDesired(desired, { resources: { requests: { cpu: '500m', memory: '128Mi' } } }),
    ).toEqual([]);
    expect(
      compareDesired(desired, { resources: { requests: { cpu: '600m', memory: '128Mi' } } }),
    ).toEqual([{ path: 'resources.requests.cpu', desired: 0.5, live: '600m' }]);
  });

  it('matches list elements by key, tolerating defaulted secondary keys and extra live elements', () => {
    const desired = {
      ports: [{ containerPort: 8080 }],
      containers: [{ name: 'app', image: 'a:1' }],
    };
    const live = {
      ports: [{ containerPort: 8080, protocol: 'TCP' }],
      containers: [
        { name: 'istio-proxy', image: 'proxy' },
        { name: 'app', image: 'a:1' },
      ],
    };
    expect(compareDesired(desired, live)).toEqual([]);
    const changed = { ...live, containers: [{ name: 'app', image: 'a:2' }] };
    expect(compareDesired(desired, changed).map((d) => d.path)).toEqual([
      'containers[name=app].image',
    ]);
  });

  it('treats atomic lists positionally and reports a length change', () => {
    expect(compareDesired({ args: ['a', 'b'] }, { args: ['a', 'b'] })).toEqual([]);
    expect(compareDesired({ args: ['a', 'b'] }, { args: ['a'] })).toHaveLength(1);
  });

  it('treats empty containers as equal to absent', () => {
    expect(
      compareDesired(
        { metadata: { annotations: {} }, spec: { volumes: [] } },
        { metadata: {}, spec: {} },
      ),
    ).toEqual([]);
  });

  it('reports a field removed live', () => {
    expect(
      compareDesired({ metadata: { labels: { tier: 'web' } } }, { metadata: { labels: {} } }),
    ).toEqual([{ path: 'metadata.labels.tier', desired: 'web', live: undefined }]);
  });
});

describe('managedFields', () => {
  const owned: FieldsV1 = {
    'f:metadata': { 'f:labels': { 'f:app': {} } },
    'f:spec': {
      'f:replicas': {},
      'f:ports': {
        'k:{"port":80,"protocol":"TCP"}': { '.': {}, 'f:port': {}, 'f:targetPort': {} },
      },
      'f:selector': {},
    },
  };

  it('finds leaves we set but do not own', () => {
    const desired = {
      metadata: { labels: { app: 'web', tier: 'front' } },
      spec: { replicas: 2, ports: [{ port: 80, targetPort: 8080 }], selector: { app: 'web' } },
    };
    expect(unownedLeaves(desired, owned)).toEqual(['metadata.labels.tier']);
  });

  it('finds fields we own but no longer set', () => {
    const desired = {
      metadata: { labels: { app: 'web' } },
      spec: { ports: [{ port: 80, targetPort: 8080 }], selector: { a: 'b' } },
    };
    expect(ownedNotDesired(owned, desired)).toEqual(['spec.replicas']);
    expect(
      ownedNotDesired(owned, {
        ...desired,
        spec: { ...desired.spec, replicas: 1, ports: [{ port: 81 }] },
      }),
    ).toEqual(['spec.ports[k:{"port":80,"protocol":"TCP"}]']);
  });

  it('removes fields another manager owns from what we apply', () => {
    const hpa: FieldsV1 = { 'f:spec': { 'f:replicas': {} } };
    const desired = { spec: { replicas: 3, template: { x: 1 } } };
    expect(withoutFields(desired, hpa)).toEqual({ spec: { template: { x: 1 } } });
  });

  it('removes JSON pointers, escaped keys included', () => {
    const obj = {
      metadata: { annotations: { 'a/b': 'x', c: 'y' } },
      spec: { list: [{ v: 1 }, { v: 2 }] },
    };
    expect(withoutPointer(obj, '/metadata/annotations/a~1b')).toEqual({
      metadata: { annotations: { c: 'y' } },
      spec: { list: [{ v: 1 }, { v: 2 }] },
    });
    expect(withoutPointer(obj, '/spec/list/1/v')).toEqual({
      ...obj,
      spec: { list: [{ v: 1 }, {}] },
    });
    expect(withoutPointer(obj, '/does/not/exist')).toEqual(obj);
  });
});

describe('applyObjectFor', () => {
  const rule = (r: IgnoreDifferenceInput) => IgnoreDifferenceSchema.parse(r);
  const desired: KubeObject = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: { name: 'web', namespace: 'prod' },
    spec: { replicas: 2, paused: false },
  };
  const live: KubeObject = {
    ...desired,
    metadata: {
      ...desired.metadata,
      managedFields: [
        {
          manager: 'hpa',
          operation: 'Update',
          subresource: 'scale',
          fieldsV1: { 'f:spec': { 'f:replicas': {} } },
        },
      ],
    },
    spec: { replicas: 4, paused: false },
  };

  it('sends the live value of fields ignored managers own, but only once the object exists', () => {
    const rules = [rule({ group: 'apps', kind: 'Deployment', managedFieldsManagers: ['hpa'] })];
    expect(applyObjectFor(desired, live, rules).spec).toEqual({ replicas: 4, paused: false });
    expect(applyObjectFor(desired, undefined, rules)).toBe(desired);
  });

  it('applies rules only to matching group, kind, name and namespace; group and kind are globs', () => {
    const pointer = { jsonPointers: ['/spec/replicas'] };
    expect(applyObjectFor(desired, live, [rule({ kind: 'Deployment', ...pointer })])).toBe(desired);
    const byName = rule({ group: 'apps', kind: 'Deployment', name: 'api', ...pointer });
    expect(applyObjectFor(desired, live, [byName])).toBe(desired);
    const anyKind = rule({ group: '*', kind: '*', ...pointer });
    expect(applyObjectFor(desired, live, [anyKind]).spec).toEqual({ replicas: 4, paused: false });
  });
});

describe('ignore rules keep live values where they apply', () => {
  const rule = (r: IgnoreDifferenceInput) => IgnoreDifferenceSchema.parse(r);
  const owned = (fieldsV1: FieldsV1, manager = 'driftless', operation = 'Apply') => ({
    manager,
    operation,
    fieldsV1,
  });
  const configMap = (data: Record<string, string>, managedFields: unknown[] = []): KubeObject => ({
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: { name: 'tuning', namespace: 'web', managedFields } as KubeObject['metadata'],
    data,
  });
  const threads = rule({ kind: 'ConfigMap', name: 'tuning', jsonPointers: ['/data/threads'] });

  it('sends a field Git sets with its live value instead of leaving it out (which deletes it)', () => {
    const live = configMap({ threads: '8', mode: 'fast' }, [
      owned({ 'f:data': { 'f:threads': {}, 'f:mode': {} } }),
    ]);
    const view = ignoredView(configMap({ threads: '4', mode: 'safe' }), live, [threads]);
    expect(view.applyObject.data).toEqual({ threads: '8', mode: 'safe' });
    expect(view.compareDesired.data).toEqual({ mode: 'safe' });
    expect(view.compareLive.data).toEqual({ mode: 'fast' });
  });

  it('keeps a field Driftless owns that Git dropped, and does not take one it never owned', () => {
    const ours = configMap({ threads: '8' }, [owned({ 'f:data': { 'f:threads': {} } })]);
    expect(ignoredView(configMap({ mode: 'safe' }), ours, [threads]).applyObject.data).toEqual({
      mode: 'safe',
      threads: '8',
    });
    const theirs = configMap({ threads: '8' }, [
      owned({ 'f:data': { 'f:threads': {} } }, 'kubectl-edit', 'Update'),
    ]);
    expect(ignoredView(configMap({ mode: 'safe' }), theirs, [threads]).applyObject.data).toEqual({
      mode: 'safe',
    });
  });

  it('does not send a field Git sets when the live object lacks it', () => {
    const live = configMap({ mode: 'safe' }, [owned({ 'f:data': { 'f:mode': {} } })]);
    expect(
      ignoredView(configMap({ threads: '4', mode: 'safe' }), live, [threads]).applyObject.data,
    ).toEqual({ mode: 'safe' });
  });

  it('selects with jq path expressions, on each side by its own indexes', () => {
    const deployment = (containers: unknown[]): KubeObject => ({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web' },
      spec: { template: { spec: { containers } } },
    });
    const sidecar = rule({
      group: 'apps',
      kind: 'Deployment',
      jqPathExpressions: ['.spec.template.spec.containers[] | select(.name == "sidecar") | .image'],
    });
    const desired = deployment([
      { name: 'app', image: 'app:2' },
      { name: 'sidecar', image: 'sidecar:1' },
    ]);
    const live = {
      ...deployment([
        { name: 'injected', image: 'mesh:1' },
        { name: 'sidecar', image: 'sidecar:9' },
        { name: 'app', image: 'app:1' },
      ]),
      metadata: {
        name: 'web',
        managedFields: [
          owned({
            'f:spec': {
              'f:template': {
                'f:spec': {
                  'f:containers': {
                    'k:{"name":"app"}': { '.': {}, 'f:name': {}, 'f:image': {} },
                    'k:{"name":"sidecar"}': { '.': {}, 'f:name': {}, 'f:image': {} },
                  },
                },
              },
            },
          }),
        ],
      },
    } as KubeObject;
    const view = ignoredView(desired, live, [sidecar]);
    const containers = (o: KubeObject) =>
      (o.spec as { template: { spec: { containers: unknown[] } } }).template.spec.containers;
    expect(containers(view.applyObject)).toEqual([
      { name: 'app', image: 'app:2' },
      { name: 'sidecar', image: 'sidecar:9' },
    ]);
    expect(containers(view.compareDesired)).toEqual([
      { name: 'app', image: 'app:2' },
      { name: 'sidecar' },
    ]);
    expect(compareDesired(view.compareDesired, view.compareLive).map((d) => d.path)).toEqual([
      'spec.template.spec.containers[name=app].image',
    ]);
  });

  it('puts the rules and the comparison version in the fast-path fingerprint', () => {
    const d = { hash: 'abc', object: configMap({ threads: '4' }) };
    const none = desiredFingerprint(d, []);
    expect(none).not.toBe('abc');
    expect(desiredFingerprint(d, [threads])).not.toBe(none);
    const other = rule({ kind: 'Secret', jsonPointers: ['/data/x'] });
    expect(desiredFingerprint(d, [other])).toBe(none); // a rule for other objects changes nothing
    // What an older comparison recorded is not this one's verdict.
    expect(desiredFingerprint(d, [], COMPARISON_VERSION - 1)).not.toBe(none);
    expect(desiredFingerprint(d, [], COMPARISON_VERSION)).toBe(none);
  });
});

describe('hashing and rendering', () => {
  it('hashes content, not key order', () => {
    expect(hashObject({ a: 1, b: [1, { d: 2, c: 3 }] })).toBe(
      hashObject({ b: [1, { c: 3, d: 2 }], a: 1 }),
    );
    expect(canonicalJson({ b: 1, a: undefined })).toBe('{"b":1}');
  });

  it('masks Secret values consistently and never shows them', () => {
    const before: KubeObject = {
      apiVersion: 'v1',
      kind: 'Secret',
      metadata: { name: 's' },
      data: { a: 'c2VjcmV0', b: 'c2FtZQ==' },
    };
    const after: KubeObject = {
      ...before,
      data: undefined,
      stringData: { a: 'changed', b: 'same' },
    };
    const [x, y] = maskSecretPair(before, after);
    const masked = x?.data as Record<string, string>;
    const maskedAfter = y?.stringData as Record<string, string>;
    expect(masked.b).toBe(maskedAfter.b);
    expect(masked.a).not.toBe(maskedAfter.a);
    const diff = unifiedDiff('Secret/s', before, after);
    expect(diff).not.toMatch(/c2VjcmV0|changed|secret/);
  });

  it('leaves server bookkeeping out of diffs', () => {
    const live: KubeObject = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'c', resourceVersion: '12', uid: 'u', managedFields: [{ manager: 'x' }] },
      data: { k: 'old' },
    };
    const merged: KubeObject = {
      ...live,
      metadata: { ...live.metadata, resourceVersion: '13' },
      data: { k: 'new' },
    };
    const diff = unifiedDiff('ConfigMap/c', live, merged);
    expect(diff).toContain('-  k: old');
    expect(diff).toContain('+  k: new');
    expect(diff).not.toContain('resourceVersion');
    expect(
      unifiedDiff('ConfigMap/c', live, {
        ...live,
        metadata: { ...live.metadata, resourceVersion: '14' },
      }),
    ).toBe('');
  });
});
