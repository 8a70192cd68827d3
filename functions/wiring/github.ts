// Secrets Manager and GitHub commit statuses (webhook, API and worker).

import { SecretsManagerSource } from '../../lib/aws/secrets.js';
import { GitHubCommitStatusReporter } from '../../lib/github/status.js';
import { type CommitStatusReporter, noReporter } from '../../lib/ports/report.js';
import type { DataPlaneConfig } from './config.js';

export function githubPlane(config: DataPlaneConfig) {
  const secrets = new SecretsManagerSource({});
  const reporter: CommitStatusReporter = config.githubAuth
    ? new GitHubCommitStatusReporter({
        auth: config.githubAuth,
        secrets,
        apiBaseUrl: config.githubApiUrl,
      })
    : noReporter;
  return { secrets, reporter };
}
