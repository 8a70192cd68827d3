// EKS clusters: DescribeCluster for the endpoint and CA, an optional per-cluster
// role (STS AssumeRole), and the bearer token EKS accepts — `k8s-aws-v1.` and
// the base64url of a presigned STS GetCallerIdentity URL whose signed headers
// include `x-k8s-aws-id: <cluster name>`. The API server's authenticator
// (aws-iam-authenticator, EKS access entries) calls that URL and maps the
// returned ARN to a Kubernetes user. Tokens are valid for 15 minutes; a warm
// Lambda keeps one per cluster and presigns a new one at 14 minutes, or
// earlier when the credentials that signed it are about to expire.
// Clusters declared with a kubeconfig are the KubeconfigConnector's; the
// ClusterRouter (lib/kube/connector.ts) picks one of the two by the spec.

import {
  DescribeClusterCommand,
  type DescribeClusterCommandOutput,
  EKSClient,
} from '@aws-sdk/client-eks';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { SignatureV4 } from '@smithy/signature-v4';
import { withAwsCallHooks } from '../aws/call-hooks.js';
import { NodeSha256 } from '../aws/sigv4.js';
import { DriftlessError } from '../errors.js';
import type { Cluster } from '../model/application.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { ClusterClient, ClusterConnector } from '../ports/cluster.js';
import { KubeClient, type KubeClientOptions } from './client.js';

export const EKS_TOKEN_PREFIX = 'k8s-aws-v1.';
/** The header that binds a token to one cluster; it must be among the signed headers. */
export const CLUSTER_ID_HEADER = 'x-k8s-aws-id';
/** How long EKS accepts a token after its X-Amz-Date. */
export const EKS_TOKEN_LIFETIME_MS = 15 * 60_000;
/** When a cached token is replaced: a minute before EKS would reject it. */
export const EKS_TOKEN_REFRESH_MS = 14 * 60_000;
/** Replace a token this long before the credentials that signed it expire. */
const CREDENTIALS_MARGIN_MS = 60_000;
/** Assume the role again when its credentials have less than this left. */
const ASSUMED_ROLE_REFRESH_MS = 5 * 60_000;
const ASSUMED_ROLE_DURATION_S = 3600;

export interface AwsCredentials {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
  expiration?: Date;
}

export type AwsCredentialsProvider = () => Promise<AwsCredentials>;

