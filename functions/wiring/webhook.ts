// The webhook's data plane: the catalog and queue to route deliveries, the
// webhook secret, and the status outbox for pending statuses; no engine, git,
// cluster or GitHub access (the outbox function posts to GitHub).

import { SecretsManagerSource } from '../../lib/aws/secrets.js';
import type { OutboxLogger } from '../../lib/github/outbox.js';
import { DEFAULT_MAX_WEBHOOK_BODY_BYTES, type WebhookDeps } from '../../lib/github/webhook.js';
import { parseWebhookSecrets, type WebhookSecretSet } from '../../lib/model/webhook-secrets.js';
import { type DataPlaneConfig, statusUrlFor } from './config.js';
import { reporterPlane } from './github.js';
import { storePlane } from './store.js';

const NO_SECRETS: WebhookSecretSet = { default: [], repositories: new Map() };

export function webhookPlane(config: DataPlaneConfig, logger?: OutboxLogger) {
  const { dynamo, catalog, queue, sqs } = storePlane(config);
  // Cached for its TTL (lib/aws/secrets.ts): a flood of signed-looking bodies
  // does not become a flood of GetSecretValue calls.
  const secrets = new SecretsManagerSource({});
  const { reporter } = reporterPlane(config, sqs, logger);
  const statusUrl = statusUrlFor(config);
  let parsed: { raw: string; set: WebhookSecretSet } | undefined;
  const webhookSecrets = async (): Promise<WebhookSecretSet> => {
    if (!config.webhookSecretId) return NO_SECRETS;
    const raw = await secrets.getSecretString(config.webhookSecretId);
    if (parsed?.raw !== raw) parsed = { raw, set: parseWebhookSecrets(raw) };
    return parsed.set;
  };
  return {
    // The idempotency store's client too: every call goes through the wiring's hooks.
    dynamo,
    webhookSecrets,
    maxWebhookBytes: DEFAULT_MAX_WEBHOOK_BODY_BYTES,
    webhookDeps: (): WebhookDeps => ({
      catalog,
      queue,
      reporter,
      secrets: webhookSecrets,
      statusUrl,
    }),
  };
}
