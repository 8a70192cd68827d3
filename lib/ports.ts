// The ports reconcile.ts is written against. Production adapters live in
// lib/aws (DynamoDB, SQS) and lib/github; embedded ones in lib/local.

import type { ApplyOptions, DeleteOptions, ListOptions, RequestStats } from './kube/client.js';
import type { ResourceInfo } from './kube/discovery.js';
import type { Application, Cluster } from './model/application.js';
import type { KubeObject, ObjectRef } from './model/object.js';
import type { OperationResult, TargetStatus } from './model/status.js';

export interface TargetId {
  app: string;
  cluster: string;
}

export function targetKey(t: TargetId): string {
  return `${t.app}#${t.cluster}`;
}

/** Git credentials for a private repository. */
export interface GitCredentials {
  username: string;
  password: string;
}

export interface Checkout {
  /** Absolute path of a directory holding exactly the commit's files. */
  dir: string;
  /** Full commit SHA. */
  commit: string;
}

export interface GitSource {
  /** Resolves a branch, tag or (abbreviated) SHA to a full commit SHA with one cheap request. */
  resolve(repoURL: string, revision: string, credentials?: GitCredentials): Promise<string>;
  /** The files of one commit (cached: an unchanged commit costs no network). */
  checkout(repoURL: string, commit: string, credentials?: GitCredentials): Promise<Checkout>;
}

export interface Lease {
  target: TargetId;
  holder: string;
  /** Monotonically increasing per target; every status write is conditional on it. */
  fencingToken: number;
  expiresAt: number;
}

export interface LeaseManager {
  /** Takes the lease, or returns undefined while someone else holds an unexpired one. */
  acquire(target: TargetId, holder: string, ttlMs: number): Promise<Lease | undefined>;
  renew(lease: Lease, ttlMs: number): Promise<Lease>;
  release(lease: Lease): Promise<void>;
}

export interface Store {
  getApplication(name: string): Promise<Application | undefined>;
  getCluster(name: string): Promise<Cluster | undefined>;
  getTargetStatus(target: TargetId): Promise<TargetStatus | undefined>;
  /** Writes the status; rejects with LeaseLost if a newer fencing token has written. */
  putTargetStatus(status: TargetStatus, fencingToken: number): Promise<void>;
  /** Appends to the bounded, newest-first history; fenced like putTargetStatus. */
  appendHistory(target: TargetId, entry: OperationResult, fencingToken: number): Promise<void>;
  listHistory(target: TargetId, limit?: number): Promise<OperationResult[]>;
}

/** One cluster's API, as the engine uses it (lib/kube/client.ts implements it). */
export interface ClusterClient {
  readonly stats: RequestStats;
  resource(apiVersion: string, kind: string): Promise<ResourceInfo>;
  list(apiVersion: string, kind: string, opts?: ListOptions): Promise<KubeObject[]>;
  get(
    apiVersion: string,
    kind: string,
    namespace: string,
    name: string,
  ): Promise<KubeObject | undefined>;
  apply(obj: KubeObject, opts?: ApplyOptions): Promise<KubeObject>;
  delete(ref: ObjectRef & { apiVersion: string }, opts?: DeleteOptions): Promise<boolean>;
  /** Forget cached discovery (after CRDs change). */
  invalidateDiscovery(): void;
}

/** Turns a Cluster spec into a client (kubeconfig, or EKS with a presigned token). */
export interface ClusterConnector {
  connect(cluster: Cluster): Promise<ClusterClient>;
}

export type CommitState = 'pending' | 'success' | 'failure' | 'error';

export interface CommitStatusReporter {
  /** Never throws: reporting must not fail a reconcile. */
  report(input: {
    repoURL: string;
    commit: string;
    context: string;
    state: CommitState;
    description: string;
    targetUrl?: string;
  }): Promise<void>;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };
