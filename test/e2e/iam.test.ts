// Least privilege, evaluated. moto enforces no IAM, so every AWS call the
// deployed functions make is recorded (test/support/aws-calls.ts: action,
// resource, dynamodb:LeadingKeys, kms:EncryptionContext) and evaluated against
// that function's role in the synthesized stack by an IAM policy engine
// (test/support/iam.ts, @cloud-copilot/iam-simulate). This file drives every
// function through its code paths itself — a signed push (webhook), the sync
// of a SOPS app with an age key from Secrets Manager and a KMS key (worker),
// API reads and writes, a sweep, an outbox flush to the loopback GitHub, a
// delete — and also evaluates what the other e2e files of the run recorded so
// far (their logs). Every recorded call must be allowed; the calls each
// function must never make must be denied; and the evaluation is shown to
// catch a stack with a needed statement removed and one with a forbidden
// statement added.

import { createHmac, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { IDEMPOTENCY_PARTITION } from '../../lib/aws/dynamo/schema.js';
import { awsClientConfig } from '../support/aws.js';
import {
  type FunctionName,
  MOTO_ACCOUNT,
  type RecordedCall,
  recordedCalls,
  recordedCount,
} from '../support/aws-calls.js';
import { type DataPlane, startDataPlane } from '../support/dataplane.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { GitHubApiServer } from '../support/github-server.js';
import {
  addStatement,
  describe as describeEvaluation,
  type Evaluated,
  evaluate,
  evaluateAll,
  mutated,
  removeStatement,
  type SynthesizedStack,
  synthesizeStack,
} from '../support/iam.js';
import { drain, httpEvent, lambdaContext } from '../support/lambda.js';
import { type AgeKey, ageKeygen, createKmsKey, sopsEncrypt } from '../support/sops.js';

const TOKEN = `github_pat_${randomUUID().replace(/-/g, '')}`;
const FUNCTIONS: FunctionName[] = ['webhook', 'worker', 'sweep', 'api', 'outbox'];

let plane: DataPlane;
let gh: GitHubApiServer;
let age: AgeKey;
let kmsArn: string;
let stack: SynthesizedStack;
/** The calls this file's own drive recorded. */
let driven: RecordedCall[] = [];

/**
 * Calls the code makes that the stack refuses on purpose: the status API's
 * diff preview of an app with private credentials or SOPS keys names the
 * secret or key, and its role may read neither (README, "Private
 * repositories"; infra/stack.ts: only the worker decrypts), so AWS answers
 * AccessDenied and the preview reports it. moto answered them.
 */
const REFUSED_BY_DESIGN: { fn: FunctionName; action: string; kind: string; why: string }[] = [
  {
    fn: 'api',
    action: 'secretsmanager:GetSecretValue',
    kind: 'sourceSecret',
    why: 'previews get no source credentials',
  },
  { fn: 'api', action: 'kms:Decrypt', kind: 'arn', why: 'previews decrypt nothing' },
];
const refusedByDesign = (c: Evaluated['call']) =>
  REFUSED_BY_DESIGN.some(
    (r) => r.fn === c.fn && r.action === c.action && r.kind === c.resource.kind,
  );

const other = (arn: string) => ({ kind: 'arn', arn }) as const;
const table = { kind: 'table' } as const;
const keys = (...pks: string[]) => ({ 'dynamodb:LeadingKeys': pks });

/** What each function must never be able to do, whatever its code does today. */
function neverAllowed(): (Evaluated['call'] & { why: string })[] {
  const { region } = awsClientConfig();
  const otherKey = `arn:aws:kms:${region}:${MOTO_ACCOUNT}:key/00000000-0000-0000-0000-000000000000`;
  // What a grant on `*` would allow: resources of no one's stack.
  const anyTable = other(`arn:aws:dynamodb:${region}:${MOTO_ACCOUNT}:table/someone-elses`);
  const anyQueue = other(`arn:aws:sqs:${region}:${MOTO_ACCOUNT}:someone-elses`);
  const anySecret = other(
    `arn:aws:secretsmanager:${region}:${MOTO_ACCOUNT}:secret:someone-elses-AbCdEf`,
  );
  const perFunction: (Evaluated['call'] & { why: string })[] = [
    // The webhook: no source credentials, the GitHub credentials, or status writes.
    ...['acme-git', 'sops-age'].map((name) => ({
      fn: 'webhook' as const,
      action: 'secretsmanager:GetSecretValue',
      resource: { kind: 'sourceSecret', name } as const,
      context: {},
      why: 'the webhook reads source credentials',
    })),
    {
      fn: 'webhook',
      action: 'secretsmanager:GetSecretValue',
      resource: { kind: 'secret', secret: 'github' },
      context: {},
      why: 'the webhook reads the GitHub credentials',
    },
    {
      fn: 'webhook',
      action: 'dynamodb:PutItem',
      resource: table,
      context: keys('TARGET#web#local'),
      why: 'the webhook writes a status item',
    },
    {
      fn: 'webhook',
      action: 'dynamodb:UpdateItem',
      resource: table,
      context: keys('APP#web'),
      why: 'the webhook changes a spec',
    },
    {
      fn: 'webhook',
      action: 'dynamodb:PutItem',
      resource: table,
      context: keys('GUARD#local'),
      why: "the webhook writes a cluster's guard",
    },
    // The status API: no source credentials, no idempotency records or guards.
    {
      fn: 'api',
      action: 'secretsmanager:GetSecretValue',
      resource: { kind: 'sourceSecret', name: 'acme-git' },
      context: {},
      why: 'the API reads source credentials',
    },
    {
      fn: 'api',
      action: 'secretsmanager:GetSecretValue',
      resource: { kind: 'secret', secret: 'github' },
      context: {},
      why: 'the API reads the GitHub credentials',
    },
    {
      fn: 'api',
      action: 'dynamodb:PutItem',
      resource: table,
      context: keys(IDEMPOTENCY_PARTITION),
      why: "the API writes the webhook's idempotency records",
    },
    {
      fn: 'api',
      action: 'dynamodb:PutItem',
      resource: table,
      context: keys('GUARD#local'),
      why: "the API writes a cluster's guard (the worker's)",
    },
    // The sweep and the outbox: no secrets they do not use, no spec or status writes.
    ...(['sweep', 'outbox'] as const).flatMap((fn) => [
      {
        fn,
        action: 'secretsmanager:GetSecretValue',
        resource: { kind: 'sourceSecret', name: 'acme-git' } as const,
        context: {},
        why: `the ${fn} reads source credentials`,
      },
      {
        fn,
        action: 'secretsmanager:GetSecretValue',
        resource: { kind: 'secret', secret: 'webhook' } as const,
        context: {},
        why: `the ${fn} reads the webhook secret`,
      },
    ]),
    {
      fn: 'sweep',
      action: 'secretsmanager:GetSecretValue',
      resource: { kind: 'secret', secret: 'github' },
      context: {},
      why: 'the sweep reads the GitHub credentials',
    },
    {
      fn: 'sweep',
      action: 'dynamodb:PutItem',
      resource: table,
      context: keys('TARGET#web#local'),
      why: 'the sweep writes a status item',
    },
    {
      fn: 'sweep',
      action: 'dynamodb:UpdateItem',
      resource: table,
      context: keys('TARGET#web#local'),
      why: 'the sweep tick writes a target record (it lists clusters and queues their sweeps)',
    },
    {
      fn: 'webhook',
      action: 'dynamodb:PutItem',
      resource: table,
      context: keys('SWEEP#local'),
      why: "the webhook writes a cluster's sweep record",
    },
    {
      fn: 'outbox',
      action: 'dynamodb:GetItem',
      resource: table,
      context: keys('APP#web'),
      why: 'the outbox reads the catalog',
    },
    // The worker: no specs, no idempotency records, no other function's secret.
    {
      fn: 'worker',
      action: 'dynamodb:PutItem',
      resource: table,
      context: keys('APP#web'),
      why: 'the worker writes a spec',
    },
    {
      fn: 'worker',
      action: 'dynamodb:PutItem',
      resource: table,
      context: keys(IDEMPOTENCY_PARTITION),
      why: "the worker writes the webhook's idempotency records",
    },
    {
      fn: 'worker',
      action: 'secretsmanager:GetSecretValue',
      resource: { kind: 'secret', secret: 'webhook' },
      context: {},
      why: 'the worker reads the webhook secret',
    },
  ];
  // Every function: nothing on `*`, no table deletion, no key the configuration does not list.
  const everyFunction = FUNCTIONS.flatMap((fn) => [
    {
      fn,
      action: 'dynamodb:PutItem',
      resource: anyTable,
      context: {},
      why: `the ${fn} writes any table`,
    },
    {
      fn,
      action: 'dynamodb:Scan',
      resource: table,
      context: {},
      why: `the ${fn} scans the table`,
    },
    {
      fn,
      action: 'dynamodb:DeleteTable',
      resource: table,
      context: {},
      why: `the ${fn} deletes the table`,
    },
    {
      fn,
      action: 'sqs:SendMessage',
      resource: anyQueue,
      context: {},
      why: `the ${fn} sends to any queue`,
    },
    {
      fn,
      action: 'sqs:PurgeQueue',
      resource: { kind: 'queue', queue: 'jobs' } as const,
      context: {},
      why: `the ${fn} purges the job queue`,
    },
    {
      fn,
      action: 'secretsmanager:GetSecretValue',
      resource: anySecret,
      context: {},
      why: `the ${fn} reads any secret`,
    },
    {
      fn,
      action: 'kms:Decrypt',
      resource: other(otherKey),
      context: {},
      why: `the ${fn} decrypts with a key the configuration does not list`,
    },
  ]);
  return [...perFunction, ...everyFunction];
}

/** The calls other e2e files recorded in this run (complete lines only: a file may still be writing). */
function loggedCalls(): RecordedCall[] {
  const dir = inject('awsCallLog');
  if (!existsSync(dir)) return [];
  const out: RecordedCall[] = [];
  for (const f of readdirSync(dir)) {
    const text = readFileSync(path.join(dir, f), 'utf8');
    const complete = text.slice(0, text.lastIndexOf('\n') + 1);
    for (const line of complete.split('\n')) if (line) out.push(JSON.parse(line) as RecordedCall);
  }
  return out;
}

function pushEvent(repo: TestRepo, commit: string, files: string[]) {
  const body = JSON.stringify({
    ref: 'refs/heads/main',
    before: '0'.repeat(40),
    after: commit,
    forced: false,
    repository: {
      full_name: `acme/${repo.name}`,
      clone_url: repo.url,
      html_url: repo.url.replace(/\.git$/, ''),
      default_branch: 'main',
    },
    commits: [{ id: commit, added: files, modified: [], removed: [] }],
  });
  return httpEvent('POST', '/', {
    body,
    headers: {
      'X-GitHub-Event': 'push',
      'X-GitHub-Delivery': randomUUID(),
      'X-Hub-Signature-256': `sha256=${createHmac('sha256', plane.webhookSecret).update(body).digest('hex')}`,
      'User-Agent': 'GitHub-Hookshot/e2e',
    },
  });
}

const secretYaml = (name: string, value: string) =>
  `apiVersion: v1\nkind: Secret\nmetadata:\n  name: ${name}\nstringData:\n  value: ${JSON.stringify(value)}\n`;

beforeAll(async () => {
  gh = await GitHubApiServer.start({ tokens: [TOKEN] });
  plane = await startDataPlane('iam', {
    github: { apiUrl: gh.url, token: TOKEN, webHost: new URL(testenv().git.baseUrl).host },
  });
  age = await ageKeygen();
  kmsArn = await createKmsKey();
  const { region } = awsClientConfig();
  // The stack as deployed for these tests: moto's account and region, the SOPS key listed.
  stack = synthesizeStack({ account: MOTO_ACCOUNT, region, config: { sopsKmsKeys: [kmsArn] } });

  const since = recordedCount();
  const call = plane.call;
  const cluster = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name: 'local' },
    spec: { kubeconfig: { path: testenv().kube.kubeconfig } },
  };
  expect((await call('PUT', '/clusters/local', cluster)).status).toBe(201);
  await plane.putSecret('sops-age', age.identity);
  const ns = uniqueName('iam');
  const repo = await TestRepo.create('iam', { owner: 'acme' });
  const files = {
    'deploy/namespace.yaml': `apiVersion: v1\nkind: Namespace\nmetadata: { name: ${ns} }\n`,
    'deploy/config.yaml': `apiVersion: v1\nkind: ConfigMap\nmetadata: { name: web }\ndata: { v: "1" }\n`,
    'deploy/age.yaml': await sopsEncrypt('age.yaml', secretYaml('age', 'a'), {
      age: age.recipient,
    }),
    'deploy/kms.yaml': await sopsEncrypt('kms.yaml', secretYaml('kms', 'k'), { kms: kmsArn }),
  };
  await repo.commit(files, 'app');
  const app = {
    apiVersion: 'driftless.dev/v1',
    kind: 'Application',
    metadata: { name: 'web' },
    spec: {
      source: { repoURL: repo.url, revision: 'main', path: 'deploy' },
      destinations: [{ cluster: 'local', namespace: ns }],
      decryption: { provider: 'sops', secretRef: 'sops-age' },
    },
  };
  expect((await call('PUT', '/apps/web', app)).status).toBe(201);

  // A new app: the sweep's tick queues the cluster's sweep, which queues the
  // app's first check, and the worker syncs it (age and KMS).
  const t0 = Date.now();
  expect((await plane.sweepAt(t0)).local?.counters).toMatchObject({ reasons: { new: 1 } });
  // A quiet tick: the cluster's sweep reads its partition and writes its record, nothing else.
  expect((await plane.sweepAt(t0 + 60_000)).local?.counters).toMatchObject({ enqueued: 0 });
  expect((await call('GET', '/apps/web')).body.targets[0]).toMatchObject({ sync: 'Synced' });
  // A push: the webhook routes it, the worker syncs it, the outbox posts the statuses.
  const changed = { 'deploy/config.yaml': files['deploy/config.yaml'].replace('"1"', '"2"') };
  const commit = await repo.commit(changed, 'change');
  const pushed = await plane.webhook(
    pushEvent(repo, commit, Object.keys(changed)),
    lambdaContext('driftless-webhook'),
  );
  expect(pushed.statusCode).toBe(202);
  await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker, { quietMs: 500 });
  expect((await call('GET', '/apps/web')).body.targets[0]).toMatchObject({ sync: 'Synced' });
  await drain(plane.sqs, [plane.outboxUrl], plane.outbox, { quietMs: 500 });
  expect(gh.statuses.filter((s) => s.sha === commit).length).toBeGreaterThan(0);
  // The API's reads, a manual sync, and a delete with cascade.
  for (const p of ['/apps', '/apps/web/history', '/clusters', '/clusters/local', '/deadletters']) {
    expect((await call('GET', p)).status, p).toBe(200);
  }
  expect((await call('POST', '/apps/web/sync', {})).status).toBe(202);
  await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker, { quietMs: 500 });
  expect((await call('DELETE', '/apps/web', undefined, { cascade: 'true' })).status).toBeLessThan(
    300,
  );
  await drain(plane.sqs, [plane.queueUrl, plane.delayUrl], plane.worker, { quietMs: 500 });
  driven = recordedCalls(since);
}, 240_000);

