// runTool, the bounded child process kustomize and helm run in: timeout,
// output cap, a clean environment, stderr for messages. The tools here are
// tiny shell scripts standing in for kubectl and helm (the integration tests
// run the real ones).

import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool, toolEnvironment, toolMessage } from '../../../lib/source/tool.js';
import { rejection } from '../../support/errors.js';
import { eventually } from '../../support/kube.js';

/** Whether a process exists (signal 0 checks without sending anything). */
function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw e;
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-fake-tool-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function fakeTool(name: string, script: string): Promise<string> {
  const file = path.join(dir, name);
  await writeFile(file, `#!/bin/sh\n${script}\n`);
  await chmod(file, 0o755);
  return file;
}

const opts = (extra: Partial<Parameters<typeof runTool>[2]> = {}) => ({
  what: 'fake render',
  env: toolEnvironment(dir, { PATH: '/usr/bin:/bin' }),
  cwd: dir,
  timeoutMs: 10_000,
  maxOutputBytes: 1024 * 1024,
  ...extra,
});

describe('runTool', () => {
  it('returns stdout, stderr and the exit code', async () => {
    const bin = await fakeTool('ok', 'echo "kind: ConfigMap"; echo "a warning" >&2; exit 3');
    const result = await runTool(bin, [], opts());
    expect(result).toMatchObject({
      exitCode: 3,
      stdout: 'kind: ConfigMap\n',
      stderr: 'a warning\n',
    });
  });

  it('kills a tool that runs past the timeout, with everything it started', {
    timeout: 60_000,
  }, async () => {
    const pidFile = path.join(dir, 'child.pid');
    // A child that outlives its parent would hold the pipes open; the group kill ends it too.
    const bin = await fakeTool('slow', `sleep 300 & echo $! > ${pidFile}; sleep 300`);
    const started = Date.now();
    const e = await rejection(
      runTool(bin, [], opts({ timeoutMs: 300, location: { file: 'k.yaml' } })),
    );
    // Killed, not waited for: far less than the 300 s either sleep would take
    // (generous, the machine may be busy).
    expect(Date.now() - started).toBeLessThan(30_000);
    expect(e.reason).toBe('RenderFailed');
    expect(e.location.file).toBe('k.yaml');
    expect(e.message).toBe('fake render did not finish within 300 ms and was killed');
    // The background child was started, and is gone with its group.
    const pid = Number((await readFile(pidFile, 'utf8')).trim());
    expect(pid).toBeGreaterThan(1);
    await eventually(
      `process ${pid} to be gone`,
      async () => (alive(pid) ? undefined : true),
      20_000,
    );
  });

  it('kills a tool whose output exceeds the cap', async () => {
    const bin = await fakeTool(
      'chatty',
      'while :; do echo "0123456789abcdef0123456789abcdef"; done',
    );
    const e = await rejection(runTool(bin, [], opts({ maxOutputBytes: 64 * 1024 })));
    expect(e.reason).toBe('RenderFailed');
    expect(e.message).toBe('fake render wrote more than 64 KiB of output and was killed');
  });

  it('gives the tool only the environment it is passed: no credentials, no route out', async () => {
    process.env.AWS_SECRET_ACCESS_KEY = 'must-not-leak';
    try {
      const bin = await fakeTool('print-env', 'exec /usr/bin/env');
      const { stdout } = await runTool(bin, [], opts({ env: toolEnvironment(dir) }));
      const env = Object.fromEntries(
        stdout
          .trim()
          .split('\n')
          .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
      );
      expect(env.AWS_SECRET_ACCESS_KEY).toBeUndefined();
      expect(env).toMatchObject({
        PATH: '',
        HOME: dir,
        HTTPS_PROXY: 'http://127.0.0.1:9',
        https_proxy: 'http://127.0.0.1:9',
      });
    } finally {
      delete process.env.AWS_SECRET_ACCESS_KEY;
    }
  });

  it('fails clearly when the binary is missing', async () => {
    const e = await rejection(runTool(path.join(dir, 'nope'), [], opts()));
    expect(e.reason).toBe('RenderFailed');
    expect(e.message).toBe(`cannot run fake render: ${path.join(dir, 'nope')}: ENOENT`);
  });
});

describe('toolMessage', () => {
  it('keeps the first lines as one, without the checkout location or flag hints', () => {
    const root = '/tmp/driftless-git/trees/abc';
    const message = toolMessage(
      {
        exitCode: 1,
        signal: null,
        stdout: '',
        stderr: `Error: accumulating resources from '${root}/base/x.yaml':\n  no such file\n\nUse --debug flag to render out invalid YAML\n`,
      },
      root,
    );
    expect(message).toBe("accumulating resources from 'base/x.yaml': no such file");
    expect(toolMessage({ exitCode: 2, signal: null, stdout: '', stderr: '' }, root)).toBe(
      'exited with code 2',
    );
  });
});
