// Smoke tests proving that each server of the test environment is the real
// thing: behaviour a hand-written fake would not have.

import fs from 'node:fs';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import {
  ConditionalCheckFailedException,
  CreateTableCommand,
  DynamoDBClient,
  PutItemCommand,
} from '@aws-sdk/client-dynamodb';
import { CreateClusterCommand, DescribeClusterCommand, EKSClient } from '@aws-sdk/client-eks';
import {
  CreateSecretCommand,
  GetSecretValueCommand,
  SecretsManagerClient,
} from '@aws-sdk/client-secrets-manager';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  AppsV1Api,
  BatchV1Api,
  CoreV1Api,
  PatchStrategy,
  type V1ConfigMap,
  VersionApi,
} from '@kubernetes/client-node';
import git from 'isomorphic-git';
import gitHttp from 'isomorphic-git/http/node';
import { describe, expect, it } from 'vitest';
import { awsClientConfig } from '../support/aws.js';
import { testenv, uniqueName } from '../support/env.js';
import { TestRepo } from '../support/git.js';
import { eventually, kubeConfig, objectApi, testNamespace } from '../support/kube.js';

describe('kube-apiserver', () => {
  it('reports the pinned Kubernetes version', async () => {
    const version = await kubeConfig().makeApiClient(VersionApi).getCode();
    expect(version.gitVersion).toBe(process.env.KUBERNETES_VERSION ?? 'v1.34.4');
    expect(version.minor).toBe('34');
  });

  it('server-side applies a ConfigMap and records managedFields for the field manager', async () => {
    const ns = await testNamespace('ssa');
    const api = objectApi();
    const cm: V1ConfigMap = {
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: ns },
      data: { greeting: 'hello' },
    };
    await api.patch(cm, undefined, undefined, 'driftless', true, PatchStrategy.ServerSideApply);
    const live = await api.read<V1ConfigMap>({
      apiVersion: 'v1',
      kind: 'ConfigMap',
      metadata: { name: 'settings', namespace: ns },
    });
    expect(live.data).toEqual({ greeting: 'hello' });
    const entry = live.metadata?.managedFields?.find((m) => m.manager === 'driftless');
    expect(entry?.operation).toBe('Apply');
    expect(entry?.fieldsV1).toEqual({ 'f:data': { 'f:greeting': {} } });

    // A second writer taking the field over shows up as a conflict unless forced.
    const edited = { ...cm, data: { greeting: 'changed' } };
    await expect(
      api.patch(edited, undefined, undefined, 'kubectl-edit', false, PatchStrategy.ServerSideApply),
    ).rejects.toMatchObject({ code: 409 });

    // A server-side dry run validates without persisting.
    await api.patch(edited, undefined, 'All', 'driftless', true, PatchStrategy.ServerSideApply);
    const after = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .readNamespacedConfigMap({ name: 'settings', namespace: ns });
    expect(after.data).toEqual({ greeting: 'hello' });
  });
});

describe('workloads profile (controller-manager, scheduler, kwok)', () => {
  it('runs a Deployment until it is Available on a fake node', async () => {
    const ns = await testNamespace('deploy');
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    await apps.createNamespacedDeployment({
      namespace: ns,
      body: {
        metadata: { name: 'web' },
        spec: {
          replicas: 2,
          selector: { matchLabels: { app: 'web' } },
          template: {
            metadata: { labels: { app: 'web' } },
            spec: { containers: [{ name: 'web', image: 'nginx:1.27' }] },
          },
        },
      },
    });
    const status = await eventually('Deployment web Available', async () => {
      const d = await apps.readNamespacedDeployment({ name: 'web', namespace: ns });
      const available = d.status?.conditions?.find((c) => c.type === 'Available');
      return available?.status === 'True' && d.status?.readyReplicas === 2 ? d.status : undefined;
    });
    expect(status.availableReplicas).toBe(2);
    const pods = await kubeConfig()
      .makeApiClient(CoreV1Api)
      .listNamespacedPod({ namespace: ns, labelSelector: 'app=web' });
    expect(pods.items.map((p) => p.spec?.nodeName?.startsWith('kwok-node-'))).toEqual([true, true]);
  });

  it('completes a Job', async () => {
    const ns = await testNamespace('job');
    const batch = kubeConfig().makeApiClient(BatchV1Api);
    await batch.createNamespacedJob({
      namespace: ns,
      body: {
        metadata: { name: 'once' },
        spec: {
          template: {
            spec: { restartPolicy: 'Never', containers: [{ name: 'once', image: 'busybox' }] },
          },
        },
      },
    });
    const job = await eventually('Job once Complete', async () => {
      const j = await batch.readNamespacedJob({ name: 'once', namespace: ns });
      return j.status?.conditions?.some((c) => c.type === 'Complete' && c.status === 'True')
        ? j
        : undefined;
    });
    expect(job.status?.succeeded).toBe(1);
  });

  it('rolls out a StatefulSet', async () => {
    const ns = await testNamespace('sts');
    const apps = kubeConfig().makeApiClient(AppsV1Api);
    await apps.createNamespacedStatefulSet({
      namespace: ns,
      body: {
        metadata: { name: 'db' },
        spec: {
          replicas: 2,
          serviceName: 'db',
          selector: { matchLabels: { app: 'db' } },
          template: {
            metadata: { labels: { app: 'db' } },
            spec: { containers: [{ name: 'db', image: 'postgres:17' }] },
          },
        },
      },
    });
    const sts = await eventually('StatefulSet db rolled out', async () => {
      const s = await apps.readNamespacedStatefulSet({ name: 'db', namespace: ns });
      return s.status?.readyReplicas === 2 && s.status.currentRevision === s.status.updateRevision
        ? s
        : undefined;
    });
    expect(sts.status?.availableReplicas).toBe(2);
  });
});

