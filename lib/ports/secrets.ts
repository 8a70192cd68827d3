// The secrets port: secret strings by id (Secrets Manager in AWS,
// lib/aws/secrets.ts). Values are never logged or put in messages.

export interface SecretSource {
  /** The secret's current string value, by ARN or name. */
  getSecretString(id: string): Promise<string>;
}
