// Secrets Manager, read through a small TTL cache: a warm Lambda asks once per
// TTL per secret, and a rotated secret is picked up within one TTL. Values are
// never logged and never put in an error message; errors name the secret's id.

import {
  GetSecretValueCommand,
  SecretsManagerClient,
  type SecretsManagerClientConfig,
} from '@aws-sdk/client-secrets-manager';
import { DriftlessError } from '../errors.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { SecretSource } from '../ports/secrets.js';
import { withAwsCallHooks } from './call-hooks.js';

/** How long a secret's value is reused before it is read again, unless configured otherwise. */
export const DEFAULT_SECRET_TTL_MS = 5 * 60_000;

export interface SecretsManagerSourceOptions {
  client?: SecretsManagerClient;
  /** For a client made here (region, endpoint, credentials). */
  clientConfig?: SecretsManagerClientConfig;
  /** How long a value is reused (default DEFAULT_SECRET_TTL_MS, 5 minutes). */
  ttlMs?: number;
  clock?: Clock;
}

export class SecretsManagerSource implements SecretSource {
  private readonly client: SecretsManagerClient;
  private readonly ttlMs: number;
  private readonly clock: Clock;
  private readonly cache = new Map<string, { value: Promise<string>; fetchedAt: number }>();

  constructor(opts: SecretsManagerSourceOptions = {}) {
    this.client =
      opts.client ?? withAwsCallHooks(new SecretsManagerClient(opts.clientConfig ?? {}));
    this.ttlMs = opts.ttlMs ?? DEFAULT_SECRET_TTL_MS;
    this.clock = opts.clock ?? systemClock;
  }

  async getSecretString(id: string): Promise<string> {
    const hit = this.cache.get(id);
    if (hit && this.clock.now() - hit.fetchedAt < this.ttlMs) return hit.value;
    const value = this.fetch(id);
    this.cache.set(id, { value, fetchedAt: this.clock.now() });
    value.catch(() => this.cache.delete(id));
    return value;
  }

  /** Forget a cached value (e.g. after the service it unlocks rejected it). */
  invalidate(id: string): void {
    this.cache.delete(id);
  }

  private async fetch(id: string): Promise<string> {
    let out: { SecretString?: string; SecretBinary?: Uint8Array };
    try {
      out = await this.client.send(new GetSecretValueCommand({ SecretId: id }));
    } catch (e) {
      const name = (e as { name?: string }).name ?? 'Error';
      if (name === 'ResourceNotFoundException') {
        throw new DriftlessError('InvalidSpec', `secret ${id} does not exist in Secrets Manager`);
      }
      if (name === 'AccessDeniedException') {
        throw new DriftlessError('Forbidden', `not allowed to read secret ${id} (${name})`);
      }
      // The SDK's message names the operation and the service, not the value.
      throw new DriftlessError(
        'Internal',
        `cannot read secret ${id} (${name}): ${(e as Error).message}`,
      );
    }
    if (out.SecretString !== undefined) return out.SecretString;
    if (out.SecretBinary) return Buffer.from(out.SecretBinary).toString('utf8');
    throw new DriftlessError('InvalidSpec', `secret ${id} has no value`);
  }
}
