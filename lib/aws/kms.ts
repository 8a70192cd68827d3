// AWS KMS Decrypt for SOPS data keys: one signed JSON request
// (TrentService.Decrypt) with the file's encryption context, as the worker's
// role or a role assumed per application (spec.decryption.roleArn, tenant
// isolation). Written on @smithy/signature-v4 (lib/aws/sigv4.ts) and
// @aws-sdk/client-sts, which the worker already bundles, rather than a KMS
// client package for one call. Assumed-role credentials are cached until
// close to their expiry. Errors name the key and the role, never a key.

import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { DriftlessError } from '../errors.js';
import { type Clock, systemClock } from '../ports/clock.js';
import type { KmsDecrypter, KmsDecryptRequest } from '../ports/kms.js';
import { runAwsCallHooks, withAwsCallHooks } from './call-hooks.js';
import { type SigningCredentials, signRequest } from './sigv4.js';

/** Assume the role again when its credentials have less than this left. */
const ASSUMED_ROLE_REFRESH_MS = 5 * 60_000;
const ASSUMED_ROLE_DURATION_S = 3600;
/** How long one KMS request may take. */
export const DEFAULT_KMS_TIMEOUT_MS = 10_000;

interface Credentials extends SigningCredentials {
  expiration?: Date;
}

export interface AwsKmsDecrypterOptions {
  /** The worker's own credentials. Default: the SDK's chain (the Lambda's role). */
  credentials?: () => Promise<Credentials>;
  /** One endpoint for KMS (and STS), e.g. an AWS emulator. Default: the key region's KMS endpoint. */
  endpoint?: string;
  /** Region of STS for AssumeRole. Default: the key's region. */
  stsRegion?: string;
  /** A name for the assumed role's session (CloudTrail). Default `driftless-sops`. */
  sessionName?: string;
  timeoutMs?: number;
  clock?: Clock;
}

/** arn:<partition>:kms:<region>:<account>:key/<id> or alias/<name>. */
const KMS_ARN = /^arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:(key|alias)\/.+$/;

export class AwsKmsDecrypter implements KmsDecrypter {
  /** Calls made (KMS Decrypt, STS AssumeRole): what a warm worker saves is visible. */
  readonly stats = { decrypt: 0, assumeRole: 0 };
  private readonly clock: Clock;
  private readonly sts = new Map<string, STSClient>();
  private readonly roles = new Map<string, Promise<Credentials>>();

  constructor(private readonly opts: AwsKmsDecrypterOptions = {}) {
    this.clock = opts.clock ?? systemClock;
  }

