// The one ClusterConnector the wiring hands the engine: a Cluster with
// `spec.eks` goes to the EKS connector (DescribeCluster, presigned tokens),
// one with `spec.kubeconfig` to the kubeconfig connector. Neither loads
// @kubernetes/client-node until a kubeconfig cluster is connected
// (lib/kube/kubeconfig.ts holds that single lazy import). Every client of one
// cluster shares that cluster's throttle (lib/kube/throttle.ts): a 429's
// Retry-After pauses them all.

import type { Cluster } from '../model/application.js';
import type { ClusterClient, ClusterConnector, ThrottleReport } from '../ports/cluster.js';
import type { KubeClientOptions } from './client.js';
import { EksConnector, type EksConnectorOptions } from './eks.js';
import { KubeconfigConnector } from './kubeconfig.js';
import { ClusterThrottles } from './throttle.js';

export interface ClusterRouterOptions {
  eks?: EksConnector | EksConnectorOptions;
  kubeconfig?: KubeconfigConnector;
  /** Options for every Kubernetes client made by connectors created here. */
  kube?: KubeClientOptions;
}

export class ClusterRouter implements ClusterConnector {
  readonly eks: EksConnector;
  readonly kubeconfig: KubeconfigConnector;
  readonly throttles: ClusterThrottles;

  constructor(opts: ClusterRouterOptions = {}) {
    this.throttles = new ClusterThrottles();
    const kube: KubeClientOptions = {
      ...opts.kube,
      throttleFor: (cluster) => this.throttles.for(cluster),
    };
    this.eks =
      opts.eks instanceof EksConnector
        ? opts.eks
        : new EksConnector({ ...(opts.eks ?? {}), kube: { ...kube, ...(opts.eks?.kube ?? {}) } });
    this.kubeconfig = opts.kubeconfig ?? new KubeconfigConnector(kube);
  }

  takeThrottling(cluster: string): ThrottleReport {
    return this.throttles.take(cluster);
  }

  connect(cluster: Cluster): Promise<ClusterClient> {
    return cluster.spec.eks ? this.eks.connect(cluster) : this.kubeconfig.connect(cluster);
  }

  close(): void {
    this.eks.close();
    this.kubeconfig.close();
  }
}
