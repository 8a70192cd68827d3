// kubectl and helm for Kustomize and Helm sources in tests: the binaries of
// the kubectl Lambda layer the worker runs with in production, unpacked into
// the local cache, and handed to the engine the way local mode does it
// (DRIFTLESS_KUBECTL / DRIFTLESS_HELM; in Lambda the layer is at /opt).

import { ensureKubectlLayer, type KubectlLayer } from '../../scripts/kubectl-layer.js';

export async function provideRenderTools(): Promise<KubectlLayer> {
  const layer = await ensureKubectlLayer();
  process.env.DRIFTLESS_KUBECTL ??= layer.kubectl;
  process.env.DRIFTLESS_HELM ??= layer.helm;
  return layer;
}
