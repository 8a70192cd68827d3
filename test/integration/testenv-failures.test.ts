// A broken environment fails loudly and early, with a message that says what
// to do, and never hangs.

import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TestCluster } from '../../scripts/testenv/cluster.js';
import { MotoServer } from '../../scripts/testenv/moto.js';
import { ManagedProcess, reservePort, tcpOpen } from '../../scripts/testenv/process.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-envfail-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('test environment failures', () => {
  it('names the port and what to do when a fixed port is in use', async () => {
    const blocker = net.createServer().listen(0, '127.0.0.1');
    await new Promise((r) => blocker.once('listening', r));
    const { port } = blocker.address() as net.AddressInfo;
    try {
      await expect(reservePort('kube-apiserver', port)).rejects.toThrow(
        new RegExp(
          `port ${port} for kube-apiserver is already in use.*Stop whatever listens there`,
        ),
      );
    } finally {
      blocker.close();
    }
  });

  it('reports a server that exits before it is ready, with its log, without waiting for the timeout', async () => {
    const started = Date.now();
    await expect(
      ManagedProcess.start({
        name: 'broken-server',
        command: 'sh',
        args: ['-c', 'echo "listen tcp 127.0.0.1:6443: bind: address already in use" >&2; exit 3'],
        logFile: path.join(dir, 'broken.log'),
        ready: async () => false,
        readyTimeoutMs: 60_000,
      }),
    ).rejects.toThrow(
      /broken-server exited \(code 3\) before it was ready[\s\S]*address already in use/,
    );
    expect(Date.now() - started).toBeLessThan(30_000);
  });

  it('gives up on a server that never becomes ready and kills it', async () => {
    const port = await reservePort('probe');
    await expect(
      ManagedProcess.start({
        name: 'silent-server',
        command: 'sleep',
        args: ['300'],
        logFile: path.join(dir, 'silent.log'),
        ready: () => tcpOpen(port),
        readyTimeoutMs: 1_000,
      }),
    ).rejects.toThrow(/silent-server was not ready after 1s/);
  });

  it('says how to build the control plane when its binaries are missing', async () => {
    await expect(
      TestCluster.start({ dir, binDir: path.join(dir, 'no-such-bin'), profile: 'base' }),
    ).rejects.toThrow(
      /etcd not found in .*no-such-bin\. Build the control plane with scripts\/testenv\/build-kube\.sh/,
    );
  });

  it('says how to install moto when it is missing', async () => {
    await expect(
      MotoServer.start({ serverBin: path.join(dir, 'missing/moto_server'), logDir: dir }),
    ).rejects.toThrow(/moto_server not found at .*Install it with scripts\/test/);
  });
});
