// The outbox function's data plane: the GitHub client (credentials from
// Secrets Manager) and control of the messages it defers. No table, no engine.

import { SQSClient } from '@aws-sdk/client-sqs';
import { withAwsCallHooks } from '../../lib/aws/call-hooks.js';
import { MessageControl } from '../../lib/aws/messages.js';
import { SecretsManagerSource } from '../../lib/aws/secrets.js';
import { DriftlessError } from '../../lib/errors.js';
import type { StatusPoster } from '../../lib/github/outbox.js';
import { GitHubStatusClient } from '../../lib/github/status.js';
import type { DataPlaneConfig } from './config.js';

/** Without credentials every status is refused (and so dropped, with a log line). */
const noGitHub: StatusPoster = {
  installation: 'none',
  post: async () => ({
    kind: 'rejected',
    message:
      'no GitHub credentials configured (DRIFTLESS_GITHUB_APP_ID or DRIFTLESS_GITHUB_TOKEN_SECRET_ID)',
  }),
};

export function outboxPlane(config: DataPlaneConfig) {
  if (!config.outboxQueueUrl) {
    throw new DriftlessError(
      'InvalidSpec',
      'environment variable DRIFTLESS_OUTBOX_QUEUE_URL is not set',
    );
  }
  const sqs = withAwsCallHooks(new SQSClient({}));
  const poster: StatusPoster = config.githubAuth
    ? new GitHubStatusClient({
        auth: config.githubAuth,
        secrets: new SecretsManagerSource({}),
        apiBaseUrl: config.githubApiUrl,
        webHost: config.githubWebHost,
      })
    : noGitHub;
  const messages = new MessageControl(sqs, [config.outboxQueueUrl], undefined);
  return { poster, messages };
}
