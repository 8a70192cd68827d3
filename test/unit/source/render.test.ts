// Kustomize and Helm sources without the tools: the Application schema's
// source options, source type detection, the checks that run before a tool
// (remote references, vendored dependencies, confinement), helm output
// splitting, Helm hook mapping, binary location and the render cache key.

import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DriftlessError } from '../../../lib/errors.js';
import { parseSpecs } from '../../../lib/model/application.js';
import { templateOf } from '../../../lib/source/helm.js';
import {
  checkKustomizations,
  detectSourceType,
  isRemoteReference,
  locateRenderTools,
  type Manifest,
  manifestsFromRendered,
  mapHelmHooks,
  renderSource,
  splitHelmOutput,
} from '../../../lib/source/index.js';
import { renderOptionsHash } from '../../../lib/source/render.js';
import { thrown } from '../../support/errors.js';

const scratch: string[] = [];
afterAll(async () => {
  await Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true })));
});

async function tree(files: Record<string, string | { link: string }>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-render-unit-'));
  scratch.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    await mkdir(path.dirname(p), { recursive: true });
    if (typeof content === 'object') await symlink(content.link, p);
    else await writeFile(p, content);
  }
  return dir;
}

async function failure(promise: Promise<unknown>): Promise<DriftlessError> {
  try {
    await promise;
  } catch (e) {
    if (e instanceof DriftlessError) return e;
    throw e;
  }
  throw new Error('expected a DriftlessError');
}

function appWithSource(source: string): string {
  return `apiVersion: driftless.dev/v1
kind: Application
metadata:
  name: web
spec:
  source:
    repoURL: https://github.com/acme/deploy.git
${source
  .trim()
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
  destinations:
    - cluster: prod
      namespace: web
`;
}

function source(text: string) {
  const [spec] = parseSpecs(appWithSource(text), 'apps.yaml');
  if (spec?.kind !== 'Application') throw new Error('not an Application');
  return spec.value.spec.source;
}

describe('source options in the Application schema', () => {
  it('keeps existing apps valid: no type (detected), no options', () => {
    expect(source('path: apps/web')).toEqual({
      repoURL: 'https://github.com/acme/deploy.git',
      revision: 'HEAD',
      path: 'apps/web',
    });
  });

  it('accepts helm options with defaults, and kustomize options', () => {
    expect(
      source(`
path: charts/web
type: helm
helm:
  releaseName: web-prod
  valueFiles: [values-prod.yaml, ../shared/values.yaml]
  values: { replicaCount: 3, image: { tag: "1.2" } }
`),
    ).toMatchObject({
      type: 'helm',
      helm: {
        releaseName: 'web-prod',
        valueFiles: ['values-prod.yaml', '../shared/values.yaml'],
        values: { replicaCount: 3, image: { tag: '1.2' } },
      },
    });
    expect(source('path: charts/web\nhelm: {}').helm).toEqual({ valueFiles: [], values: {} });
    expect(source('path: overlays/prod\ntype: kustomize\nkustomize: {}')).toMatchObject({
      type: 'kustomize',
      kustomize: {},
    });
  });

  it('names the field of an invalid option', () => {
    const cases: [string, string, RegExp][] = [
      ['type: jsonnet', 'spec.source.type', /directory.*kustomize.*helm|Invalid option/],
      ['type: kustomize\nhelm: {}', 'spec.source.helm', /helm options need type helm/],
      ['helm: {}\nkustomize: {}', 'spec.source.kustomize', /not both/],
      ['helm: { releaseName: Web_App }', 'spec.source.helm.releaseName', /DNS label/],
      ['helm: { valueFiles: [/etc/passwd] }', 'spec.source.helm.valueFiles[0]', /not absolute/],
      [
        'helm: { valueFiles: ["https://example.com/v.yaml"] }',
        'spec.source.helm.valueFiles[0]',
        /not a URL/,
      ],
      ['helm: { values: [1, 2] }', 'spec.source.helm.values', /record|object/i],
      ['helm: { valuesFiles: [a.yaml] }', 'spec.source.helm', /valuesFiles/],
      ['kustomize: { namePrefix: x- }', 'spec.source.kustomize', /namePrefix/],
    ];
    for (const [text, field, message] of cases) {
      const e = thrown(() => parseSpecs(appWithSource(`path: x\n${text}`), 'apps.yaml'));
      expect(e.reason, text).toBe('InvalidSpec');
      expect(e.location.field, text).toBe(field);
      expect(e.message, text).toMatch(message);
      expect(e.location.line, text).toBeGreaterThan(6);
    }
  });
});

