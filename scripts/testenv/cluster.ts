// A real Kubernetes control plane on loopback, from the binaries that
// build-kube.sh builds from pinned Go modules.
//
//   base       etcd + kube-apiserver (what controller tests call envtest)
//   workloads  + kube-controller-manager, kube-scheduler and kwok with fake
//              nodes, so Deployments become Available and Jobs Complete.

import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import https from 'node:https';
import path from 'node:path';
import { stringify } from 'yaml';
import { type ClusterPki, createPki } from './certs.js';
import { ManagedProcess, reservePort, sleep, TestEnvError } from './process.js';

export type ClusterProfile = 'base' | 'workloads';

export interface ClusterOptions {
  /** Working directory for data, certificates, logs and kubeconfigs. */
  dir: string;
  binDir: string;
  profile: ClusterProfile;
  /** Fixed API server port (default: any free one). */
  apiserverPort?: number;
  /** Number of kwok fake nodes in the workloads profile. */
  nodes?: number;
  /** Extra kube-apiserver flags, after the defaults (e.g. a token webhook). */
  apiserverArgs?: string[];
}

export interface ClusterInfo {
  profile: ClusterProfile;
  server: string;
  kubeconfig: string;
  caCert: string;
  logDir: string;
}

const BINARIES = ['etcd', 'kube-apiserver', 'kube-controller-manager', 'kube-scheduler', 'kwok'];

export class TestCluster {
  private constructor(
    readonly info: ClusterInfo,
    private readonly pki: ClusterPki,
    private readonly opts: ClusterOptions,
    private readonly etcd: ManagedProcess,
    private apiserver: ManagedProcess,
    private readonly apiserverArgs: string[],
    private readonly components: ManagedProcess[],
  ) {}

  static async start(opts: ClusterOptions): Promise<TestCluster> {
    for (const b of BINARIES) {
      if (!existsSync(path.join(opts.binDir, b))) {
        throw new TestEnvError(
          `${b} not found in ${opts.binDir}. Build the control plane with scripts/testenv/build-kube.sh ` +
            '(scripts/test does this for you).',
        );
      }
    }
    const pkiDir = path.join(opts.dir, 'pki');
    const logDir = path.join(opts.dir, 'logs');
    await Promise.all([mkdir(pkiDir, { recursive: true }), mkdir(logDir, { recursive: true })]);
    const pki = await createPki(pkiDir, {
      admin: ['driftless-admin', 'system:masters'],
      'controller-manager': ['system:kube-controller-manager'],
      scheduler: ['system:kube-scheduler'],
      kwok: ['kwok', 'system:masters'],
    });

    const etcdPort = await reservePort('etcd');
    const etcdPeerPort = await reservePort('etcd peer');
    const etcd = await ManagedProcess.start({
      name: 'etcd',
      command: path.join(opts.binDir, 'etcd'),
      args: [
        '--name=driftless-test',
        `--data-dir=${path.join(opts.dir, 'etcd')}`,
        `--listen-client-urls=http://127.0.0.1:${etcdPort}`,
        `--advertise-client-urls=http://127.0.0.1:${etcdPort}`,
        `--listen-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-advertise-peer-urls=http://127.0.0.1:${etcdPeerPort}`,
        `--initial-cluster=driftless-test=http://127.0.0.1:${etcdPeerPort}`,
        '--unsafe-no-fsync=true', // test data: speed over durability
        '--quota-backend-bytes=4294967296',
        '--log-level=warn',
      ],
      logFile: path.join(logDir, 'etcd.log'),
      ready: () => httpOk(`http://127.0.0.1:${etcdPort}/health`),
    });

    const apiPort = await reservePort('kube-apiserver', opts.apiserverPort ?? 0);
    const server = `https://127.0.0.1:${apiPort}`;
    const apiserverArgs = [
      `--etcd-servers=http://127.0.0.1:${etcdPort}`,
      '--bind-address=127.0.0.1',
      '--advertise-address=127.0.0.1',
      `--secure-port=${apiPort}`,
      `--cert-dir=${pkiDir}`,
      `--tls-cert-file=${pki.servingCert}`,
      `--tls-private-key-file=${pki.servingKey}`,
      `--client-ca-file=${pki.caCert}`,
      '--service-account-issuer=https://kubernetes.default.svc.cluster.local',
      `--service-account-key-file=${pki.serviceAccountPub}`,
      `--service-account-signing-key-file=${pki.serviceAccountKey}`,
      '--service-cluster-ip-range=10.96.0.0/16',
      '--authorization-mode=RBAC',
      '--allow-privileged=true',
      // The loopback advertise address is not a valid endpoint for the
      // kubernetes Service; no pod here needs to reach the API through it.
      '--endpoint-reconciler-type=none',
      '--profiling=false',
      '--v=1',
      ...(opts.apiserverArgs ?? []),
    ];
    let apiserver: ManagedProcess;
    try {
      apiserver = await launchApiserver(opts.binDir, apiserverArgs, logDir, server, pki);
    } catch (e) {
      await etcd.stop();
      throw e;
    }

    const kubeconfigs: Record<string, string> = {};
    for (const user of ['admin', 'controller-manager', 'scheduler', 'kwok']) {
      kubeconfigs[user] = path.join(opts.dir, `${user}.kubeconfig`);
      await writeKubeconfig(kubeconfigs[user], server, pki, user);
    }
    const info: ClusterInfo = {
      profile: opts.profile,
      server,
      kubeconfig: kubeconfigs.admin as string,
      caCert: pki.caCert,
      logDir,
    };

    const components: ManagedProcess[] = [];
    const cluster = new TestCluster(info, pki, opts, etcd, apiserver, apiserverArgs, components);
    if (opts.profile === 'workloads') {
      try {
        await cluster.startWorkloadComponents(kubeconfigs, logDir);
      } catch (e) {
        await cluster.stop();
        throw e;
      }
    }
    return cluster;
  }

