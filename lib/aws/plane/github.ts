// Secrets Manager and GitHub commit statuses (webhook, API and worker).

import { GitHubCommitStatusReporter } from '../../github/status.js';
import type { CommitStatusReporter } from '../../ports/report.js';
import type { DataPlaneConfig } from '../runtime.js';
import { SecretsManagerSource } from '../secrets.js';

export function githubPlane(config: DataPlaneConfig) {
  const secrets = new SecretsManagerSource({});
  const reporter: CommitStatusReporter = config.githubAuth
    ? new GitHubCommitStatusReporter({
        auth: config.githubAuth,
        secrets,
        apiBaseUrl: config.githubApiUrl,
      })
    : { report: async () => {} };
  return { secrets, reporter };
}
