// Clusters reached through a kubeconfig file (local mode, the CLI, non-EKS
// clusters): a context as a ClusterAccess, through @kubernetes/client-node
// (kubeconfig parsing, client certificates, tokens, exec plugins and auth
// providers), and the connector that keeps one client per cluster.
//
// client-node is imported here and only here, at run time, when a kubeconfig
// is actually read: the Lambda bundles leave it out (it is most of their
// start-up time, and a Lambda has no kubeconfig files). Through a module of
// our own that imports only KubeConfig: esbuild cannot tree-shake a dynamic
// import of the package itself.

import { readFileSync } from 'node:fs';
import type https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import type { KubeConfig } from '@kubernetes/client-node';
import { DriftlessError } from '../errors.js';
import type { Cluster } from '../model/application.js';
import type { ClusterClient, ClusterConnector } from '../ports/cluster.js';
import { type ClusterAccess, KubeClient, type KubeClientOptions } from './client.js';

/**
 * client-node, loaded at run time: the Lambda bundles leave it out (it is most
 * of their start-up time, and a Lambda has no kubeconfig files to read).
 */
async function loadKubeConfig(): Promise<typeof KubeConfig> {
  try {
    return (await import('@kubernetes/client-node')).KubeConfig;
  } catch (e) {
    throw new DriftlessError(
      'InvalidSpec',
      'kubeconfig clusters are read by local mode and the CLI; in AWS, declare the cluster with spec.eks ' +
        `(${(e as Error).message})`,
    );
  }
}

/** The access of one context of a kubeconfig file (its current context by default). */
export async function kubeconfigAccess(file: string, context?: string): Promise<ClusterAccess> {
  const kc = new (await loadKubeConfig())();
  try {
    kc.loadFromFile(file);
  } catch (e) {
    throw new DriftlessError(
      'InvalidSpec',
      `cannot load kubeconfig ${file}: ${(e as Error).message}`,
      {
        file,
      },
    );
  }
  if (context) {
    if (!kc.getContextObject(context)) {
      throw new DriftlessError('InvalidSpec', `kubeconfig ${file} has no context ${context}`, {
        file,
      });
    }
    kc.setCurrentContext(context);
  }
  const cluster = kc.getCurrentCluster();
  if (!cluster) {
    throw new DriftlessError(
      'InvalidSpec',
      `kubeconfig context ${kc.getCurrentContext()} has no cluster`,
    );
  }
  let ca: Buffer | undefined;
  try {
    ca = cluster.caData
      ? Buffer.from(cluster.caData, 'base64')
      : cluster.caFile
        ? readFileSync(cluster.caFile)
        : undefined;
  } catch (e) {
    throw new DriftlessError(
      'InvalidSpec',
      `cannot read the CA file of kubeconfig ${file}: ${(e as Error).message}`,
      { file },
    );
  }
  return {
    name: cluster.name,
    server: cluster.server,
    ca,
    insecureSkipTLSVerify: cluster.skipTLSVerify,
    tlsServerName: cluster.tlsServerName,
    // Per request, as client-node does: exec plugins and auth providers
    // refresh their tokens inside applyToHTTPSOptions.
    credentials: async () => {
      const o: https.RequestOptions = { headers: {} };
      await kc.applyToHTTPSOptions(o);
      return {
        cert: o.cert as Buffer | string | undefined,
        key: o.key as Buffer | string | undefined,
        headers: o.headers as Record<string, string> | undefined,
        auth: o.auth ?? undefined,
      };
    },
  };
}

/** A client for one context of a kubeconfig file (its current context by default). */
export async function kubeClientFromKubeconfig(
  file: string,
  context?: string,
  opts: KubeClientOptions = {},
): Promise<KubeClient> {
  return new KubeClient(await kubeconfigAccess(file, context), opts);
}

/** `~/x` → the home directory's x; anything else as it is. */
export function expandHome(file: string): string {
  return file.startsWith('~/') ? path.join(os.homedir(), file.slice(2)) : file;
}

/**
 * Clusters declared with `spec.kubeconfig`. One client per cluster, reused
 * across reconciles so discovery and connections stay warm.
 */
export class KubeconfigConnector implements ClusterConnector {
  private readonly clients = new Map<string, Promise<KubeClient>>();

  constructor(private readonly opts: KubeClientOptions = {}) {}

  async connect(cluster: Cluster): Promise<ClusterClient> {
    const kc = cluster.spec.kubeconfig;
    if (!kc) {
      throw new DriftlessError(
        'InvalidSpec',
        `cluster ${cluster.metadata.name} declares no kubeconfig`,
        { object: `Cluster/${cluster.metadata.name}`, field: 'spec.kubeconfig' },
      );
    }
    const key = `${cluster.metadata.name}|${kc.path}|${kc.context ?? ''}`;
    let client = this.clients.get(key);
    if (!client) {
      client = kubeClientFromKubeconfig(expandHome(kc.path), kc.context, {
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