  private async startWorkloadComponents(kubeconfigs: Record<string, string>, logDir: string) {
    const bin = (b: string) => path.join(this.opts.binDir, b);
    this.components.push(
      await ManagedProcess.start({
        name: 'kube-controller-manager',
        command: bin('kube-controller-manager'),
        args: [
          `--kubeconfig=${kubeconfigs['controller-manager']}`,
          '--leader-elect=false',
          '--secure-port=0',
          `--service-account-private-key-file=${this.pki.serviceAccountKey}`,
          `--root-ca-file=${this.pki.caCert}`,
          '--use-service-account-credentials=true',
          '--cluster-cidr=10.244.0.0/16',
          '--allocate-node-cidrs=false',
          // Fast feedback: Deployments and Jobs in tests converge in seconds.
          '--concurrent-deployment-syncs=10',
          '--concurrent-replicaset-syncs=10',
          '--v=1',
        ],
        logFile: path.join(logDir, 'kube-controller-manager.log'),
        // Ready once its service-account controller made the default namespace's SA.
        ready: () => this.getOk('/api/v1/namespaces/default/serviceaccounts/default'),
      }),
    );
    this.components.push(
      await ManagedProcess.start({
        name: 'kube-scheduler',
        command: bin('kube-scheduler'),
        args: [
          `--kubeconfig=${kubeconfigs.scheduler}`,
          `--authentication-kubeconfig=${kubeconfigs.scheduler}`,
          `--authorization-kubeconfig=${kubeconfigs.scheduler}`,
          '--leader-elect=false',
          '--secure-port=0',
          '--v=1',
        ],
        logFile: path.join(logDir, 'kube-scheduler.log'),
        ready: async () => true,
      }),
    );
    this.components.push(
      await ManagedProcess.start({
        name: 'kwok',
        command: bin('kwok'),
        args: [
          `--kubeconfig=${kubeconfigs.kwok}`,
          '--manage-all-nodes=false',
          '--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake',
          '--manage-nodes-with-label-selector=',
          '--disregard-status-with-annotation-selector=kwok.x-k8s.io/status=custom',
          '--disregard-status-with-label-selector=',
          '--cidr=10.0.0.1/24',
          '--node-ip=10.0.0.1',
          '--node-lease-duration-seconds=40',
          '--server-address=',
        ],
        logFile: path.join(logDir, 'kwok.log'),
        ready: async () => true,
      }),
    );
    const nodes = this.opts.nodes ?? 2;
    for (let i = 0; i < nodes; i++) await this.createFakeNode(`kwok-node-${i}`);
    await this.waitFor('fake nodes Ready', 60_000, async () => {
      const list = (await this.getJson('/api/v1/nodes')) as {
        items: { status?: { conditions?: { type: string; status: string }[] } }[];
      };
      const ready = list.items.filter((n) =>
        n.status?.conditions?.some((c) => c.type === 'Ready' && c.status === 'True'),
      );
      return ready.length >= nodes;
    });
  }

