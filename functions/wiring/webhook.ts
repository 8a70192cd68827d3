// The webhook's data plane: the catalog and queue to route deliveries, the
// webhook secret, and commit statuses; no engine, git or cluster access.

import { DEFAULT_MAX_BODY_BYTES, type WebhookDeps } from '../../lib/github/webhook.js';
import { type DataPlaneConfig, statusUrlFor } from './config.js';
import { githubPlane } from './github.js';
import { storePlane } from './store.js';

export function webhookPlane(config: DataPlaneConfig) {
  const { catalog, queue } = storePlane(config);
  const { secrets, reporter } = githubPlane(config);
  const statusUrl = statusUrlFor(config);
  const webhookSecrets = async (): Promise<string[]> => {
    if (!config.webhookSecretId) return [];
    const raw = await secrets.getSecretString(config.webhookSecretId);
    try {
      const parsed = JSON.parse(raw) as { secrets?: unknown };
      if (Array.isArray(parsed.secrets))
        return parsed.secrets.filter((s): s is string => typeof s === 'string');
    } catch {
      // a plain string secret
    }
    return [raw];
  };
  return {
    webhookSecrets,
    maxWebhookBytes: DEFAULT_MAX_BODY_BYTES,
    webhookDeps: (): WebhookDeps => ({
      catalog,
      queue,
      reporter,
      secrets: webhookSecrets,
      statusUrl,
    }),
  };
}
