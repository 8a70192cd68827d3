// A real Git smart-HTTP server on loopback: Debian's `git http-backend` run as a
// CGI program behind a small Node HTTP server. Repositories are bare
// directories under `root`; one whose name starts with `private-` requires
// HTTP basic auth with the server's credentials, as a private GitHub repo does.
// With `authorize`, every repository wants basic auth and the callback judges
// it (a test's second server that accepts the tokens a loopback GitHub issued).
// GET /_driftless/requests reports how many Git requests each repo received.

import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { reservePort, TestEnvError } from './process.js';

export interface GitServerOptions {
  root: string;
  httpBackend: string;
  username: string;
  password: string;
  port?: number;
  /** Judges the basic auth of every request (repo: its path, e.g. `acme/x.git`). */
  authorize?: (request: { repo: string; username: string; password: string }) => boolean;
}

export interface GitServerInfo {
  baseUrl: string;
  root: string;
  username: string;
  password: string;
}

const REPO_PATH = /^\/((?:[A-Za-z0-9._-]+\/)*[A-Za-z0-9._-]+\.git)(\/.*)$/;

export class GitServer {
  private readonly requests = new Map<string, number>();

  private constructor(
    readonly info: GitServerInfo,
    private readonly server: http.Server,
  ) {}

  static async start(opts: GitServerOptions): Promise<GitServer> {
    if (!existsSync(opts.httpBackend)) {
      throw new TestEnvError(
        `git http-backend not found at ${opts.httpBackend}. Install Debian's git package (apt-get install git).`,
      );
    }
    const port = await reservePort('git server', opts.port ?? 0);
    const server = http.createServer();
    const gs = new GitServer(
      {
        baseUrl: `http://127.0.0.1:${port}`,
        root: opts.root,
        username: opts.username,
        password: opts.password,
      },
      server,
    );
    server.on('request', (req, res) => gs.handle(opts, req, res));
    server.listen(port, '127.0.0.1');
    await once(server, 'listening');
    gs.info.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return gs;
  }

  private handle(opts: GitServerOptions, req: http.IncomingMessage, res: http.ServerResponse) {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (url.pathname === '/_driftless/requests') {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(Object.fromEntries(this.requests)));
      return;
    }
    const match = REPO_PATH.exec(url.pathname);
    if (!match || url.pathname.includes('..')) {
      res.writeHead(404).end('not a repository path\n');
      return;
    }
    const repo = match[1] as string;
    let remoteUser = '';
    if (opts.authorize) {
      const basic = /^Basic (.+)$/i.exec(req.headers.authorization ?? '');
      const decoded = basic ? Buffer.from(basic[1] as string, 'base64').toString('utf8') : '';
      const colon = decoded.indexOf(':');
      const username = colon < 0 ? '' : decoded.slice(0, colon);
      const password = colon < 0 ? '' : decoded.slice(colon + 1);
      if (!basic || colon < 0 || !opts.authorize({ repo, username, password })) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="driftless-test"' }).end();
        return;
      }
      remoteUser = username;
    } else if (repo.split('/').pop()?.startsWith('private-')) {
      const auth = req.headers.authorization ?? '';
      const expected = `Basic ${Buffer.from(`${opts.username}:${opts.password}`).toString('base64')}`;
      if (auth !== expected) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="driftless-test"' }).end();
        return;
      }
      remoteUser = opts.username;
    }
    this.requests.set(repo, (this.requests.get(repo) ?? 0) + 1);

    const env: NodeJS.ProcessEnv = {
      PATH: process.env.PATH,
      GIT_PROJECT_ROOT: opts.root,
      GIT_HTTP_EXPORT_ALL: '1',
      PATH_INFO: url.pathname,
      QUERY_STRING: url.search.slice(1),
      REQUEST_METHOD: req.method ?? 'GET',
      CONTENT_TYPE: req.headers['content-type'] ?? '',
      REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
      REMOTE_USER: remoteUser,
      GIT_PROTOCOL: (req.headers['git-protocol'] as string | undefined) ?? '',
      HTTP_CONTENT_ENCODING: (req.headers['content-encoding'] as string | undefined) ?? '',
    };
    if (req.headers['content-length']) env.CONTENT_LENGTH = req.headers['content-length'];
    const cgi = spawn(opts.httpBackend, [], { env, stdio: ['pipe', 'pipe', 'pipe'] });
    req.pipe(cgi.stdin);
    cgi.stdin.on('error', () => {});
    let stderr = '';
    cgi.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });

    // CGI output: headers, a blank line, then the body, which is streamed.
    let head = Buffer.alloc(0);
    let headersDone = false;
    cgi.stdout.on('data', (chunk: Buffer) => {
      if (headersDone) {
        res.write(chunk);
        return;
      }
      head = Buffer.concat([head, chunk]);
      const crlf = head.indexOf('\r\n\r\n');
      const lf = head.indexOf('\n\n');
      const end = crlf >= 0 && (lf < 0 || crlf < lf) ? crlf : lf;
      if (end < 0) return;
      const sep = end === crlf ? 4 : 2;
      headersDone = true;
      let status = 200;
      for (const line of head.subarray(0, end).toString('latin1').split(/\r?\n/)) {
        const i = line.indexOf(':');
        if (i < 0) continue;
        const name = line.slice(0, i).trim();
        const value = line.slice(i + 1).trim();
        if (name.toLowerCase() === 'status') status = Number.parseInt(value, 10) || 500;
        else res.setHeader(name, value);
      }
      res.writeHead(status);
      res.write(head.subarray(end + sep));
    });
    cgi.on('close', (code) => {
      if (!headersDone) {
        res.writeHead(500).end(`git http-backend failed (exit ${code}): ${stderr}`);
        return;
      }
      res.end();
    });
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
