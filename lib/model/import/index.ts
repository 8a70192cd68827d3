// `driftless import`: Argo CD and Flux manifests in, Driftless Applications
// out, with a report per input object of every field that could not be
// mapped and why. Pure: the CLI reads the files and writes the output.
//
// Chart sources (`source.chart`, `spec.sources`) are issue #13's: until the
// Application schema has them, an import that needs them is emitted as it
// will be valid, and reported as dropped ("needs chart sources"), the rest
// of it checked against the schema; once SourceSchema has `chart`, the same
// outputs are checked whole.

import { stringify } from 'yaml';
import { DriftlessError, isDriftlessError } from '../../errors.js';
import { ApplicationSchema, fieldPath, SourceSchema } from '../application.js';
import { groupKind } from '../kinds.js';
import { groupOf } from '../object.js';
import { parseYamlDocuments, type YamlDocument } from '../yaml.js';
import {
  ARGO_API_GROUP,
  convertArgoApplication,
  reportArgoApplicationSet,
  reportArgoProject,
} from './argocd.js';
import {
  type ImportedApplication,
  type ImportedSource,
  type ImportOptions,
  isDnsLabel,
  needsChartSources,
} from './common.js';
import { type ImportedObject, ObjectFields } from './fields.js';
import {
  convertHelmRelease,
  convertKustomization,
  FLUX_HELM_GROUP,
  FLUX_KUSTOMIZE_GROUP,
  FLUX_SOURCE_GROUP,
  FluxSources,
} from './flux.js';

export type { ImportedApplication, ImportedSource, ImportOptions } from './common.js';
export type { DroppedField, ImportedObject, ImportNote } from './fields.js';

/** Whether the Application schema has chart sources yet (issue #13). */
export const CHART_SOURCES_IN_SCHEMA = 'chart' in SourceSchema.shape;

export const NEEDS_CHART_SOURCES = 'needs chart sources (issue #13)';

export interface ImportResult {
  /** One per Application made, in input order; names unique. */
  applications: { name: string; document: ImportedApplication; from: string }[];
  /** One per input object, with what was dropped. */
  objects: ImportedObject[];
  /** Input that cannot be read (file:line:field): nothing is emitted for it. */
  errors: DriftlessError[];
}

/** Imports YAML files (name and text). */
export function importFiles(
  files: readonly { file: string; text: string }[],
  options: ImportOptions,
): ImportResult {
  const docs: YamlDocument[] = [];
  const errors: DriftlessError[] = [];
  for (const { file, text } of files) {
    try {
      docs.push(...parseYamlDocuments(text, file).filter((d) => d.value !== null));
    } catch (e) {
      if (!isDriftlessError(e)) throw e;
      errors.push(e);
    }
  }
  const result = importDocuments(docs, options);
  return { ...result, errors: [...errors, ...result.errors] };
}

const KUBECTL_LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

export function importDocuments(
  docs: readonly YamlDocument[],
  options: ImportOptions,
): ImportResult {
  const objects: ImportedObject[] = [];
  const errors: DriftlessError[] = [];
  const sources = new FluxSources();
  const pending: { f: ObjectFields; convert: () => ImportedApplication | undefined }[] = [];

  for (const doc of docs) {
    const value = doc.value;
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      errors.push(
        new DriftlessError('InvalidManifest', 'must be a Kubernetes object (a mapping)', {
          file: doc.file,
          line: doc.line,
        }),
      );
      continue;
    }
    const f = new ObjectFields(value as Record<string, unknown>, doc);
    const { apiVersion, kind } = f.report;
    if (!apiVersion || !kind || !f.name) {
      const field = !apiVersion ? 'apiVersion' : !kind ? 'kind' : 'metadata.name';
      errors.push(
        new DriftlessError('InvalidManifest', 'is required', {
          file: doc.file,
          line: doc.line,
          object: f.report.object,
          field,
        }),
      );
      continue;
    }
    objects.push(f.report);
    const group = groupOf(apiVersion);
    const as = groupKind(group, kind);
    if (as === groupKind(ARGO_API_GROUP, 'Application')) {
      pending.push({ f, convert: () => convertArgoApplication(f, options) });
    } else if (as === groupKind(ARGO_API_GROUP, 'AppProject')) reportArgoProject(f);
    else if (as === groupKind(ARGO_API_GROUP, 'ApplicationSet')) reportArgoApplicationSet(f);
    else if (
      as === groupKind(FLUX_SOURCE_GROUP, 'GitRepository') ||
      as === groupKind(FLUX_SOURCE_GROUP, 'HelmRepository')
    )
      sources.add(f);
    else if (as === groupKind(FLUX_KUSTOMIZE_GROUP, 'Kustomization'))
      pending.push({ f, convert: () => convertKustomization(f, sources, options) });
    else if (as === groupKind(FLUX_HELM_GROUP, 'HelmRelease'))
      pending.push({ f, convert: () => convertHelmRelease(f, sources, options) });
    else if (group === FLUX_SOURCE_GROUP)
      f.dropped(
        [],
        `${kind} sources are not supported: Driftless reads Git and chart repositories`,
      );
    else if (group === 'driftless.dev')
      f.dropped([], 'already a Driftless object: apply it as it is');
    else f.dropped([], 'not an Argo CD or Flux object');
  }

  const made: { f: ObjectFields; app: ImportedApplication }[] = [];
  for (const { f, convert } of pending) {
    try {
      const app = convert();
      const labels = metadata(f);
      if (app) {
        if (labels) app.metadata.labels = labels;
        made.push({ f, app });
      }
    } catch (e) {
      if (!isDriftlessError(e)) throw e;
      errors.push(e);
    }
  }
  try {
    sources.finish();
  } catch (e) {
    if (!isDriftlessError(e)) throw e;
    errors.push(e);
  }

  const applications: ImportResult['applications'] = [];
  const taken = new Set<string>();
  for (const { f, app } of made) {
    app.metadata.name = uniqueName(f, taken);
    if (!checkSchema(f, app)) continue;
    f.report.application = app.metadata.name;
    applications.push({ name: app.metadata.name, document: app, from: f.report.object });
  }
  return { applications, objects, errors };
}

