// The CLI's SigV4 signing, verified (#17): the real `driftless` binary signs
// with credentials from the usual AWS chain (here the environment), a gateway
// on loopback verifies the signature the way API Gateway does
// (test/support/sigv4-gateway.ts, its own implementation of the algorithm)
// and hands the verified principal to the deployed status API handler, whose
// authorization (#14) then decides. Wrong keys, regions, services, skewed
// clocks and tampered bodies are refused before the handler runs.

import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signRequest } from '../../lib/aws/sigv4.js';
import { type DataPlane, startDataPlane } from '../support/dataplane.js';
import { testenv } from '../support/env.js';
import { type SigV4Gateway, sigv4Gateway } from '../support/sigv4-gateway.js';

const exec = promisify(execFile);
const BIN = path.resolve('scripts/driftless.mjs');
const REGION = 'eu-west-1';
const ADMIN = { id: 'AKIAADMINEXAMPLE0001', secret: 'admin/secret+key' };
const VIEWER = { id: 'AKIAVIEWEREXAMPLE001', secret: 'viewer/secret+key' };

let plane: DataPlane;
let gateway: SigV4Gateway;

async function driftless(
  key: { id: string; secret: string },
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [BIN, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        HOME: process.env.HOME ?? '/tmp',
        NO_COLOR: '1',
        DRIFTLESS_CONFIG: '/nonexistent/config.json',
        DRIFTLESS_API_URL: gateway.url,
        DRIFTLESS_SIGV4: 'always',
        AWS_REGION: REGION,
        AWS_ACCESS_KEY_ID: key.id,
        AWS_SECRET_ACCESS_KEY: key.secret,
        ...env,
      },
      timeout: 60_000,
    });
    return { code: 0, stdout, stderr };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: err.code ?? -1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

beforeAll(async () => {
  plane = await startDataPlane('sigv4');
  gateway = await sigv4Gateway({
    region: REGION,
    handler: plane.api,
    identities: {
      // The data plane's platform admin, and a principal no project maps.
      [ADMIN.id]: {
        secretAccessKey: ADMIN.secret,
        principal: 'arn:aws:iam::123456789012:user/ops',
      },
      [VIEWER.id]: {
        secretAccessKey: VIEWER.secret,
        principal: 'arn:aws:sts::123456789012:assumed-role/viewer/alice',
      },
    },
  });
  const cluster = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: testenv().kube.kubeconfig } },
  };
  expect((await plane.call('PUT', '/clusters/local', cluster)).status).toBe(201);
});

afterAll(async () => {
  await gateway?.close();
});

describe('the CLI through a gateway that verifies SigV4 as API Gateway does', () => {
  it('passes a correctly signed request, and the verified principal is the one authorized', async () => {
    const ok = await driftless(ADMIN, ['clusters', 'list', '-o', 'json']);
    expect(ok.code, ok.stderr).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual(
      expect.arrayContaining([expect.objectContaining({ metadata: { name: 'local' } })]),
    );
    // Signed correctly, but the verified principal is no admin: the API's own 403.
    const denied = await driftless(VIEWER, ['clusters', 'remove', 'local']);
    expect(denied.code).toBe(2);
    expect(denied.stderr).toContain(
      'arn:aws:sts::123456789012:assumed-role/viewer/alice may not clusters write',
    );
    expect(denied.stderr).toMatch(/hint: ask a platform admin for clusters:write/);
    expect(gateway.refusals).toEqual([]);
  });

  it('refuses a wrong secret key and a wrong region before the API runs', async () => {
    const wrongKey = await driftless({ ...ADMIN, secret: 'not-the-secret' }, ['clusters', 'list']);
    expect(wrongKey.code).toBe(2);
    expect(wrongKey.stderr).toMatch(/signature we calculated does not match/);
    const wrongRegion = await driftless(ADMIN, ['clusters', 'list'], { AWS_REGION: 'us-east-1' });
    expect(wrongRegion.code).toBe(2);
    expect(wrongRegion.stderr).toMatch(/Credential should be scoped to a valid region/);
  });

  it('refuses a skewed clock, another service and a tampered body', async () => {
    const url = new URL(`${gateway.url}/apps/web/sync`);
    const body = JSON.stringify({ revision: 'main' });
    const sign = (over: { service?: string; at?: Date } = {}) =>
      signRequest({
        method: 'POST',
        url,
        body,
        headers: { 'content-type': 'application/json' },
        service: over.service ?? 'execute-api',
        region: REGION,
        credentials: { accessKeyId: ADMIN.id, secretAccessKey: ADMIN.secret },
        ...(over.at ? { signingDate: over.at } : {}),
      });
    const send = async (headers: Record<string, string>, payload = body) => {
      const res = await fetch(url, { method: 'POST', headers, body: payload });
      return { status: res.status, message: ((await res.json()) as { message?: string }).message };
    };
    const skewed = await send(await sign({ at: new Date(Date.now() - 10 * 60_000) }));
    expect(skewed).toMatchObject({
      status: 403,
      message: expect.stringMatching(/Signature expired/),
    });
    const otherService = await send(await sign({ service: 'lambda' }));
    expect(otherService).toMatchObject({
      status: 403,
      message: expect.stringMatching(/scoped to correct service/),
    });
    const tampered = await send(await sign(), JSON.stringify({ revision: 'evil', prune: true }));
    expect(tampered).toMatchObject({
      status: 403,
      message: expect.stringMatching(/signature we calculated does not match/),
    });
    // The untampered request passes the gateway (the API then answers on its own: no app web).
    expect((await send(await sign())).status).toBe(404);
  });
});
