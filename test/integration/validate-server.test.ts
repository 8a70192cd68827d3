// Schema validation proven against the real API server, not against our
// belief about it: the fixture sources render as a sync renders them (plain
// directory, Kustomize overlay with a base, Helm chart with values, an
// Application's two sources); valid ones pass both the validator and a
// server-side dry run, invalid ones fail with file, line and field, and the
// server rejects exactly the objects the validator rejects. Then every
// single-field mutation of a corpus of valid objects (remove a required
// field, change a type, a bad or empty enum value, a duplicate list key, an
// unknown field) gets the same verdict from both, and the cluster's own
// schemas (GET /openapi/v3) equal the shipped bundle and give the same
// findings.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { DriftlessError } from '../../lib/errors.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { kubeClientFromKubeconfig } from '../../lib/kube/kubeconfig.js';
import { type ApplicationSource, SourceSchema } from '../../lib/model/application.js';
import type { KubeObject } from '../../lib/model/object.js';
import { isQuantity } from '../../lib/model/quantity.js';
import { parseYamlDocuments } from '../../lib/model/yaml.js';
import { loadManifests, type Manifest, renderSource } from '../../lib/source/index.js';
import {
  describeFinding,
  loadShippedSchemas,
  type SchemaFinding,
  type SchemaSet,
  SchemaValidator,
  schemaErrorOf,
  schemasFromCluster,
} from '../../lib/validate/index.js';
import { testenv } from '../support/env.js';
import { eventually, testNamespace } from '../support/kube.js';
import { provideRenderTools } from '../support/render-tools.js';
import { type Mutation, type MutationKind, mutationsOf } from '../support/schema-mutations.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures/validate');
const WIDGET_CRD = 'widgets.fixtures.driftless.dev';

let client: KubeClient;
let ns: string;
let shipped: SchemaSet;

beforeAll(async () => {
  await provideRenderTools();
  ns = await testNamespace('validate');
  client = await kubeClientFromKubeconfig(testenv().kube.kubeconfig, undefined, {
    clusterName: 'test',
  });
  shipped = await loadShippedSchemas();
  // A Pod needs its service account; the custom resources need their CRD for real.
  await client.apply({
    apiVersion: 'v1',
    kind: 'ServiceAccount',
    metadata: { name: 'default', namespace: ns },
  });
  const [crd] = await loadManifests(FIXTURES, 'directory/valid/widget-crd.yaml');
  await client.apply(crd?.object as KubeObject);
  await eventually('the Widget CRD to be established', async () => {
    const live = await client.get(
      'apiextensions.k8s.io/v1',
      'CustomResourceDefinition',
      '',
      WIDGET_CRD,
    );
    const conditions = (live?.status as { conditions?: { type: string; status: string }[] })
      ?.conditions;
    return conditions?.some((c) => c.type === 'Established' && c.status === 'True') || undefined;
  });
  client.invalidateDiscovery();
});

afterAll(async () => {
  await client
    ?.delete({
      apiVersion: 'apiextensions.k8s.io/v1',
      group: 'apiextensions.k8s.io',
      kind: 'CustomResourceDefinition',
      namespace: '',
      name: WIDGET_CRD,
    })
    .catch(() => {});
  client?.close();
});

/**
 * The server's verdict on applying an object as a sync does (server-side
 * apply, dry run): undefined if accepted, else its message. Some objects it
 * cannot decode it refuses with a 500 rather than a 400/422, which the
 * client reports as ClusterUnreachable; that is a refusal too.
 */
async function serverRejection(object: KubeObject): Promise<string | undefined> {
  const obj = structuredClone(object);
  const namespaced = shipped.isNamespaced(obj.apiVersion, obj.kind) ?? obj.kind === 'Widget';
  if (namespaced) obj.metadata.namespace = ns;
  try {
    await client.apply(obj, { dryRun: true });
    return undefined;
  } catch (e) {
    if (
      e instanceof DriftlessError &&
      (e.reason === 'ApplyRejected' || /answered 500: /.test(e.message))
    ) {
      return e.message;
    }
    throw e;
  }
}

