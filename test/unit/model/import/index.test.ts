import { describe, expect, it } from 'vitest';
import { SourceSchema } from '../../../../lib/model/application.js';
import { formatDuration, parseGoDuration } from '../../../../lib/model/import/fields.js';
import {
  applicationYaml,
  CHART_SOURCES_IN_SCHEMA,
  importFiles,
} from '../../../../lib/model/import/index.js';
import { parseYamlDocuments } from '../../../../lib/model/yaml.js';
import { droppedOf, OPTIONS, objectReport, onlyApp, run } from './helpers.js';

const argo = (name: string, ns: string, extra = '') => `apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: { name: "${name}", namespace: ${ns}${extra} }
spec:
  source: { repoURL: https://git.example.com/a.git }
  destination: { name: in-cluster }
`;

describe('driftless import', () => {
  it('refuses unreadable input with file and line, and imports nothing from it', () => {
    const r = importFiles(
      [
        { file: 'ok.yaml', text: argo('web', 'argocd') },
        { file: 'broken.yaml', text: 'apiVersion: v1\nkind: [oops\n' },
        { file: 'list.yaml', text: '- a\n- b\n' },
        {
          file: 'nameless.yaml',
          text: 'apiVersion: argoproj.io/v1alpha1\nkind: Application\nmetadata: {}\n',
        },
      ],
      OPTIONS,
    );
    expect(r.errors.map((e) => e.describe())).toEqual([
      expect.stringMatching(/^broken\.yaml:\d+: invalid YAML: /),
      'list.yaml:1: must be a Kubernetes object (a mapping)',
      'nameless.yaml:1: Application/?: metadata.name: is required',
    ]);
    const wrongType = run(
      argo('web', 'argocd').replace('repoURL: https://git.example.com/a.git', 'repoURL: [a]'),
    );
    expect(wrongType.errors.map((e) => e.describe())).toEqual([
      'in.yaml:5: Application/argocd/web: spec.source.repoURL: must be a string, got a list',
    ]);
  });

  it('reports objects that are not Argo CD or Flux', () => {
    const r = run('apiVersion: v1\nkind: Namespace\nmetadata: { name: web }\n');
    expect(r.applications).toEqual([]);
    expect(droppedOf(r, 'Namespace/web')).toEqual([': not an Argo CD or Flux object']);
  });

  it('keeps labels, reports annotations, and makes names unique DNS labels', () => {
    const r = run(
      [
        argo(
          'web',
          'team-a',
          ', labels: { tier: front }, annotations: { notifications.argoproj.io/subscribe.on-sync-succeeded.slack: ops }',
        ),
        argo('web', 'team-b'),
        argo('Web.Frontend', 'argocd'),
      ].join('---\n'),
    );
    expect(r.applications.map((a) => a.name)).toEqual(['web', 'team-b-web', 'web-frontend']);
    expect(onlyApp({ ...r, applications: r.applications.slice(0, 1) }).metadata).toEqual({
      name: 'web',
      labels: { tier: 'front' },
    });
    expect(droppedOf(r, 'Application/team-a/web')).toEqual([
      'metadata.annotations.notifications.argoproj.io/subscribe.on-sync-succeeded.slack: annotations of the Argo CD or Flux object are not carried over',
    ]);
    expect(objectReport(r, 'Application/team-b/web').notes.map((n) => n.message)).toEqual([
      'another imported Application is named web: this one is team-b-web',
    ]);
    expect(objectReport(r, 'Application/argocd/Web.Frontend').notes.map((n) => n.message)).toEqual([
      'Web.Frontend is not a DNS label: the Application is named web-frontend',
    ]);
  });

  it('writes YAML that reads back the same under YAML 1.1 rules', () => {
    const doc = onlyApp(
      run(`apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: { name: web, namespace: argocd }
spec:
  source:
    repoURL: https://git.example.com/a.git
    helm: { valuesObject: { mode: "on", perms: "0644", answer: "y", n: 1 } }
  destination: { name: in-cluster }
`),
    );
    const text = applicationYaml(doc);
    expect(text).toContain('mode: "on"');
    expect(parseYamlDocuments(text, 'out.yaml')[0]?.value).toEqual(doc);
  });

  it('gates chart sources on the schema having them', () => {
    // The gate is the schema itself: once SourceSchema has `chart`, chart sources are checked whole.
    expect(CHART_SOURCES_IN_SCHEMA).toBe('chart' in SourceSchema.shape);
  });

  it('reads Go durations and writes Driftless ones', () => {
    expect(parseGoDuration('1m30s')).toBe(90_000);
    expect(parseGoDuration('1.5h')).toBe(5_400_000);
    expect(parseGoDuration('250ms')).toBe(250);
    expect(parseGoDuration('10m0s')).toBe(600_000);
    expect(parseGoDuration('5')).toBeUndefined();
    expect(parseGoDuration('5', true)).toBe(5_000);
    expect(parseGoDuration('5 minutes')).toBeUndefined();
    expect(formatDuration(5_400_000)).toBe('1h30m');
    expect(formatDuration(90_250)).toBe('1m30s250ms');
    expect(formatDuration(0)).toBe('0s');
  });
});
