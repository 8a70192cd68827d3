// Running kubectl for the benchmark: wall time of the whole process, and the
// number of API requests it made, read from its own request log.
//
// With -v=6, client-go logs one line per HTTP response. kubectl 1.34 prints
// them structured:
//   I1122 02:10:28.378 17587 round_trippers.go:632] "Response" verb="PATCH" url="https://…" status="201 Created" milliseconds=5
// and older releases as
//   I0101 00:00:00.000 1 round_trippers.go:553] GET https://… 200 OK in 3 milliseconds
// Both are counted; a request that got no response (connection failure) is not.
// Client-side throttling shows as "Waited for … due to client-side throttling".

import { spawn } from 'node:child_process';
import { performance } from 'node:perf_hooks';

export interface KubectlRun {
  ms: number;
  code: number;
  stdout: string;
  stderr: string;
}

export interface KubectlRequests {
  total: number;
  byVerb: Record<string, number>;
  /** Requests that client-side rate limiting delayed. */
  throttled: number;
}

export class Kubectl {
  constructor(
    readonly bin: string,
    private readonly kubeconfig: string,
    /** kubectl's discovery and HTTP cache (warm after the first run). */
    private readonly cacheDir: string,
    private readonly home: string,
  ) {}

  /** Runs kubectl; resolves with its exit code (non-zero is not an error here). */
  run(args: string[]): Promise<KubectlRun> {
    const full = [`--kubeconfig=${this.kubeconfig}`, `--cache-dir=${this.cacheDir}`, ...args];
    return new Promise((resolve, reject) => {
      const start = performance.now();
      const child = spawn(this.bin, full, {
        env: { PATH: process.env.PATH, HOME: this.home, LANG: 'C' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      const out: Buffer[] = [];
      const err: Buffer[] = [];
      child.stdout.on('data', (c: Buffer) => out.push(c));
      child.stderr.on('data', (c: Buffer) => err.push(c));
      child.on('error', reject);
      child.on('close', (code) => {
        resolve({
          ms: performance.now() - start,
          code: code ?? -1,
          stdout: Buffer.concat(out).toString('utf8'),
          stderr: Buffer.concat(err).toString('utf8'),
        });
      });
    });
  }

  /** Runs kubectl with -v=6 and counts the API requests in its log. */
  async runCounted(args: string[]): Promise<KubectlRun & { requests: KubectlRequests }> {
    const run = await this.run([...args, '-v=6']);
    return { ...run, requests: countRequests(run.stderr) };
  }
}

const STRUCTURED = /round_trippers\.go:\d+\] "Response" verb="([A-Z]+)" url="([^"]*)"/;
const LEGACY = /round_trippers\.go:\d+\] ([A-Z]+) (https?:\/\/\S+) \d{3} .* in \d+ milliseconds/;

export function countRequests(log: string): KubectlRequests {
  const byVerb: Record<string, number> = {};
  let total = 0;
  let throttled = 0;
  for (const line of log.split('\n')) {
    if (line.includes('due to client-side throttling')) throttled++;
    const m = STRUCTURED.exec(line) ?? LEGACY.exec(line);
    if (!m) continue;
    const url = m[2] as string;
    let verb = (m[1] as string).toLowerCase();
    if (verb === 'patch' && url.includes('dryRun=All')) verb = 'patch-dry-run';
    else if (verb === 'get' && (/\/openapi\//.test(url) || /\/apis?(\?|$)/.test(url)))
      verb = 'discovery/openapi';
    byVerb[verb] = (byVerb[verb] ?? 0) + 1;
    total++;
  }
  return { total, byVerb, throttled };
}