  private async createFakeNode(name: string): Promise<void> {
    const resources = { cpu: '32', memory: '256Gi', pods: '110' };
    await this.request('POST', '/api/v1/nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: { 'kwok.x-k8s.io/node': 'fake', 'node.alpha.kubernetes.io/ttl': '0' },
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': 'amd64',
          type: 'kwok',
        },
      },
      status: { allocatable: resources, capacity: resources },
    });
  }

  /** Stops the API server only (fault tests); `startApiserver` brings it back on the same port. */
  async stopApiserver(): Promise<void> {
    await this.apiserver.stop();
  }

  async startApiserver(): Promise<void> {
    if (this.apiserver.running) return;
    this.apiserver = await launchApiserver(
      this.opts.binDir,
      this.apiserverArgs,
      this.info.logDir,
      this.info.server,
      this.pki,
    );
  }

  async stop(): Promise<void> {
    for (const c of [...this.components].reverse()) await c.stop();
    await this.apiserver.stop();
    await this.etcd.stop();
  }

  private async waitFor(what: string, timeoutMs: number, check: () => Promise<boolean>) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (await check().catch(() => false)) return;
      await sleep(250);
    }
    const logs = this.components.map((c) => `--- ${c.name}\n${c.logTail(10)}`).join('\n');
    throw new TestEnvError(`timed out after ${timeoutMs / 1000}s waiting for ${what}\n${logs}`);
  }

  private async getOk(urlPath: string): Promise<boolean> {
    const res = await adminRequest(this.info.server, this.pki, 'GET', urlPath);
    return res.status === 200;
  }

  private async getJson(urlPath: string): Promise<unknown> {
    return this.request('GET', urlPath);
  }

  private async request(method: string, urlPath: string, body?: unknown): Promise<unknown> {
    const res = await adminRequest(this.info.server, this.pki, method, urlPath, body);
    if (res.status >= 300) {
      throw new TestEnvError(`${method} ${urlPath}: HTTP ${res.status} ${res.body.slice(0, 300)}`);
    }
    return JSON.parse(res.body);
  }
}

async function launchApiserver(
  binDir: string,
  args: string[],
  logDir: string,
  server: string,
  pki: ClusterPki,
): Promise<ManagedProcess> {
  return ManagedProcess.start({
    name: 'kube-apiserver',
    command: path.join(binDir, 'kube-apiserver'),
    args,
    logFile: path.join(logDir, 'kube-apiserver.log'),
    readyTimeoutMs: 90_000,
    ready: async () => (await adminRequest(server, pki, 'GET', '/readyz')).status === 200,
  });
}

async function writeKubeconfig(file: string, server: string, pki: ClusterPki, user: string) {
  const b64 = async (f: string) => (await readFile(f)).toString('base64');
  const client = pki.client(user);
  const config = {
    apiVersion: 'v1',
    kind: 'Config',
    clusters: [
      {
        name: 'driftless-test',
        cluster: { server, 'certificate-authority-data': await b64(pki.caCert) },
      },
    ],
    users: [
      {
        name: user,
        user: {
          'client-certificate-data': await b64(client.cert),
          'client-key-data': await b64(client.key),
        },
      },
    ],
    contexts: [{ name: 'driftless-test', context: { cluster: 'driftless-test', user } }],
    'current-context': 'driftless-test',
  };
  await writeFile(file, stringify(config), { mode: 0o600 });
}

interface RawResponse {
  status: number;
  body: string;
}

async function adminRequest(
  server: string,
  pki: ClusterPki,
  method: string,
  urlPath: string,
  body?: unknown,
): Promise<RawResponse> {
  const admin = pki.client('admin');
  const [ca, cert, key] = await Promise.all([
    readFile(pki.caCert),
    readFile(admin.cert),
    readFile(admin.key),
  ]);
  return new Promise((resolve, reject) => {
    const req = https.request(
      `${server}${urlPath}`,
      {
        method,
        ca,
        cert,
        key,
        timeout: 5_000,
        headers: body ? { 'content-type': 'application/json' } : {},
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8') }),
        );
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    if (body) req.write(JSON.stringify(body));
    req.end();
  });
}

function httpOk(url: string): Promise<boolean> {
  return fetch(url, { signal: AbortSignal.timeout(2_000) })
    .then((r) => r.ok)
    .catch(() => false);
}
