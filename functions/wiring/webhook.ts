// The webhook's data plane: the catalog and queue to route deliveries, the
// webhook secret, and the status outbox for pending statuses; no engine, git,
// cluster or GitHub access (the outbox function posts to GitHub).

import { SecretsManagerSource } from '../../lib/aws/secrets.js';
import type { OutboxLogger } from '../../lib/github/outbox.js';
import { DEFAULT_MAX_BODY_BYTES, type WebhookDeps } from '../../lib/github/webhook.js';
import { type DataPlaneConfig, statusUrlFor } from './config.js';
import { reporterPlane } from './github.js';
import { storePlane } from './store.js';

export function webhookPlane(config: DataPlaneConfig, logger?: OutboxLogger) {
  const { catalog, queue, sqs } = storePlane(config);
  const secrets = new SecretsManagerSource({});
  const { reporter } = reporterPlane(config, sqs, logger);
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
