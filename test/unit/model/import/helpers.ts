// Runs the importer on YAML text or a fixture, as `driftless import` does.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { validateSpec } from '../../../../lib/model/application.js';
import type { ImportedObject } from '../../../../lib/model/import/fields.js';
import {
  type ImportOptions,
  type ImportResult,
  importFiles,
} from '../../../../lib/model/import/index.js';

const FIXTURES = path.resolve(
  path.dirname(fileURLToPath(import.meta.url)),
  '../../../fixtures/import',
);

export const OPTIONS: ImportOptions = { cluster: 'local', clusterMap: {} };

export function run(
  text: string,
  options: ImportOptions = OPTIONS,
  file = 'in.yaml',
): ImportResult {
  return importFiles([{ file, text }], options);
}

export function fixture(name: string, options: ImportOptions = OPTIONS): ImportResult {
  const file = `test/fixtures/import/${name}`;
  return importFiles([{ file, text: readFileSync(path.join(FIXTURES, name), 'utf8') }], options);
}

/** The report of the object named `object` (`Kind/ns/name`). */
export function objectReport(result: ImportResult, object: string): ImportedObject {
  const o = result.objects.find((x) => x.object === object);
  if (!o) throw new Error(`no report for ${object}: ${result.objects.map((x) => x.object)}`);
  return o;
}

/** `field: reason` of everything dropped from an object. */
export function droppedOf(result: ImportResult, object: string): string[] {
  return objectReport(result, object).dropped.map((d) => `${d.field}: ${d.reason}`);
}

export function onlyApp(result: ImportResult) {
  expectNoErrors(result);
  if (result.applications.length !== 1) {
    throw new Error(`expected one application, got ${result.applications.length}`);
  }
  return (result.applications[0] as ImportResult['applications'][number]).document;
}

export function expectNoErrors(result: ImportResult): void {
  if (result.errors.length) throw new Error(result.errors.map((e) => e.describe()).join('\n'));
}

/** Parses the output as `driftless apps apply` would, throwing its error. */
export function validates(document: unknown): void {
  validateSpec(JSON.parse(JSON.stringify(document)));
}
