// Chart repositories on loopback for the chart-source tests, both real:
// - HelmRepoServer: a static HTTP server over a directory of packages made by
//   the layer's helm (`helm package`) and its index (`helm repo index`), with
//   ETags (as a CDN or GitHub Pages serves an index) and every request counted.
// - OciRegistry: the distribution registry (built by
//   scripts/testenv/build-registry.sh from its pinned Go module) with token
//   authentication: its `auth: token` realm is a token server here that checks
//   basic credentials and signs RS256 JWTs with a self-signed certificate the
//   registry trusts (x5c); repositories under public/ may be pulled
//   anonymously. Charts are pushed with `helm push`.

import { execFile, execFileSync } from 'node:child_process';
import { createHash, randomUUID, sign } from 'node:crypto';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { ManagedProcess, reservePort } from '../../scripts/testenv/process.js';
import { provideRenderTools } from './render-tools.js';

const here = path.dirname(fileURLToPath(import.meta.url));

/**
 * Runs the layer's helm with homes of its own (no user config is read or
 * written). Asynchronously: the token server helm talks to runs in this process.
 */
export async function helm(args: string[], home: string): Promise<string> {
  const layer = await provideRenderTools();
  const { stdout } = await promisify(execFile)(layer.helm, args, {
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH,
      HOME: home,
      HELM_CACHE_HOME: path.join(home, 'cache'),
      HELM_CONFIG_HOME: path.join(home, 'config'),
      HELM_DATA_HOME: path.join(home, 'data'),
    },
  });
  return stdout;
}

/** Writes a chart's files under `dir/<name>` and packages it into `outDir`; returns the .tgz path. */
export async function packageChart(
  files: Record<string, string>,
  name: string,
  outDir: string,
): Promise<string> {
  const src = await mkdtemp(path.join(os.tmpdir(), 'driftless-chartsrc-'));
  try {
    for (const [rel, text] of Object.entries(files)) {
      const file = path.join(src, name, rel);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, text);
    }
    await mkdir(outDir, { recursive: true });
    const out = await helm(['package', path.join(src, name), '-d', outDir], src);
    const m = /saved it to: (.+\.tgz)/.exec(out);
    if (!m?.[1]) throw new Error(`helm package printed no archive: ${out}`);
    return m[1].trim();
  } finally {
    await rm(src, { recursive: true, force: true });
  }
}

/** A static Helm repository: `dir` served at `url`, every request logged. */
export class HelmRepoServer {
  readonly requests: { path: string; status: number }[] = [];
  private constructor(
    readonly dir: string,
    readonly url: string,
    private readonly server: http.Server,
  ) {}

