import { describe, expect, it } from 'vitest';
import {
  ApplicationSchema,
  applicationInput,
  appSources,
  parseDuration,
  parseSpecs,
} from '../../../lib/model/application.js';
import { parseYamlDocuments } from '../../../lib/model/yaml.js';
import { thrown } from '../../support/errors.js';

const app = `apiVersion: driftless.dev/v1
kind: Application
metadata:
  name: web
spec:
  source:
    repoURL: https://github.com/acme/deploy.git
    revision: main
    path: apps/web
  destinations:
    - cluster: prod
      namespace: web
`;

describe('Application specs', () => {
  it('parses with defaults filled in', () => {
    const [spec] = parseSpecs(app, 'apps.yaml');
    expect(spec?.kind).toBe('Application');
    if (spec?.kind !== 'Application') return;
    expect(spec.value.spec.syncPolicy).toMatchObject({
      automated: true,
      prune: false,
      selfHeal: false,
      interval: 60_000,
      pruneLimit: 20,
      retry: { limit: 5, backoff: { duration: 10_000, factor: 2, maxDuration: 300_000 } },
    });
    expect(spec.value.spec.policy).toEqual({ namespaces: [], kinds: [], clusterScoped: true });
  });

  it('names file, line and field of an invalid value', () => {
    const bad = app.replace('      namespace: web', '      namespace: Web_Team');
    const e = thrown(() => parseSpecs(bad, 'apps.yaml'));
    expect(e.reason).toBe('InvalidSpec');
    expect(e.describe()).toBe(
      'apps.yaml:12: Application/web: spec.destinations[0].namespace: must be a DNS label: lowercase letters, digits and -, at most 63',
    );
  });

  it('rejects a cluster named twice in destinations, naming the field', () => {
    const twice = `${app}    - cluster: staging\n    - cluster: prod\n      namespace: other\n`;
    const e = thrown(() => parseSpecs(twice, 'apps.yaml'));
    expect(e.reason).toBe('InvalidSpec');
    expect(e.location).toMatchObject({ field: 'spec.destinations[2].cluster', line: 14 });
    expect(e.message).toBe(
      'cluster prod is already a destination (spec.destinations[0]): one cluster, one destination',
    );
  });

  it('defaults allowEmpty to off (Argo CD: automated.allowEmpty)', () => {
    const [spec] = parseSpecs(app, 'apps.yaml');
    expect(spec?.kind === 'Application' && spec.value.spec.syncPolicy.allowEmpty).toBe(false);
  });

  it('rejects a source path that leaves the repository', () => {
    const e = thrown(() => parseSpecs(app.replace('path: apps/web', 'path: ../../etc'), 'a.yaml'));
    expect(e.location).toMatchObject({ field: 'spec.source.path', line: 9 });
  });

  it('parses durations and rejects malformed ones', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('250ms')).toBe(250);
    expect(() => parseDuration('5 minutes')).toThrow(/invalid duration "5 minutes"/);
    const e = thrown(() => parseSpecs(`${app}  syncPolicy:\n    interval: soon\n`, 'a.yaml'));
    expect(e.location).toMatchObject({ field: 'spec.syncPolicy.interval', line: 14 });
  });

  it("reads ignoreDifferences in Argo CD's shape and rejects a bad jq path expression by field", () => {
    const rules = (entries: string) => `${app}  ignoreDifferences:\n${entries}`;
    const [ok] = parseSpecs(
      rules(
        '    - group: apps\n      kind: Deployment\n      jqPathExpressions:\n        - .spec.template.spec.containers[] | select(.name == "sidecar") | .image\n      managedFieldsManagers: [kube-controller-manager]\n',
      ),
      'apps.yaml',
    );
    if (ok?.kind !== 'Application') throw new Error('expected an Application');
    expect(ok.value.spec.ignoreDifferences[0]).toMatchObject({
      group: 'apps',
      kind: 'Deployment',
      jsonPointers: [],
      managedFieldsManagers: ['kube-controller-manager'],
    });
    const bad = (expression: string) =>
      thrown(() =>
        parseSpecs(
          rules(
            `    - kind: ConfigMap\n      jqPathExpressions:\n        - .data.a\n        - '${expression}'\n`,
          ),
          'apps.yaml',
        ),
      );
    for (const [expression, message] of [
      ['.spec[', /not a valid jq expression/],
      ['.a | def f: f; f', /"def" is not allowed/],
      ['.spec | until(false; .)', /"until" is not allowed/],
      ['.metadata | keys[]', /not a jq path expression/],
    ] as const) {
      const e = bad(expression);
      expect(e.reason).toBe('InvalidSpec');
      expect(e.location).toMatchObject({
        file: 'apps.yaml',
        object: 'Application/web',
        field: 'spec.ignoreDifferences[0].jqPathExpressions[1]',
      });
      expect(e.message).toMatch(message);
    }
    // A field name is not a builtin, and a typo of a key is an error, not ignored.
    expect(() =>
      parseSpecs(rules('    - kind: X\n      jqPathExpressions: [.spec.range]\n'), 'a.yaml'),
    ).not.toThrow();
    const typo = thrown(() =>
      parseSpecs(rules('    - kind: X\n      jsonPointer: [/a]\n'), 'a.yaml'),
    );
    expect(typo.location?.field).toBe('spec.ignoreDifferences[0]');
  });

  it('requires exactly one way to reach a cluster', () => {
    const cluster = `apiVersion: driftless.dev/v1
kind: Cluster
metadata: { name: prod }
spec:
  eks: { name: prod, region: eu-west-1 }
  kubeconfig: { path: /tmp/kc }
`;
    expect(thrown(() => parseSpecs(cluster, 'c.yaml')).message).toBe(
      'set exactly one of eks or kubeconfig',
    );
    const [ok] = parseSpecs(cluster.replace('  kubeconfig: { path: /tmp/kc }\n', ''), 'c.yaml');
    expect(ok?.kind).toBe('Cluster');
  });

  it('rejects an unknown kind with the line of the document', () => {
    const e = thrown(() => parseSpecs(`${app}---\napiVersion: v1\nkind: Pod\n`, 'x.yaml'));
    expect(e.location).toMatchObject({ file: 'x.yaml', line: 14, field: 'kind' });
  });
});