describe('least privilege, evaluated against the synthesized stack', () => {
  it('records every function, its secrets and the SOPS key', () => {
    const seen = (fn: FunctionName, action: string, kind?: string) =>
      driven.some((c) => c.fn === fn && c.action === action && (!kind || c.resource.kind === kind));
    for (const fn of FUNCTIONS)
      expect(
        driven.some((c) => c.fn === fn),
        fn,
      ).toBe(true);
    expect(seen('webhook', 'secretsmanager:GetSecretValue', 'secret')).toBe(true);
    expect(seen('webhook', 'dynamodb:PutItem', 'table')).toBe(true); // idempotency
    expect(seen('worker', 'secretsmanager:GetSecretValue', 'sourceSecret')).toBe(true);
    expect(seen('worker', 'kms:Decrypt', 'arn')).toBe(true);
    expect(seen('worker', 'dynamodb:UpdateItem', 'table')).toBe(true); // the lease
    expect(seen('outbox', 'secretsmanager:GetSecretValue', 'secret')).toBe(true);
    expect(seen('sweep', 'dynamodb:Query', 'table')).toBe(true); // the cluster listing
    expect(seen('sweep', 'sqs:SendMessage', 'queue')).toBe(true); // one sweep job per cluster
    expect(seen('worker', 'dynamodb:PutItem', 'table')).toBe(true); // the cluster's sweep record
    expect(seen('api', 'dynamodb:PutItem', 'table')).toBe(true);
    expect(driven.every((c) => c.fn !== undefined)).toBe(true);
    expect(driven.filter((c) => c.resource.kind === 'unknown')).toEqual([]);
  });

  it("allows every call each function made (this file's and the other e2e files' so far)", async () => {
    const here = expect.getState().testPath;
    const others = loggedCalls().filter((c) => c.file !== here);
    const calls = [...driven, ...others];
    // Each call against the stack as its plane was deployed: with a GitHub
    // App, the stack grants the worker the App's key; the other files' SOPS
    // keys are listed as their operators would list them.
    const otherKeys = others
      .filter((c) => c.action === 'kms:Decrypt' && c.resource.kind === 'arn')
      .map((c) => (c.resource as { arn: string }).arn);
    const config = { sopsKmsKeys: [...new Set([kmsArn, ...otherKeys])] };
    const { region } = awsClientConfig();
    const tokenStack = synthesizeStack({ account: MOTO_ACCOUNT, region, config });
    const appStack = synthesizeStack({
      account: MOTO_ACCOUNT,
      region,
      config: { ...config, githubAppId: '42', githubInstallationId: 7 },
    });
    const evaluated = [
      ...(await evaluateAll(
        tokenStack,
        calls.filter((c) => !c.githubApp),
      )),
      ...(await evaluateAll(
        appStack,
        calls.filter((c) => c.githubApp),
      )),
    ];
    const denied = evaluated.filter((e) => e.decision !== 'Allowed' && !refusedByDesign(e.call));
    expect(denied.map(describeEvaluation)).toEqual([]);
    const byFunction = FUNCTIONS.map((fn) => {
      const actions = new Set(
        calls
          .filter((c) => c.fn === fn)
          .map((c) => {
            const pk = (c.context['dynamodb:LeadingKeys'] ?? []) as string[];
            const scope = pk.length
              ? ` ${[...new Set(pk.map((k) => k.replace(/#.*/, '#')))].join(',')}`
              : '';
            return `${c.action} ${c.resource.kind === 'table' ? `table${c.resource.index ? `/${c.resource.index}` : ''}` : c.resource.kind === 'queue' ? c.resource.queue : c.resource.kind}${scope}`;
          }),
      );
      return `  ${fn}: ${[...actions].sort().join('; ')}`;
    });
    console.log(
      `[driftless] IAM: ${driven.length} calls recorded here, ${others.length} by ${new Set(others.map((c) => c.file)).size} other e2e files; ${evaluated.length} distinct, all allowed\n${byFunction.join('\n')}`,
    );
  });

  it('denies every call a function must never make', async () => {
    const allowed: string[] = [];
    for (const c of neverAllowed()) {
      const e = await evaluate(stack, c);
      if (e.decision === 'Allowed') allowed.push(`${c.why}: ${describeEvaluation(e)}`);
    }
    expect(allowed).toEqual([]);
  });

  it('reports a recorded call denied when a statement it needs is removed from the stack', async () => {
    // The worker's writes to its targets' partitions (lease, status, history).
    const without = mutated(stack, (t) => removeStatement(t, 'worker', 'WriteTargets'));
    const denied = (await evaluateAll(without, driven)).filter((e) => e.decision !== 'Allowed');
    expect(denied.length).toBeGreaterThan(0);
    expect(denied.map((e) => [e.call.fn, e.call.action])).toContainEqual([
      'worker',
      'dynamodb:UpdateItem',
    ]);
    expect(
      denied.every(
        (e) => e.call.fn === 'worker' && (e.call.context['dynamodb:LeadingKeys'] ?? []).length > 0,
      ),
    ).toBe(true);
    // The webhook's only write to target records.
    const noRoute = mutated(stack, (t) => removeStatement(t, 'webhook', 'RecordWantedRevision'));
    const webhookDenied = (await evaluateAll(noRoute, driven)).filter(
      (e) => e.decision !== 'Allowed',
    );
    expect(webhookDenied.map((e) => `${e.call.fn} ${e.call.action}`)).toEqual([
      'webhook dynamodb:UpdateItem',
    ]);
  });

  it('reports a forbidden call allowed when a statement granting it is added to the stack', async () => {
    const widened = mutated(stack, (t) =>
      addStatement(t, 'webhook', {
        Effect: 'Allow',
        Action: 'secretsmanager:GetSecretValue',
        Resource: '*',
      }),
    );
    const allowed: string[] = [];
    for (const c of neverAllowed()) {
      if ((await evaluate(widened, c)).decision === 'Allowed') allowed.push(c.why);
    }
    expect(allowed).toEqual([
      'the webhook reads source credentials',
      'the webhook reads source credentials',
      'the webhook reads the GitHub credentials',
      'the webhook reads any secret',
    ]);
  });
});
