// The same YAML files read by the real kubectl (from the Lambda layer package)
// and by Driftless must give the same objects: YAML 1.1 scalars as go-yaml v2
// reads them (octal file modes, hex, yes/no/on/off, nulls), keys made strings
// as sigs.k8s.io/yaml makes them. Compared as kubectl parsed them (the
// last-applied-configuration it writes) and as the API server makes them in a
// dry run: `kubectl apply --dry-run=server -o json`, server-side and
// client-side, against Driftless's directory loader and kube client.

import { execFile } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { withoutServerFields } from '../../lib/diff/render.js';
import type { KubeClient } from '../../lib/kube/client.js';
import { kubeClientFromKubeconfig } from '../../lib/kube/kubeconfig.js';
import type { KubeObject } from '../../lib/model/object.js';
import { loadManifests } from '../../lib/source/index.js';
import { testenv } from '../support/env.js';
import { eventually, testNamespace } from '../support/kube.js';
import { provideRenderTools } from '../support/render-tools.js';

const FIXTURES = path.join(path.dirname(fileURLToPath(import.meta.url)), '../fixtures');
const FIXTURE_FILES = ['scalars.yaml', 'keys.yaml', 'workloads.yaml'];
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** Keeps any JSON under its objects, so the server hands back what was parsed. */
const PROBE_CRD: KubeObject = {
  apiVersion: 'apiextensions.k8s.io/v1',
  kind: 'CustomResourceDefinition',
  metadata: { name: 'probes.yaml11.driftless.dev' },
  spec: {
    group: 'yaml11.driftless.dev',
    scope: 'Namespaced',
    names: { plural: 'probes', singular: 'probe', kind: 'Probe', listKind: 'ProbeList' },
    versions: [
      {
        name: 'v1',
        served: true,
        storage: true,
        schema: {
          openAPIV3Schema: { type: 'object', 'x-kubernetes-preserve-unknown-fields': true },
        },
      },
    ],
  },
};

const run = promisify(execFile);

describe('YAML as kubectl reads it', () => {
  let ns: string;
  let client: KubeClient;
  let kubectl: string;

  beforeAll(async () => {
    ns = await testNamespace('yaml11');
    kubectl = (await provideRenderTools()).kubectl;
    client = await kubeClientFromKubeconfig(testenv().kube.kubeconfig);
    await client.apply(PROBE_CRD);
    await eventually('the Probe kind served', async () => {
      client.invalidateDiscovery();
      return client.resource('yaml11.driftless.dev/v1', 'Probe');
    });
  });

  afterAll(async () => {
    await client?.delete({ ...crdRef(), apiVersion: PROBE_CRD.apiVersion }).catch(() => {});
    client?.close();
  });

  /**
   * kubectl's answer for a file: the dry-run objects by Kind/name. Client-side
   * apply (kubectl's default, Argo CD's) or server-side apply (Flux's, and
   * what Driftless does).
   */
  async function kubectlDryRun(file: string, serverSide = false): Promise<Map<string, KubeObject>> {
    const args = ['apply', '--dry-run=server', '-o', 'json'];
    if (serverSide) args.push('--server-side', '--field-manager=driftless');
    const fixture = path.join(FIXTURES, 'yaml11', file);
    args.push('--kubeconfig', testenv().kube.kubeconfig, '-n', ns, '-f', fixture);
    const { stdout } = await run(kubectl, args, { maxBuffer: 16 * 1024 * 1024 });
    const out = JSON.parse(stdout) as KubeObject & { items?: KubeObject[] };
    return byName(out.kind === 'List' ? (out.items ?? []) : [out]);
  }

  /** Driftless's answer: the directory loader's objects, dry-run applied by the engine's client. */
  async function driftlessDryRun(file: string) {
    const manifests = await loadManifests(FIXTURES, `yaml11/${file}`, {
      defaultNamespace: ns,
      isNamespaced: () => true,
    });
    const parsed = byName(manifests.map((m) => m.object));
    const results = await Promise.all(
      manifests.map((m) => client.apply(m.object, { dryRun: true })),
    );
    return { parsed, results: byName(results) };
  }

  it.each(FIXTURE_FILES)('%s: Driftless parses it as kubectl does', async (file) => {
    const theirs = await kubectlDryRun(file);
    const ours = await driftlessDryRun(file);
    expect([...ours.parsed.keys()]).toEqual([...theirs.keys()]);
    for (const [name, live] of theirs) {
      // What kubectl parsed, as it records it (JSON) on the object; it
      // leaves an empty annotations map where it took its own out.
      const lastApplied = JSON.parse(live.metadata.annotations?.[LAST_APPLIED] ?? 'null');
      if (Object.keys(lastApplied.metadata.annotations ?? {}).length === 0) {
        delete lastApplied.metadata.annotations;
      }
      expect(JSON.parse(JSON.stringify(ours.parsed.get(name))), name).toEqual(lastApplied);
    }
  });

  it.each(FIXTURE_FILES)(
    '%s: the API server makes the same objects of both (server-side apply, dry run)',
    async (file) => {
      const theirs = await kubectlDryRun(file, true);
      const ours = await driftlessDryRun(file);
      for (const [name, live] of theirs) {
        const mine = ours.results.get(name);
        expect(mine && withoutServerFields(mine), name).toEqual(withoutServerFields(live));
      }
    },
  );

  it.each(FIXTURE_FILES)(
    '%s: … and the same as kubectl apply --dry-run=server (client-side) makes, but for null fields',
    async (file) => {
      const theirs = await kubectlDryRun(file);
      const ours = await driftlessDryRun(file);
      for (const [name, live] of theirs) {
        const mine = ours.results.get(name);
        // Client-side apply leaves out fields set to null, which server-side
        // apply keeps where a schema allows them (preserved unknown fields).
        expect(mine && withoutNullFields(withoutServerFields(mine)), name).toEqual(
          withoutServerFields(live),
        );
      }
    },
  );
});

function byName(objects: readonly KubeObject[]): Map<string, KubeObject> {
  return new Map(objects.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
}

function withoutNullFields<T>(v: T): T {
  if (Array.isArray(v)) return v.map(withoutNullFields) as T;
  if (v && typeof v === 'object') {
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== null)
        .map(([k, x]) => [k, withoutNullFields(x)]),
    ) as T;
  }
  return v;
}

function crdRef() {
  return {
    group: 'apiextensions.k8s.io',
    kind: 'CustomResourceDefinition',
    namespace: '',
    name: PROBE_CRD.metadata.name as string,
  };
}