/** RFC 3986 encoding, as SigV4 canonicalizes query strings. */
function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(
    /[!'()*]/g,
    (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`,
  );
}

export function defaultStsEndpoint(region: string): string {
  return `https://sts.${region}.amazonaws.com`;
}

export interface EksTokenInput {
  /** The EKS cluster's name (what `x-k8s-aws-id` carries). */
  clusterName: string;
  /** Region of the STS endpoint that signs (and later answers) the request. */
  region: string;
  credentials: AwsCredentials;
  /** Default: the regional STS endpoint. */
  stsEndpoint?: string;
  signingDate?: Date;
}

/** The bearer token for one EKS cluster: a presigned STS GetCallerIdentity URL. */
export async function presignEksToken(input: EksTokenInput): Promise<string> {
  const url = new URL(input.stsEndpoint ?? defaultStsEndpoint(input.region));
  const path = url.pathname || '/';
  const signer = new SignatureV4({
    service: 'sts',
    region: input.region,
    credentials: input.credentials,
    sha256: NodeSha256,
  });
  const signed = await signer.presign(
    {
      method: 'GET',
      protocol: url.protocol,
      hostname: url.hostname,
      port: url.port ? Number(url.port) : undefined,
      path,
      query: { Action: 'GetCallerIdentity', Version: '2011-06-15' },
      headers: { host: url.host, [CLUSTER_ID_HEADER]: input.clusterName },
    },
    // EKS ignores the URL's own expiry and accepts a token for 15 minutes
    // after X-Amz-Date; 60 s is what the AWS CLI and aws-iam-authenticator send.
    { expiresIn: 60, signingDate: input.signingDate ?? new Date() },
  );
  const query = Object.entries(signed.query ?? {})
    .flatMap(([k, v]) =>
      (Array.isArray(v) ? v : v == null ? [] : [v]).map((x) => `${rfc3986(k)}=${rfc3986(x)}`),
    )
    .join('&');
  const presigned = `${url.protocol}//${url.host}${path}?${query}`;
  return EKS_TOKEN_PREFIX + Buffer.from(presigned, 'utf8').toString('base64url');
}

interface MintedToken {
  token: string;
  /** When to stop using it (clock ms). */
  refreshAt: number;
}

/** One cluster's token, cached until its refresh time; concurrent callers share one presign. */
export class EksTokenSource {
  private current: MintedToken | undefined;
  private pending: Promise<string> | undefined;

  constructor(
    private readonly mint: () => Promise<MintedToken>,
    private readonly clock: Clock,
  ) {}

  async token(): Promise<string> {
    if (this.current && this.clock.now() < this.current.refreshAt) return this.current.token;
    this.pending ??= this.mint()
      .then((t) => {
        this.current = t;
        return t.token;
      })
      .finally(() => {
        this.pending = undefined;
      });
    return this.pending;
  }

  /** Forget the cached token (the next request presigns a new one). */
  invalidate(): void {
    this.current = undefined;
  }
}

/** Where an EKS cluster's API server is. */
export interface EksEndpoint {
  server: string;
  /** Base64 of the PEM CA bundle, as DescribeCluster returns it. */
  caData: string;
}

export interface EksConnectorOptions {
  /** The worker's own AWS credentials. Default: the SDK's chain (the Lambda's role). */
  credentials?: AwsCredentials | AwsCredentialsProvider;
  /** One endpoint for EKS and STS, e.g. an AWS emulator. Default: the regional AWS endpoints. */
  endpoint?: string;
  /** Region of the STS endpoint that signs tokens and assumes roles. Default: the cluster's. */
  stsRegion?: string;
  clock?: Clock;
  /** Options for every Kubernetes client (timeouts, sockets). */
  kube?: KubeClientOptions;
  /** SDK attempts per AWS call (default 3). */
  maxAttempts?: number;
  /**
   * Tests only: the API server to use instead of the one DescribeCluster
   * names. An AWS emulator cannot run a control plane, so its DescribeCluster
   * returns a placeholder endpoint and CA; DescribeCluster is still called
   * (its errors still matter) and only its answer is replaced.
   */
  endpointOverride?: (cluster: { name: string; region: string }) => EksEndpoint | undefined;
}

export interface EksConnectorStats {
  describeCluster: number;
  assumeRole: number;
  tokensPresigned: number;
}

interface AssumedRole {
  credentials: AwsCredentials;
  expiresAt: number;
}

export class EksConnector implements ClusterConnector {
  readonly stats: EksConnectorStats = { describeCluster: 0, assumeRole: 0, tokensPresigned: 0 };
  private readonly clock: Clock;
  private readonly clients = new Map<string, Promise<KubeClient>>();
  private readonly stsClients = new Map<string, STSClient>();
  private readonly eksClients = new Map<string, EKSClient>();
  private readonly roles = new Map<string, Promise<AssumedRole>>();

  constructor(private readonly opts: EksConnectorOptions = {}) {
    this.clock = opts.clock ?? systemClock;
  }

  async connect(cluster: Cluster): Promise<ClusterClient> {
    const eks = cluster.spec.eks;
    if (!eks) {
      throw new DriftlessError(
        'InvalidSpec',
        `cluster ${cluster.metadata.name} is not an EKS cluster`,
        { object: `Cluster/${cluster.metadata.name}`, field: 'spec.eks' },
      );
    }
    const key = [cluster.metadata.name, eks.name, eks.region, eks.roleArn ?? ''].join('|');
    let client = this.clients.get(key);
    if (!client) {
      client = this.createClient(cluster.metadata.name, eks);
      this.clients.set(key, client);
      // A failed connect is not cached: the next reconcile tries again.
      client.catch(() => this.clients.delete(key));
    }
    return client;
  }

  close(): void {
    for (const c of this.clients.values()) void c.then((k) => k.close()).catch(() => {});
    this.clients.clear();
    for (const c of [...this.stsClients.values(), ...this.eksClients.values()]) c.destroy();
    this.stsClients.clear();
    this.eksClients.clear();
  }

  private async createClient(
    name: string,
    eks: NonNullable<Cluster['spec']['eks']>,
  ): Promise<KubeClient> {
    const described = await this.describeCluster(name, eks);
    const endpoint =
      this.opts.endpointOverride?.({ name: eks.name, region: eks.region }) ?? described;
    const stsRegion = this.opts.stsRegion ?? eks.region;
    const tokens = new EksTokenSource(async () => {
      const credentials = await this.credentialsFor(name, eks);
      const signedAt = this.clock.now();
      const token = await presignEksToken({
        clusterName: eks.name,
        region: stsRegion,
        credentials,
        stsEndpoint: this.opts.endpoint,
        signingDate: new Date(signedAt),
      });
      this.stats.tokensPresigned++;
      const credentialsExpire = credentials.expiration?.getTime() ?? Number.POSITIVE_INFINITY;
      return {
        token,
        refreshAt: Math.min(
          signedAt + EKS_TOKEN_REFRESH_MS,
          credentialsExpire - CREDENTIALS_MARGIN_MS,
        ),
      };
    }, this.clock);
    // Presign now, so credential problems fail the connect with a clear reason.
    await tokens.token();

    return new KubeClient(
      {
        name,
        server: endpoint.server,
        ca: Buffer.from(endpoint.caData, 'base64'),
        // A current token on every request, so a long-lived client never sends a stale one.
        credentials: async () => ({ token: await tokens.token() }),
      },
      { ...this.opts.kube, clusterName: name },
    );
  }

  private async describeCluster(
    name: string,
    eks: NonNullable<Cluster['spec']['eks']>,
  ): Promise<EksEndpoint> {
    this.stats.describeCluster++;
    const where = { object: `Cluster/${name}`, field: 'spec.eks' };
    let out: DescribeClusterCommandOutput;
    try {
      out = await this.eksClient(name, eks).send(new DescribeClusterCommand({ name: eks.name }));
    } catch (e) {
      if (errorName(e) === 'ResourceNotFoundException') {
        throw new DriftlessError(
          'ClusterNotFound',
          `EKS cluster ${eks.name} not found in region ${eks.region}${eks.roleArn ? ` (as role ${eks.roleArn})` : ''}`,
          where,
          { cause: e },
        );
      }
      throw awsError(e, {
        action: `eks:DescribeCluster of ${eks.name} in ${eks.region}`,
        credentials: credentialsName(eks.roleArn),
        cluster: name,
      });
    }
    const c = out.cluster;
    if (c?.status && c.status !== 'ACTIVE' && c.status !== 'UPDATING') {
      throw new DriftlessError(
        'ClusterUnreachable',
        `EKS cluster ${eks.name} in ${eks.region} is ${c.status}, not ACTIVE`,
        where,
      );
    }
    if (!c?.endpoint || !c.certificateAuthority?.data) {
      throw new DriftlessError(
        'ClusterUnreachable',
        `EKS cluster ${eks.name} in ${eks.region} has no API endpoint or CA yet (status ${c?.status ?? 'unknown'})`,
        where,
      );
    }
    return { server: c.endpoint, caData: c.certificateAuthority.data };
  }

  /** EKS calls run as the cluster's role when it has one (it may be in another account). */
  private eksClient(name: string, eks: NonNullable<Cluster['spec']['eks']>): EKSClient {
    const key = `${eks.region}|${eks.roleArn ?? ''}`;
    let client = this.eksClients.get(key);
    if (!client) {
      client = withAwsCallHooks(
        new EKSClient({
          region: eks.region,
          endpoint: this.opts.endpoint,
          maxAttempts: this.opts.maxAttempts,
          credentials: eks.roleArn ? () => this.credentialsFor(name, eks) : this.opts.credentials,
        }),
      );
      this.eksClients.set(key, client);
    }
    return client;
  }

  private stsClient(region: string): STSClient {
    let client = this.stsClients.get(region);
    if (!client) {
      client = withAwsCallHooks(
        new STSClient({
          region,
          endpoint: this.opts.endpoint,
          maxAttempts: this.opts.maxAttempts,
          credentials: this.opts.credentials,
        }),
      );
      this.stsClients.set(region, client);
    }
    return client;
  }

  /** The credentials that act on the cluster: the assumed role's, or the worker's own. */
  private async credentialsFor(
    name: string,
    eks: NonNullable<Cluster['spec']['eks']>,
  ): Promise<AwsCredentials> {
    const region = this.opts.stsRegion ?? eks.region;
    if (!eks.roleArn) return this.baseCredentials(region, name);
    const key = `${region}|${eks.roleArn}`;
    let role = this.roles.get(key);
    if (role) {
      const cached = await role.catch(() => undefined);
      if (!cached || cached.expiresAt - this.clock.now() < ASSUMED_ROLE_REFRESH_MS)
        role = undefined;
    }
    if (!role) {
      role = this.assumeRole(region, eks.roleArn, name);
      this.roles.set(key, role);
      role.catch(() => this.roles.delete(key));
    }
    return (await role).credentials;
  }

  private async baseCredentials(region: string, name: string): Promise<AwsCredentials> {
    const configured = this.opts.credentials;
    try {
      if (typeof configured === 'function') return await configured();
      if (configured) return configured;
      return await this.stsClient(region).config.credentials();
    } catch (e) {
      throw awsError(e, {
        action: 'loading AWS credentials',
        credentials: credentialsName(undefined),
        cluster: name,
      });
    }
  }

  private async assumeRole(region: string, roleArn: string, name: string): Promise<AssumedRole> {
    this.stats.assumeRole++;
    try {
      const out = await this.stsClient(region).send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          // Shows up in CloudTrail and in the assumed-role ARN the cluster sees.
          RoleSessionName: `driftless-${name}`.slice(0, 64),
          DurationSeconds: ASSUMED_ROLE_DURATION_S,
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) {
        throw new DriftlessError(
          'Internal',
          `sts:AssumeRole of ${roleArn} returned no credentials`,
        );
      }
      const expiresAt =
        c.Expiration?.getTime() ?? this.clock.now() + ASSUMED_ROLE_DURATION_S * 1000;
      return {
        credentials: {
          accessKeyId: c.AccessKeyId,
          secretAccessKey: c.SecretAccessKey,
          sessionToken: c.SessionToken,
          expiration: new Date(expiresAt),
        },
        expiresAt,
      };
    } catch (e) {
      if (e instanceof DriftlessError) throw e;
      throw awsError(e, {
        action: `sts:AssumeRole of ${roleArn}`,
        credentials: credentialsName(undefined),
        cluster: name,
      });
    }
  }
}

function credentialsName(roleArn: string | undefined): string {
  return roleArn ? `the credentials of role ${roleArn}` : "the worker's own AWS credentials";
}

function errorName(e: unknown): string | undefined {
  return (e as { name?: unknown })?.name as string | undefined;
}

const REJECTED_CREDENTIALS = new Set([
  'ExpiredToken',
  'ExpiredTokenException',
  'InvalidClientTokenId',
  'UnrecognizedClientException',
  'InvalidSignatureException',
  'SignatureDoesNotMatch',
  'IncompleteSignature',
  'MissingAuthenticationToken',
  'AuthFailure',
  'CredentialsProviderError',
  'TokenRefreshRequired',
]);
const DENIED = new Set(['AccessDenied', 'AccessDeniedException']);
const UNAVAILABLE = new Set([
  'Throttling',
  'ThrottlingException',
  'TooManyRequestsException',
  'RequestLimitExceeded',
  'ServiceUnavailable',
  'ServiceUnavailableException',
  'ServerException',
  'InternalFailure',
  'TimeoutError',
  'RequestTimeout',
]);

/** An AWS SDK failure as a DriftlessError naming the call, the credentials and the cluster. */
function awsError(
  e: unknown,
  ctx: { action: string; credentials: string; cluster: string },
): DriftlessError {
  const name = errorName(e) ?? 'Error';
  const message = e instanceof Error ? e.message : String(e);
  const status = (e as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
  const code = (e as { code?: unknown }).code;
  const where = { object: `Cluster/${ctx.cluster}`, field: 'spec.eks' };
  if (REJECTED_CREDENTIALS.has(name)) {
    return new DriftlessError(
      'Unauthorized',
      `AWS rejected ${ctx.credentials} (${name}) for ${ctx.action}: ${message}`,
      where,
      { cause: e },
    );
  }
  if (DENIED.has(name)) {
    return new DriftlessError(
      'Forbidden',
      `${ctx.credentials} may not perform ${ctx.action} (${name}): ${message}`,
      where,
      { cause: e },
    );
  }
  if (
    UNAVAILABLE.has(name) ||
    (status !== undefined && status >= 500) ||
    (status === undefined && typeof code === 'string')
  ) {
    return new DriftlessError(
      'ClusterUnreachable',
      `AWS did not answer ${ctx.action} (${name}${typeof code === 'string' ? ` ${code}` : ''}): ${message}`,
      where,
      { cause: e },
    );
  }
  return new DriftlessError('Internal', `${ctx.action} failed (${name}): ${message}`, where, {
    cause: e,
  });
}