/** The object's labels (kept); its annotations and finalizers reported. */
function metadata(f: ObjectFields): Record<string, string> | undefined {
  const m = ['metadata'];
  const labels: Record<string, string> = {};
  for (const key of f.keys([...m, 'labels'])) {
    const v = f.string([...m, 'labels', key]);
    if (v !== undefined) labels[key] = v;
  }
  for (const key of f.keys([...m, 'annotations'])) {
    if (key === KUBECTL_LAST_APPLIED) continue;
    f.dropped(
      [...m, 'annotations', key],
      'annotations of the Argo CD or Flux object are not carried over',
    );
  }
  f.drop(
    [...m, 'finalizers'],
    'Driftless deletes an application’s objects when asked to (apps delete --cascade)',
  );
  return Object.keys(labels).length ? labels : undefined;
}

/** A DNS-label name, unique among the outputs: the object's, else namespace-name, else numbered. */
function uniqueName(f: ObjectFields, taken: Set<string>): string {
  const clean = (s: string) =>
    s
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+/, '')
      .slice(0, 63)
      .replace(/-+$/, '');
  const wanted = f.name;
  const candidates = [
    isDnsLabel(wanted) ? wanted : clean(wanted),
    clean(`${f.namespace ?? ''}-${wanted}`),
  ];
  let name = candidates.find((c) => c && !taken.has(c));
  for (let i = 2; !name; i++) {
    const c = `${(candidates[0] || 'app').slice(0, 59)}-${i}`;
    if (!taken.has(c)) name = c;
  }
  taken.add(name);
  if (name !== wanted) {
    f.note(
      ['metadata', 'name'],
      isDnsLabel(wanted)
        ? `another imported Application is named ${wanted}: this one is ${name}`
        : `${wanted} is not a DNS label: the Application is named ${name}`,
    );
  }
  return name;
}

/**
 * Checks the output against ApplicationSchema; chart sources, until the
 * schema has them, are reported as dropped and the rest is checked.
 */
function checkSchema(f: ObjectFields, app: ImportedApplication): boolean {
  let probe: unknown = app;
  const extra: ImportedSource[] = [];
  if (needsChartSources(app) && !CHART_SOURCES_IN_SCHEMA) {
    const all = app.spec.sources ?? (app.spec.source ? [app.spec.source] : []);
    const stripped = all.map(withoutChart);
    const [first, ...rest] = stripped;
    extra.push(...rest);
    const { sources: _sources, ...spec } = app.spec;
    probe = { ...app, spec: { ...spec, source: first } };
    // The input field that asked for it: Argo CD's sources or chart, Flux's chart.
    const asked = [
      ['spec', 'sources'],
      ['spec', 'source', 'chart'],
      ['spec', 'chart', 'spec', 'chart'],
    ].find((p) => f.has(p)) ?? ['spec'];
    f.report.dropped.push({
      field: fieldPath(asked) ?? '',
      line: f.lineOf(asked),
      reason: NEEDS_CHART_SOURCES,
    });
  }
  const problems = [
    ApplicationSchema.safeParse(probe),
    ...extra.map((s) => SourceSchema.safeParse(s)),
  ];
  for (const [i, result] of problems.entries()) {
    if (result.success) continue;
    const issue = result.error.issues[0];
    const path = (issue?.path ?? []).filter((p): p is string | number => typeof p !== 'symbol');
    const field = i === 0 ? fieldPath(path) : fieldPath(['spec', 'sources', i, ...path]);
    f.report.dropped.push({
      field: field ?? '',
      line: f.report.line,
      reason: `the imported Application would be invalid (${issue?.message ?? 'invalid'}): not emitted`,
    });
    return false;
  }
  return true;
}

/** A chart source as the current schema could check it: its Git-shaped rest. */
function withoutChart(s: ImportedSource): ImportedSource {
  const { chart: _chart, ref: _ref, ...rest } = s;
  return { ...rest, repoURL: rest.repoURL.replace(/^oci:\/\//, 'https://') };
}

/**
 * An Application as YAML that reads back the same as kubectl and Driftless
 * read YAML (1.1 scalars: `"on"`, `"0644"` stay strings); JSON, which is
 * YAML too, for anything that would not.
 */
export function applicationYaml(app: ImportedApplication): string {
  const text = stringify(app, { version: '1.1', lineWidth: 0 });
  const [back] = parseYamlDocuments(text, 'import');
  return JSON.stringify(back?.value) === JSON.stringify(app)
    ? text
    : `${JSON.stringify(app, null, 2)}\n`;
}