  async decrypt(req: KmsDecryptRequest): Promise<Uint8Array> {
    const region = KMS_ARN.exec(req.keyArn)?.[1];
    if (!region) {
      throw new DriftlessError('InvalidSpec', `KMS key ${req.keyArn} is not a KMS key ARN`);
    }
    const who = req.roleArn ? `as role ${req.roleArn}` : "with this function's own credentials";
    const credentials = req.roleArn
      ? await this.assumed(region, req.roleArn)
      : await this.base(region);
    const url = new URL(this.opts.endpoint ?? `https://kms.${region}.amazonaws.com`);
    if (url.pathname === '') url.pathname = '/';
    const body = JSON.stringify({
      KeyId: req.keyArn,
      CiphertextBlob: Buffer.from(req.ciphertext).toString('base64'),
      ...(req.context && Object.keys(req.context).length > 0
        ? { EncryptionContext: req.context }
        : {}),
    });
    const headers = await signRequest({
      method: 'POST',
      url,
      body,
      headers: {
        'content-type': 'application/x-amz-json-1.1',
        'x-amz-target': 'TrentService.Decrypt',
      },
      service: 'kms',
      region,
      credentials,
    });
    let res: Response;
    this.stats.decrypt++;
    // Not an SDK client: the call reports itself to the hooks the clients' middleware calls.
    runAwsCallHooks({
      service: 'kms',
      operation: 'Decrypt',
      input: { KeyId: req.keyArn, EncryptionContext: req.context },
    });
    try {
      res = await fetch(url, {
        method: 'POST',
        headers,
        body,
        signal: AbortSignal.timeout(this.opts.timeoutMs ?? DEFAULT_KMS_TIMEOUT_MS),
      });
    } catch (e) {
      throw new DriftlessError(
        'Internal',
        `KMS Decrypt with ${req.keyArn} ${who} failed: ${(e as Error).message}`,
      );
    }
    const text = await res.text();
    let out: { Plaintext?: string; __type?: string; message?: string; Message?: string };
    try {
      out = JSON.parse(text) as typeof out;
    } catch {
      out = {};
    }
    if (!res.ok || typeof out.Plaintext !== 'string') {
      const type = (out.__type ?? `HTTP ${res.status}`).replace(/^.*#/, '');
      const detail = out.message ?? out.Message ?? '';
      const reason =
        type === 'AccessDeniedException'
          ? 'Forbidden'
          : res.status >= 500
            ? 'Internal'
            : 'InvalidSpec';
      throw new DriftlessError(
        reason,
        `KMS Decrypt with ${req.keyArn} ${who} was refused: ${type}${detail ? ` (${detail})` : ''}`,
      );
    }
    return Buffer.from(out.Plaintext, 'base64');
  }

  close(): void {
    for (const c of this.sts.values()) c.destroy();
    this.sts.clear();
  }

  private stsClient(region: string): STSClient {
    const r = this.opts.stsRegion ?? region;
    let client = this.sts.get(r);
    if (!client) {
      client = withAwsCallHooks(
        new STSClient({
          region: r,
          endpoint: this.opts.endpoint,
          credentials: this.opts.credentials,
        }),
      );
      this.sts.set(r, client);
    }
    return client;
  }

  private async base(region: string): Promise<Credentials> {
    try {
      if (this.opts.credentials) return await this.opts.credentials();
      return await this.stsClient(region).config.credentials();
    } catch (e) {
      throw new DriftlessError(
        'Internal',
        `cannot load AWS credentials for KMS: ${(e as Error).message}`,
      );
    }
  }

  private async assumed(region: string, roleArn: string): Promise<Credentials> {
    const key = `${this.opts.stsRegion ?? region}|${roleArn}`;
    let role = this.roles.get(key);
    if (role) {
      const cached = await role.catch(() => undefined);
      const left = (cached?.expiration?.getTime() ?? 0) - this.clock.now();
      if (!cached || left < ASSUMED_ROLE_REFRESH_MS) role = undefined;
    }
    if (!role) {
      role = this.assumeRole(region, roleArn);
      this.roles.set(key, role);
      role.catch(() => this.roles.delete(key));
    }
    return role;
  }

  private async assumeRole(region: string, roleArn: string): Promise<Credentials> {
    this.stats.assumeRole++;
    try {
      const out = await this.stsClient(region).send(
        new AssumeRoleCommand({
          RoleArn: roleArn,
          RoleSessionName: (this.opts.sessionName ?? 'driftless-sops').slice(0, 64),
          DurationSeconds: ASSUMED_ROLE_DURATION_S,
        }),
      );
      const c = out.Credentials;
      if (!c?.AccessKeyId || !c.SecretAccessKey) throw new Error('no credentials in the answer');
      return {
        accessKeyId: c.AccessKeyId,
        secretAccessKey: c.SecretAccessKey,
        sessionToken: c.SessionToken,
        expiration: c.Expiration,
      };
    } catch (e) {
      const name = (e as { name?: string }).name ?? 'Error';
      throw new DriftlessError(
        name === 'AccessDenied' ? 'Forbidden' : 'Internal',
        `cannot assume role ${roleArn} for KMS (spec.decryption.roleArn): ${name}: ${(e as Error).message}`,
      );
    }
  }
}
