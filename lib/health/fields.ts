// Typed reads of the loosely shaped JSON of a live object. Health is computed
// from whatever the API server returned, so every read tolerates a missing or
// wrongly typed field instead of throwing.

import type { KubeObject } from '../model/object.js';

export type Fields = Record<string, unknown>;

export function isFields(v: unknown): v is Fields {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The object at `path`, or an empty one: `fields(obj, 'status', 'loadBalancer')`. */
export function fields(from: unknown, ...path: string[]): Fields {
  let cur: unknown = from;
  for (const p of path) {
    if (!isFields(cur)) return {};
    cur = cur[p];
  }
  return isFields(cur) ? cur : {};
}

export function num(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

export function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

export function records(v: unknown): Fields[] {
  return list(v).filter(isFields);
}

/** Whether the object has a `status` the API server (or a controller) filled in. */
export function hasStatus(obj: KubeObject): boolean {
  const s = obj.status;
  return isFields(s) && Object.keys(s).length > 0;
}

export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown' | string;
  reason?: string;
  message?: string;
}

export function conditions(status: Fields): Condition[] {
  const out: Condition[] = [];
  for (const c of records(status.conditions)) {
    const type = str(c.type);
    const state = str(c.status);
    if (!type || !state) continue;
    out.push({ type, status: state, reason: str(c.reason), message: str(c.message) });
  }
  return out;
}

export function condition(conds: Condition[], type: string): Condition | undefined {
  return conds.find((c) => c.type === type);
}

/** `Reason: message`, or whichever of the two is present. */
export function describeCondition(c: Condition): string {
  const message = c.message?.trim();
  if (c.reason && message) return `${c.reason}: ${message}`;
  return c.reason ?? message ?? `${c.type}=${c.status}`;
}

/**
 * `metadata.generation` not yet seen by the controller: its status describes
 * an older spec and says nothing about the current one.
 */
export function generationPending(obj: KubeObject, status: Fields): string | undefined {
  const generation = obj.metadata.generation;
  const observed = num(status.observedGeneration);
  if (generation === undefined || observed === undefined || observed >= generation) return;
  return `observed generation ${observed} < generation ${generation}`;
}

/** `1 replica`, `2 replicas`. */
export function counted(n: number, noun: string): string {
  return `${n} ${n === 1 ? noun : `${noun}s`}`;
}

/** Keeps messages short: statuses can embed long controller messages. */
export function clip(s: string, max = 240): string {
  const oneLine = s.replace(/\s+/g, ' ').trim();
  return oneLine.length <= max ? oneLine : `${oneLine.slice(0, max - 1)}…`;
}