describe('source type detection', () => {
  it('detects kustomize, helm and plain directories', async () => {
    const dir = await tree({
      'k1/kustomization.yaml': 'resources: []\n',
      'k2/kustomization.yml': 'resources: []\n',
      'k3/Kustomization': 'resources: []\n',
      'chart/Chart.yaml': 'apiVersion: v2\nname: c\nversion: 0.1.0\n',
      'both/kustomization.yaml': 'resources: []\n',
      'both/Chart.yaml': 'apiVersion: v2\nname: c\nversion: 0.1.0\n',
      'plain/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\n',
      'plain/sub/Chart.yaml': 'apiVersion: v2\nname: c\nversion: 0.1.0\n',
      'file.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\n',
    });
    const detect = (p: string) => detectSourceType(path.join(dir, p));
    expect(await detect('k1')).toBe('kustomize');
    expect(await detect('k2')).toBe('kustomize');
    expect(await detect('k3')).toBe('kustomize');
    expect(await detect('chart')).toBe('helm');
    expect(await detect('both')).toBe('kustomize');
    expect(await detect('plain')).toBe('directory'); // a Chart.yaml deeper down does not count
    expect(await detect('file.yaml')).toBe('directory');
  });

  it('renders a plain directory as before, and refuses options that do not fit the detected type', async () => {
    const dir = await tree({
      'apps/web/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\n',
    });
    const src = { repoURL: 'https://x/r.git', revision: 'main', path: 'apps/web' };
    const target = { appName: 'web', namespace: 'web' };
    const manifests = await renderSource(dir, src, target);
    expect(manifests.map((m) => [m.file, m.object.metadata.name])).toEqual([
      ['apps/web/cm.yaml', 'a'],
    ]);
    const e = await failure(
      renderSource(dir, { ...src, helm: { valueFiles: [], values: {} } }, target),
    );
    expect(e.reason).toBe('InvalidSpec');
    expect(e.location.field).toBe('source.helm');
    expect(e.message).toMatch(/is a directory source \(detected: it has no kustomization file/);
    const missing = await failure(renderSource(dir, { ...src, type: 'kustomize' }, target));
    expect(missing.message).toMatch(/has no kustomization\.yaml/);
    const noChart = await failure(renderSource(dir, { ...src, type: 'helm' }, target));
    expect(noChart.message).toMatch(/has no Chart\.yaml/);
    const outside = await failure(renderSource(dir, { ...src, path: '../x' }, target));
    expect(outside.reason).toBe('PathEscape');
  });
});

describe('kustomize checks before rendering', () => {
  it('recognizes remote references', () => {
    for (const remote of [
      'https://github.com/acme/base//deploy?ref=v1',
      'http://example.com/all.yaml',
      'ssh://git@github.com/acme/base.git',
      'git@github.com:acme/base.git',
      'git::https://example.com/base',
      'github.com/kubernetes-sigs/kustomize/examples/multibases?ref=v3.3.1',
      'gitlab.com/acme/base',
      'example.org/acme/base.git',
      'file:///etc',
    ]) {
      expect(isRemoteReference(remote, false), remote).toBe(true);
    }
    for (const local of ['../base', 'deployment.yaml', 'components/cache', './x.y/z', 'v1.2/x']) {
      expect(isRemoteReference(local, false), local).toBe(false);
    }
    // A local directory that merely looks like a host name is local, as kustomize decides.
    expect(isRemoteReference('example.com/base', true)).toBe(false);
  });

  it('refuses a remote base anywhere in the chain, naming the kustomization, line and entry', async () => {
    const dir = await tree({
      'overlays/prod/kustomization.yaml': 'resources:\n  - ../../base\n',
      'base/kustomization.yaml':
        'resources:\n  - cm.yaml\n  - github.com/acme/common//base?ref=v1\n',
      'base/cm.yaml': 'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: a }\n',
    });
    const e = await failure(checkKustomizations(dir, path.join(dir, 'overlays/prod'), 100));
    expect(e.reason).toBe('InvalidManifest');
    expect(e.location).toMatchObject({
      file: 'base/kustomization.yaml',
      line: 3,
      field: 'resources[1]',
    });
    expect(e.message).toMatch(/remote base "github\.com\/acme\/common\/\/base\?ref=v1"/);
    expect(e.message).toMatch(/without network access/);
  });

  it('refuses directory references outside the checkout, and Helm inflation', async () => {
    const outside = await tree({ 'kustomization.yaml': 'resources: []\n' });
    const dir = await tree({
      'app/kustomization.yaml': `resources:\n  - ${outside}\n`,
      'linked/kustomization.yaml': 'resources:\n  - out\n',
      'linked/out': { link: outside },
      'helm/kustomization.yaml': 'helmCharts:\n  - name: redis\n    repo: https://charts.x\n',
      'linked-file/kustomization.yaml': { link: path.join(outside, 'kustomization.yaml') },
    });
    const abs = await failure(checkKustomizations(dir, path.join(dir, 'app'), 100));
    expect(abs.reason).toBe('PathEscape');
    expect(abs.location).toMatchObject({ file: 'app/kustomization.yaml', field: 'resources[0]' });
    const link = await failure(checkKustomizations(dir, path.join(dir, 'linked'), 100));
    expect(link.reason).toBe('PathEscape');
    const linkedFile = await failure(checkKustomizations(dir, path.join(dir, 'linked-file'), 100));
    expect(linkedFile.reason).toBe('PathEscape');
    expect(linkedFile.location.file).toBe('linked-file/kustomization.yaml');
    const helm = await failure(checkKustomizations(dir, path.join(dir, 'helm'), 100));
    expect(helm.message).toMatch(/helmCharts is not supported/);
    expect(helm.location).toMatchObject({ file: 'helm/kustomization.yaml', field: 'helmCharts' });
  });

  it('reports an invalid kustomization file with its line', async () => {
    const dir = await tree({ 'k/kustomization.yaml': 'resources:\n  - a.yaml\n bad: [\n' });
    const e = await failure(checkKustomizations(dir, path.join(dir, 'k'), 100));
    expect(e.reason).toBe('InvalidManifest');
    expect(e.location.file).toBe('k/kustomization.yaml');
    expect(e.location.line).toBeGreaterThan(1);
  });
});

describe('helm checks before rendering', () => {
  const chart = (deps: string) =>
    `apiVersion: v2\nname: web\nversion: 0.1.0\ndependencies:\n${deps}`;
  // No helm binary is needed: these fail before helm would run.
  const render = (dir: string, valueFiles: string[] = []) =>
    renderSource(
      dir,
      {
        repoURL: 'https://x/r.git',
        revision: 'main',
        path: 'charts/web',
        helm: { valueFiles, values: {} },
      },
      { appName: 'web', namespace: 'web' },
      { tools: {} },
    );

  it('names a dependency that is not vendored under charts/', async () => {
    const dir = await tree({
      'charts/web/Chart.yaml': chart(
        '  - name: common\n    version: 1.0.0\n    repository: file://../common\n' +
          '  - name: redis\n    version: 18.0.0\n    repository: file://../redis\n',
      ),
      'charts/web/charts/common/Chart.yaml': 'apiVersion: v2\nname: common\nversion: 1.0.0\n',
    });
    const e = await failure(render(dir));
    expect(e.reason).toBe('InvalidManifest');
    expect(e.location).toMatchObject({
      file: 'charts/web/Chart.yaml',
      line: 8,
      field: 'dependencies[1]',
    });
    expect(e.message).toMatch(
      /dependency "redis" \(from file:\/\/\.\.\/redis\) is not vendored under charts\/web\/charts\/, and only https:\/\/ and oci:\/\/ repositories are fetched/,
    );
  });

  it('accepts vendored archives and directories, then needs helm', async () => {
    const dir = await tree({
      'charts/web/Chart.yaml': chart(
        '  - name: common\n    version: 1.0.0\n  - name: redis\n    version: 18.0.0\n',
      ),
      'charts/web/charts/redis-18.0.0.tgz': 'not really a tarball',
      'charts/web/charts/lib/Chart.yaml': 'apiVersion: v2\nname: common\nversion: 1.0.0\n',
    });
    const e = await failure(render(dir));
    expect(e.reason).toBe('RenderFailed');
    expect(e.message).toMatch(/helm is needed .* DRIFTLESS_HELM/);
  });

  it('confines values files and chart symlinks to the checkout', async () => {
    const outside = await tree({ 'values.yaml': 'secret: 1\n' });
    const dir = await tree({
      'charts/web/Chart.yaml': 'apiVersion: v2\nname: web\nversion: 0.1.0\n',
      'charts/web/values-link.yaml': { link: '../shared.yaml' },
      'charts/shared.yaml': 'a: 1\n',
      'leaky/charts/web/Chart.yaml': 'apiVersion: v2\nname: web\nversion: 0.1.0\n',
      'leaky/charts/web/files/leak.txt': { link: path.join(outside, 'values.yaml') },
    });
    const up = await failure(render(dir, ['../../../values.yaml']));
    expect(up.reason).toBe('PathEscape');
    expect(up.location.field).toBe('source.helm.valueFiles[0]');
    // Helm would read a linked file into .Files: a link out of the checkout is refused.
    const link = await failure(render(path.join(dir, 'leaky')));
    expect(link.reason).toBe('PathEscape');
    expect(link.location.file).toBe('charts/web/files/leak.txt');
    const missing = await failure(render(dir, ['values-link.yaml', '../shared.yaml', 'nope.yaml']));
    expect(missing.reason).toBe('InvalidSpec');
    expect(missing.location).toMatchObject({
      file: 'charts/web/nope.yaml',
      field: 'source.helm.valueFiles[2]',
    });
  });
});

describe('helm output', () => {
  const output = `---
# Source: web/crds/widget.yaml
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: { name: widgets.example.com }
---
# Source: web/templates/app.yaml
apiVersion: v1
kind: ServiceAccount
metadata:
  name: web
---
# Source: web/templates/config.yaml
apiVersion: v1
kind: ConfigMap
metadata:
  name: web
data:
  script: |
    echo hi
---
# Source: web/templates/app.yaml
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  annotations:
    bad: 1
`;

  it('attributes each document to its template, as a checkout path', () => {
    const texts = splitHelmOutput(output, 'web', 'charts/web');
    expect(texts.map((t) => t.file)).toEqual([
      'charts/web/crds/widget.yaml',
      'charts/web/templates/app.yaml',
      'charts/web/templates/config.yaml',
    ]);
    expect(splitHelmOutput(output, 'web', '.')[0]?.file).toBe('crds/widget.yaml');
    // Validated like files: the error names the template and the line in its rendered output.
    const e = thrown(() => manifestsFromRendered(texts, 'charts/web'));
    expect(e.reason).toBe('InvalidManifest');
    expect(e.location).toMatchObject({ file: 'charts/web/templates/app.yaml', line: 11 });
    expect(e.message).toMatch(/metadata\.annotations\.bad must be a string/);
    const ok = manifestsFromRendered(
      splitHelmOutput(output.replace('bad: 1', 'ok: "1"'), 'web', 'charts/web'),
      'charts/web',
    );
    expect(ok.map((m) => `${m.file}:${m.line} ${m.object.kind}`)).toEqual([
      'charts/web/crds/widget.yaml:1 CustomResourceDefinition',
      'charts/web/templates/app.yaml:1 ServiceAccount',
      'charts/web/templates/app.yaml:6 Deployment',
      'charts/web/templates/config.yaml:1 ConfigMap',
    ]);
  });

  it('finds the template a helm error names', () => {
    expect(
      templateOf(
        'parse error at (web/templates/bad.yaml:7): function "nope" not defined',
        'web',
        'charts/web',
      ),
    ).toEqual({ file: 'charts/web/templates/bad.yaml', line: 7 });
    expect(
      templateOf(
        'YAML parse error on web/charts/db/templates/x.yaml: error converting',
        'web',
        '.',
      ),
    ).toEqual({ file: 'charts/db/templates/x.yaml' });
    expect(templateOf('something else entirely', 'web', 'charts/web')).toBeUndefined();
  });
});

describe('Helm hooks as Driftless hooks', () => {
  const manifest = (name: string, annotations: Record<string, string>): Manifest => ({
    object: { apiVersion: 'batch/v1', kind: 'Job', metadata: { name, annotations } },
    file: `charts/web/templates/${name}.yaml`,
    line: 1,
    documentIndex: 1,
    lineOf: () => 4,
  });
  const mapped = (annotations: Record<string, string>) =>
    mapHelmHooks([manifest('job', annotations)])[0]?.object.metadata.annotations;

  it('maps phases, delete policies and weights', () => {
    expect(
      mapped({
        'helm.sh/hook': 'pre-install,pre-upgrade',
        'helm.sh/hook-delete-policy': 'before-hook-creation,hook-succeeded',
        'helm.sh/hook-weight': '-5',
      }),
    ).toMatchObject({
      'driftless.dev/hook': 'PreSync',
      'driftless.dev/hook-delete-policy': 'BeforeHookCreation,HookSucceeded',
      'driftless.dev/sync-wave': '-5',
    });
    expect(mapped({ 'helm.sh/hook': 'post-install, post-upgrade' })).toMatchObject({
      'driftless.dev/hook': 'PostSync',
    });
    expect(
      mapped({
        'helm.sh/hook': 'pre-install,post-upgrade',
        'helm.sh/hook-delete-policy': 'hook-failed',
      }),
    ).toMatchObject({
      'driftless.dev/hook': 'PreSync,PostSync',
      'driftless.dev/hook-delete-policy': 'HookFailed',
    });
    // No delete policy: the default of both (before-hook-creation) applies.
    expect(mapped({ 'helm.sh/hook': 'pre-install' })?.['driftless.dev/hook-delete-policy']).toBe(
      undefined,
    );
  });

  it('skips test hooks and hooks that only run on delete or rollback', () => {
    const kept = mapHelmHooks([
      manifest('test', { 'helm.sh/hook': 'test' }),
      manifest('test-success', { 'helm.sh/hook': 'test-success' }),
      manifest('cleanup', { 'helm.sh/hook': 'pre-delete,post-rollback' }),
      manifest('plain', { team: 'a' }),
      manifest('migrate', { 'helm.sh/hook': 'pre-upgrade,pre-rollback' }),
    ]);
    expect(kept.map((m) => m.object.metadata.name)).toEqual(['plain', 'migrate']);
    expect(kept[0]?.object.metadata.annotations).toEqual({ team: 'a' });
  });

  it('keeps explicit Driftless hook annotations, and maps resource-policy keep', () => {
    expect(
      mapped({ 'helm.sh/hook': 'post-install', 'driftless.dev/hook': 'SyncFail' }),
    ).toMatchObject({ 'driftless.dev/hook': 'SyncFail' });
    expect(mapped({ 'helm.sh/resource-policy': 'keep' })).toMatchObject({
      'driftless.dev/prune': 'false',
    });
  });

  it('names the annotation of an unknown hook, policy or weight', () => {
    const cases: [Record<string, string>, string, RegExp][] = [
      [{ 'helm.sh/hook': 'pre-instal' }, 'helm.sh/hook', /unknown Helm hook "pre-instal"/],
      [
        { 'helm.sh/hook': 'pre-install', 'helm.sh/hook-delete-policy': 'always' },
        'helm.sh/hook-delete-policy',
        /unknown Helm hook delete policy "always"/,
      ],
      [
        { 'helm.sh/hook': 'pre-install', 'helm.sh/hook-weight': 'high' },
        'helm.sh/hook-weight',
        /must be an integer/,
      ],
    ];
    for (const [annotations, annotation, message] of cases) {
      const e = thrown(() => mapHelmHooks([manifest('job', annotations)]));
      expect(e.reason).toBe('InvalidManifest');
      expect(e.location).toMatchObject({
        file: 'charts/web/templates/job.yaml',
        line: 4,
        object: 'Job/job',
        field: `metadata.annotations["${annotation}"]`,
      });
      expect(e.message).toMatch(message);
    }
  });
});

describe('locating kubectl and helm', () => {
  it('prefers the environment variables, then the Lambda layer at /opt', () => {
    const none = () => false;
    const layer = (f: string) => f.startsWith('/opt/');
    expect(locateRenderTools({}, none)).toEqual({});
    expect(locateRenderTools({}, layer)).toEqual({
      kubectl: '/opt/kubectl/kubectl',
      helm: '/opt/helm/helm',
    });
    expect(
      locateRenderTools(
        { DRIFTLESS_KUBECTL: '/cache/kubectl', DRIFTLESS_HELM: '/cache/helm' },
        layer,
      ),
    ).toEqual({ kubectl: '/cache/kubectl', helm: '/cache/helm' });
    expect(locateRenderTools({ DRIFTLESS_HELM: '/cache/helm' }, none)).toEqual({
      helm: '/cache/helm',
    });
  });

  it('says how to provide a missing binary', async () => {
    const dir = await tree({ 'k/kustomization.yaml': 'resources: []\n' });
    const e = await failure(
      renderSource(
        dir,
        { repoURL: 'https://x/r.git', revision: 'main', path: 'k' },
        { appName: 'web', namespace: 'web' },
        { tools: {} },
      ),
    );
    expect(e.reason).toBe('RenderFailed');
    expect(e.location.file).toBe('k/kustomization.yaml');
    expect(e.message).toMatch(/kubectl is needed .*\/opt\/kubectl\/kubectl.*DRIFTLESS_KUBECTL/);
  });
});

describe('render cache key', () => {
  const base = { repoURL: 'https://x/r.git', revision: 'main', path: 'charts/web' };
  const target = { appName: 'web', namespace: 'web' };
  it('changes with what shapes the output, not with key order', () => {
    const a = renderOptionsHash(
      { ...base, helm: { valueFiles: [], values: { a: 1, b: { c: 2, d: 3 } } } },
      target,
    );
    const reordered = renderOptionsHash(
      { ...base, helm: { values: { b: { d: 3, c: 2 }, a: 1 }, valueFiles: [] } },
      target,
    );
    expect(reordered).toBe(a);
    const others = [
      renderOptionsHash({ ...base, helm: { valueFiles: [], values: { a: 2 } } }, target),
      renderOptionsHash({ ...base, helm: { valueFiles: ['x.yaml'], values: {} } }, target),
      renderOptionsHash(base, { ...target, namespace: 'other' }),
      renderOptionsHash(base, { ...target, appName: 'other' }),
      renderOptionsHash({ ...base, type: 'directory' }, target),
    ];
    expect(new Set([a, ...others]).size).toBe(others.length + 1);
  });
});
