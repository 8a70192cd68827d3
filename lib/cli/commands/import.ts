// driftless import FILE...: Argo CD Applications (and AppProjects,
// ApplicationSets) and Flux GitRepository + Kustomization, HelmRepository +
// HelmRelease manifests to Driftless Applications — YAML on stdout (-o json:
// the Applications and the report as JSON) or one file per Application with
// --out-dir DIR — and a report on stderr of every field that could not be
// mapped and why. Offline. Exit 0: everything mapped; 1: something dropped;
// 2: input that cannot be read (nothing is written then).

import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { DriftlessError } from '../../errors.js';
import { DNS_LABEL } from '../../model/common.js';
import {
  applicationYaml,
  type ImportedObject,
  type ImportResult,
  importFiles,
} from '../../model/import/index.js';
import { type Command, type CommandContext, UsageError } from '../command.js';
import { type Printer, paint } from '../output.js';

export const importCommand: Command = {
  name: 'import',
  local: true,
  run: runImport,
};

/** `KEY=NAME` pairs; the key may hold `=` (a URL's query), the name may not. */
export function parseClusterMap(pairs: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.lastIndexOf('=');
    const key = pair.slice(0, at);
    const name = pair.slice(at + 1);
    if (at <= 0 || !DNS_LABEL.test(name)) {
      throw new UsageError(
        `--cluster-map ${pair}: expected SERVER-OR-NAME=CLUSTER, CLUSTER a Driftless cluster name`,
      );
    }
    map[key] = name;
  }
  return map;
}

async function runImport(ctx: CommandContext): Promise<number> {
  const { p, flags, args } = ctx;
  if (args.length === 0) throw new UsageError('import needs FILE... (Argo CD or Flux manifests)');
  if (flags.cluster !== undefined && !DNS_LABEL.test(flags.cluster)) {
    throw new UsageError(
      `--cluster ${flags.cluster}: must be a Driftless cluster name (a DNS label)`,
    );
  }
  const clusterMap = parseClusterMap(flags['cluster-map'] ?? []);
  const files: { file: string; text: string }[] = [];
  const unreadable: DriftlessError[] = [];
  for (const file of args) {
    try {
      files.push({ file, text: await readFile(file, 'utf8') });
    } catch (e) {
      unreadable.push(
        new DriftlessError(
          'InvalidSpec',
          `cannot read: ${(e as NodeJS.ErrnoException).code ?? e}`,
          {
            file,
          },
        ),
      );
    }
  }
  const result = importFiles(files, {
    ...(flags.cluster ? { cluster: flags.cluster } : {}),
    clusterMap,
  });
  const errors = [...unreadable, ...result.errors];
  if (errors.length) {
    for (const e of errors) p.err(`${paint(p, 'red', 'error')} ${e.describe()}`);
    p.err(`nothing imported: ${errors.length} error(s)`);
    return 2;
  }
  report(p, result);
  if (flags['out-dir']) {
    const dir = flags['out-dir'];
    await mkdir(dir, { recursive: true });
    for (const app of result.applications) {
      const file = path.join(dir, `${app.name}.yaml`);
      await writeFile(file, applicationYaml(app.document));
      p.err(`wrote ${file}`);
    }
  } else if (p.format === 'json') {
    p.out(
      JSON.stringify(
        { applications: result.applications.map((a) => a.document), objects: result.objects },
        null,
        2,
      ),
    );
  } else if (result.applications.length) {
    p.out(result.applications.map((a) => applicationYaml(a.document)).join('---\n'));
  }
  return result.objects.some((o) => o.dropped.length) ? 1 : 0;
}

function where(o: ImportedObject, line: number): string {
  return `${o.file}:${line}: ${o.object}`;
}

/** The report, on stderr: per object, what it became, what was dropped and why. */
function report(p: Printer, result: ImportResult): void {
  let dropped = 0;
  for (const o of result.objects) {
    const became = o.application
      ? `→ Application ${o.application}`
      : o.usedBy.length
        ? `→ source of ${o.usedBy.join(', ')}`
        : 'not imported';
    p.err(`${where(o, o.line)} ${became}`);
    for (const d of o.dropped) {
      dropped++;
      p.err(
        `  ${where(o, d.line)}${d.field ? `: ${d.field}` : ''}: ${paint(p, 'yellow', 'dropped')}: ${d.reason}`,
      );
    }
    for (const n of o.notes) {
      p.err(`  ${where(o, n.line)}${n.field ? `: ${n.field}` : ''}: note: ${n.message}`);
    }
  }
  p.err(
    `${result.applications.length} Application(s) from ${result.objects.length} object(s); ` +
      (dropped ? `${dropped} field(s) not mapped` : 'everything mapped'),
  );
}
