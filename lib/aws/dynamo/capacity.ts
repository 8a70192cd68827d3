// Capacity. Every request asks for ReturnConsumedCapacity TOTAL and reports it
// to a listener (the cost benchmark). An estimate from item sizes goes along:
// moto answers with fixed numbers (0.5 or 1 whatever the size), so a benchmark
// against it needs the estimate. Nothing is estimated without a listener.

import type { AttributeValue, ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import type { Item } from './items.js';

export interface CapacityEstimate {
  /** Read units by DynamoDB's rules: 4 KB per unit (half for eventually consistent reads). */
  readUnits: number;
  /** Write units by DynamoDB's rules: 1 KB per unit per item, plus index entries written. */
  writeUnits: number;
  /** Bytes of the items read or written, as DynamoDB sizes them. */
  bytes: number;
}

export type CapacityListener = (
  op: string,
  capacity: ConsumedCapacity,
  estimate: CapacityEstimate,
) => void;

/** An item's size as DynamoDB bills it: attribute names plus values. */
export function itemSize(item: Item): number {
  let size = 0;
  for (const [name, value] of Object.entries(item)) size += utf8(name) + valueSize(value);
  return size;
}

function valueSize(v: AttributeValue): number {
  if (v.S !== undefined) return utf8(v.S);
  if (v.N !== undefined) return Math.ceil(significantDigits(v.N) / 2) + 1;
  if (v.B !== undefined) return v.B.byteLength;
  if (v.BOOL !== undefined || v.NULL !== undefined) return 1;
  if (v.SS !== undefined) return v.SS.reduce((n, s) => n + utf8(s), 0);
  if (v.NS !== undefined) return v.NS.reduce((n, s) => n + valueSize({ N: s }), 0);
  if (v.BS !== undefined) return v.BS.reduce((n, b) => n + b.byteLength, 0);
  if (v.L !== undefined) return 3 + v.L.reduce((n, e) => n + 1 + valueSize(e), 0);
  if (v.M !== undefined) {
    return 3 + Object.entries(v.M).reduce((n, [k, e]) => n + 1 + utf8(k) + valueSize(e), 0);
  }
  return 0;
}

/** Leading and trailing zeros do not count (DynamoDB stores numbers normalized). */
function significantDigits(n: string): number {
  const digits = n.replace(/^-/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '');
  return Math.max(1, digits.length);
}

function utf8(s: string): number {
  return Buffer.byteLength(s, 'utf8');
}

export function readEstimate(items: Item[], consistent: boolean): CapacityEstimate {
  const bytes = items.reduce((n, i) => n + itemSize(i), 0);
  const units = Math.max(1, Math.ceil(bytes / 4096));
  return { readUnits: consistent ? units : units / 2, writeUnits: 0, bytes };
}

export function writeEstimate(bytes: number, indexWrites = 0): CapacityEstimate {
  return { readUnits: 0, writeUnits: Math.max(1, Math.ceil(bytes / 1024)) + indexWrites, bytes };
}
