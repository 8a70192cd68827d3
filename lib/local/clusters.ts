// Clusters reached through a kubeconfig (local mode, non-EKS clusters). One
// client per cluster, reused across reconciles so discovery and connections
// stay warm.

import os from 'node:os';
import path from 'node:path';
import { DriftlessError } from '../errors.js';
import { KubeClient, type KubeClientOptions } from '../kube/client.js';
import type { Cluster } from '../model/application.js';
import type { ClusterClient, ClusterConnector } from '../ports/cluster.js';

export class KubeconfigConnector implements ClusterConnector {
  private readonly clients = new Map<string, Promise<KubeClient>>();

  constructor(private readonly opts: KubeClientOptions = {}) {}

  async connect(cluster: Cluster): Promise<ClusterClient> {
    const kc = cluster.spec.kubeconfig;
    if (!kc) {
      throw new DriftlessError(
        'InvalidSpec',
        `cluster ${cluster.metadata.name} is an EKS cluster; local mode reaches clusters through a kubeconfig`,
        { object: `Cluster/${cluster.metadata.name}`, field: 'spec.kubeconfig' },
      );
    }
    const key = `${cluster.metadata.name}|${kc.path}|${kc.context ?? ''}`;
    let client = this.clients.get(key);
    if (!client) {
      const file = kc.path.startsWith('~/') ? path.join(os.homedir(), kc.path.slice(2)) : kc.path;
      client = KubeClient.fromKubeconfigFile(file, kc.context, {
        ...this.opts,
        clusterName: cluster.metadata.name,
      });
      this.clients.set(key, client);
      // A kubeconfig that fails to load is not cached: the next reconcile reads it again.
      client.catch(() => this.clients.delete(key));
    }
    return client;
  }

  close(): void {
    for (const c of this.clients.values()) void c.then((k) => k.close()).catch(() => {});
    this.clients.clear();
  }
}
