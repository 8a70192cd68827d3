// EKS access end to end: a dedicated kube-apiserver authenticates bearer
// tokens through an EKS-style TokenReview webhook (scripts/testenv/
// eks-authenticator.ts), which checks each token and asks STS who signed it.
// STS is moto, behind a front that verifies presigned signatures as real STS
// does (scripts/testenv/sts-presign.ts). The EKS clusters exist in moto
// (CreateCluster); DescribeCluster is really called, and only its placeholder
// endpoint and CA are replaced by the test API server's (endpointOverride).
// RBAC lets the deployer role's identity write in namespace `allowed` only.

import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { CreateClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { CoreV1Api, KubeConfig, RbacAuthorizationV1Api } from '@kubernetes/client-node';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DriftlessError } from '../../lib/errors.js';
import { KubeClient } from '../../lib/kube/client.js';
import { ClusterRouter } from '../../lib/kube/connector.js';
import {
  type AwsCredentials,
  EKS_TOKEN_PREFIX,
  EksConnector,
  type EksConnectorOptions,
  presignEksToken,
} from '../../lib/kube/eks.js';
import { ClusterSchema } from '../../lib/model/application.js';
import type { Clock } from '../../lib/ports/clock.js';
import { TestCluster } from '../../scripts/testenv/cluster.js';
import { EksAuthenticator } from '../../scripts/testenv/eks-authenticator.js';
import { kubeBinDir } from '../../scripts/testenv/env.js';
import { PresignAwareSts } from '../../scripts/testenv/sts-presign.js';
import { awsClientConfig } from '../support/aws.js';
import { EngineHarness } from '../support/engine.js';
import { uniqueName } from '../support/env.js';

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';
const MIN = 60_000;

const suffix = uniqueName('x').slice(2);
const eksName = `driftless-${suffix}`;
const otherEksName = `other-${suffix}`;
const workerRoleArn = `arn:aws:iam::${ACCOUNT}:role/driftless-worker-${suffix}`;
const deployerRoleArn = `arn:aws:iam::${ACCOUNT}:role/driftless-deployer-${suffix}`;

/** The test's clock: the authenticator and the connectors under test read it. */
let offsetMs = 0;
const clock: Clock = { now: () => Date.now() + offsetMs };

let dir: string;
let cluster: TestCluster;
let sts: PresignAwareSts;
let authenticator: EksAuthenticator;
let workerCredentials: AwsCredentials;
let caData: string;
const connectors: EksConnector[] = [];

function cm(name: string, ns?: string): string {
  return `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: ${name}\n${ns ? `  namespace: ${ns}\n` : ''}data: { k: v }\n`;
}

function adminKube(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.info.kubeconfig);
  return kc;
}

function eksCluster(name: string, eks: { name: string; roleArn?: string }) {
  return ClusterSchema.parse({
    apiVersion: 'driftless.dev/v1',
    kind: 'Cluster',
    metadata: { name },
    spec: { eks: { region: REGION, ...eks } },
  });
}

/** The connector as production builds it, pointed at the emulator and the test API server. */
function connector(opts: Partial<EksConnectorOptions> = {}): EksConnector {
  const c = new EksConnector({
    credentials: workerCredentials,
    endpoint: sts.endpoint,
    maxAttempts: 1,
    clock,
    endpointOverride: ({ name }) =>
      name === eksName || name === otherEksName
        ? { server: cluster.info.server, caData }
        : undefined,
    ...opts,
  });
  connectors.push(c);
  return c;
}

/** A client that sends exactly this bearer token. */
function clientWithToken(token: string): KubeClient {
  return new KubeClient(
    {
      name: 't',
      server: cluster.info.server,
      ca: Buffer.from(caData, 'base64'),
      credentials: async () => ({ token }),
    },
    { clusterName: 'token-test' },
  );
}

function tamper(token: string, edit: (url: URL) => void): string {
  const url = new URL(Buffer.from(token.slice(EKS_TOKEN_PREFIX.length), 'base64url').toString());
  edit(url);
  return EKS_TOKEN_PREFIX + Buffer.from(url.toString()).toString('base64url');
}