/** An Application fixture's sources, each validated as the model validates one. */
function sourcesOf(file: string): ApplicationSource[] {
  const [doc] = parseYamlDocuments(readFileSync(path.join(FIXTURES, file), 'utf8'), file);
  const app = doc?.value as { spec: { sources: unknown[] } } | undefined;
  return (app?.spec.sources ?? []).map((s) => SourceSchema.parse(s));
}

function source(p: string, helm?: ApplicationSource['helm']): ApplicationSource {
  return SourceSchema.parse({
    repoURL: 'https://git.example.com/fixtures.git',
    path: p,
    ...(helm ? { helm } : {}),
  });
}

async function render(src: ApplicationSource): Promise<Manifest[]> {
  return renderSource(FIXTURES, src, { appName: 'web', namespace: ns });
}

const VALID: [string, () => ApplicationSource[]][] = [
  ['a plain directory', () => [source('directory/valid')]],
  ['a Kustomize overlay with a base', () => [source('kustomize/overlays/prod')]],
  [
    'a Helm chart with values',
    () => [source('helm/chart', { valueFiles: ['../values-prod.yaml'], values: {} })],
  ],
  ['an Application with two sources', () => sourcesOf('app/app.yaml')],
];

const KUSTOMIZE_INVALID = [
  'kustomize/overlays/invalid/kustomization.yaml:87: Service/web: spec.ports[0].port: must be an integer, not the string "80"',
  'kustomize/overlays/invalid/kustomization.yaml:95: Service/web: spec.type: "NotAType" is not one of "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
  'kustomize/overlays/invalid/kustomization.yaml:104: Deployment/web: spec.selector: required field is missing',
  'kustomize/overlays/invalid/kustomization.yaml:121: Deployment/web: spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy" (did you mean "imagePullPolicy"?)',
  'kustomize/overlays/invalid/kustomization.yaml:146: Widget/gizmo: spec.color: "purple" is not one of "red", "green", "blue"',
];
const helmInvalid = (release: string) => [
  `helm/chart/templates/service.yaml:9: Service/${release}: spec.type: "NotAType" is not one of "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"`,
  `helm/chart/templates/service.yaml:15: Service/${release}: spec.ports[0].port: must be an integer, not the string "http"`,
  `helm/chart/templates/deployment.yaml:30: Deployment/${release}: spec.template.spec.containers[0].resources.requests.memory: the string "64 MB" is not a quantity (e.g. 500m, 1.5, 2Gi, 1e3)`,
  `helm/chart/templates/deployment.yaml:31: Deployment/${release}: spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy" (did you mean "imagePullPolicy"?)`,
];

const INVALID: [string, () => ApplicationSource[], string[]][] = [
  [
    'a plain directory',
    () => [source('directory/invalid')],
    [
      'directory/invalid/invalid-enum.yaml:6: Service/invalid-enum: spec.type: "NotAType" is not one of "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
      'directory/invalid/missing-required.yaml:15: Deployment/missing-required: spec.template.spec.containers[0].name: required field is missing',
      'directory/invalid/unknown-field.yaml:17: Deployment/unknown-field: spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy" (did you mean "imagePullPolicy"?)',
      'directory/invalid/widget.yaml:7: Widget/purple: spec.color: "purple" is not one of "red", "green", "blue"',
      'directory/invalid/wrong-type.yaml:10: Service/wrong-type: spec.ports[0].port: must be an integer, not the string "80"',
    ],
  ],
  [
    'a Kustomize overlay with a base',
    () => [source('kustomize/overlays/invalid')],
    KUSTOMIZE_INVALID,
  ],
  [
    'a Helm chart with values',
    () => [source('helm/chart', { valueFiles: ['../values-invalid.yaml'], values: {} })],
    helmInvalid('web'),
  ],
  [
    'an Application with two sources',
    () => sourcesOf('app/app-invalid.yaml'),
    [...KUSTOMIZE_INVALID, ...helmInvalid('web-chart')],
  ],
];

