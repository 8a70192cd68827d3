// Starts the real test environment (Kubernetes control plane, moto, git
// http-backend) once per run for the integration project and stops it after,
// on success, failure or Ctrl-C. Tests read its coordinates with inject('testenv').

import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestProject } from 'vitest/node';
import { TestEnv, type TestEnvInfo } from '../../scripts/testenv/env.js';

declare module 'vitest' {
  export interface ProvidedContext {
    testenv: TestEnvInfo;
    /** A directory for this run's recorded AWS calls (test/support/aws-calls.ts: one JSONL file per worker). */
    awsCallLog: string;
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
  // The AWS calls the deployed functions make in this run (test/support/aws-calls.ts);
  // DRIFTLESS_AWS_CALL_LOG keeps them in that directory, across runs, for
  // test/e2e/iam.test.ts to evaluate every e2e file's calls in a later run.
  const keptCallLog = process.env.DRIFTLESS_AWS_CALL_LOG;
  if (keptCallLog) mkdirSync(keptCallLog, { recursive: true });
  const awsCallLog = keptCallLog ?? mkdtempSync(path.join(os.tmpdir(), 'driftless-aws-calls-'));
  project.provide('awsCallLog', awsCallLog);
  let stopped = false;
  const stop = async () => {
    if (stopped) return;
    stopped = true;
    if (!keptCallLog) rmSync(awsCallLog, { recursive: true, force: true });
    await env.stop();
  };
  process.once('SIGINT', () => void stop());
  process.once('SIGTERM', () => void stop());
  return stop;
}
