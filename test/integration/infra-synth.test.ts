// `cdk synth` from the checkout, the way a user runs it before `cdk deploy`:
// the CDK CLI runs infra/app.ts (cdk.json), esbuild bundles the four
// functions locally, cdk-nag and CloudFormation validation run. Offline: in a
// network namespace of its own where `unshare` is allowed (no network at all),
// and always without AWS credentials, with proxies that refuse every
// connection and npm offline. Without Docker: CDK_DOCKER is a command that
// fails. Then each bundle is loaded in a fresh Node process, as Lambda does at
// a cold start.

import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const CDK = path.join(ROOT, 'node_modules', '.bin', 'cdk');

/** The environment with nothing that reaches AWS, a registry or Docker. */
function offlineEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(AWS_|CDK_)/.test(k) || /_proxy$/i.test(k)) continue;
    env[k] = v;
  }
  return {
    ...env,
    AWS_REGION: 'eu-west-1',
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
    AWS_EC2_METADATA_DISABLED: 'true',
    CDK_DISABLE_CLI_TELEMETRY: 'true',
    CDK_DOCKER: '/bin/false',
    HTTP_PROXY: 'http://127.0.0.1:9',
    HTTPS_PROXY: 'http://127.0.0.1:9',
    NO_PROXY: '',
    npm_config_offline: 'true',
    npm_config_update_notifier: 'false',
  };
}

/** `unshare -n` (a new, empty network namespace) when this machine allows it. */
function withoutNetwork(command: string, args: string[]): [string, string[]] {
  const probe = spawnSync('unshare', ['-n', 'true'], { stdio: 'ignore' });
  if (probe.status === 0) return ['unshare', ['-n', command, ...args]];
  const rootless = spawnSync('unshare', ['-rn', 'true'], { stdio: 'ignore' });
  if (rootless.status === 0) return ['unshare', ['-rn', command, ...args]];
  return [command, args];
}

/** Dummy values for what configFromEnv requires (nothing is called at init). */
const FUNCTION_ENV = {
  AWS_REGION: 'eu-west-1',
  AWS_ACCESS_KEY_ID: 'AKIDEXAMPLE',
  AWS_SECRET_ACCESS_KEY: 'example',
  DRIFTLESS_TABLE: 'driftless',
  DRIFTLESS_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/jobs.fifo',
  DRIFTLESS_DELAY_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/delayed',
  DRIFTLESS_DLQ_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/dead.fifo',
  DRIFTLESS_OUTBOX_QUEUE_URL: 'https://sqs.eu-west-1.amazonaws.com/123456789012/outbox.fifo',
  DRIFTLESS_WEBHOOK_SECRET_ID: 'webhook',
  DRIFTLESS_GITHUB_TOKEN_SECRET_ID: 'github',
  POWERTOOLS_METRICS_NAMESPACE: 'Driftless',
};

describe('cdk synth', () => {
  let out: string;
  let result: { stdout: string; stderr: string };

  beforeAll(async () => {
    out = mkdtempSync(path.join(tmpdir(), 'driftless-cdk-'));
    const [command, args] = withoutNetwork(CDK, [
      'synth',
      '--quiet',
      '--no-notices',
      '--output',
      out,
    ]);
    result = await run(command, args, {
      cwd: ROOT,
      env: offlineEnv(),
      timeout: 280_000,
      maxBuffer: 64 * 1024 * 1024,
    });
  }, 300_000);

  afterAll(() => {
    if (out) rmSync(out, { recursive: true, force: true });
  });

  it('writes the template and the bundled assets', () => {
    for (const file of ['manifest.json', 'Driftless.template.json', 'Driftless.assets.json']) {
      expect(existsSync(path.join(out, file)), file).toBe(true);
    }
    expect(`${result.stdout}${result.stderr}`).not.toMatch(/docker/i);
  });

  it('bundles each function into one ESM file with the SDK inside', async () => {
    const template = JSON.parse(readFileSync(path.join(out, 'Driftless.template.json'), 'utf8'));
    const functions = Object.entries(
      template.Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>,
    ).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    // webhook, worker, sweep, api, outbox.
    expect(functions).toHaveLength(5);
    const report: string[] = [];
    for (const [id, fn] of functions) {
      const key = (fn.Properties.Code as { S3Key: string }).S3Key.replace(/\.zip$/, '');
      const bundle = path.join(out, `asset.${key}`, 'index.mjs');
      expect(existsSync(bundle), id).toBe(true);
      // The shipped schemas the validator reads, beside the bundle.
      expect(existsSync(path.join(out, `asset.${key}`, 'schemas', 'v1.34.json.gz')), id).toBe(true);
      const code = readFileSync(bundle, 'utf8');
      expect(code.startsWith('import{createRequire as __driftlessRequire}'), id).toBe(true);
      expect(code, id).not.toMatch(/from\s*"@aws-sdk\//);
      expect(code, id).not.toMatch(/sourceMappingURL/);
      const size = statSync(bundle).size;
      expect(size, id).toBeLessThan(10 * 1024 * 1024);

      // Cold start: module initialisation in a fresh process, median of three.
      const times: number[] = [];
      for (let i = 0; i < 3; i++) {
        const { stdout } = await run(
          process.execPath,
          [
            '--input-type=module',
            '-e',
            `const t = performance.now(); const m = await import(${JSON.stringify(bundle)});
             if (typeof m.handler !== 'function') throw new Error('no handler export');
             console.log(performance.now() - t);`,
          ],
          { env: { ...offlineEnv(), ...FUNCTION_ENV }, timeout: 30_000 },
        );
        times.push(Number(stdout.trim()));
      }
      times.sort((a, b) => a - b);
      report.push(
        `${id}: ${(size / 1024).toFixed(0)} KiB, module init ${times[1]?.toFixed(0)} ms (median of 3)`,
      );
    }
    console.log(`[driftless] bundles:\n  ${report.join('\n  ')}`);
  }, 120_000);
});