describe('the fixtures, rendered as a sync renders them', () => {
  it.each(VALID)('%s: valid, for the validator and for the API server', async (_, sources) => {
    for (const src of sources()) {
      const manifests = await render(src);
      expect(manifests.length).toBeGreaterThan(1);
      expect(new SchemaValidator(shipped).validate(manifests).map(describeFinding)).toEqual([]);
      for (const m of manifests) {
        expect(
          await serverRejection(m.object),
          `${m.file}: ${m.object.kind}/${m.object.metadata.name}`,
        ).toBeUndefined();
      }
    }
  });

  it.each(INVALID)(
    '%s: each invalid object fails with file, line and field, and the API server rejects exactly those',
    async (_, sources, expected) => {
      const findings: SchemaFinding[] = [];
      for (const src of sources()) {
        const manifests = await render(src);
        const found = new SchemaValidator(shipped).validate(manifests);
        findings.push(...found);
        for (const m of manifests) {
          const invalid = found.some(
            (f) =>
              f.file === m.file &&
              f.object.startsWith(`${m.object.kind}/`) &&
              f.object.endsWith(`/${m.object.metadata.name}`),
          );
          const rejected = await serverRejection(m.object);
          expect(
            rejected !== undefined,
            `${m.object.kind}/${m.object.metadata.name}: server said ${rejected ?? 'ok'}`,
          ).toBe(invalid);
        }
      }
      expect(findings.map(describeFinding)).toEqual(expected);
      expect(findings.every((f) => f.severity === 'error')).toBe(true);
    },
  );
});

/** Mutation kinds where the validator claims to catch everything the server rejects. */
const COMPLETE: Record<MutationKind, boolean> = {
  'unknown-field': true,
  'remove-required': true,
  enum: true,
  'empty-enum': true,
  type: true,
  fraction: true,
  duplicate: true,
  // The server wraps an int32 out of range; only its own checks of the value object.
  'int32-range': false,
};

