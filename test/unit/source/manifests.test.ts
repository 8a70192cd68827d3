import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DriftlessError } from '../../../lib/errors.js';
import {
  type LoadManifestsOptions,
  loadManifests,
  SourceCache,
} from '../../../lib/source/index.js';

const scratch: string[] = [];
afterAll(async () => {
  await Promise.all(scratch.map((d) => rm(d, { recursive: true, force: true })));
});

/** A checkout on disk: path → content, or { link: target } for a symlink. */
async function checkout(
  files: Record<string, string | Buffer | { link: string }>,
): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-manifests-'));
  scratch.push(dir);
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(dir, rel);
    await mkdir(path.dirname(p), { recursive: true });
    if (typeof content === 'object' && 'link' in content) await symlink(content.link, p);
    else await writeFile(p, content);
  }
  return dir;
}

async function outsideDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-outside-'));
  scratch.push(dir);
  await writeFile(path.join(dir, 'secret.yaml'), cm('stolen'));
  return dir;
}

function cm(name: string, extra = ''): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${extra}`;
}

async function failure(
  dir: string,
  appPath = '.',
  opts: LoadManifestsOptions = {},
): Promise<DriftlessError> {
  try {
    await loadManifests(dir, appPath, opts);
  } catch (e) {
    if (e instanceof DriftlessError) return e;
    throw e;
  }
  throw new Error('expected loadManifests to fail');
}

describe('loadManifests: discovery', () => {
  it('finds .yaml, .yml and .json files recursively, in byte order of their path', async () => {
    const dir = await checkout({
      'b.yaml': cm('b'),
      'a/z.yaml': cm('a-z'),
      'a-c.yaml': cm('a-c'),
      'a/b/c.yml': cm('a-b-c'),
      'x.json': JSON.stringify({ apiVersion: 'v1', kind: 'ConfigMap', metadata: { name: 'x' } }),
      'Z.YAML': cm('upper'),
      'README.md': '# not a manifest\n',
      'notes.txt': 'kind: ConfigMap\n',
    });
    const manifests = await loadManifests(dir, '.');
    // '-' (0x2d) < '/' (0x2f), uppercase before lowercase.
    expect(manifests.map((m) => m.file)).toEqual([
      'Z.YAML',
      'a-c.yaml',
      'a/b/c.yml',
      'a/z.yaml',
      'b.yaml',
      'x.json',
    ]);
    expect(manifests.map((m) => m.object.metadata.name)).toEqual([
      'upper',
      'a-c',
      'a-b-c',
      'a-z',
      'b',
      'x',
    ]);
  });

  it('ignores hidden files and hidden directories', async () => {
    const dir = await checkout({
      'apps/web/cm.yaml': cm('visible'),
      'apps/web/.hidden.yaml': cm('hidden-file'),
      'apps/web/.config/x.yaml': cm('hidden-dir'),
      'apps/web/.git/y.yaml': cm('git-dir'),
    });
    const manifests = await loadManifests(dir, 'apps/web');
    expect(manifests.map((m) => [m.file, m.object.metadata.name])).toEqual([
      ['apps/web/cm.yaml', 'visible'],
    ]);
  });

  it('loads a single file given as the path, and normalizes ./ and trailing slashes', async () => {
    const dir = await checkout({ 'apps/one.yaml': cm('one'), 'apps/two.yaml': cm('two') });
    expect((await loadManifests(dir, 'apps/one.yaml')).map((m) => m.file)).toEqual([
      'apps/one.yaml',
    ]);
    expect((await loadManifests(dir, './apps/')).map((m) => m.file)).toEqual([
      'apps/one.yaml',
      'apps/two.yaml',
    ]);
    expect(await loadManifests(dir, '')).toHaveLength(2);
  });

  it('fails on a path that does not exist', async () => {
    const dir = await checkout({ 'apps/one.yaml': cm('one') });
    const err = await failure(dir, 'apps/missing');
    expect(err.reason).toBe('InvalidSpec');
    expect(err.location.file).toBe('apps/missing');
    expect(err.message).toContain('does not exist');
  });

  it('returns an empty list for a directory without manifests', async () => {
    const dir = await checkout({ 'apps/README.md': 'nothing\n', 'apps/empty.yaml': '' });
    expect(await loadManifests(dir, 'apps')).toEqual([]);
  });
});

describe('loadManifests: parsing', () => {
  it('reads multi-document YAML with file, line and document index, skipping empty documents', async () => {
    const dir = await checkout({
      'all.yaml': [
        '# leading comment', // 1
        '---', // 2
        'apiVersion: v1', // 3
        'kind: Namespace', // 4
        'metadata:', // 5
        '  name: web', // 6
        '---', // 7
        '---', // 8 (document 3 is empty)
        'apiVersion: apps/v1', // 9
        'kind: Deployment', // 10
        'metadata:', // 11
        '  name: web', // 12
        '  namespace: web', // 13
        'spec:', // 14
        '  replicas: 2', // 15
        '',
      ].join('\n'),
    });
    const manifests = await loadManifests(dir, '.');
    expect(manifests.map((m) => [m.object.kind, m.line, m.documentIndex])).toEqual([
      ['Namespace', 3, 1],
      ['Deployment', 9, 3],
    ]);
    expect(manifests[1]?.object).toEqual({
      apiVersion: 'apps/v1',
      kind: 'Deployment',
      metadata: { name: 'web', namespace: 'web' },
      spec: { replicas: 2 },
    });
  });

  it('reads JSON files', async () => {
    const dir = await checkout({
      'svc.json': JSON.stringify(
        {
          apiVersion: 'v1',
          kind: 'Service',
          metadata: { name: 'web', namespace: 'web', labels: { app: 'web' } },
          spec: { ports: [{ port: 80 }] },
        },
        null,
        2,
      ),
    });
    const [svc] = await loadManifests(dir, '.');
    expect(svc).toMatchObject({ file: 'svc.json', line: 1, documentIndex: 1 });
    expect(svc?.object.spec).toEqual({ ports: [{ port: 80 }] });
    expect(svc?.object.metadata.labels).toEqual({ app: 'web' });
  });

  it('reports a JSON syntax error with its line', async () => {
    const dir = await checkout({
      'bad.json':
        '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap",\n  "metadata": { "name": "x", }\n}\n',
    });
    const err = await failure(dir);
    expect(err.reason).toBe('InvalidManifest');
    expect(err.location).toMatchObject({ file: 'bad.json', line: 4 });
    expect(err.message).toMatch(/^invalid JSON/);
  });

  it('reports duplicate keys in a JSON file, which JSON.parse would let pass', async () => {
    const dir = await checkout({
      'cm.json':
        '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap",\n  "metadata": { "name": "x" },\n  "data": {\n    "a": "1",\n    "a": "2"\n  }\n}\n',
    });
    const err = await failure(dir);
    expect(err.location).toMatchObject({ file: 'cm.json', line: 7 });
    expect(err.message).toBe('invalid YAML: duplicate key "a"');
  });

  it('reports a field error in a JSON file with the field line', async () => {
    const dir = await checkout({
      'cm.json':
        '{\n  "apiVersion": "v1",\n  "kind": "ConfigMap",\n  "metadata": {\n    "name": "x",\n    "labels": { "n": 3 }\n  }\n}\n',
    });
    const err = await failure(dir);
    expect(err.location).toMatchObject({ file: 'cm.json', line: 6, field: 'metadata.labels.n' });
  });

  it('expands a v1 List into its items, each with its own line', async () => {
    const dir = await checkout({
      'list.yaml': [
        'apiVersion: v1', // 1
        'kind: List', // 2
        'items:', // 3
        '  - apiVersion: v1', // 4
        '    kind: ConfigMap', // 5
        '    metadata:', // 6
        '      name: one', // 7
        '  - apiVersion: v1', // 8
        '    kind: ConfigMap', // 9
        '    metadata:', // 10
        '      name: two', // 11
        '---', // 12
        cm('three'), // 13
      ].join('\n'),
    });
    const manifests = await loadManifests(dir, '.');
    expect(manifests.map((m) => [m.object.metadata.name, m.line, m.documentIndex])).toEqual([
      ['one', 4, 1],
      ['two', 8, 1],
      ['three', 13, 2],
    ]);
  });

  it('reports an invalid List item with the item line and field', async () => {
    const dir = await checkout({
      'list.yaml': [
        'apiVersion: v1',
        'kind: List',
        'items:',
        '  - apiVersion: v1',
        '    kind: ConfigMap',
        '    metadata:',
        '      name: one',
        '  - apiVersion: v1', // 8
        '    kind: ConfigMap', // 9
        '    metadata:', // 10
        '      namespace: web', // 11
      ].join('\n'),
    });
    const err = await failure(dir);
    expect(err.location).toMatchObject({
      file: 'list.yaml',
      line: 11,
      field: 'items[1].metadata.name',
    });
    expect(err.message).toBe('items[1].metadata.name is required');
  });

  it('reports malformed YAML with file and line', async () => {
    const dir = await checkout({
      'apps/ok.yaml': cm('ok'),
      'apps/broken.yaml':
        'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  labels: [unclosed\n',
    });
    const err = await failure(dir, 'apps');
    expect(err.reason).toBe('InvalidManifest');
    expect(err.location.file).toBe('apps/broken.yaml');
    expect(err.location.line).toBeGreaterThanOrEqual(5);
    expect(err.describe()).toMatch(/^apps\/broken\.yaml:\d+: invalid YAML/);
  });

  it('reports duplicate keys', async () => {
    const dir = await checkout({ 'dup.yaml': `${cm('x')}data:\n  a: "1"\n  a: "2"\n` });
    const err = await failure(dir);
    expect(err.reason).toBe('InvalidManifest');
    expect(err.location).toMatchObject({ file: 'dup.yaml', line: 7 });
  });

  it('refuses a billion-laughs alias bomb', async () => {
    const bomb = [
      'apiVersion: v1',
      'kind: ConfigMap',
      'metadata:',
      '  name: lol',
      'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
      'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
      'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
      'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
      'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
      'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
      'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
      'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
      'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
      '',
    ].join('\n');
    const dir = await checkout({ 'bomb.yaml': bomb });
    const err = await failure(dir);
    expect(err.reason).toBe('InvalidManifest');
    expect(err.location.file).toBe('bomb.yaml');
    expect(err.message).toMatch(/alias/i);
  });

  it('allows a few aliases', async () => {
    const dir = await checkout({
      'anchors.yaml': `${cm('x')}data:\n  a: &v hello\n  b: *v\n`,
    });
    const [m] = await loadManifests(dir, '.');
    expect(m?.object.data).toEqual({ a: 'hello', b: 'hello' });
  });

  it('refuses a file that is not UTF-8', async () => {
    const dir = await checkout({ 'latin1.yaml': Buffer.from([0x6b, 0x3a, 0x20, 0xe9, 0x0a]) });
    const err = await failure(dir);
    expect(err.location.file).toBe('latin1.yaml');
    expect(err.message).toContain('UTF-8');
  });
});

describe('loadManifests: validation', () => {
  it('requires metadata.name, naming the file, line and field', async () => {
    const dir = await checkout({
      'apps/cm.yaml': [
        cm('fine').trimEnd(), // 1-4
        '---', // 5
        'apiVersion: v1', // 6
        'kind: ConfigMap', // 7
        'metadata:', // 8
        '  namespace: web', // 9: the missing field is reported where metadata starts
        'data: {}', // 10
      ].join('\n'),
    });
    const err = await failure(dir, 'apps');
    expect(err.reason).toBe('InvalidManifest');
    expect(err.message).toBe('metadata.name is required');
    expect(err.location).toEqual({ file: 'apps/cm.yaml', line: 9, field: 'metadata.name' });
    expect(err.describe()).toBe('apps/cm.yaml:9: metadata.name: metadata.name is required');
  });

  it.each([
    ['kind: ConfigMap\nmetadata:\n  name: x\n', 'apiVersion is required', 'apiVersion', 1],
    ['apiVersion: v1\nmetadata:\n  name: x\n', 'kind is required', 'kind', 1],
    ['apiVersion: v1\nkind: ConfigMap\n', 'metadata is required', 'metadata', 1],
    [
      'apiVersion: 1\nkind: ConfigMap\nmetadata:\n  name: x\n',
      'apiVersion must be a string',
      'apiVersion',
      1,
    ],
    [
      'apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: [x]\n',
      'metadata.name must be a string',
      'metadata.name',
      4,
    ],
    ['apiVersion: v1\nkind: ConfigMap\nmetadata: x\n', 'metadata must be a mapping', 'metadata', 3],
  ])('refuses %j: %s', async (text, message, field, line) => {
    const dir = await checkout({ 'obj.yaml': text });
    const err = await failure(dir);
    expect(err.reason).toBe('InvalidManifest');
    expect(err.message).toBe(message);
    expect(err.location).toMatchObject({ file: 'obj.yaml', field, line });
  });

  it('refuses a document that is not a mapping', async () => {
    const dir = await checkout({ 'list.yaml': `${cm('a')}---\n- just\n- a list\n` });
    const err = await failure(dir);
    expect(err.location).toMatchObject({ file: 'list.yaml', line: 6 });
    expect(err.message).toContain('document 2 is not a Kubernetes object');
  });

  it('refuses a namespace that is not a DNS label', async () => {
    const dir = await checkout({ 'cm.yaml': `${cm('x')}  namespace: Web_Prod\n` });
    const err = await failure(dir);
    expect(err.location).toEqual({
      file: 'cm.yaml',
      line: 5,
      field: 'metadata.namespace',
      object: 'ConfigMap/Web_Prod/x',
    });
    expect(err.message).toContain('not a valid DNS label');
  });

  it('refuses labels and annotations that are not strings, quoting keys with dots', async () => {
    const labels = await checkout({
      'cm.yaml': `${cm('x')}  labels:\n    app: web\n    enabled: true\n`,
    });
    const err = await failure(labels);
    expect(err.location).toMatchObject({ line: 7, field: 'metadata.labels.enabled' });
    expect(err.message).toBe('metadata.labels.enabled must be a string (quote it: "true")');
    // YAML 1.1 reads `on` as true too; the hint quotes what was written.
    const written = await failure(
      await checkout({ 'cm.yaml': `${cm('x')}  labels:\n    enabled: on\n` }),
    );
    expect(written.message).toBe('metadata.labels.enabled must be a string (quote it: "on")');

    const annotations = await checkout({
      'cm.yaml': `${cm('x')}  annotations:\n    example.com/replicas: 3\n`,
    });
    const err2 = await failure(annotations);
    expect(err2.location).toMatchObject({
      line: 6,
      field: 'metadata.annotations["example.com/replicas"]',
    });

    const notMap = await checkout({ 'cm.yaml': `${cm('x')}  labels: [a, b]\n` });
    expect((await failure(notMap)).message).toBe('metadata.labels must be a mapping of strings');
  });

  it('fails the whole load when one file is bad', async () => {
    const dir = await checkout({ 'a.yaml': cm('a'), 'b.yaml': 'apiVersion: v1\nkind: X\n' });
    await expect(loadManifests(dir, '.')).rejects.toMatchObject({
      reason: 'InvalidManifest',
      location: { file: 'b.yaml' },
    });
  });
});

describe('loadManifests: duplicates and namespaces', () => {
  it('refuses the same object declared twice, naming both places', async () => {
    const dir = await checkout({
      'apps/a.yaml': `${cm('other')}---\n${cm('settings', '  namespace: web\n')}`,
      'apps/b/c.yaml': cm('settings', '  namespace: web\n'),
    });
    const err = await failure(dir, 'apps');
    expect(err.reason).toBe('DuplicateObject');
    expect(err.message).toBe(
      'ConfigMap/web/settings is declared twice: at apps/a.yaml:6 and at apps/b/c.yaml:1',
    );
    expect(err.location).toEqual({
      file: 'apps/b/c.yaml',
      line: 1,
      object: 'ConfigMap/web/settings',
    });
  });

  it('treats different groups, kinds and namespaces as different objects', async () => {
    const dir = await checkout({
      'a.yaml': [
        cm('x', '  namespace: one\n'),
        cm('x', '  namespace: two\n'),
        'apiVersion: v1\nkind: Secret\nmetadata:\n  name: x\n  namespace: one\n',
      ].join('---\n'),
    });
    expect(await loadManifests(dir, '.')).toHaveLength(3);
  });

  it('fills the default namespace into namespaced objects before checking duplicates', async () => {
    const files = {
      'a.yaml': cm('settings'),
      'b.yaml': cm('settings', '  namespace: web\n'),
    };
    const scope = (_apiVersion: string, kind: string) =>
      ({ ConfigMap: true, Namespace: false })[kind];
    const dir = await checkout(files);
    // Without scope information, they are different objects (one has no namespace).
    expect(await loadManifests(dir, '.', { defaultNamespace: 'web' })).toHaveLength(2);
    const err = await failure(dir, '.', { defaultNamespace: 'web', isNamespaced: scope });
    expect(err.reason).toBe('DuplicateObject');
    expect(err.message).toContain('a.yaml:1 and at b.yaml:1');
  });

  it('leaves objects of unknown scope as they are and drops the namespace of cluster-scoped ones', async () => {
    const dir = await checkout({
      'a.yaml': [
        cm('settings'),
        'apiVersion: v1\nkind: Namespace\nmetadata:\n  name: web\n  namespace: ignored\n',
        'apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n',
        cm('pinned', '  namespace: elsewhere\n'),
      ].join('---\n'),
    });
    const manifests = await loadManifests(dir, '.', {
      defaultNamespace: 'web',
      isNamespaced: (_apiVersion, kind) => ({ ConfigMap: true, Namespace: false })[kind],
    });
    expect(manifests.map((m) => [m.object.kind, m.object.metadata.namespace])).toEqual([
      ['ConfigMap', 'web'],
      ['Namespace', undefined],
      ['Widget', undefined],
      ['ConfigMap', 'elsewhere'],
    ]);
  });
});

describe('loadManifests: path confinement', () => {
  it.each([
    ['..'],
    ['../other'],
    ['apps/../../etc'],
    ['apps\\..\\..\\etc'],
    ['/etc'],
    ['C:\\Windows'],
  ])('refuses appPath %j', async (appPath) => {
    const dir = await checkout({ 'apps/a.yaml': cm('a') });
    const err = await failure(dir, appPath);
    expect(err.reason).toBe('PathEscape');
    expect(err.location.file).toBe(appPath);
  });

  it('refuses a file symlink that leaves the checkout', async () => {
    const outside = await outsideDir();
    const dir = await checkout({
      'apps/a.yaml': cm('a'),
      'apps/evil.yaml': { link: path.join(outside, 'secret.yaml') },
    });
    const err = await failure(dir, 'apps');
    expect(err.reason).toBe('PathEscape');
    expect(err.location.file).toBe('apps/evil.yaml');
  });

  it('refuses a relative symlink that climbs out of the checkout', async () => {
    const outside = await outsideDir();
    const dir = await checkout({ 'apps/a.yaml': cm('a') });
    const rel = path.relative(path.join(dir, 'apps'), path.join(outside, 'secret.yaml'));
    await symlink(rel, path.join(dir, 'apps', 'climb.yaml'));
    const err = await failure(dir, 'apps');
    expect(err.reason).toBe('PathEscape');
    expect(err.location.file).toBe('apps/climb.yaml');
  });

  it('refuses a directory symlink that leaves the checkout, inside the tree or as the appPath', async () => {
    const outside = await outsideDir();
    const dir = await checkout({
      'apps/a.yaml': cm('a'),
      'apps/ext': { link: outside },
      escape: { link: outside },
    });
    const inTree = await failure(dir, 'apps');
    expect(inTree.reason).toBe('PathEscape');
    expect(inTree.location.file).toBe('apps/ext');

    const asPath = await failure(dir, 'escape');
    expect(asPath.reason).toBe('PathEscape');
    expect((await failure(dir, 'escape/secret.yaml')).reason).toBe('PathEscape');
  });

  it('follows symlinks that stay inside the checkout, without looping', async () => {
    const dir = await checkout({
      'base/cm.yaml': cm('base'),
      'apps/web/own.yaml': cm('own'),
      'apps/web/base': { link: '../../base' },
      'apps/web/loop': { link: '..' },
      'apps/web/self': { link: '.' },
      'apps/web/broken': { link: 'does-not-exist' },
    });
    // Each real directory is read once: base through its link, loop and self not again.
    const loaded = await loadManifests(dir, 'apps/web');
    expect(loaded.map((m) => [m.file, m.object.metadata.name])).toEqual([
      ['apps/web/base/cm.yaml', 'base'],
      ['apps/web/own.yaml', 'own'],
    ]);
  });

  it('reports a file reached twice through symlinks as a duplicate', async () => {
    const dir = await checkout({
      'apps/cm.yaml': cm('base'),
      'apps/same.yaml': { link: 'cm.yaml' },
    });
    const err = await failure(dir, 'apps');
    expect(err.reason).toBe('DuplicateObject');
    expect(err.message).toContain('apps/cm.yaml:1 and at apps/same.yaml:1');
  });

  it('refuses a dangling symlink that names a manifest', async () => {
    const dir = await checkout({ 'apps/gone.yaml': { link: 'nowhere.yaml' } });
    const err = await failure(dir, 'apps');
    expect(err.reason).toBe('InvalidManifest');
    expect(err.location.file).toBe('apps/gone.yaml');
  });

  it('refuses a symlink loop', async () => {
    const dir = await checkout({
      'apps/a.yaml': { link: 'b.yaml' },
      'apps/b.yaml': { link: 'a.yaml' },
    });
    const err = await failure(dir, 'apps');
    expect(err.reason).toBe('InvalidManifest');
    expect(err.message).toContain('symlink loop');
  });
});

describe('loadManifests: limits', () => {
  it('refuses a file larger than maxFileBytes', async () => {
    const dir = await checkout({
      'small.yaml': cm('small'),
      'big.yaml': cm('big', `data:\n  x: "${'x'.repeat(2000)}"\n`),
    });
    const err = await failure(dir, '.', { maxFileBytes: 1024 });
    expect(err.reason).toBe('InvalidManifest');
    expect(err.location.file).toBe('big.yaml');
    expect(err.message).toContain('more than the limit of 1 KiB');
  });

  it('refuses manifests larger than maxTotalBytes together', async () => {
    const files: Record<string, string> = {};
    for (let i = 0; i < 5; i++)
      files[`cm-${i}.yaml`] = cm(`cm-${i}`, `data:\n  x: "${'x'.repeat(300)}"\n`);
    const dir = await checkout(files);
    expect(await loadManifests(dir, '.', { maxTotalBytes: 5000 })).toHaveLength(5);
    const err = await failure(dir, '.', { maxTotalBytes: 1000 });
    expect(err.reason).toBe('InvalidManifest');
    expect(err.location.file).toBe('cm-2.yaml');
  });

  it('refuses more objects than maxObjects', async () => {
    const docs = Array.from({ length: 6 }, (_, i) => cm(`cm-${i}`)).join('---\n');
    const dir = await checkout({ 'many.yaml': docs });
    expect(await loadManifests(dir, '.', { maxObjects: 6 })).toHaveLength(6);
    const err = await failure(dir, '.', { maxObjects: 5 });
    expect(err.reason).toBe('InvalidManifest');
    expect(err.message).toContain('more than 5 objects');
    expect(err.location).toMatchObject({ file: 'many.yaml', line: 26 });
  });

  it('refuses more files than maxFiles', async () => {
    const dir = await checkout({ 'a.yaml': cm('a'), 'b.yaml': cm('b'), 'c.yaml': cm('c') });
    const err = await failure(dir, '.', { maxFiles: 2 });
    expect(err.reason).toBe('InvalidManifest');
    expect(err.message).toContain('more than 2 manifest files');
  });

  it('applies maxAliasCount per document', async () => {
    const dir = await checkout({
      'anchors.yaml': `${cm('x')}data:\n  a: &v hello\n  b: *v\n  c: *v\n  d: *v\n`,
    });
    expect(await loadManifests(dir, '.', { maxAliasCount: 10 })).toHaveLength(1);
    const err = await failure(dir, '.', { maxAliasCount: 1 });
    expect(err.reason).toBe('InvalidManifest');
    expect(err.location.file).toBe('anchors.yaml');
  });
});

describe('SourceCache', () => {
  it('parses a checkout once, re-reads after a failure, and evicts the least recently used', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-mcache-'));
    try {
      await mkdir(path.join(dir, 'a'), { recursive: true });
      await writeFile(
        path.join(dir, 'a/cm.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\n',
      );
      const cache = new SourceCache({}, 1);
      const load = (appPath: string) =>
        cache.render(
          dir,
          {
            metadata: { name: 'web' },
            spec: { source: { repoURL: 'https://x/r.git', revision: 'main', path: appPath } },
          },
          'web',
        );
      const first = await load('a');
      expect(await load('a')).toBe(first);
      await expect(load('missing')).rejects.toThrow();
      // 'missing' evicted 'a' (size 1): a fresh parse, equal but not the same array.
      const again = await load('a');
      expect(again).not.toBe(first);
      expect(again.map((m) => m.object.metadata.name)).toEqual(['c']);
      await mkdir(path.join(dir, 'missing'));
      await writeFile(
        path.join(dir, 'missing/x.yaml'),
        'apiVersion: v1\nkind: ConfigMap\nmetadata: { name: x }\n',
      );
      expect((await load('missing')).length).toBe(1);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
