// The architecture rules of docs/architecture.md, checked with dependency-cruiser
// against the code, and against a fixture tree that breaks each rule once, so
// a rule that silently stopped matching fails here too.

import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type IReporterOutput } from 'dependency-cruiser';
import { describe, expect, it } from 'vitest';
import config from '../../.dependency-cruiser.mjs';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

async function violations(baseDir: string, dirs: string[]) {
  const result: IReporterOutput = await cruise(dirs, {
    ...config.options,
    baseDir,
    validate: true,
    ruleSet: { forbidden: config.forbidden, required: config.required },
  });
  if (typeof result.output === 'string') throw new Error('expected a cruise result, got text');
  return {
    cruised: result.output.summary.totalCruised,
    found: result.output.summary.violations.map((v) => ({
      rule: v.rule.name,
      from: v.from,
      to: v.to,
    })),
  };
}

describe('architecture', () => {
  it('the code keeps every dependency rule', async () => {
    const { cruised, found } = await violations(root, [
      'lib',
      'functions',
      'infra',
      'scripts',
      'bench',
      'test/support',
    ]);
    expect(cruised).toBeGreaterThan(100);
    expect(found).toEqual([]);
    // Cruising the whole tree takes ~3 s alone and over 5 s on a loaded 2-core machine.
  }, 120_000);

  it('each rule fires on the fixture tree that breaks it', async () => {
    const { found } = await violations(path.join(root, 'test/fixtures/architecture'), [
      'lib',
      'functions',
      'infra',
    ]);
    const by = (rule: string) =>
      found.filter((v) => v.rule === rule).map((v) => `${v.from} → ${v.to}`);
    // A cycle is reported once, from its first module.
    expect(by('no-cycles')).toEqual(['lib/model/left.ts → lib/model/right.ts']);
    // lib/model/allowed.ts imports lib/errors.ts and the model: no rule fires on it.
    expect(by('model-imports-only-itself-and-errors')).toEqual([
      'lib/model/kind.ts → lib/kube/client.ts',
    ]);
    expect(by('lib-not-to-functions-or-infra')).toEqual([
      'lib/uses-handler.ts → functions/handler.ts',
      'lib/uses-stack.ts → infra/stack.ts',
    ]);
    // lib/ports/store.ts imports the errors, the model and another port: no rule fires on it.
    expect(by('ports-not-to-adapters')).toEqual([
      'lib/ports/cluster.ts → lib/aws/adapter.ts',
      'lib/ports/queue.ts → lib/aws/queue.ts',
    ]);
    expect(by('aws-adapters-not-to-services')).toEqual([
      'lib/aws/adapter.ts → lib/reconcile.ts',
      'lib/aws/queue.ts → lib/api/index.ts',
      'lib/aws/queue.ts → lib/github/outbox.ts',
      'lib/aws/queue.ts → lib/sweep/index.ts',
      'lib/aws/queue.ts → lib/worker.ts',
    ]);
    expect(by('lib-no-lambda-or-cdk')).toHaveLength(1);
    expect(by('lib-no-lambda-or-cdk')[0]).toMatch(/^lib\/middleware\.ts → .*@middy\/core/);
    expect(by('no-unresolvable')).toEqual(['lib/missing.ts → ./not-there.js']);
    // A required dependency that is missing is reported on the module itself.
    expect(by('stack-imports-env-names')).toEqual(['infra/stack.ts → infra/stack.ts']);
    expect(by('webhook-imports-table-schema')).toEqual([
      'functions/webhook.ts → functions/webhook.ts',
    ]);
    // Those and nothing else: no rule fires on the allowed imports.
    expect(found).toHaveLength(15);
    expect(found.filter((v) => /^lib\/(model\/allowed|ports\/store)\.ts$/.test(v.from))).toEqual(
      [],
    );
  });
});

describe('docs/architecture.md', () => {
  const doc = readFileSync(path.join(root, 'docs/architecture.md'), 'utf8');
  const named = [...doc.matchAll(/`((?:lib|functions|infra)\/[\w./-]*)`/g)].map((m) =>
    (m[1] as string).replace(/\/$/, ''),
  );

  it('names only files and folders that exist', () => {
    expect(named.length).toBeGreaterThan(20);
    const missing = named.filter((p) => {
      try {
        statSync(path.join(root, p));
        return false;
      } catch {
        return true;
      }
    });
    expect(missing).toEqual([]);
  });

  it('names every folder of lib/', () => {
    const folders: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
        if (!e.isDirectory()) continue;
        folders.push(`${dir}/${e.name}`);
        walk(`${dir}/${e.name}`);
      }
    };
    walk('lib');
    expect(folders.filter((f) => !named.includes(f))).toEqual([]);
  });
});

describe('test/unit', () => {
  it('mirrors lib/: each test file names the module it tests, at the same path', () => {
    const strays: string[] = [];
    const walk = (dir: string) => {
      for (const e of readdirSync(path.join(root, dir), { withFileTypes: true })) {
        const rel = `${dir}/${e.name}`;
        if (e.isDirectory()) walk(rel);
        else if (e.name.endsWith('.test.ts')) {
          const module = rel.replace(/^test\/unit\//, 'lib/').replace(/\.test\.ts$/, '.ts');
          try {
            statSync(path.join(root, module));
          } catch {
            strays.push(rel);
          }
        }
      }
    };
    walk('test/unit');
    // The two that test no lib module: this file, and the CDK stack's.
    expect(strays.sort()).toEqual(['test/unit/architecture.test.ts', 'test/unit/infra.test.ts']);
  });
});