describe('every single-field mutation of valid objects', () => {
  it('gets the same verdict from the validator and the API server', async () => {
    // The plain fixtures first: a field's mutation is tried once, in the simplest object that has it.
    const manifests = [
      ...(await loadManifests(FIXTURES, 'directory/valid')),
      ...(await loadManifests(FIXTURES, 'corpus')),
    ];
    const validator = new SchemaValidator(shipped);
    const seen = new Set<string>();
    const mutations: { m: Manifest; mutation: Mutation }[] = [];
    for (const m of manifests) {
      expect(
        validator.validate(
          manifests.filter((x) => x === m || x.object.kind === 'CustomResourceDefinition'),
        ),
        m.object.metadata.name,
      ).toEqual([]);
      expect(await serverRejection(m.object), m.object.metadata.name).toBeUndefined();
      const info = shipped.kind(m.object.apiVersion, m.object.kind);
      const root =
        info?.definition ??
        (crdSchema(manifests, m.object.kind) as Parameters<typeof mutationsOf>[1]);
      for (const mutation of mutationsOf(m.object, root, shipped.bundle.definitions, seen)) {
        mutations.push({ m, mutation });
      }
    }
    const crds = manifests.filter((x) => x.object.kind === 'CustomResourceDefinition');
    const disagreements: string[] = [];
    const counts: Partial<Record<MutationKind, number>> = {};
    let next = 0;
    const worker = async () => {
      while (next < mutations.length) {
        const { m, mutation } = mutations[next++] as (typeof mutations)[number];
        counts[mutation.kind] = (counts[mutation.kind] ?? 0) + 1;
        const errors = new SchemaValidator(shipped, { crds })
          .validate([{ ...m, object: mutation.object }])
          .filter((f) => f.severity === 'error');
        const rejected = await serverRejection(mutation.object);
        const what = `${mutation.kind} ${mutation.location} (${mutation.object.kind} ${mutation.field})`;
        if (errors.length && !rejected) {
          disagreements.push(
            `${what}: the validator says ${errors[0]?.field}: ${errors[0]?.message}; the server accepts it`,
          );
        } else if (rejected && !errors.length && COMPLETE[mutation.kind]) {
          disagreements.push(`${what}: the server says ${rejected}; the validator accepts it`);
        }
      }
    };
    await Promise.all(Array.from({ length: 6 }, worker));
    expect(disagreements.sort()).toEqual([]);
    // Enough of each kind to mean something (the corpus covers ~50 kinds of objects).
    expect(counts['unknown-field']).toBeGreaterThan(200);
    expect(counts['remove-required']).toBeGreaterThan(150);
    expect(counts.enum).toBeGreaterThan(55);
    expect(counts.type).toBeGreaterThan(700);
    expect(counts.duplicate).toBeGreaterThan(20);
  });

  it('parses quantities and times as the API server does', async () => {
    const quota = (pods: string): KubeObject => ({
      apiVersion: 'v1',
      kind: 'LimitRange',
      metadata: { name: 'quantity' },
      spec: { limits: [{ type: 'Container', max: { memory: pods } }] },
    });
    const quantities = [
      '1',
      '1.',
      '.',
      '-',
      '+1.5e3',
      '1.5Gi',
      ' 2Gi ',
      '.5Ki',
      '1E3',
      '5u',
      '1e-3',
      '1gb',
      '1K',
      '1e',
      '1.5.5',
      'abc',
      '',
      '1Mi5',
      '1 Gi',
      '2Ti',
    ];
    const decodes = async (q: string) =>
      !/quantities must match|unable to convert/.test((await serverRejection(quota(q))) ?? '');
    const disagreeing = [];
    for (const q of quantities) if ((await decodes(q)) !== isQuantity(q)) disagreeing.push(q);
    expect(disagreeing).toEqual([]);

    const lease = (
      acquireTime: string,
      creationTimestamp = '2024-01-02T15:04:05Z',
    ): KubeObject => ({
      apiVersion: 'coordination.k8s.io/v1',
      kind: 'Lease',
      metadata: { name: 'times', creationTimestamp },
      spec: { acquireTime },
    });
    const cases: KubeObject[] = [
      lease('2024-01-02T15:04:05.000000Z'),
      lease('2024-01-02T15:04:05.123456+01:00'),
      lease('2024-01-02T15:04:05Z'),
      lease('2024-01-02T15:04:05.123Z'),
      lease('2024-01-02t15:04:05.000000z'),
      lease('2024-01-02T15:04:05.000000Z', '2024-01-02t15:04:05z'),
      lease('2024-01-02T15:04:05.000000Z', '2024-01-02T15:04:05.5+02:00'),
      lease('2024-01-02T15:04:05.000000Z', '2024-02-30T15:04:05Z'),
      lease('2024-01-02T15:04:05.000000Z', '2024-01-02 15:04:05Z'),
      lease('2024-01-02T15:04:05.000000Z', '2024-01-02T15:04Z'),
    ];
    const verdicts = [];
    for (const object of cases) {
      const validator = new SchemaValidator(shipped).validate([{ object, file: 'lease', line: 1 }]);
      verdicts.push([(await serverRejection(object)) !== undefined, validator.length > 0]);
    }
    expect(verdicts.map(([server]) => server)).toEqual([
      false,
      false,
      true,
      true,
      true,
      true,
      false,
      true,
      true,
      true,
    ]);
    expect(verdicts.map(([, validator]) => validator)).toEqual(verdicts.map(([server]) => server));
  });
});