describe('YAML parsing', () => {
  it('reports syntax errors with file and line', () => {
    const e = thrown(() => parseYamlDocuments('a: 1\nb: [unclosed\nc: 3\n', 'bad.yaml'));
    expect(e.reason).toBe('InvalidManifest');
    expect(e.location.file).toBe('bad.yaml');
    expect(e.location.line).toBeGreaterThanOrEqual(2);
  });

  it('rejects duplicate keys', () => {
    const e = thrown(() => parseYamlDocuments('---\na: 1\na: 2\n', 'dup.yaml'));
    expect(e.location).toMatchObject({ file: 'dup.yaml', line: 3 });
  });

  it('bounds alias expansion (billion laughs)', () => {
    const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i < 9; i++) {
      const prev = String.fromCharCode(96 + i);
      const cur = String.fromCharCode(97 + i);
      lines.push(`${cur}: &${cur} [${Array(10).fill(`*${prev}`).join(',')}]`);
    }
    const e = thrown(() => parseYamlDocuments(`${lines.join('\n')}\n`, 'bomb.yaml'));
    expect(e.message).toMatch(/alias/i);
  });

  it('gives each document of a stream its starting line', () => {
    const docs = parseYamlDocuments('a: 1\n---\nb: 2\n---\n# only a comment\n', 'multi.yaml');
    expect(docs.map((d) => [d.line, d.value])).toEqual([
      [1, { a: 1 }],
      [3, { b: 2 }],
      [4, null],
    ]);
  });
});