beforeAll(async () => {
  const aws = awsClientConfig();
  sts = await PresignAwareSts.start(aws.endpoint);
  // The worker's own credentials are a role session, as a Lambda's are.
  const assumed = await new STSClient(aws).send(
    new AssumeRoleCommand({ RoleArn: workerRoleArn, RoleSessionName: 'worker' }),
  );
  const c = assumed.Credentials!;
  workerCredentials = {
    accessKeyId: c.AccessKeyId!,
    secretAccessKey: c.SecretAccessKey!,
    sessionToken: c.SessionToken,
    expiration: c.Expiration,
  };
  const eks = new EKSClient(aws);
  for (const name of [eksName, otherEksName]) {
    await eks.send(
      new CreateClusterCommand({
        name,
        roleArn: `arn:aws:iam::${ACCOUNT}:role/eks-service`,
        resourcesVpcConfig: { subnetIds: [] },
      }),
    );
  }
  eks.destroy();

  authenticator = await EksAuthenticator.start({
    clusterName: eksName,
    stsEndpoint: sts.endpoint,
    now: () => clock.now(),
    mappings: [
      {
        arn: deployerRoleArn,
        username: 'deployer:{{SessionName}}',
        groups: ['driftless:deployers'],
      },
      { arn: workerRoleArn, username: 'worker', groups: ['driftless:readers'] },
    ],
  });
  dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-eks-'));
  const webhookConfig = path.join(dir, 'eks-webhook.kubeconfig');
  await authenticator.writeWebhookConfig(webhookConfig);
  cluster = await TestCluster.start({
    dir: path.join(dir, 'cluster'),
    binDir: kubeBinDir(),
    profile: 'base',
    apiserverArgs: authenticator.apiserverArgs(webhookConfig),
  });
  caData = (await readFile(cluster.info.caCert)).toString('base64');

  // RBAC: deployers may change ConfigMaps in `allowed`; readers may only read
  // them there; nobody gets anything in `denied`.
  const core = adminKube().makeApiClient(CoreV1Api);
  const rbac = adminKube().makeApiClient(RbacAuthorizationV1Api);
  for (const name of ['allowed', 'denied']) {
    await core.createNamespace({ body: { metadata: { name } } });
  }
  const roles = {
    'configmap-writer': ['get', 'list', 'watch', 'create', 'update', 'patch', 'delete'],
    'configmap-reader': ['get', 'list', 'watch'],
  };
  for (const [name, verbs] of Object.entries(roles)) {
    await rbac.createNamespacedRole({
      namespace: 'allowed',
      body: {
        metadata: { name },
        rules: [{ apiGroups: [''], resources: ['configmaps'], verbs }],
      },
    });
  }
  for (const [role, group] of [
    ['configmap-writer', 'driftless:deployers'],
    ['configmap-reader', 'driftless:readers'],
  ] as const) {
    await rbac.createNamespacedRoleBinding({
      namespace: 'allowed',
      body: {
        metadata: { name: role },
        roleRef: { apiGroup: 'rbac.authorization.k8s.io', kind: 'Role', name: role },
        subjects: [{ apiGroup: 'rbac.authorization.k8s.io', kind: 'Group', name: group }],
      },
    });
  }
});

