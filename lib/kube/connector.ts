// The one ClusterConnector the wiring hands the engine: a Cluster with
// `spec.eks` goes to the EKS connector (DescribeCluster, presigned tokens),
// one with `spec.kubeconfig` to the kubeconfig connector. Neither loads
// @kubernetes/client-node until a kubeconfig cluster is connected
// (lib/kube/kubeconfig.ts holds that single lazy import).

import type { Cluster } from '../model/application.js';
import type { ClusterClient, ClusterConnector } from '../ports/cluster.js';
import type { KubeClientOptions } from './client.js';
import { EksConnector, type EksConnectorOptions } from './eks.js';
import { KubeconfigConnector } from './kubeconfig.js';

export interface ClusterRouterOptions {
  eks?: EksConnector | EksConnectorOptions;
  kubeconfig?: KubeconfigConnector;
  /** Options for every Kubernetes client made by connectors created here. */
  kube?: KubeClientOptions;
}

export class ClusterRouter implements ClusterConnector {
  readonly eks: EksConnector;
  readonly kubeconfig: KubeconfigConnector;

  constructor(opts: ClusterRouterOptions = {}) {
    this.eks =
      opts.eks instanceof EksConnector
        ? opts.eks
        : new EksConnector({ kube: opts.kube, ...(opts.eks ?? {}) });
    this.kubeconfig = opts.kubeconfig ?? new KubeconfigConnector(opts.kube);
  }

  connect(cluster: Cluster): Promise<ClusterClient> {
    return cluster.spec.eks ? this.eks.connect(cluster) : this.kubeconfig.connect(cluster);
  }

  close(): void {
    this.eks.close();
    this.kubeconfig.close();
  }
}
