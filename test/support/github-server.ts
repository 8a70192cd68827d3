// A GitHub REST API on loopback that holds every request to GitHub's official
// OpenAPI description of api.github.com (@octokit/openapi) and rejects what
// it does not allow, as GitHub would:
//
//   - the method and path must be an operation of the description (404);
//   - path parameters must match their schemas (404, as GitHub answers);
//   - a JSON body must parse (400) and match the operation's requestBody
//     schema, $refs resolved, with formats (422); a required body must be there;
//   - GitHub's own rules the description does not spell out: a User-Agent
//     (403), a JSON content type for bodies (415), authentication (401:
//     `/app/...` wants an RS256 JWT signed by a registered App's key with
//     iss = its id and a lifetime within 10 minutes; everything else wants
//     an installation token this server issued, or a registered token), and
//     commit status descriptions of at most 140 characters (422).
//
// It implements the two operations Driftless uses — create an installation
// access token, create a commit status — and answers with bodies that are
// themselves checked against the description's response schemas. Tests can
// script answers (rate limits, 5xx) per operation and read every request.

import { createPublicKey, createVerify, type KeyObject, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import http from 'node:http';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS with a default export.
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

interface OpenApiParameter {
  name: string;
  in: 'path' | 'query' | 'header' | 'cookie';
  required?: boolean;
  schema?: object;
  'x-multi-segment'?: boolean;
  $ref?: string;
}

interface OpenApiOperation {
  operationId: string;
  parameters?: OpenApiParameter[];
  requestBody?: { required?: boolean; content?: Record<string, { schema?: object }> };
  responses?: Record<string, { content?: Record<string, { schema?: object }> }>;
}

interface OpenApiDocument {
  paths: Record<string, Record<string, OpenApiOperation | OpenApiParameter[]>>;
  components: { parameters: Record<string, OpenApiParameter> };
}

interface Route {
  method: string;
  template: string;
  pointer: string;
  regex: RegExp;
  params: OpenApiParameter[];
  /** Literal characters in the template: the most specific match wins. */
  literal: number;
  op: OpenApiOperation;
}

export interface ScriptedResponse {
  status: number;
  headers?: Record<string, string>;
  body?: unknown;
}

export interface RecordedRequest {
  method: string;
  path: string;
  operationId?: string;
  /** The answer's status. */
  status: number;
  /** `Bearer`/`token` and which credential: `jwt`, `installation:<id>`, `token`, or none. */
  auth?: string;
  body?: unknown;
  at: number;
}

export interface CommitStatusRecord {
  owner: string;
  repo: string;
  sha: string;
  state: string;
  context: string;
  description?: string | null;
  target_url?: string | null;
  /** The installation whose token created it, if any. */
  installationId?: number;
}

export interface GitHubApp {
  appId: number;
  /** PEM public key of the App's signing key. */
  publicKey: string | KeyObject;
  installationIds: number[];
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete'];
const DOCS = 'https://docs.github.com/rest';

let loaded: { doc: OpenApiDocument; ajv: Ajv; routes: Route[] } | undefined;

/** Loads the description once per process (13 MB of JSON) and indexes its routes. */
function description() {
  if (loaded) return loaded;
  const require = createRequire(import.meta.url);
  const doc = require('@octokit/openapi/generated/api.github.com.json') as OpenApiDocument;
  // OpenAPI 3.0 schemas: `nullable` is understood by Ajv; `example` and x-* are not keywords.
  const ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  addFormats(ajv);
  ajv.addSchema(doc as object, 'api.github.com');
  const routes: Route[] = [];
  for (const [template, item] of Object.entries(doc.paths)) {
    const shared = (item.parameters as OpenApiParameter[] | undefined) ?? [];
    for (const method of METHODS) {
      const op = item[method] as OpenApiOperation | undefined;
      if (!op) continue;
      const params = [...shared, ...(op.parameters ?? [])].map((p) => resolveParam(doc, p));
      const names: string[] = [];
      const source = template
        .split('/')
        .map((seg) =>
          seg.replace(/\{([^}]+)\}|[^{}]+/g, (m, name: string | undefined) => {
            if (!name) return m.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
            names.push(name);
            const p = params.find((x) => x.name === name && x.in === 'path');
            return p?.['x-multi-segment'] ? '(.+)' : '([^/]+)';
          }),
        )
        .join('/');
      routes.push({
        method: method.toUpperCase(),
        template,
        pointer: `/paths/${escapePointer(template)}/${method}`,
        regex: new RegExp(`^${source}$`),
        params: names.map(
          (n) => params.find((p) => p.name === n && p.in === 'path') ?? { name: n, in: 'path' },
        ),
        literal: template.replace(/\{[^}]+\}/g, '').length,
        op,
      });
    }
  }
  routes.sort((a, b) => b.literal - a.literal);
  loaded = { doc, ajv, routes };
  return loaded;
}