/** The openAPIV3Schema of the CRD (among `manifests`) defining `kind`. */
function crdSchema(manifests: readonly Manifest[], kind: string): unknown {
  const crd = manifests.find(
    (m) =>
      m.object.kind === 'CustomResourceDefinition' &&
      (m.object.spec as { names: { kind: string } }).names.kind === kind,
  );
  const spec = crd?.object.spec as
    | { versions: { schema: { openAPIV3Schema: unknown } }[] }
    | undefined;
  return spec?.versions[0]?.schema.openAPIV3Schema;
}

describe('custom resources', () => {
  it('check the string formats CRDs use as the apiextensions server does', async () => {
    const formats = [
      'uuid',
      'date',
      'date-time',
      'byte',
      'k8s-short-name',
      'k8s-long-name',
      'email',
    ];
    const crd: KubeObject = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'formatchecks.fixtures.driftless.dev' },
      spec: {
        group: 'fixtures.driftless.dev',
        names: { kind: 'FormatCheck', plural: 'formatchecks' },
        scope: 'Namespaced',
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: {
                  spec: {
                    type: 'object',
                    properties: Object.fromEntries(
                      formats.map((f) => [f.replace(/-/g, ''), { type: 'string', format: f }]),
                    ),
                  },
                },
              },
            },
          },
        ],
      },
    };
    await client.apply(crd);
    onTestFinished(async () => {
      await client.delete({
        ...crd,
        group: 'apiextensions.k8s.io',
        namespace: '',
        name: crd.metadata.name as string,
      });
    });
    await eventually('the FormatCheck CRD to be served', async () => {
      client.invalidateDiscovery();
      return (
        (await client
          .resource('fixtures.driftless.dev/v1', 'FormatCheck')
          .catch(() => undefined)) ?? undefined
      );
    });
    const cases: [string, string][] = [
      ['uuid', '123e4567-e89b-12d3-a456-426614174000'],
      ['uuid', '123E4567E89B12D3A456426614174000'],
      ['uuid', 'not-a-uuid'],
      ['uuid', '123e4567-e89b-12d3-a456-42661417400'],
      ['date', '2024-01-02'],
      ['date', '2024-02-30'],
      ['date', '2024-1-2'],
      ['datetime', '2024-01-02T15:04:05z'],
      ['datetime', '2024-01-02T15:04:05.5+01:00'],
      ['datetime', '2024-01-02T15:04:05'],
      ['datetime', '2024-01-02 15:04:05Z'],
      ['byte', 'aGVsbG8='],
      ['byte', 'aGVs\nbG8='],
      ['byte', 'aGVsbG8'],
      ['byte', '%%%'],
      ['k8sshortname', 'abc-1'],
      ['k8sshortname', 'Abc'],
      ['k8sshortname', 'a.b'],
      ['k8sshortname', 'a'.repeat(64)],
      ['k8slongname', 'a.b-c'],
      ['k8slongname', 'A.b'],
      ['k8slongname', 'a..b'],
      // A format the validator leaves to the server: never an error offline.
      ['email', 'not an email'],
    ];
    const disagreements: string[] = [];
    for (const [field, value] of cases) {
      const object: KubeObject = {
        apiVersion: 'fixtures.driftless.dev/v1',
        kind: 'FormatCheck',
        metadata: { name: 'f', namespace: ns },
        spec: { [field]: value },
      };
      const findings = new SchemaValidator(shipped, { crds: [crd] }).validate([
        { object, file: 'f', line: 1 },
      ]);
      const rejected = await serverRejection(object);
      const unchecked = field === 'email';
      if ((findings.length > 0 && !rejected) || (rejected && !findings.length && !unchecked)) {
        disagreements.push(
          `${field} ${JSON.stringify(value)}: validator ${findings[0]?.message ?? 'ok'}, server ${rejected ?? 'ok'}`,
        );
      }
    }
    expect(disagreements).toEqual([]);
  });
});

