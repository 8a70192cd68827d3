// The schema validator on the shipped schemas: the fixture directories (valid
// ones pass; an unknown field, a wrong type, an invalid enum value, a missing
// required field and a custom resource its CRD rejects each fail with file,
// line and field), and the rules one at a time: int-or-string, quantities,
// dates, duplicate list keys, status, null, custom resources against CRDs
// from the render and from files, unknown kinds, and the error a sync reports.
// test/integration/validate-server.test.ts proves the same rules against a
// real API server.

import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { isQuantity } from '../../../lib/model/quantity.js';
import { loadManifests } from '../../../lib/source/index.js';
import { type Manifest, manifestsFromRendered } from '../../../lib/source/manifests.js';
import {
  describeFinding,
  loadCrdFiles,
  loadShippedSchemas,
  type SchemaFinding,
  SchemaValidator,
  schemaErrorOf,
  validateManifests,
} from '../../../lib/validate/index.js';
import { rejection } from '../../support/errors.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../../fixtures/validate');

/** Manifests of YAML text as a render gives them (file `t.yaml`). */
function yaml(text: string, file = 't.yaml'): Manifest[] {
  return manifestsFromRendered([{ file, text }], '.');
}

/** `file:line field: message` per error finding, the parts the tests care about. */
function errors(findings: readonly SchemaFinding[]): string[] {
  return findings
    .filter((f) => f.severity === 'error')
    .map((f) => `${f.file}:${f.line} ${f.field ?? ''}: ${f.message}`);
}

async function check(text: string): Promise<string[]> {
  return errors(await validateManifests(yaml(text)));
}

describe('validating the fixture directories', () => {
  it('passes the valid directory, a custom resource included', async () => {
    const manifests = await loadManifests(FIXTURES, 'directory/valid');
    expect(manifests.map((m) => m.object.kind).sort()).toEqual([
      'ConfigMap',
      'CustomResourceDefinition',
      'Deployment',
      'Service',
      'Widget',
    ]);
    expect(await validateManifests(manifests)).toEqual([]);
  });

  it('fails each invalid object with its file, the line of the field, the object and the field', async () => {
    const findings = await validateManifests(await loadManifests(FIXTURES, 'directory/invalid'));
    expect(findings.map(describeFinding)).toEqual([
      'directory/invalid/invalid-enum.yaml:6: Service/invalid-enum: spec.type: "NotAType" is not one of "ClusterIP", "ExternalName", "LoadBalancer", "NodePort"',
      'directory/invalid/missing-required.yaml:15: Deployment/missing-required: spec.template.spec.containers[0].name: required field is missing',
      'directory/invalid/unknown-field.yaml:17: Deployment/unknown-field: spec.template.spec.containers[0].imagePullPolicyy: unknown field "imagePullPolicyy" (did you mean "imagePullPolicy"?)',
      'directory/invalid/widget.yaml:7: Widget/purple: spec.color: "purple" is not one of "red", "green", "blue"',
      'directory/invalid/wrong-type.yaml:10: Service/wrong-type: spec.ports[0].port: must be an integer, not the string "80"',
    ]);
    expect(findings.map((f) => [f.severity, f.rule])).toEqual([
      ['error', 'enum'],
      ['error', 'required'],
      ['error', 'unknown-field'],
      ['error', 'enum'],
      ['error', 'type'],
    ]);
    expect(findings[0]).toMatchObject({ apiVersion: 'v1', kind: 'Service' });
  });
});

