// Items as the SDK sees them: attribute values, typed readers, and opaque
// page tokens (a LastEvaluatedKey, validated when it comes back).

import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { z } from 'zod';
import { DriftlessError } from '../../errors.js';

// ---------------------------------------------------------------------------
// Attribute values

export type Item = Record<string, AttributeValue>;

export const av = {
  s: (value: string): AttributeValue => ({ S: value }),
  n: (value: number): AttributeValue => ({ N: String(value) }),
  b: (value: Uint8Array): AttributeValue => ({ B: value }),
  bool: (value: boolean): AttributeValue => ({ BOOL: value }),
};

export function readString(item: Item | undefined, name: string): string | undefined {
  const v = item?.[name];
  return v && 'S' in v ? v.S : undefined;
}

export function readNumber(item: Item | undefined, name: string): number | undefined {
  const v = item?.[name];
  return v && 'N' in v && v.N !== undefined ? Number(v.N) : undefined;
}

export function readBool(item: Item | undefined, name: string): boolean | undefined {
  const v = item?.[name];
  return v && 'BOOL' in v ? v.BOOL : undefined;
}

export function readBinary(item: Item | undefined, name: string): Uint8Array | undefined {
  const v = item?.[name];
  return v && 'B' in v ? v.B : undefined;
}

// ---------------------------------------------------------------------------
// Page tokens: the LastEvaluatedKey, opaque to callers.

const KeyValueSchema = z.union([
  z.object({ S: z.string() }).strict(),
  z.object({ N: z.string().regex(/^-?\d+(\.\d+)?$/) }).strict(),
]);
const ExclusiveStartKeySchema = z.record(z.string(), KeyValueSchema);

export function encodePageToken(value: unknown): string {
  return Buffer.from(JSON.stringify(value), 'utf8').toString('base64url');
}

/** Decodes a token from encodePageToken; a token that does not fit `schema` is the caller's error. */
export function decodePageToken<T>(token: string, schema: z.ZodType<T>): T {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    throw new DriftlessError(
      'InvalidSpec',
      'the page token is not one this listing returned; start again without it',
      { field: 'next' },
    );
  }
  return result.data;
}

/** A key token restricted to the given key attributes (so a token cannot smuggle other input). */
export function startKeySchema(names: readonly string[]) {
  return ExclusiveStartKeySchema.refine(
    (k) => Object.keys(k).every((n) => names.includes(n)) && names.every((n) => n in k),
    'unexpected key attributes',
  );
}

/** The key attributes of an item as an ExclusiveStartKey. */
export function keyOf(item: Item, names: readonly string[]): Item {
  const out: Item = {};
  for (const n of names) {
    const v = item[n];
    if (v) out[n] = v;
  }
  return out;
}
