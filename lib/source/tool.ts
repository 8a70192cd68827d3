// Runs a rendering tool (kubectl kustomize, helm template) as a bounded child
// process: a wall-clock timeout and a cap on stdout, either of which kills
// the tool's whole process group and fails with a RenderFailed error. The
// environment is exactly what the caller passes, nothing inherited: no
// credentials of the worker (AWS keys, tokens) reach a tool that runs
// templates from a repository.

import { spawn } from 'node:child_process';
import { DriftlessError, type ErrorLocation } from '../errors.js';

export interface RunToolOptions {
  /** What the tool is doing, for errors: `kubectl kustomize`, `helm template`. */
  what: string;
  /** The complete environment of the process. */
  env: Record<string, string>;
  cwd: string;
  timeoutMs: number;
  /** Bytes of stdout; more kills the tool. */
  maxOutputBytes: number;
  /** Where a timeout or cap error points (the kustomization, the chart). */
  location?: ErrorLocation;
}

export interface ToolResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  /** The first 64 KiB of stderr. */
  stderr: string;
}

const MAX_STDERR_BYTES = 64 * 1024;

/** Runs bin with args; resolves with its exit status and output, whatever the status. */
export function runTool(
  bin: string,
  args: readonly string[],
  opts: RunToolOptions,
): Promise<ToolResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, {
      cwd: opts.cwd,
      env: opts.env,
      stdio: ['ignore', 'pipe', 'pipe'],
      // Its own process group, so a kill reaches anything it started too.
      detached: true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let outBytes = 0;
    let errBytes = 0;
    let failure: DriftlessError | undefined;
    let exited = false;
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      finish();
    };

    const fail = (message: string) => {
      if (failure) return;
      const error = new DriftlessError('RenderFailed', message, opts.location ?? {});
      failure = error;
      killGroup(child.pid);
      // Pipes a descendant may still hold need not be read any more.
      child.stdout.destroy();
      child.stderr.destroy();
      if (exited) settle(() => reject(error));
    };
    // Runs until the output is complete, not only until the process exits: a
    // descendant holding the pipes open is killed with the group too.
    const timer = setTimeout(
      () => fail(`${opts.what} did not finish within ${formatMs(opts.timeoutMs)} and was killed`),
      opts.timeoutMs,
    );

    child.stdout.on('data', (chunk: Buffer) => {
      outBytes += chunk.length;
      if (outBytes > opts.maxOutputBytes) {
        fail(
          `${opts.what} wrote more than ${formatBytes(opts.maxOutputBytes)} of output and was killed`,
        );
        return;
      }
      out.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => {
      if (errBytes >= MAX_STDERR_BYTES) return;
      err.push(chunk.subarray(0, MAX_STDERR_BYTES - errBytes));
      errBytes += chunk.length;
    });
    child.on('error', (e: NodeJS.ErrnoException) => {
      killGroup(child.pid);
      settle(() =>
        reject(
          new DriftlessError(
            'RenderFailed',
            `cannot run ${opts.what}: ${bin}: ${e.code ?? e.message}`,
            opts.location ?? {},
            { cause: e },
          ),
        ),
      );
    });
    child.on('exit', () => {
      exited = true;
      const error = failure;
      if (error) settle(() => reject(error));
    });
    // 'close': the process has exited and its output is read to the end.
    child.on('close', (exitCode, signal) => {
      const error = failure;
      settle(() =>
        error
          ? reject(error)
          : resolve({
              exitCode,
              signal,
              stdout: Buffer.concat(out).toString('utf8'),
              stderr: Buffer.concat(err).toString('utf8'),
            }),
      );
    });
  });
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
}

function formatMs(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(ms % 1000 ? 1 : 0)} s` : `${ms} ms`;
}

function formatBytes(n: number): string {
  const MiB = 1024 * 1024;
  if (n >= MiB) return `${(n / MiB).toFixed(n % MiB ? 1 : 0)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(n % 1024 ? 1 : 0)} KiB`;
  return `${n} bytes`;
}

/** Where any HTTP(S) request of a tool goes: a closed loopback port, so it fails at once. */
const NO_ROUTE_PROXY = 'http://127.0.0.1:9';

/**
 * The whole environment of a rendering tool, in an empty per-render
 * directory: no PATH (kustomize cannot run git for a remote base, no plugin
 * can be found), every proxy variable pointing at a closed port (Go's HTTP
 * clients, Helm's and kustomize's, honour them), no kubeconfig, nothing of
 * the worker's own environment. Defence in depth: remote references are
 * refused before a tool runs.
 */
export function toolEnvironment(
  tempDir: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    PATH: '',
    HOME: tempDir,
    TMPDIR: tempDir,
    LANG: 'C',
    HTTP_PROXY: NO_ROUTE_PROXY,
    HTTPS_PROXY: NO_ROUTE_PROXY,
    http_proxy: NO_ROUTE_PROXY,
    https_proxy: NO_ROUTE_PROXY,
    NO_PROXY: '',
    no_proxy: '',
    KUBECONFIG: `${tempDir}/no-kubeconfig`,
    ...extra,
  };
}

/**
 * The first lines of a tool's stderr as one line, for an error message: without the
 * `Error:` prefix and hints about flags the user cannot pass, and with the
 * checkout's location on disk removed so paths read as in the repository.
 */
export function toolMessage(result: ToolResult, checkoutRoot: string, maxLines = 4): string {
  const lines = result.stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^Use --debug flag/.test(l))
    .map((l) => l.replace(/^(Error|error): /, ''));
  // One line: these messages end up in statuses and commit statuses.
  let text = lines.slice(0, maxLines).join(' ');
  if (lines.length > maxLines) text += ' …';
  text = text.split(`${checkoutRoot}/`).join('').split(checkoutRoot).join('.');
  if (text.length > 1000) text = `${text.slice(0, 1000)}…`;
  if (text) return text;
  return result.signal ? `killed by ${result.signal}` : `exited with code ${result.exitCode}`;
}