afterAll(async () => {
  for (const c of connectors) c.close();
  await cluster?.stop();
  await authenticator?.stop();
  await sts?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

beforeEach(() => {
  offsetMs = 0;
});

describe('reconcile through an EKS token', () => {
  it('applies where RBAC allows the mapped role and fails Forbidden where it does not', async () => {
    const prod = eksCluster('prod', { name: eksName, roleArn: deployerRoleArn });
    const ok = await EngineHarness.create(uniqueName('app'), {
      connector: connector(),
      cluster: prod,
    });
    await ok.repo.commit({ 'settings.yaml': cm('settings') });
    await ok.setApp({ namespace: 'allowed' });
    const outcome = await ok.reconcile();
    expect(outcome.error).toBeUndefined();
    expect(outcome.status.sync).toBe('Synced');
    const live = await adminKube()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'settings', namespace: 'allowed' });
    expect(live.data).toEqual({ k: 'v' });
    // The API server saw the assumed role's session, mapped back to the role.
    const review = authenticator.reviews.findLast((r) => r.authenticated);
    expect(review).toMatchObject({
      username: 'deployer:driftless-prod',
      arn: `arn:aws:sts::${ACCOUNT}:assumed-role/driftless-deployer-${suffix}/driftless-prod`,
    });

    const denied = await EngineHarness.create(uniqueName('app'), {
      connector: connector(),
      cluster: prod,
    });
    await denied.repo.commit({ 'a.yaml': cm('fine', 'allowed'), 'b.yaml': cm('nope', 'denied') });
    await denied.setApp({ namespace: 'allowed' });
    const refused = await denied.reconcile();
    expect(refused.error?.reason).toBe('Forbidden');
    expect(refused.error?.message).toMatch(
      /^forbidden: user deployer:driftless-prod cannot list configmaps in namespace denied on cluster prod \(configmaps is forbidden: User "deployer:driftless-prod" cannot list resource "configmaps" in API group "" in the namespace "denied"\)$/,
    );
    expect(refused.status.operation).toMatchObject({ phase: 'Failed', reason: 'Forbidden' });
    expect(refused.status.operation?.message).toContain(
      'cannot list configmaps in namespace denied',
    );
    const deniedList = await adminKube()
      .makeApiClient(CoreV1Api)
      .listNamespacedConfigMap({ namespace: 'denied' });
    expect(deniedList.items.filter((c) => c.metadata?.name === 'nope')).toHaveLength(0);
  });

  it("without a role, acts as the worker's own identity: reads allowed, writes refused with the verb", async () => {
    const h = await EngineHarness.create(uniqueName('app'), {
      connector: connector(),
      cluster: eksCluster('readonly', { name: eksName }),
    });
    await h.repo.commit({ 'x.yaml': cm(`ro-${suffix}`) });
    await h.setApp({ namespace: 'allowed' });
    const outcome = await h.reconcile();
    expect(outcome.error?.reason).toBe('Forbidden');
    expect(outcome.error?.message).toMatch(
      /^forbidden: user worker cannot patch configmaps in namespace allowed on cluster readonly \(configmaps "ro-[0-9a-f]+" is forbidden: User "worker" cannot patch resource "configmaps"/,
    );
    expect(outcome.error?.location.object).toBe(`ConfigMap/allowed/ro-${suffix}`);
  });

  it('fails Unauthorized with an expired token', async () => {
    // The worker's clock is 16 minutes behind: every token it signs is already too old.
    const h = await EngineHarness.create(uniqueName('app'), {
      connector: connector({ clock: { now: () => Date.now() - 16 * MIN } }),
      cluster: eksCluster('late', { name: eksName, roleArn: deployerRoleArn }),
    });
    await h.repo.commit({ 'x.yaml': cm('late') });
    await h.setApp({ namespace: 'allowed' });
    const outcome = await h.reconcile();
    expect(outcome.error?.reason).toBe('Unauthorized');
    expect(outcome.error?.message).toMatch(
      /^the API server of cluster late rejected the credentials \(401\)/,
    );
    expect(authenticator.reviews.at(-1)?.error).toMatch(/^token expired: signed/);
  });

  it('fails Unauthorized with a token made for another EKS cluster', async () => {
    // Same API server, but the token binds x-k8s-aws-id to the other cluster:
    // the authenticator sends its own name, so STS's signature check fails.
    const c = connector();
    const client = await c.connect(eksCluster('other', { name: otherEksName }));
    await expect(client.list('v1', 'ConfigMap', { namespace: 'allowed' })).rejects.toMatchObject({
      reason: 'Unauthorized',
    });
    expect(authenticator.reviews.at(-1)?.error).toBe(
      'STS rejected the token: SignatureDoesNotMatch',
    );
  });

  it('rejects tampered tokens before or at STS', async () => {
    const token = await presignEksToken({
      clusterName: eksName,
      region: REGION,
      credentials: workerCredentials,
      stsEndpoint: sts.endpoint,
    });
    // The genuine token works.
    await expect(
      clientWithToken(token).list('v1', 'ConfigMap', { namespace: 'allowed' }),
    ).resolves.toBeInstanceOf(Array);
    const cases: [string, string, RegExp][] = [
      [
        'changed signature',
        tamper(token, (u) => {
          const sig = u.searchParams.get('X-Amz-Signature')!;
          u.searchParams.set(
            'X-Amz-Signature',
            `${sig.slice(0, -1)}${sig.endsWith('0') ? '1' : '0'}`,
          );
        }),
        /SignatureDoesNotMatch/,
      ],
      [
        'x-k8s-aws-id not signed',
        tamper(token, (u) => u.searchParams.set('X-Amz-SignedHeaders', 'host')),
        /x-k8s-aws-id is not among the signed headers/,
      ],
      [
        'another STS host',
        tamper(token, (u) => {
          u.host = `127.0.0.2:${u.port}`;
        }),
        /not the STS endpoint/,
      ],
      ['not an EKS token', 'k8s-aws-v2.abc', /not an EKS token/],
    ];
    for (const [what, bad, why] of cases) {
      const err = await clientWithToken(bad)
        .list('v1', 'ConfigMap', { namespace: 'allowed' })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err, what).toBeInstanceOf(DriftlessError);
      expect((err as DriftlessError).reason, what).toBe('Unauthorized');
      expect(authenticator.reviews.at(-1)?.error, what).toMatch(why);
    }
  });
});

