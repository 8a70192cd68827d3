// What processes cost, read from /proc: CPU time (utime + stime, of a process
// or of this process's reaped children) and peak resident memory (VmHWM).

import { execFile } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const exec = promisify(execFile);

let clockTicks = 100;

/** Reads the clock tick rate once (getconf CLK_TCK); 100 if it cannot be read. */
export async function initClockTicks(): Promise<void> {
  clockTicks = Number((await exec('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
}

function ticksOf(stat: string, fields: number[]): number {
  // Fields after "(comm) ", counted from 3 (state) as proc(5) numbers them.
  const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return fields.reduce((sum, f) => sum + Number(rest[f - 3]), 0);
}

/** CPU milliseconds (user + system) a process has used so far. */
export async function processCpuMs(pid: number): Promise<number> {
  return (ticksOf(await readFile(`/proc/${pid}/stat`, 'utf8'), [14, 15]) * 1000) / clockTicks;
}

/** CPU milliseconds of this process's reaped children. */
export async function reapedChildrenCpuMs(): Promise<number> {
  return (ticksOf(await readFile('/proc/self/stat', 'utf8'), [16, 17]) * 1000) / clockTicks;
}

/** Peak resident set size of a process (VmHWM), in bytes. */
export async function peakRssBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = /^VmHWM:\s+(\d+) kB/m.exec(status)?.[1];
  if (kb === undefined) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(kb) * 1024;
}

/** The etcd and kube-apiserver of one scripts/testenv cluster (by its directory). */
export class ServerCpu {
  private constructor(readonly pids: number[]) {}

  static async find(clusterDir: string): Promise<ServerCpu> {
    const pids: number[] = [];
    for (const entry of await readdir('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      const cmdline = await readFile(`/proc/${entry}/cmdline`, 'utf8').catch(() => '');
      const argv0 = path.basename(cmdline.split('\0')[0] ?? '');
      if ((argv0 === 'etcd' || argv0 === 'kube-apiserver') && cmdline.includes(clusterDir)) {
        pids.push(Number(entry));
      }
    }
    if (pids.length !== 2)
      throw new Error(`expected etcd and kube-apiserver, found ${pids.length}`);
    return new ServerCpu(pids);
  }

  /** CPU milliseconds of kube-apiserver + etcd so far. */
  async ms(): Promise<number> {
    let ms = 0;
    for (const pid of this.pids) ms += await processCpuMs(pid);
    return ms;
  }
}
