// The CDK app: `npx cdk synth` / `npx cdk deploy` (cdk.json runs this file).
// Configuration comes from context (infra/config.ts); cdk-nag's AwsSolutions
// checks run on every synth, and a finding without a written suppression fails it.

import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ConfigError, configFromContext } from './config.js';
import { DriftlessStack } from './stack.js';

function createApp(app = new App()): App {
  const config = configFromContext((key) => app.node.tryGetContext(key));
  const stackName =
    (app.node.tryGetContext('driftless:stackName') as string | undefined) ?? 'Driftless';
  new DriftlessStack(app, stackName, {
    description: 'Driftless: serverless GitOps reconciler for EKS',
    config,
    // The account and region of the CLI's credentials when there are any;
    // environment-agnostic otherwise (synth needs no AWS access).
    env:
      process.env.CDK_DEFAULT_REGION !== undefined
        ? { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION }
        : undefined,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return app;
}

try {
  createApp().synth();
} catch (e) {
  if (!(e instanceof ConfigError)) throw e;
  console.error(e.message);
  process.exit(1);
}
