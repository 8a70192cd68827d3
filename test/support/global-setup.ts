// Starts the real test environment (Kubernetes control plane, moto, git
// http-backend) once per run for the integration project and stops it after,
// on success, failure or Ctrl-C. Tests read its coordinates with inject('testenv').

import type { TestProject } from 'vitest/node';
import { TestEnv, type TestEnvInfo } from '../../scripts/testenv/env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    testenv: TestEnvInfo;
  }
}

export default async function setup(project: TestProject) {
  const started = Date.now();
  const env = await TestEnv.start({
    profile: 'workloads',
    keep: process.env.DRIFTLESS_KEEP_TESTENV === '1',
  });
  console.log(
    `[driftless] test environment up in ${((Date.now() - started) / 1000).toFixed(1)}s ` +
      `(kube ${env.info.kube.server}, aws ${env.info.aws.endpoint}, git ${env.info.git.baseUrl})`,
  );
  project.provide('testenv', env.info);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    await env.stop();
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  return stop;
}