  static async start(): Promise<HelmRepoServer> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-helmrepo-'));
    let repo: HelmRepoServer | undefined;
    const server = http.createServer((req, res) => {
      void (async () => {
        const pathname = new URL(req.url ?? '/', 'http://x').pathname;
        const file = path.join(dir, path.normalize(pathname).replace(/^(\.\.[/\\])+/, ''));
        const body = await readFile(file).catch(() => undefined);
        let status = 404;
        if (body) {
          const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
          status = req.headers['if-none-match'] === etag ? 304 : 200;
          res.writeHead(status, { etag, 'content-length': status === 200 ? body.length : 0 });
          res.end(status === 200 ? body : undefined);
        } else {
          res.writeHead(404).end();
        }
        repo?.requests.push({ path: pathname, status });
      })();
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    repo = new HelmRepoServer(dir, `http://127.0.0.1:${port}/charts`, server);
    await mkdir(path.join(dir, 'charts'), { recursive: true });
    return repo;
  }

  get chartsDir(): string {
    return path.join(this.dir, 'charts');
  }

  /** Packages a chart into the repository and rebuilds index.yaml with `helm repo index`. */
  async add(files: Record<string, string>, name: string): Promise<string> {
    const tgz = await packageChart(files, name, this.chartsDir);
    await this.index();
    return tgz;
  }

  async index(): Promise<void> {
    await helm(['repo', 'index', this.chartsDir], this.dir);
  }

  /** Requests for a path (e.g. `/charts/index.yaml`) answered with `status` (default: any). */
  count(suffix: string, status?: number): number {
    return this.requests.filter(
      (r) => r.path.endsWith(suffix) && (status === undefined || r.status === status),
    ).length;
  }

  async stop(): Promise<void> {
    await new Promise<void>((r) => this.server.close(() => r()));
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** The registry binary build-registry.sh made (DRIFTLESS_REGISTRY_BIN, else its --print-dir). */
export function registryBinary(): string {
  if (process.env.DRIFTLESS_REGISTRY_BIN) return process.env.DRIFTLESS_REGISTRY_BIN;
  const script = path.join(here, '../../scripts/testenv/build-registry.sh');
  execFileSync(script, { stdio: 'inherit' }); // builds once; cached by its pins
  return path.join(execFileSync(script, ['--print-dir'], { encoding: 'utf8' }).trim(), 'registry');
}

export interface RegistryRequest {
  method: string;
  path: string;
}

/** The distribution registry with token auth, plus its token server, on loopback. */
export class OciRegistry {
  readonly username = 'charts';
  readonly password = randomUUID();
  /** Token requests the token server answered (granted or not). */
  readonly tokenRequests: { scope: string; granted: boolean }[] = [];
  private constructor(
    readonly host: string,
    private readonly process: ManagedProcess,
    private readonly tokenServer: http.Server,
    private readonly dir: string,
  ) {}

  static async start(): Promise<OciRegistry> {
    const bin = registryBinary();
    const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-registry-'));
    const keyFile = path.join(dir, 'token.key');
    const certFile = path.join(dir, 'token.crt');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-days',
        '2',
        '-subj',
        '/CN=driftless-test-token-issuer',
        '-keyout',
        keyFile,
        '-out',
        certFile,
      ],
      { stdio: 'ignore' },
    );
    const key = await readFile(keyFile, 'utf8');
    const certDer = Buffer.from(
      (await readFile(certFile, 'utf8')).replace(/-----[A-Z ]+-----|\s/g, ''),
      'base64',
    );
    let registry: OciRegistry | undefined;
    const service = 'driftless-test-registry';
    const issuer = 'driftless-test';
    const tokenServer = http.createServer((req, res) => {
      const url = new URL(req.url ?? '/', 'http://x');
      const scope = url.searchParams.getAll('scope').join(' ');
      const auth = req.headers.authorization ?? '';
      const [user, pass] = Buffer.from(auth.replace(/^Basic /, ''), 'base64')
        .toString()
        .split(':');
      // Anonymous pulls of public/… (a public registry path); everything else needs the credentials.
      const anonymous =
        !auth &&
        scope !== '' &&
        scope.split(' ').every((x) => /^repository:public\/[^:]+:pull$/.test(x));
      const granted =
        anonymous ||
        (auth.startsWith('Basic ') && user === registry?.username && pass === registry?.password);
      registry?.tokenRequests.push({ scope, granted });
      if (!granted) {
        res
          .writeHead(401, { 'content-type': 'application/json' })
          .end('{"errors":[{"code":"UNAUTHORIZED"}]}');
        return;
      }
      const now = Math.floor(Date.now() / 1000);
      const access = scope
        .split(' ')
        .filter(Boolean)
        .map((s) => {
          const [type, name, actions] = s.split(':');
          return { type, name, actions: (actions ?? '').split(',') };
        });
      const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
      const head = b64({ alg: 'RS256', typ: 'JWT', x5c: [certDer.toString('base64')] });
      const claims = b64({
        iss: issuer,
        sub: user,
        aud: service,
        exp: now + 300,
        nbf: now - 10,
        iat: now,
        jti: randomUUID(),
        access,
      });
      const signature = sign('sha256', Buffer.from(`${head}.${claims}`), key).toString('base64url');
      const token = `${head}.${claims}.${signature}`;
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, access_token: token, expires_in: 300 }));
    });
    await new Promise<void>((r) => tokenServer.listen(0, '127.0.0.1', r));
    const tokenPort = (tokenServer.address() as AddressInfo).port;
    const port = await reservePort('registry');
    const config = path.join(dir, 'config.yml');
    await writeFile(
      config,
      [
        'version: 0.1',
        'log: {level: info}',
        `storage: {filesystem: {rootdirectory: ${path.join(dir, 'data')}}, delete: {enabled: true}}`,
        `http: {addr: "127.0.0.1:${port}"}`,
        'auth:',
        '  token:',
        `    realm: http://127.0.0.1:${tokenPort}/token`,
        `    service: ${service}`,
        `    issuer: ${issuer}`,
        `    rootcertbundle: ${certFile}`,
        '',
      ].join('\n'),
    );
    const proc = await ManagedProcess.start({
      name: 'registry',
      command: bin,
      args: ['serve', config],
      logFile: path.join(dir, 'registry.log'),
      env: { PATH: process.env.PATH, OTEL_TRACES_EXPORTER: 'none' },
      ready: async () => {
        const res = await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => undefined);
        return res?.status === 401;
      },
    });
    registry = new OciRegistry(`127.0.0.1:${port}`, proc, tokenServer, dir);
    return registry;
  }

  /** Logs the registry's access log's requests (method and path), parsed from its log. */
  async requests(): Promise<RegistryRequest[]> {
    const log = await readFile(path.join(this.dir, 'registry.log'), 'utf8');
    const out: RegistryRequest[] = [];
    for (const m of log.matchAll(/"(GET|HEAD|PUT|POST|PATCH|DELETE) (\/v2\/[^ "]*) HTTP/g)) {
      out.push({ method: m[1] as string, path: m[2] as string });
    }
    return out;
  }

  /** `helm push`es a packaged chart to oci://<host>/<path>. */
  async push(tgz: string, repoPath: string): Promise<void> {
    const home = await mkdtemp(path.join(os.tmpdir(), 'driftless-helmpush-'));
    try {
      await helm(
        [
          'registry',
          'login',
          this.host,
          '--plain-http',
          '--username',
          this.username,
          '--password',
          this.password,
        ],
        home,
      );
      await helm(['push', tgz, `oci://${this.host}/${repoPath}`, '--plain-http'], home);
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  }

  async stop(): Promise<void> {
    await this.process.stop();
    await new Promise<void>((r) => this.tokenServer.close(() => r()));
    await rm(this.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}

/** Whether a file exists (for cache assertions); any failure but ENOENT is thrown. */
export async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