describe('Private Git in specs', () => {
  const withRepo = (repoURL: string, extra = '') =>
    app.replace('repoURL: https://github.com/acme/deploy.git', `repoURL: ${repoURL}${extra}`);

  it('refuses a repoURL with user info, naming the field and pointing at source.credentials', () => {
    for (const url of [
      'https://x-access-token:ghp_secret@github.com/acme/deploy.git',
      'https://ghp_secret@github.com/acme/deploy.git',
    ]) {
      const err = thrown(() => parseSpecs(withRepo(url), 'apps.yaml'));
      expect(err.location).toMatchObject({
        file: 'apps.yaml',
        line: 7,
        object: 'Application/web',
        field: 'spec.source.repoURL',
      });
      expect(err.message).toContain('name a secret in source.credentials');
      expect(err.message).not.toContain('ghp_secret');
    }
    // An @ later in the URL is not user info.
    expect(
      parseSpecs(withRepo('https://git.example.com/team@2/deploy.git'), 'a.yaml'),
    ).toHaveLength(1);
  });

  it('takes a secret name in source.credentials, not an ARN', () => {
    const [spec] = parseSpecs(
      withRepo('https://github.com/acme/deploy.git', '\n    credentials: team/acme-git'),
      'a.yaml',
    );
    expect(spec?.kind === 'Application' && spec.value.spec.source.credentials).toBe(
      'team/acme-git',
    );
    const arn = thrown(() =>
      parseSpecs(
        withRepo(
          'https://github.com/acme/deploy.git',
          '\n    credentials: "arn:aws:secretsmanager:eu-west-1:123456789012:secret:x"',
        ),
        'a.yaml',
      ),
    );
    expect(arn.location.field).toBe('spec.source.credentials');
  });

  it('parses Repository records beside Applications and Clusters', () => {
    const text = `apiVersion: driftless.dev/v1
kind: Repository
metadata: { name: acme }
spec:
  urlPrefix: https://github.com/acme/
  credentials: acme-git
`;
    const [spec] = parseSpecs(text, 'repos.yaml');
    expect(spec).toEqual({
      kind: 'Repository',
      value: {
        apiVersion: 'driftless.dev/v1',
        kind: 'Repository',
        metadata: { name: 'acme' },
        spec: { urlPrefix: 'https://github.com/acme/', credentials: 'acme-git' },
      },
    });
    const withPassword = thrown(() =>
      parseSpecs(
        text.replace('credentials: acme-git', 'credentials: acme-git\n  password: x'),
        'repos.yaml',
      ),
    );
    expect(withPassword.location).toMatchObject({ object: 'Repository/acme', field: 'spec' });
    const userinfo = thrown(() =>
      parseSpecs(
        text.replace('https://github.com/acme/', 'https://u:p@github.com/acme/'),
        'r.yaml',
      ),
    );
    expect(userinfo.location.field).toBe('spec.urlPrefix');
  });
});

// Chart sources and multi-source (issue #13): the fields Argo CD users write, errors naming the field.

const chartSpec = (body: string) => `apiVersion: driftless.dev/v1
kind: Application
metadata:
  name: web
spec:
${body}  destinations:
    - cluster: prod
      namespace: web
`;

const parsed = (body: string) => {
  const [s] = parseSpecs(chartSpec(body), 'app.yaml');
  if (s?.kind !== 'Application') throw new Error('not an Application');
  return s.value;
};