function resolveParam(doc: OpenApiDocument, p: OpenApiParameter): OpenApiParameter {
  if (!p.$ref) return p;
  const name = p.$ref.replace('#/components/parameters/', '');
  const resolved = doc.components.parameters[name];
  if (!resolved) throw new Error(`unresolvable parameter ${p.$ref}`);
  return resolved;
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

/** A validator for the schema at a JSON pointer in the description ($refs resolved by Ajv). */
const validators = new Map<string, ValidateFunction>();
function validatorAt(pointer: string): ValidateFunction {
  let v = validators.get(pointer);
  if (!v) {
    const { ajv } = description();
    const fragment = pointer.split('/').map(encodeURIComponent).join('/');
    v = ajv.compile({ $ref: `api.github.com#${fragment}` });
    validators.set(pointer, v);
  }
  return v;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

export class GitHubApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly statuses: CommitStatusRecord[] = [];
  private readonly scripts = new Map<string, ScriptedResponse[]>();
  private outage: ScriptedResponse | undefined;
  private readonly installationTokens = new Map<
    string,
    { installationId: number; expiresAt: number; repositories?: string[] }
  >();
  private nextId = 1;

  private constructor(
    readonly url: string,
    private readonly server: http.Server,
    private readonly apps: GitHubApp[],
    private readonly tokens: Set<string>,
  ) {}

  static async start(
    opts: { apps?: GitHubApp[]; tokens?: string[] } = {},
  ): Promise<GitHubApiServer> {
    description();
    const server = http.createServer();
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const gh = new GitHubApiServer(
      `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
      server,
      opts.apps ?? [],
      new Set(opts.tokens ?? []),
    );
    server.on('request', (req, res) => void gh.handle(req, res));
    return gh;
  }

  /** The next requests of this operation get these answers, in order. */
  script(operationId: string, ...responses: ScriptedResponse[]): void {
    this.scripts.set(operationId, [...(this.scripts.get(operationId) ?? []), ...responses]);
  }

  /** Every valid, authenticated request gets this answer until cleared. */
  setOutage(response: ScriptedResponse | undefined): void {
    this.outage = response;
  }

  /**
   * Whether `token` is an installation token this server issued, unexpired,
   * for a repository named `repo` (a token scoped to repositories covers only
   * those): what a Git server asks GitHub of a password.
   */
  acceptsInstallationToken(token: string, repo: string): boolean {
    const issued = this.installationTokens.get(token);
    if (!issued || issued.expiresAt < Date.now()) return false;
    return !issued.repositories || issued.repositories.includes(repo);
  }

  requestsOf(operationId: string): RecordedRequest[] {
    return this.requests.filter((r) => r.operationId === operationId);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse) {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.url);
    const record: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      status: 0,
      at: Date.now(),
    };
    this.requests.push(record);
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      record.status = status;
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'x-github-media-type': 'github.v3; format=json',
        ...headers,
      });
      res.end(body === undefined ? '' : JSON.stringify(body));
    };
    try {
      const { route, params } = this.route(record.method, url.pathname);
      record.operationId = route.op.operationId;
      if (!req.headers['user-agent']) {
        throw new HttpError(
          403,
          'Request forbidden by administrative rules. Please make sure your request has a User-Agent header.',
        );
      }
      const body = this.body(route, req, raw);
      record.body = body;
      const caller = this.authenticate(route, req);
      record.auth = caller.describe;
      const scripted = this.scripts.get(route.op.operationId)?.shift() ?? this.outage;
      if (scripted) {
        send(scripted.status, scripted.body, scripted.headers);
        return;
      }
      const [status, out] = this.operate(route, params, body, caller);
      const schema = route.op.responses?.[String(status)]?.content?.['application/json']?.schema;
      if (schema) {
        const check = validatorAt(
          `${route.pointer}/responses/${status}/content/${escapePointer('application/json')}/schema`,
        );
        if (!check(out)) {
          throw new Error(
            `server bug: response violates the description: ${describeErrors(check)}`,
          );
        }
      }
      send(status, out);
    } catch (e) {
      if (e instanceof HttpError) {
        send(e.status, { message: e.message, documentation_url: DOCS, ...e.extra });
      } else {
        send(500, { message: (e as Error).message });
      }
    }
  }

  private route(method: string, path: string): { route: Route; params: Record<string, unknown> } {
    const { routes } = description();
    for (const route of routes) {
      if (route.method !== method) continue;
      const m = route.regex.exec(path);
      if (!m) continue;
      const params: Record<string, unknown> = {};
      let valid = true;
      route.params.forEach((p, i) => {
        const text = decodeURIComponent(m[i + 1] ?? '');
        const type = (p.schema as { type?: string } | undefined)?.type;
        const value = type === 'integer' && /^-?\d+$/.test(text) ? Number(text) : text;
        if (p.schema && !description().ajv.validate(p.schema, value)) valid = false;
        params[p.name] = value;
      });
      // GitHub answers a malformed path parameter with 404.
      if (!valid) throw new HttpError(404, 'Not Found');
      return { route, params };
    }
    throw new HttpError(404, 'Not Found');
  }

  private body(route: Route, req: http.IncomingMessage, raw: string): unknown {
    const spec = route.op.requestBody;
    const content = spec?.content?.['application/json'];
    if (!spec || !content) return undefined;
    if (!raw) {
      if (spec.required)
        throw new HttpError(422, 'Invalid request.\n\nA request body is required.');
      return undefined;
    }
    const type = req.headers['content-type'] ?? '';
    if (!/^application\/(vnd\.github[^;]*\+)?json\b/.test(type)) {
      throw new HttpError(415, `Unsupported content type ${type || '(none)'}; send JSON`);
    }
    let body: unknown;
    try {
      body = JSON.parse(raw);
    } catch {
      throw new HttpError(400, 'Problems parsing JSON');
    }
    const check = validatorAt(
      `${route.pointer}/requestBody/content/${escapePointer('application/json')}/schema`,
    );
    if (!check(body)) {
      throw new HttpError(422, `Invalid request.\n\n${describeErrors(check)}`);
    }
    return body;
  }

  private authenticate(route: Route, req: http.IncomingMessage) {
    const header = req.headers.authorization ?? '';
    const m = /^(bearer|token) (\S+)$/i.exec(header);
    if (!m) throw new HttpError(401, 'Requires authentication');
    const credential = m[2] as string;
    if (route.template.startsWith('/app/') || route.template === '/app') {
      const app = this.verifyJwt(credential);
      return { kind: 'app' as const, app, describe: `${m[1]} jwt` };
    }
    const installation = this.installationTokens.get(credential);
    if (installation) {
      if (installation.expiresAt < Date.now()) throw new HttpError(401, 'Bad credentials');
      return {
        kind: 'installation' as const,
        installationId: installation.installationId,
        describe: `${m[1]} installation:${installation.installationId}`,
      };
    }
    if (this.tokens.has(credential)) return { kind: 'token' as const, describe: `${m[1]} token` };
    throw new HttpError(401, 'Bad credentials');
  }

  /** An App's JWT: RS256, signed by a registered App's key, iss = its id, at most 10 minutes long. */
  private verifyJwt(jwt: string): GitHubApp {
    const parts = jwt.split('.');
    if (parts.length !== 3) throw new HttpError(401, 'A JSON web token could not be decoded');
    const [h, p, sig] = parts as [string, string, string];
    let header: { alg?: string };
    let payload: { iss?: unknown; iat?: unknown; exp?: unknown };
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
      payload = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
    } catch {
      throw new HttpError(401, 'A JSON web token could not be decoded');
    }
    if (header.alg !== 'RS256') throw new HttpError(401, `'alg' must be RS256, not ${header.alg}`);
    const app = this.apps.find((a) => String(a.appId) === String(payload.iss));
    if (!app) throw new HttpError(401, "'Issuer' claim ('iss') must be a registered App's id");
    const key = typeof app.publicKey === 'string' ? createPublicKey(app.publicKey) : app.publicKey;
    const ok = createVerify('RSA-SHA256')
      .update(`${h}.${p}`)
      .verify(key, Buffer.from(sig, 'base64url'));
    if (!ok) throw new HttpError(401, 'A JSON web token could not be decoded');
    const now = Math.floor(Date.now() / 1000);
    const { iat, exp } = payload;
    if (typeof iat !== 'number' || typeof exp !== 'number') {
      throw new HttpError(401, "'iat' and 'exp' claims are required");
    }
    if (iat > now + 60) throw new HttpError(401, "'Issued at' claim ('iat') must be in the past");
    if (exp <= now) throw new HttpError(401, "'Expiration time' claim ('exp') is in the past");
    if (exp > now + 600 || exp - iat > 660) {
      throw new HttpError(401, "'Expiration time' claim ('exp') is too far in the future");
    }
    return app;
  }

  private operate(
    route: Route,
    params: Record<string, unknown>,
    body: unknown,
    caller: ReturnType<GitHubApiServer['authenticate']>,
  ): [number, unknown] {
    switch (route.op.operationId) {
      case 'apps/create-installation-access-token': {
        const id = params.installation_id as number;
        if (caller.kind !== 'app' || !caller.app.installationIds.includes(id)) {
          throw new HttpError(404, 'Not Found');
        }
        const token = `ghs_${randomBytes(18).toString('base64url')}`;
        const expiresAt = Date.now() + 3600_000;
        const request = (body ?? {}) as {
          repositories?: string[];
          permissions?: Record<string, string>;
        };
        this.installationTokens.set(token, {
          installationId: id,
          expiresAt,
          repositories: request.repositories,
        });
        return [
          201,
          {
            token,
            expires_at: new Date(expiresAt).toISOString().replace(/\.\d{3}Z$/, 'Z'),
            permissions: request.permissions ?? { statuses: 'write', metadata: 'read' },
            repository_selection: request.repositories ? 'selected' : 'all',
          },
        ];
      }
      case 'repos/create-commit-status': {
        if (caller.kind === 'app') throw new HttpError(401, 'Bad credentials');
        const input = body as {
          state: string;
          context?: string;
          description?: string | null;
          target_url?: string | null;
        };
        // GitHub's documented limit, not in the description's schema.
        if ((input.description?.length ?? 0) > 140) {
          throw new HttpError(422, 'Validation Failed', {
            errors: [
              {
                resource: 'Status',
                code: 'custom',
                field: 'description',
                message: 'description is too long (maximum is 140 characters)',
              },
            ],
          });
        }
        const { owner, repo, sha } = params as { owner: string; repo: string; sha: string };
        this.statuses.push({
          owner,
          repo,
          sha,
          state: input.state,
          context: input.context ?? 'default',
          description: input.description,
          target_url: input.target_url,
          installationId: caller.kind === 'installation' ? caller.installationId : undefined,
        });
        const id = this.nextId++;
        const now = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
        return [
          201,
          {
            url: `${this.url}/repos/${owner}/${repo}/statuses/${sha}`,
            avatar_url: null,
            id,
            node_id: `SC_${id}`,
            state: input.state,
            description: input.description ?? null,
            target_url: input.target_url ?? null,
            context: input.context ?? 'default',
            created_at: now,
            updated_at: now,
            creator: null,
          },
        ];
      }
      default:
        throw new HttpError(501, `${route.op.operationId} is not implemented by the test server`);
    }
  }
}

function describeErrors(v: ValidateFunction): string {
  return (v.errors ?? [])
    .map(
      (e) =>
        `${e.instancePath || '(body)'} ${e.message}${e.params ? ` ${JSON.stringify(e.params)}` : ''}`,
    )
    .join('\n');
}