describe('built-in kinds', () => {
  it('accepts an int-or-string as an integer or a string, not a fraction, a boolean or an int64', async () => {
    const service = (targetPort: string) => `apiVersion: v1
kind: Service
metadata: { name: s }
spec:
  ports:
    - port: 80
      targetPort: ${targetPort}
`;
    expect(await check(service('8080'))).toEqual([]);
    expect(await check(service('http'))).toEqual([]);
    expect(await check(service('"8080"'))).toEqual([]);
    expect(await check(service('80.5'))).toEqual([
      't.yaml:7 spec.ports[0].targetPort: must be an integer or a string, not number 80.5',
    ]);
    expect(await check(service('true'))).toEqual([
      't.yaml:7 spec.ports[0].targetPort: must be an integer or a string, not boolean true',
    ]);
    expect(await check(service('2147483648'))).toEqual([
      't.yaml:7 spec.ports[0].targetPort: 2147483648 is out of range for an int32',
    ]);
  });

  it('points at the line of a nested field, and names keys with dots as the API does', async () => {
    const findings = await check(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: d
  annotations:
    example.com/owner: team
spec:
  selector:
    matchLabels: { app: d }
  template:
    metadata:
      labels:
        app: d
        app.kubernetes.io/version: 2
    spec:
      containers:
        - name: a
          image: nginx
        - name: b
          image: nginx
          env:
            - name: X
              valueFrom:
                fieldRef:
                  fieldPath: metadata.name
                  apiVersions: v1
`);
    expect(findings).toEqual([
      't.yaml:14 spec.template.metadata.labels["app.kubernetes.io/version"]: must be a string, not number 2',
      't.yaml:26 spec.template.spec.containers[1].env[0].valueFrom.fieldRef.apiVersions: unknown field "apiVersions" (did you mean "apiVersion"?)',
    ]);
  });

  it('checks quantities as the API server parses them', async () => {
    const limits = (memory: string) => `apiVersion: v1
kind: Pod
metadata: { name: p }
spec:
  containers:
    - name: a
      image: nginx
      resources:
        limits: { memory: ${memory} }
`;
    for (const ok of ['128Mi', '1e3', '0.5', '1.5Gi', '"1"', '1']) {
      expect(await check(limits(ok))).toEqual([]);
    }
    expect(await check(limits('64 MB'))).toEqual([
      't.yaml:9 spec.containers[0].resources.limits.memory: the string "64 MB" is not a quantity (e.g. 500m, 1.5, 2Gi, 1e3)',
    ]);
    // The table the integration test checks against the API server.
    const accepted = [
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
      '0',
    ];
    const rejected = ['1gb', '1K', '1e', '1.5.5', 'abc', '', '1Mi5', '1 Gi'];
    expect(accepted.filter((q) => !isQuantity(q))).toEqual([]);
    expect(rejected.filter((q) => isQuantity(q))).toEqual([]);
  });

  it('checks base64, RFC 3339 times and microsecond times', async () => {
    const secret = (data: string) => `apiVersion: v1
kind: Secret
metadata: { name: s }
data: { key: ${data} }
`;
    expect(await check(secret('c2VjcmV0'))).toEqual([]);
    expect(await check(secret('not base64!'))).toEqual(['t.yaml:4 data.key: is not valid base64']);
    const lease = (time: string) => `apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: l
  creationTimestamp: ${time.includes('.') ? '"2024-01-02T15:04:05Z"' : `"${time}"`}
spec:
  acquireTime: "${time.includes('.') ? time : '2024-01-02T15:04:05.000000Z'}"
`;
    expect(await check(lease('2024-01-02T15:04:05Z'))).toEqual([]);
    expect(await check(lease('2024-01-02T15:04:05.123456+01:00'))).toEqual([]);
    expect(await check(lease('2024-01-02t15:04:05z'))).toEqual([
      't.yaml:5 metadata.creationTimestamp: the string "2024-01-02t15:04:05z" is not an RFC 3339 date-time (e.g. 2024-01-02T15:04:05Z)',
    ]);
    expect(await check(lease('2024-02-30T15:04:05Z'))).toEqual([
      't.yaml:5 metadata.creationTimestamp: the string "2024-02-30T15:04:05Z" is not an RFC 3339 date-time (e.g. 2024-01-02T15:04:05Z)',
    ]);
    expect(await check(lease('2024-01-02T15:04:05.123Z'))).toEqual([
      't.yaml:7 spec.acquireTime: the string "2024-01-02T15:04:05.123Z" is not a date-time with microseconds (e.g. 2024-01-02T15:04:05.000000Z)',
    ]);
  });

  it('refuses duplicate keys of map and set lists, with defaulted key fields', async () => {
    expect(
      await check(`apiVersion: v1
kind: Service
metadata:
  name: s
  finalizers: [example.com/a, example.com/a]
spec:
  ports:
    - port: 80
    - port: 80
      protocol: TCP
    - port: 80
      protocol: UDP
`),
    ).toEqual([
      't.yaml:5 metadata.finalizers[1]: duplicate entry ("example.com/a"): the same as item 0; server-side apply refuses duplicate keys',
      't.yaml:9 spec.ports[1]: duplicate entry (port=80, protocol="TCP"): the same as item 0; server-side apply refuses duplicate keys',
    ]);
  });

  it('checks types and unknown fields under status, not required fields or allowed values', async () => {
    const service = (status: string) => `apiVersion: v1
kind: Service
metadata: { name: s }
spec:
  ports: [{ port: 80 }]
status:
${status}`;
    expect(
      await check(
        service('  loadBalancer: { ingress: [{ ipMode: Bogus, ports: [{ protocol: TCP }] }] }\n'),
      ),
    ).toEqual([]);
    expect(await check(service('  bogus: 1\n'))).toEqual([
      't.yaml:7 status.bogus: unknown field "bogus"',
    ]);
    expect(await check(service('  loadBalancer: { ingress: [{ ip: 1 }] }\n'))).toEqual([
      't.yaml:7 status.loadBalancer.ingress[0].ip: must be a string, not number 1',
    ]);
    // A ConfigMap has no status subresource: a status there is an unknown field.
    expect(
      await check('apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\nstatus: {}\n'),
    ).toEqual(['t.yaml:4 status: unknown field "status"']);
  });

  it('reads null as unset, and "" in an enum as the server does per field', async () => {
    expect(
      await check(`apiVersion: v1
kind: Service
metadata: { name: s, creationTimestamp: null }
spec:
  type: ""
  selector: null
  ports:
    - port: 80
      protocol: ""
`),
    ).toEqual([]);
    expect(
      await check(`apiVersion: networking.k8s.io/v1
kind: Ingress
metadata: { name: i }
spec:
  rules:
    - http:
        paths:
          - path: /
            pathType: ""
            backend: { service: { name: s, port: { number: 80 } } }
`),
    ).toEqual([
      't.yaml:9 spec.rules[0].http.paths[0].pathType: "" is not one of "Exact", "ImplementationSpecific", "Prefix"',
    ]);
  });

  it('does not require what the server defaults or accepts empty', async () => {
    expect(
      await check(`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: r }
roleRef: { kind: Role, name: reader }
subjects: [{ kind: User, name: alice }]
---
apiVersion: scheduling.k8s.io/v1
kind: PriorityClass
metadata: { name: p }
`),
    ).toEqual([]);
    expect(
      await check(`apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: { name: r }
roleRef: { apiGroup: rbac.authorization.k8s.io, name: reader }
`),
    ).toEqual(['t.yaml:4 roleRef.kind: required field is missing']);
  });

  it('validates the objects of a List with lines inside the List', async () => {
    expect(
      await check(`apiVersion: v1
kind: List
items:
  - apiVersion: v1
    kind: ConfigMap
    metadata: { name: a }
    data: { k: v }
  - apiVersion: v1
    kind: ConfigMap
    metadata: { name: b }
    data:
      k: 1
`),
    ).toEqual(['t.yaml:12 data.k: must be a string, not number 1']);
  });
});

describe('custom resources', () => {
  const crd = `apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: gears.example.com }
spec:
  group: example.com
  names: { kind: Gear, plural: gears }
  scope: Namespaced
  versions:
    - name: v1
      served: true
      storage: true
      subresources: { status: {} }
      schema:
        openAPIV3Schema:
          type: object
          required: [spec]
          properties:
            spec:
              type: object
              required: [teeth, mode]
              properties:
                teeth: { type: integer, minimum: 3, maximum: 100 }
                mode: { type: string, enum: [fast, slow], default: slow }
                name: { type: string, pattern: '^[a-z]+$', maxLength: 8 }
                ratio: { type: number, exclusiveMinimum: true, minimum: 0 }
                free: { type: object }
                kept: { type: object, x-kubernetes-preserve-unknown-fields: true }
                id: { type: string, format: uuid }
                when: { type: string, format: date-time }
                size: { x-kubernetes-int-or-string: true, anyOf: [{ type: integer }, { type: string }] }
                nested:
                  type: object
                  x-kubernetes-embedded-resource: true
                  x-kubernetes-preserve-unknown-fields: true
                tags:
                  type: array
                  x-kubernetes-list-type: set
                  items: { type: string }
            status:
              type: object
              required: [phase]
              properties:
                phase: { type: string, enum: [Ready] }
    - name: v1beta1
      served: false
      storage: false
      schema:
        openAPIV3Schema: { type: object, x-kubernetes-preserve-unknown-fields: true }
`;
  const gear = (spec: string, extra = '') => `${crd}---
apiVersion: example.com/v1
kind: Gear
metadata:
  name: g
  labels: { app: g }
spec:
${spec}${extra}`;

  it('checks a custom resource against its CRD from the same render', async () => {
    expect(await check(gear('  teeth: 12\n'))).toEqual([]);
    expect(
      await check(
        gear(`  teeth: 2
  mode: medium
  name: Gear-Wheel
  ratio: 0
  zz: 1
  free: { anything: 1 }
  kept: { anything: 1 }
  id: not-a-uuid
  when: "2024-01-02 10:00"
  size: 1.5
  tags: [a, a]
`),
      ),
    ).toEqual([
      't.yaml:56 spec.teeth: number 2: must be >= 3',
      't.yaml:57 spec.mode: "medium" is not one of "fast", "slow"',
      't.yaml:58 spec.name: the string "Gear-Wheel": must NOT have more than 8 characters',
      't.yaml:58 spec.name: the string "Gear-Wheel": must match pattern "^[a-z]+$"',
      't.yaml:59 spec.ratio: number 0: must be > 0',
      't.yaml:60 spec.zz: unknown field "zz"',
      't.yaml:63 spec.id: the string "not-a-uuid" is not a valid uuid',
      't.yaml:64 spec.when: the string "2024-01-02 10:00" is not an RFC 3339 date-time (e.g. 2024-01-02T15:04:05Z)',
      't.yaml:65 spec.size: must be an integer or a string, not number 1.5',
      't.yaml:66 spec.tags[1]: duplicate entry ("a"): the same as item 0; server-side apply refuses duplicate keys',
    ]);
  });

  it('requires what the CRD requires unless it has a default, and checks metadata as ObjectMeta', async () => {
    // A missing field's line is the first of its parent mapping's content.
    expect(await check(gear('  mode: fast\n'))).toEqual([
      't.yaml:56 spec.teeth: required field is missing',
    ]);
    expect(
      await check(
        gear('  teeth: 5\n  nested: { kind: Pod, metadata: { labels: { a: 1 } } }\n').replace(
          '  labels: { app: g }',
          '  labels: { app: g }\n  finalizerz: []',
        ),
      ),
    ).toEqual([
      't.yaml:55 metadata.finalizerz: unknown field "finalizerz" (did you mean "finalizers"?)',
      't.yaml:58 spec.nested.apiVersion: required field is missing',
      't.yaml:58 spec.nested.metadata.labels.a: must be a string, not number 1',
    ]);
  });

  it('leaves status required fields and enums alone when status is a subresource', async () => {
    expect(await check(gear('  teeth: 5\n', 'status: { phase: Broken }\n'))).toEqual([]);
    expect(await check(gear('  teeth: 5\n', 'status: { phase: 1 }\n'))).toEqual([
      't.yaml:57 status.phase: must be a string, not number 1',
    ]);
  });

  it('names the versions a CRD serves when a resource asks for another', async () => {
    const findings = await validateManifests(
      yaml(
        gear('  teeth: 5\n').replace(
          'apiVersion: example.com/v1\n',
          'apiVersion: example.com/v1beta1\n',
        ),
      ),
    );
    expect(findings.map(describeFinding)).toEqual([
      't.yaml:50: Gear/g: apiVersion: CRD gears.example.com does not serve Gear in example.com/v1beta1 (served: example.com/v1)',
    ]);
  });

  it('warns, rather than fails, when a CRD schema cannot be compiled', async () => {
    const broken = crd.replace('teeth: { type: integer,', 'teeth: { type: fancy,');
    const findings = await validateManifests(yaml(gear('  teeth: 5\n').replace(crd, () => broken)));
    expect(findings.map((f) => `${f.severity} ${f.field ?? ''} ${f.message}`)).toEqual([
      'warning  the schema of CRD gears.example.com cannot be used (type must be JSONType or JSONType[]: fancy); not validated',
    ]);
  });

  it('uses CRDs given as files (--crds), and warns about a kind nobody defines', async () => {
    const gadget = yaml(`apiVersion: fixtures.driftless.dev/v1
kind: Gadget
metadata: { name: g }
spec:
  mode: maybe
  template: { apiVersion: v1, kind: ConfigMap, metadata: { name: c } }
---
apiVersion: acme.example.com/v1
kind: Rocket
metadata: { name: r }
`);
    const crds = await loadCrdFiles([path.join(FIXTURES, 'crds')]);
    expect(crds.map((c) => c.file)).toEqual([path.join(FIXTURES, 'crds', 'gadget-crd.yaml')]);
    const findings = await validateManifests(gadget, { crds });
    expect(findings.map((f) => `${f.severity} ${describeFinding(f)}`)).toEqual([
      'error t.yaml:5: Gadget/g: spec.mode: the string "maybe": must match pattern "^(on|off)$"',
      'warning t.yaml:9: Rocket/r: kind: no schema for Rocket in acme.example.com/v1: not a kind of Kubernetes v1.34.4, and no CRD in the render or given (--crds) defines it; not validated',
    ]);
    // Without the CRD file, both are only warnings; asked to, unknown kinds are errors.
    expect((await validateManifests(gadget)).map((f) => f.severity)).toEqual([
      'warning',
      'warning',
    ]);
    expect(
      (await validateManifests(gadget, { unknownKinds: 'error' })).map((f) => f.severity),
    ).toEqual(['error', 'error']);
    expect((await rejection(loadCrdFiles(['no/such/dir']))).message).toBe(
      'CRD path "no/such/dir" does not exist',
    );
  });
});

describe('kinds without a schema', () => {
  it('is an error in a built-in group, with the apiVersions that serve the kind or a near name', async () => {
    expect(
      (
        await validateManifests(
          yaml(`apiVersion: extensions/v1beta1
kind: Ingress
metadata: { name: i }
---
apiVersion: apps/v1
kind: Deploymnet
metadata: { name: d }
---
apiVersion: autoscaling/v2beta2
kind: HorizontalPodAutoscaler
metadata: { name: h }
`),
        )
      ).map((f) => `${f.severity} ${describeFinding(f)}`),
    ).toEqual([
      'error t.yaml:1: Ingress/i: apiVersion: Kubernetes v1.34.4 does not serve kind Ingress in extensions/v1beta1 (Ingress is served by networking.k8s.io/v1)',
      'error t.yaml:6: Deploymnet/d: kind: Kubernetes v1.34.4 does not serve kind Deploymnet in apps/v1 (did you mean "Deployment"?)',
      'error t.yaml:9: HorizontalPodAutoscaler/h: apiVersion: Kubernetes v1.34.4 does not serve kind HorizontalPodAutoscaler in autoscaling/v2beta2 (HorizontalPodAutoscaler is served by autoscaling/v1, autoscaling/v2)',
    ]);
  });
});

describe('alpha and beta APIs', () => {
  it('are validated, with a warning that a cluster serves them only when enabled', async () => {
    const findings = await validateManifests(
      yaml(`apiVersion: storage.k8s.io/v1beta1
kind: VolumeAttributesClass
metadata: { name: v }
driverName: csi.example.com
parameters: { iops: 3000 }
`),
    );
    expect(findings.map((f) => `${f.severity} ${describeFinding(f)}`)).toEqual([
      'warning t.yaml:1: VolumeAttributesClass/v: apiVersion: storage.k8s.io/v1beta1 is not served by default: Kubernetes v1.34.4 serves alpha and beta APIs only when the cluster enables them (--runtime-config)',
      'error t.yaml:5: VolumeAttributesClass/v: parameters.iops: must be a string, not number 3000',
    ]);
  });
});

describe('the error a sync reports', () => {
  it('is the first error, naming file, line, object and field, with how many more there are', async () => {
    const findings = await validateManifests(await loadManifests(FIXTURES, 'directory/invalid'));
    const error = schemaErrorOf(findings);
    expect(error?.reason).toBe('InvalidManifest');
    expect(error?.location).toEqual({
      file: 'directory/invalid/invalid-enum.yaml',
      line: 6,
      object: 'Service/invalid-enum',
      field: 'spec.type',
    });
    expect(error?.describe()).toBe(
      'directory/invalid/invalid-enum.yaml:6: Service/invalid-enum: spec.type: "NotAType" is not one of "ClusterIP", "ExternalName", "LoadBalancer", "NodePort" (and 4 more schema errors)',
    );
    expect(schemaErrorOf([])).toBeUndefined();
    const onlyWarnings = await validateManifests(
      yaml('apiVersion: a.example.com/v1\nkind: A\nmetadata: { name: a }\n'),
    );
    expect(onlyWarnings).toHaveLength(1);
    expect(schemaErrorOf(onlyWarnings)).toBeUndefined();
  });

  it('gives findings with exactly the documented fields', async () => {
    const [finding] = await validateManifests(
      await loadManifests(FIXTURES, 'directory/invalid/wrong-type.yaml'),
    );
    expect(finding).toEqual({
      severity: 'error',
      rule: 'type',
      file: 'directory/invalid/wrong-type.yaml',
      line: 10,
      object: 'Service/wrong-type',
      apiVersion: 'v1',
      kind: 'Service',
      field: 'spec.ports[0].port',
      message: 'must be an integer, not the string "80"',
    });
  });

  it('uses the CRDs of each render, when one validator checks several', async () => {
    const validator = new SchemaValidator(await loadShippedSchemas());
    // The valid directory, its CRD allowing one color only.
    const render = async (color: string) =>
      (await loadManifests(FIXTURES, 'directory/valid')).map((m) =>
        m.object.kind === 'CustomResourceDefinition'
          ? {
              ...m,
              object: JSON.parse(
                JSON.stringify(m.object).replace('["red","green","blue"]', JSON.stringify([color])),
              ),
            }
          : m,
      );
    expect(errors(validator.validate(await render('blue')))).toEqual([]);
    expect(errors(validator.validate(await render('red')))).toEqual([
      'directory/valid/widget.yaml:9 spec.color: "blue" is not one of "red"',
    ]);
  });

  it('compiles each kind once per schema set', async () => {
    const schemas = await loadShippedSchemas();
    const validator = new SchemaValidator(schemas);
    const manifests = yaml('apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\n');
    validator.validate(manifests);
    const compiled = schemas.validatorFor('v1', 'ConfigMap');
    new SchemaValidator(schemas).validate(manifests);
    expect(schemas.validatorFor('v1', 'ConfigMap')).toBe(compiled);
  });
});