describe('EKS connector', () => {
  it('names the EKS cluster and region when DescribeCluster finds nothing', async () => {
    const err = await connector()
      .connect(eksCluster('ghost', { name: 'no-such-cluster' }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DriftlessError);
    expect(err).toMatchObject({
      reason: 'ClusterNotFound',
      message: `EKS cluster no-such-cluster not found in region ${REGION}`,
      location: { object: 'Cluster/ghost', field: 'spec.eks' },
    });
  });

  it('reports AWS credentials AWS does not know as Unauthorized, naming them', async () => {
    const err = await connector({
      credentials: { accessKeyId: 'AKIAUNKNOWN000000000', secretAccessKey: 'x' },
    })
      .connect(eksCluster('nokey', { name: eksName }))
      .then(async (client) => client.list('v1', 'ConfigMap', { namespace: 'allowed' }))
      .catch((e: unknown) => e);
    // moto accepts any key for DescribeCluster; STS (the front) does not for the token.
    expect(err).toMatchObject({ reason: 'Unauthorized' });
    expect(authenticator.reviews.at(-1)?.error).toBe(
      'STS rejected the token: InvalidClientTokenId',
    );
  });

  it('caches the client and its token across connects', async () => {
    const c = connector();
    const spec = eksCluster('cached', { name: eksName, roleArn: deployerRoleArn });
    const before = {
      describe: sts.count('eks:DescribeCluster'),
      assume: sts.count('sts:AssumeRole'),
    };
    const first = await c.connect(spec);
    for (let i = 0; i < 3; i++) {
      const again = await c.connect(spec);
      expect(again).toBe(first);
      await again.list('v1', 'ConfigMap', { namespace: 'allowed' });
    }
    expect(c.stats).toEqual({ describeCluster: 1, assumeRole: 1, tokensPresigned: 1 });
    expect(sts.count('eks:DescribeCluster') - before.describe).toBe(1);
    expect(sts.count('sts:AssumeRole') - before.assume).toBe(1);
  });

  it('presigns a new token at 14 minutes, before the old one expires', async () => {
    const c = connector();
    const client = await c.connect(
      eksCluster('refresh', { name: eksName, roleArn: deployerRoleArn }),
    );
    const list = () => client.list('v1', 'ConfigMap', { namespace: 'allowed' });
    const t0 = clock.now();
    await list();
    offsetMs += 10 * MIN;
    await list();
    expect(c.stats.tokensPresigned).toBe(1);
    const firstSignedAt = authenticator.reviews.at(-1)?.signedAt ?? 0;
    // Signed when first used, not at the 10 minutes the clock was moved on
    // since (generous: a busy machine may take seconds to reach the signer).
    expect(Math.abs(firstSignedAt - t0)).toBeLessThan(MIN);

    offsetMs += 4 * MIN + 1_000; // 14 minutes and a second after the first token
    await list();
    expect(c.stats.tokensPresigned).toBe(2);
    const review = authenticator.reviews.at(-1);
    expect(review?.authenticated).toBe(true);
    expect(review?.signedAt ?? 0).toBeGreaterThan(firstSignedAt + 14 * MIN - 1_000);
    // The role's credentials are still good for most of an hour: not assumed again.
    expect(c.stats.assumeRole).toBe(1);
  });

  it('presigns earlier when the credentials that sign expire first', async () => {
    // Credentials that expire in 10 minutes: tokens signed with them die then too.
    const expiring = { ...workerCredentials, expiration: new Date(clock.now() + 10 * MIN) };
    const c = connector({ credentials: async () => expiring });
    const client = await c.connect(eksCluster('shortcreds', { name: eksName }));
    await client.list('v1', 'ConfigMap', { namespace: 'allowed' });
    offsetMs += 8 * MIN;
    await client.list('v1', 'ConfigMap', { namespace: 'allowed' });
    expect(c.stats.tokensPresigned).toBe(1);
    offsetMs += 1 * MIN + 1_000; // within a minute of the credentials' expiry
    await client.list('v1', 'ConfigMap', { namespace: 'allowed' });
    expect(c.stats.tokensPresigned).toBe(2);
  });

  it('routes kubeconfig clusters to the kubeconfig connector, EKS clusters to EKS', async () => {
    const c = connector();
    const router = new ClusterRouter({ eks: c });
    const client = await router.connect(
      ClusterSchema.parse({
        apiVersion: 'driftless.dev/v1',
        kind: 'Cluster',
        metadata: { name: 'kc' },
        spec: { kubeconfig: { path: cluster.info.kubeconfig } },
      }),
    );
    const namespaces = await client.list('v1', 'Namespace');
    expect(namespaces.map((n) => n.metadata.name)).toEqual(
      expect.arrayContaining(['allowed', 'denied']),
    );
    expect(c.stats.describeCluster).toBe(0);
    await router.connect(eksCluster('routed', { name: eksName }));
    expect(c.stats.describeCluster).toBe(1);
    router.kubeconfig.close();
  });

  it('refuses a kubeconfig cluster on the EKS connector, naming the field', async () => {
    const err = await connector()
      .connect(
        ClusterSchema.parse({
          apiVersion: 'driftless.dev/v1',
          kind: 'Cluster',
          metadata: { name: 'kc' },
          spec: { kubeconfig: { path: cluster.info.kubeconfig } },
        }),
      )
      .catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'InvalidSpec', location: { field: 'spec.eks' } });
  });
});
