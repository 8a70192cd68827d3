// The AWS emulator: moto in server mode (installed by scripts/lib.sh into a
// virtualenv at a pinned version), serving SQS, DynamoDB, STS, EKS and Secrets
// Manager on one loopback endpoint.

import { existsSync } from 'node:fs';
import path from 'node:path';
import { ManagedProcess, reservePort, TestEnvError } from './process.js';

export interface MotoOptions {
  serverBin: string;
  logDir: string;
  port?: number;
}

export interface MotoInfo {
  endpoint: string;
  region: string;
  accessKeyId: string;
  secretAccessKey: string;
}

export class MotoServer {
  private constructor(
    readonly info: MotoInfo,
    private readonly proc: ManagedProcess,
  ) {}

  static async start(opts: MotoOptions): Promise<MotoServer> {
    if (!existsSync(opts.serverBin)) {
      throw new TestEnvError(
        `moto_server not found at ${opts.serverBin}. Install it with scripts/test (or source scripts/lib.sh; ensure_moto).`,
      );
    }
    const port = await reservePort('moto', opts.port ?? 0);
    const endpoint = `http://127.0.0.1:${port}`;
    const proc = await ManagedProcess.start({
      name: 'moto',
      command: opts.serverBin,
      args: ['-H', '127.0.0.1', '-p', String(port)],
      env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'false' },
      logFile: path.join(opts.logDir, 'moto.log'),
      readyTimeoutMs: 60_000,
      ready: async () => {
        const res = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(2_000) });
        return res.status < 500;
      },
    });
    return new MotoServer(
      { endpoint, region: 'us-east-1', accessKeyId: 'testing', secretAccessKey: 'testing' },
      proc,
    );
  }

  async stop(): Promise<void> {
    await this.proc.stop();
  }
}
