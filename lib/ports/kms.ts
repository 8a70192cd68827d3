// The KMS port: unwrapping a data key that AWS KMS encrypted (SOPS's
// `sops.kms[].enc`), as the worker's role or an assumed role
// (lib/aws/kms.ts). The plaintext key stays in memory; errors name the key
// ARN and the role, never a key.

export interface KmsDecryptRequest {
  /** The KMS key's ARN (its region is the ARN's). */
  keyArn: string;
  ciphertext: Uint8Array;
  /** The encryption context the data key was encrypted with; KMS checks it. */
  context?: Readonly<Record<string, string>>;
  /** A role to assume for the call (tenant isolation); unset, the worker's own credentials. */
  roleArn?: string;
}

export interface KmsDecrypter {
  decrypt(req: KmsDecryptRequest): Promise<Uint8Array>;
}