describe('moto (AWS emulator)', () => {
  it('round-trips a message through an SQS FIFO queue with deduplication', async () => {
    const sqs = new SQSClient(awsClientConfig());
    const { QueueUrl } = await sqs.send(
      new CreateQueueCommand({
        QueueName: `${uniqueName('jobs')}.fifo`,
        Attributes: { FifoQueue: 'true' },
      }),
    );
    const send = (id: string) =>
      sqs.send(
        new SendMessageCommand({
          QueueUrl,
          MessageBody: JSON.stringify({ app: 'web', cluster: 'prod' }),
          MessageGroupId: 'web#prod',
          MessageDeduplicationId: id,
        }),
      );
    await send('delivery-1');
    await send('delivery-1'); // same dedup id: dropped by the FIFO queue
    const received = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
        AttributeNames: ['All'],
      }),
    );
    expect(received.Messages).toHaveLength(1);
    const msg = received.Messages?.[0];
    expect(JSON.parse(msg?.Body ?? '')).toEqual({ app: 'web', cluster: 'prod' });
    expect(msg?.Attributes?.MessageGroupId).toBe('web#prod');
    await sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: msg?.ReceiptHandle }));
  });

  it('rejects a DynamoDB conditional write whose condition fails', async () => {
    const ddb = new DynamoDBClient(awsClientConfig());
    const TableName = uniqueName('leases');
    await ddb.send(
      new CreateTableCommand({
        TableName,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
    const take = (holder: string) =>
      ddb.send(
        new PutItemCommand({
          TableName,
          Item: { pk: { S: 'lease#web#prod' }, holder: { S: holder } },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      );
    await take('worker-a');
    await expect(take('worker-b')).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });

  it('serves STS, EKS and Secrets Manager', async () => {
    const identity = await new STSClient(awsClientConfig()).send(new GetCallerIdentityCommand({}));
    expect(identity.Arn).toMatch(/^arn:aws:(iam|sts)::\d{12}:/);

    const eks = new EKSClient(awsClientConfig());
    const name = uniqueName('prod');
    await eks.send(
      new CreateClusterCommand({
        name,
        roleArn: 'arn:aws:iam::123456789012:role/eks',
        resourcesVpcConfig: { subnetIds: ['subnet-1'] },
      }),
    );
    const { cluster } = await eks.send(new DescribeClusterCommand({ name }));
    expect(cluster?.name).toBe(name);
    expect(cluster?.endpoint).toMatch(/^https:\/\//);

    const sm = new SecretsManagerClient(awsClientConfig());
    const secretName = uniqueName('webhook-secret');
    await sm.send(new CreateSecretCommand({ Name: secretName, SecretString: 's3cr3t' }));
    const secret = await sm.send(new GetSecretValueCommand({ SecretId: secretName }));
    expect(secret.SecretString).toBe('s3cr3t');
  });
});

describe('git http-backend', () => {
  it('serves a pushed commit to an isomorphic-git clone over smart HTTP', async () => {
    const repo = await TestRepo.create('manifests');
    const sha = await repo.commit({ 'apps/web/cm.yaml': 'kind: ConfigMap\n' }, 'first');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-clone-'));
    try {
      await git.clone({ fs, http: gitHttp, dir, url: repo.url, singleBranch: true, depth: 1 });
      expect(await git.resolveRef({ fs, dir, ref: 'HEAD' })).toBe(sha);
      expect(await readFile(path.join(dir, 'apps/web/cm.yaml'), 'utf8')).toBe('kind: ConfigMap\n');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('requires basic-auth credentials for a private repository', async () => {
    const { git: server } = testenv();
    const repo = await TestRepo.create('secret-manifests', { private: true });
    const sha = await repo.commit({ 'a.yaml': 'kind: Namespace\n' });
    const dir = await mkdtemp(path.join(os.tmpdir(), 'driftless-clone-'));
    try {
      await expect(
        git.clone({ fs, http: gitHttp, dir: path.join(dir, 'anon'), url: repo.url, depth: 1 }),
      ).rejects.toMatchObject({ code: 'HttpError', data: { statusCode: 401 } });
      await expect(
        git.clone({
          fs,
          http: gitHttp,
          dir: path.join(dir, 'wrong'),
          url: repo.url,
          depth: 1,
          onAuth: () => ({ username: server.username, password: 'wrong' }),
        }),
      ).rejects.toMatchObject({ code: 'HttpError' });
      await git.clone({
        fs,
        http: gitHttp,
        dir: path.join(dir, 'ok'),
        url: repo.url,
        depth: 1,
        onAuth: () => ({ username: server.username, password: server.password }),
      });
      expect(await git.resolveRef({ fs, dir: path.join(dir, 'ok'), ref: 'HEAD' })).toBe(sha);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('refuses paths outside the repository root', async () => {
    const { git: server } = testenv();
    const status = await new Promise<number>((resolve, reject) => {
      http
        .get(`${server.baseUrl}/..%2F..%2Fetc.git/info/refs?service=git-upload-pack`, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        })
        .on('error', reject);
    });
    expect(status).toBe(404);
  });
});
