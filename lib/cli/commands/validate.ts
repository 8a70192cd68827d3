// driftless validate PATH...: manifests and app specs, offline (exit 1 on errors).

import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { isDriftlessError } from '../../errors.js';
import { parseSpecs } from '../../model/application.js';
import { loadManifests } from '../../source/index.js';
import { type Command, type CommandContext, UsageError } from '../command.js';
import { type Printer, paint } from '../output.js';

export const validate: Command = {
  name: 'validate',
  local: true,
  run: (ctx: CommandContext) => validatePaths(ctx.p, ctx.args),
};

async function validatePaths(p: Printer, paths: string[]): Promise<number> {
  if (paths.length === 0) throw new UsageError('validate needs at least one PATH');
  const problems: string[] = [];
  let objects = 0;
  let specs = 0;
  for (const target of paths) {
    const abs = path.resolve(target);
    const info = await stat(abs).catch(() => undefined);
    if (!info) {
      problems.push(`${target}: no such file or directory`);
      continue;
    }
    const root = info.isDirectory() ? abs : path.dirname(abs);
    try {
      const manifests = await loadManifests(root, info.isDirectory() ? '.' : path.basename(abs));
      for (const m of manifests) {
        // Driftless's own specs are checked against their schema; the rest are Kubernetes objects.
        if (m.object.apiVersion === 'driftless.dev/v1') {
          const text = await readFile(path.join(root, m.file), 'utf8');
          parseSpecs(text, path.join(target, info.isDirectory() ? m.file : ''));
          specs++;
        } else objects++;
      }
    } catch (e) {
      problems.push(
        isDriftlessError(e) ? `${target}: ${e.describe()}` : `${target}: ${(e as Error).message}`,
      );
    }
  }
  if (problems.length) {
    for (const pr of problems) p.err(`${paint(p, 'red', 'invalid')} ${pr}`);
    return 1;
  }
  p.out(`${paint(p, 'green', 'valid')}: ${objects} objects, ${specs} Driftless specs`);
  return 0;
}
