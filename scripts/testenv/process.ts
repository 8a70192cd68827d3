// Child processes of the test environment: each server runs in its own process
// group with its output in a log file, is probed until ready (failing early
// with the log's tail if it exits or times out), and is shadowed by a watchdog
// that kills the group if this Node process dies without stopping it, so a
// crashed or SIGKILLed test run leaves no orphan servers behind.

import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { closeSync, openSync, readFileSync } from 'node:fs';
import net from 'node:net';

export class TestEnvError extends Error {
  override name = 'TestEnvError';
}

export interface StartOptions {
  name: string;
  command: string;
  args: string[];
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Resolves true once the server serves; polled until readyTimeoutMs. */
  ready: () => Promise<boolean>;
  readyTimeoutMs?: number;
}

export class ManagedProcess {
  private exited: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exitPromise: Promise<void>;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
    private readonly watchdog: ChildProcess,
    readonly logFile: string,
  ) {
    this.exitPromise = once(child, 'exit').then(([code, signal]) => {
      this.exited = { code: code as number | null, signal: signal as NodeJS.Signals | null };
    });
  }

  static async start(opts: StartOptions): Promise<ManagedProcess> {
    const out = openSync(opts.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(opts.command, opts.args, {
        cwd: opts.cwd,
        env: opts.env ?? process.env,
        detached: true, // own process group, killed as a whole
        stdio: ['ignore', out, out],
      });
    } finally {
      closeSync(out);
    }
    const spawnError = await Promise.race([
      once(child, 'spawn').then(() => undefined),
      once(child, 'error').then(([e]) => e as Error),
    ]);
    if (spawnError) {
      throw new TestEnvError(`${opts.name}: cannot start ${opts.command}: ${spawnError.message}`);
    }
    const pgid = child.pid as number;
    const watchdog = spawn(
      'sh',
      [
        '-c',
        'while kill -0 "$1" 2>/dev/null && kill -0 "$2" 2>/dev/null; do sleep 1; done; ' +
          'kill -TERM -"$2" 2>/dev/null; sleep 3; kill -KILL -"$2" 2>/dev/null; exit 0',
        'watchdog',
        String(process.pid),
        String(pgid),
      ],
      { detached: true, stdio: 'ignore' },
    );
    watchdog.unref();
    child.unref();
    const proc = new ManagedProcess(opts.name, child, watchdog, opts.logFile);
    await proc.waitReady(opts.ready, opts.readyTimeoutMs ?? 60_000);
    return proc;
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get running(): boolean {
    return this.exited === undefined;
  }

  logTail(lines = 30): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  private async waitReady(ready: () => Promise<boolean>, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastError = '';
    while (Date.now() < deadline) {
      if (this.exited) {
        const how = this.exited.signal ?? `code ${this.exited.code}`;
        throw new TestEnvError(
          `${this.name} exited (${how}) before it was ready. Last lines of ${this.logFile}:\n${this.logTail()}`,
        );
      }
      try {
        if (await ready()) return;
      } catch (e) {
        lastError = (e as Error).message;
      }
      await sleep(200);
    }
    await this.stop();
    throw new TestEnvError(
      `${this.name} was not ready after ${timeoutMs / 1000}s${lastError ? ` (last probe: ${lastError})` : ''}. ` +
        `Last lines of ${this.logFile}:\n${this.logTail()}`,
    );
  }

  /** SIGTERM the process group, SIGKILL after graceMs; resolves once it is gone. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.running) {
      signalGroup(this.pid, 'SIGTERM');
      const timer = setTimeout(() => signalGroup(this.pid, 'SIGKILL'), graceMs);
      await this.exitPromise;
      clearTimeout(timer);
    }
    // Stragglers in the group (children of the server) go too.
    signalGroup(this.pid, 'SIGKILL');
    this.watchdog.kill('SIGKILL');
  }

  /** Kill without grace, as a crash would (used by fault-injection tests). */
  async kill(): Promise<void> {
    signalGroup(this.pid, 'SIGKILL');
    await this.exitPromise;
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** A free loopback port, or the requested one if it is free; fails loudly if taken. */
export async function reservePort(name: string, wanted = 0): Promise<number> {
  const server = net.createServer();
  try {
    server.listen({ host: '127.0.0.1', port: wanted, exclusive: true });
    await Promise.race([
      once(server, 'listening'),
      once(server, 'error').then(([e]) => {
        throw e;
      }),
    ]);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === 'EADDRINUSE') {
      throw new TestEnvError(
        `port ${wanted} for ${name} is already in use on 127.0.0.1. ` +
          'Stop whatever listens there (ss -ltnp | grep :PORT) or choose another port.',
      );
    }
    throw err;
  }
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/** True once something accepts TCP connections on host:port. */
export function tcpOpen(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
