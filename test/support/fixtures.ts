// Table-test fixtures: YAML files under test/fixtures/<area>/<group>/<case>.yaml,
// one case per file, read in a stable order so test names and counts do not
// depend on the file system.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

export const FIXTURES_DIR = fileURLToPath(new URL('../fixtures/', import.meta.url));

export interface Fixture {
  /** `<group>/<case>.yaml`, relative to the area's directory. */
  file: string;
  group: string;
  data: unknown;
}

/** Every `<group>/<case>.yaml` under test/fixtures/<area>, sorted by group, then file. */
export function loadFixtures(area: string): Fixture[] {
  const root = path.join(FIXTURES_DIR, area);
  const out: Fixture[] = [];
  for (const group of readdirSync(root, { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => e.name)
    .sort()) {
    for (const name of readdirSync(path.join(root, group))
      .filter((f) => f.endsWith('.yaml'))
      .sort()) {
      const file = `${group}/${name}`;
      out.push({ file, group, data: parse(readFileSync(path.join(root, file), 'utf8')) });
    }
  }
  return out;
}