describe('chart sources', () => {
  it('accepts a Helm repository and an OCI registry with a version range', () => {
    const http = parsed(
      '  source:\n    repoURL: https://charts.example.com\n    chart: web\n    revision: ^1.2.0\n',
    );
    expect(http.spec.source).toMatchObject({ chart: 'web', revision: '^1.2.0' });
    const oci = parsed(
      '  source:\n    repoURL: oci://ghcr.io/acme/charts\n    chart: api\n    revision: 1.4.1\n',
    );
    expect(oci.spec.source.repoURL).toBe('oci://ghcr.io/acme/charts');
  });

  it.each([
    [
      '    revision: main\n',
      'spec.source.revision',
      /chart version or a semver range .*got "main"/,
    ],
    ['', 'spec.source.revision', /a chart source needs a chart version or a semver range/],
    [
      '    revision: 1.0.0\n    path: charts/web\n',
      'spec.source.path',
      /path is not used with chart/,
    ],
    [
      '    revision: 1.0.0\n    type: kustomize\n',
      'spec.source.type',
      /a chart source is type helm/,
    ],
  ])('refuses %j naming %s', (extra, field, message) => {
    const e = thrown(() =>
      parseSpecs(
        chartSpec(`  source:\n    repoURL: https://charts.example.com\n    chart: web\n${extra}`),
        'app.yaml',
      ),
    );
    expect(e.reason).toBe('InvalidSpec');
    expect(e.location.field).toBe(field);
    expect(e.message).toMatch(message);
  });

  it('refuses an oci:// repoURL without chart', () => {
    const e = thrown(() =>
      parseSpecs(
        chartSpec('  source:\n    repoURL: oci://ghcr.io/acme/charts\n    revision: 1.0.0\n'),
        'app.yaml',
      ),
    );
    expect(e.location.field).toBe('spec.source.chart');
  });
});

describe('multi-source', () => {
  const multi = `  sources:
    - repoURL: https://charts.example.com
      chart: web
      revision: ~1.0.0
      helm:
        valueFiles: [$values/envs/prod.yaml]
    - repoURL: https://github.com/acme/config.git
      revision: main
      ref: values
`;

  it('keeps every source, source being the first, and round-trips', () => {
    const app = parsed(multi);
    expect(appSources(app.spec).map((s) => s.repoURL)).toEqual([
      'https://charts.example.com',
      'https://github.com/acme/config.git',
    ]);
    expect(app.spec.source.chart).toBe('web');
    const again = ApplicationSchema.parse(applicationInput(app));
    expect(again).toEqual(app);
  });

  it('needs exactly one of source and sources', () => {
    const both = thrown(() =>
      parseSpecs(
        chartSpec(`  source:\n    repoURL: https://github.com/acme/x.git\n${multi}`),
        'app.yaml',
      ),
    );
    expect(both.location.field).toBe('spec.sources');
    expect(both.message).toBe('set exactly one of source or sources');
    const neither = thrown(() => parseSpecs(chartSpec(''), 'app.yaml'));
    expect(neither.location.field).toBe('spec.source');
  });

  it('refuses a $values file naming no ref, and a duplicate ref', () => {
    const e = thrown(() =>
      parseSpecs(chartSpec(multi.replace('ref: values', 'ref: config')), 'app.yaml'),
    );
    expect(e.location.field).toBe('spec.sources[0].helm.valueFiles[0]');
    expect(e.message).toMatch(/names \$values, but no source of spec.sources has ref: values/);
    const dup = thrown(() =>
      parseSpecs(
        chartSpec(`${multi}    - repoURL: https://github.com/acme/other.git\n      ref: values\n`),
        'app.yaml',
      ),
    );
    expect(dup.location.field).toBe('spec.sources[2].ref');
  });

  it('refuses ref on a single source and on a chart source', () => {
    const single = thrown(() =>
      parseSpecs(
        chartSpec('  source:\n    repoURL: https://github.com/acme/x.git\n    ref: values\n'),
        'app.yaml',
      ),
    );
    expect(single.location.field).toBe('spec.source.ref');
    const chart = thrown(() =>
      parseSpecs(
        chartSpec(multi.replace('      chart: web\n', '      chart: web\n      ref: c\n')),
        'app.yaml',
      ),
    );
    expect(chart.location.field).toBe('spec.sources[0].ref');
  });
});
