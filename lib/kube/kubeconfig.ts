// A kubeconfig file's context as a ClusterAccess, through @kubernetes/client-node
// (kubeconfig parsing, client certificates, tokens, exec plugins and auth
// providers). Only KubeClient.fromKubeconfigFile imports this, dynamically, so
// client-node is loaded when a kubeconfig is actually used.

import { readFileSync } from 'node:fs';
import type https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { DriftlessError } from '../errors.js';
import type { ClusterAccess } from './client.js';

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