describe("a cluster's own schemas", () => {
  it('are the shipped bundle, read from GET /openapi/v3, and give the same findings', async () => {
    const requested: string[] = [];
    const cluster = await schemasFromCluster(
      {
        getJSON: (p) => {
          requested.push(p);
          return client.requestJson('GET', p);
        },
      },
      { clusterName: 'test' },
    );
    // The requests of this read, counted where it makes them: the client's
    // own counter also counts any other request made through it meanwhile (in
    // a loaded run it counted 49 for this read's 25). Each attempt: the index,
    // the CRD list, a document per group-version the API server itself
    // serves; then the index again. Another test file adding a CRD meanwhile
    // changes the index, and the reading starts over: the last attempt counts.
    const crdServed = Object.keys(cluster.documentHashes).filter(
      (p) => !cluster.bundle.kinds[p.replace(/^apis?\//, '')],
    );
    expect(crdServed).toContain('apis/fixtures.driftless.dev/v1');
    const path = (url: string) => url.split('?')[0] as string;
    expect(requested[0]).toBe('/openapi/v3');
    expect(requested.at(-1)).toBe('/openapi/v3');
    const lastCrdList = requested.findLastIndex((p) => p.includes('/customresourcedefinitions'));
    const lastDocuments = requested
      .slice(lastCrdList + 1, -1)
      .map(path)
      .sort();
    expect(lastDocuments).toEqual(
      Object.keys(cluster.documentHashes)
        .filter((p) => !crdServed.includes(p))
        .map((p) => `/openapi/v3/${p}`)
        .sort(),
    );
    // Nothing but the index, the CRD list and documents.
    expect(
      requested.filter(
        (p) =>
          p !== '/openapi/v3' &&
          !p.startsWith('/openapi/v3/') &&
          !p.includes('/customresourcedefinitions'),
      ),
    ).toEqual([]);
    expect(cluster.origin).toBe('cluster');
    expect(cluster.crds.map((c) => c.metadata.name)).toContain(WIDGET_CRD);
    expect(cluster.kind('fixtures.driftless.dev/v1', 'Widget')).toBeUndefined(); // CRDs validate their own kinds

    let kinds = 0;
    for (const [apiVersion, byKind] of Object.entries(cluster.bundle.kinds)) {
      if (!shipped.bundle.kinds[apiVersion]) continue; // an aggregated API, or another test's CRD
      for (const [kind, info] of Object.entries(byKind)) {
        expect(shipped.kind(apiVersion, kind), `${kind} in ${apiVersion}`).toEqual(info);
        kinds++;
      }
    }
    expect(kinds).toBeGreaterThan(50);
    // What the shipped bundle has but the cluster does not serve: exactly the alpha and beta APIs.
    expect(Object.keys(shipped.bundle.kinds).filter((v) => !cluster.bundle.kinds[v])).toEqual(
      Object.keys(shipped.bundle.kinds).filter((v) => /\/v\d+(alpha|beta)\d+$/.test(v)),
    );
    for (const [name, definition] of Object.entries(cluster.bundle.definitions)) {
      if (name.startsWith('io.k8s.'))
        expect(shipped.bundle.definitions[name], name).toEqual(definition);
    }

    for (const sources of [...VALID.map((v) => v[1]), ...INVALID.map((v) => v[1])]) {
      for (const src of sources()) {
        const manifests = await render(src);
        expect(new SchemaValidator(cluster).validate(manifests)).toEqual(
          new SchemaValidator(shipped).validate(manifests),
        );
      }
    }
    // A custom resource whose CRD is only in the cluster is checked against it.
    const [purple] = await loadManifests(FIXTURES, 'directory/invalid/widget.yaml');
    expect(
      new SchemaValidator(cluster).validate([purple as Manifest]).map(describeFinding),
    ).toEqual([
      'directory/invalid/widget.yaml:7: Widget/purple: spec.color: "purple" is not one of "red", "green", "blue"',
    ]);
  });

  it('read again, not failed, when a group-version goes between the index and its document', async () => {
    // As when another client deletes a CRD while the schemas are read: its
    // document answers 404 once.
    let gone = 1;
    const reader = {
      getJSON: async (p: string) => {
        if (gone > 0 && p.startsWith('/openapi/v3/apis/apps/v1')) {
          gone--;
          throw new DriftlessError('NotFound', `${p} not found`);
        }
        return client.requestJson('GET', p);
      },
    };
    const schemas = await schemasFromCluster(reader, { clusterName: 'test' });
    expect(gone).toBe(0);
    expect(schemas.kind('apps/v1', 'Deployment')).toMatchObject({
      namespaced: true,
      statusSubresource: true,
    });
  });

  it('are read again only when the cluster changed: one request otherwise', async () => {
    // Counted here, not on the shared client (which counts other requests too).
    let requests = 0;
    const getJSON = (p: string) => {
      requests++;
      return client.requestJson('GET', p);
    };
    const first = await schemasFromCluster({ getJSON });
    requests = 0;
    expect(await schemasFromCluster({ getJSON }, { previous: first })).toBe(first);
    expect(requests).toBe(1);
    // A new CRD is a new group-version in the index: the schemas (and CRDs) are read again.
    const crd: KubeObject = {
      apiVersion: 'apiextensions.k8s.io/v1',
      kind: 'CustomResourceDefinition',
      metadata: { name: 'gizmos.cache.driftless.dev' },
      spec: {
        group: 'cache.driftless.dev',
        names: { kind: 'Gizmo', plural: 'gizmos' },
        scope: 'Namespaced',
        versions: [
          {
            name: 'v1',
            served: true,
            storage: true,
            schema: {
              openAPIV3Schema: {
                type: 'object',
                properties: { spec: { type: 'object', properties: { size: { type: 'integer' } } } },
              },
            },
          },
        ],
      },
    };
    await client.apply(crd);
    onTestFinished(async () => {
      await client.delete({
        ...crd,
        group: 'apiextensions.k8s.io',
        namespace: '',
        name: crd.metadata.name as string,
      });
    });
    const next = await eventually('the new CRD in /openapi/v3', async () => {
      const set = await schemasFromCluster({ getJSON }, { previous: first });
      return set !== first && set.crds.some((c) => c.metadata.name === crd.metadata.name)
        ? set
        : undefined;
    });
    const gizmo = {
      apiVersion: 'cache.driftless.dev/v1',
      kind: 'Gizmo',
      metadata: { name: 'g' },
      spec: { size: 'big' },
    };
    expect(
      new SchemaValidator(next)
        .validate([{ object: gizmo, file: 'g.yaml', line: 1 }])
        .map((f) => f.message),
    ).toEqual(['must be an integer, not the string "big"']);
  });

  it('stop a revision with one schema-invalid object with an error naming the object and the field', async () => {
    const cluster = await schemasFromCluster({ getJSON: (p) => client.requestJson('GET', p) });
    const manifests = [
      ...(await loadManifests(FIXTURES, 'directory/valid')),
      ...(await loadManifests(FIXTURES, 'directory/invalid/invalid-enum.yaml')),
    ];
    const error = schemaErrorOf(new SchemaValidator(cluster).validate(manifests));
    expect(error?.reason).toBe('InvalidManifest');
    expect(error?.describe()).toBe(
      'directory/invalid/invalid-enum.yaml:6: Service/invalid-enum: spec.type: "NotAType" is not one of "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
    );
    // And with the cluster's schemas, a kind the cluster does not serve is an error, not a warning.
    const unknown = new SchemaValidator(cluster).validate([
      {
        object: { apiVersion: 'acme.example.com/v1', kind: 'Rocket', metadata: { name: 'r' } },
        file: 'r.yaml',
        line: 1,
      },
    ]);
    expect(unknown.map((f) => `${f.severity} ${f.message}`)).toEqual([
      'error the cluster does not serve kind Rocket in acme.example.com/v1, and no CRD in the render defines it',
    ]);
  });
});
