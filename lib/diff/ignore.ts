// Ignore rules (Argo CD's `ignoreDifferences`): which fields of an object the
// comparison leaves out, and what applying sends there.
//
// A rule covers locations by JSON pointer, by jq path expression, or by the
// field managers that own them (`managedFieldsManagers`). Covered locations
// are left out of the comparison on both sides, as Argo CD normalizes live
// and desired. What is applied keeps the live value at a covered location
// (Argo CD's RespectIgnoreDifferences; Flux corrects only the paths it does
// not ignore), so an ignore rule never removes a field. With server-side
// apply "keep the live value" means, leaf by leaf:
//   - a field Git sets, or one Driftless owns (an Apply entry of `driftless`),
//     is sent with its live value: the field stays, and so does our share of
//     its ownership (leaving it out would delete a field only we own —
//     `/data/threads` — or reset one to its default — `/spec/replicas`);
//   - a field Git does not set and Driftless does not own is not sent: it is
//     someone else's, and sending it would make it ours;
//   - a field Git sets that the live object lacks is not sent either (the
//     live state is "absent").
// On creation there is no live object and the desired object is applied whole.

import { createHash } from 'node:crypto';
import { globMatch, type IgnoreDifference } from '../model/application.js';
import { canonicalJson } from '../model/canonical.js';
import { compileJqPath, type JsonPath } from '../model/jq.js';
import { FIELD_MANAGER, groupOf, type KubeObject } from '../model/object.js';
import { keyMatches, listKeyFor } from './compare.js';
import {
  type FieldsV1,
  fieldsOwnedBy,
  fieldsOwnedByAny,
  listElementNode,
  withoutFields,
} from './fields.js';

/**
 * The version of the comparison logic, part of every inventory fingerprint:
 * bump it when what counts as "in sync" changes, so the fast path does not
 * keep a verdict an older comparison reached.
 */
export const COMPARISON_VERSION = 2;

type Json = unknown;

function isObject(v: Json): v is Record<string, Json> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The rules that apply to `obj`: group and kind as globs, name and namespace exact. */
export function ignoreRulesFor(
  rules: readonly IgnoreDifference[],
  obj: KubeObject,
): IgnoreDifference[] {
  if (rules.length === 0) return [];
  const group = groupOf(obj.apiVersion);
  return rules.filter(
    (r) =>
      globMatch(r.kind, obj.kind) &&
      globMatch(r.group ?? '', group) &&
      (!r.name || r.name === obj.metadata.name) &&
      (!r.namespace || r.namespace === (obj.metadata.namespace ?? '')),
  );
}

/**
 * What the inventory's fast path compares: the desired object's hash, the
 * ignore rules that apply to it, and the comparison's version. Changing a
 * rule (or upgrading Driftless's comparison) re-evaluates the object.
 */
export function desiredFingerprint(
  desired: { hash: string; object: KubeObject },
  rules: readonly IgnoreDifference[],
  /** The comparison that reached the verdict (an inventory written by an older Driftless has an older one). */
  comparison: number = COMPARISON_VERSION,
): string {
  const ignore = ignoreRulesFor(rules, desired.object);
  return createHash('sha256')
    .update(canonicalJson({ comparison, hash: desired.hash, ignore }))
    .digest('hex');
}

// ---- locations selected by pointers and jq expressions ----

interface Trie {
  whole: boolean;
  children: Map<string | number, Trie>;
}

function trieOf(paths: JsonPath[]): Trie | undefined {
  if (paths.length === 0) return undefined;
  const root: Trie = { whole: false, children: new Map() };
  for (const p of paths) {
    let node = root;
    for (const step of p) {
      let next = node.children.get(step);
      if (!next) {
        next = { whole: false, children: new Map() };
        node.children.set(step, next);
      }
      node = next;
    }
    node.whole = true;
  }
  return root;
}

function exists(doc: Json, path: JsonPath): boolean {
  let node = doc;
  for (const step of path) {
    if (Array.isArray(node) && typeof step === 'number' && step >= 0 && step < node.length) {
      node = node[step];
    } else if (isObject(node) && typeof step === 'string' && step in node) {
      node = node[step];
    } else {
      return false;
    }
  }
  return true;
}

/** RFC 6901, plus `*` for every element of an array (as before). */
function pointerPaths(doc: Json, pointer: string): JsonPath[] {
  const steps = pointer
    .split('/')
    .slice(1)
    .map((p) => p.replace(/~1/g, '/').replace(/~0/g, '~'));
  let frontier: { node: Json; path: (string | number)[] }[] = [{ node: doc, path: [] }];
  for (const step of steps) {
    const next: typeof frontier = [];
    for (const { node, path } of frontier) {
      if (Array.isArray(node)) {
        if (step === '*') {
          for (const [i, el] of node.entries()) next.push({ node: el, path: [...path, i] });
        } else if (/^(0|[1-9]\d*)$/.test(step) && Number(step) < node.length) {
          next.push({ node: node[Number(step)], path: [...path, Number(step)] });
        }
      } else if (isObject(node) && step in node) {
        next.push({ node: node[step], path: [...path, step] });
      }
    }
    frontier = next;
  }
  return frontier.map((f) => f.path);
}

/**
 * Paths in `doc` the rules' pointers and jq expressions select (existing
 * ones; the root excluded). An expression that fails on this object selects
 * nothing in it, as Argo CD skips a normalization that fails.
 */
export function selectedPaths(rules: readonly IgnoreDifference[], doc: Json): JsonPath[] {
  const out: JsonPath[] = [];
  for (const r of rules) {
    for (const p of r.jsonPointers) out.push(...pointerPaths(doc, p));
    for (const e of r.jqPathExpressions ?? []) {
      let paths: JsonPath[];
      try {
        paths = compileJqPath(e).paths(doc);
      } catch {
        continue;
      }
      for (const p of paths) if (exists(doc, p)) out.push(p);
    }
  }
  return out.filter((p) => p.length > 0);
}

const GONE = Symbol('gone');
type Maybe = Json | typeof GONE;

function strip(v: Json, t: Trie | undefined): Maybe {
  if (!t) return v;
  if (t.whole) return GONE;
  if (Array.isArray(v)) {
    const out: Json[] = [];
    v.forEach((el, i) => {
      const r = strip(el, t.children.get(i));
      if (r !== GONE) out.push(r);
    });
    return out;
  }
  if (isObject(v)) {
    const out: Record<string, Json> = {};
    for (const [k, x] of Object.entries(v)) {
      const r = strip(x, t.children.get(k));
      if (r !== GONE) out[k] = r;
    }
    return out;
  }
  return v;
}

// ---- what is applied: the desired object, live values where ignored ----

function isLeafNode(n: FieldsV1 | undefined): boolean {
  if (!n) return false;
  const keys = Object.keys(n);
  return keys.length === 0 || (keys.length === 1 && keys[0] === '.');
}

interface Covered {
  /** Selected in the desired object (by its own indexes). */
  desired?: Trie | undefined;
  /** Selected in the live object. */
  live?: Trie | undefined;
  /** Owned by an ignored manager in the live object. */
  managers?: FieldsV1 | undefined;
}

function coveredWhole(c: Covered): boolean {
  return !!c.desired?.whole || !!c.live?.whole || isLeafNode(c.managers);
}

function coversAnything(c: Covered): boolean {
  return !!c.desired || !!c.live || !!c.managers;
}

/**
 * The live value restricted to what Git sets (`desired`) or Driftless owns
 * (`ours`): what applying must send so nothing covered is removed and
 * nothing of another writer's is taken.
 */
function keep(live: Json, desired: Json, ours: FieldsV1 | undefined): Maybe {
  if (live === undefined || live === null) return GONE;
  if (desired === undefined && ours === undefined) return GONE;
  if (!isObject(live) && !Array.isArray(live)) return live;
  if (isLeafNode(ours)) return live; // owned whole (an atomic value)
  if (Array.isArray(live)) {
    if (!live.every(isObject)) return live; // a set or atomic list: the live list
    const keys = live.length ? listKeyFor(live as Record<string, Json>[]) : undefined;
    if (!keys) return live;
    const out: Json[] = [];
    live.forEach((el, j) => {
      const d = Array.isArray(desired)
        ? desired.find((de) => isObject(de) && keyMatches(keys, de, el as Record<string, Json>))
        : undefined;
      const r = keep(el, d, ours ? listElementNode(ours, el, j) : undefined);
      if (r !== GONE) out.push(r);
    });
    return out;
  }
  const out: Record<string, Json> = {};
  for (const [k, v] of Object.entries(live)) {
    const r = keep(v, isObject(desired) ? desired[k] : undefined, ours?.[`f:${k}`]);
    if (r !== GONE) out[k] = r;
  }
  if (desired === undefined && Object.keys(out).length === 0) return GONE;
  return out;
}

function applyView(desired: Json, live: Json, covered: Covered, ours: FieldsV1 | undefined): Maybe {
  if (coveredWhole(covered)) return keep(live, desired, ours);
  if (!coversAnything(covered)) return desired === undefined ? GONE : desired;
  if (Array.isArray(desired) || (desired === undefined && Array.isArray(live))) {
    return applyList((desired ?? []) as Json[], Array.isArray(live) ? live : [], covered, ours);
  }
  if (isObject(desired) || (desired === undefined && isObject(live))) {
    const d = isObject(desired) ? desired : {};
    const l = isObject(live) ? live : {};
    const out: Record<string, Json> = {};
    for (const k of new Set([...Object.keys(d), ...Object.keys(l)])) {
      const r = applyView(
        d[k],
        l[k],
        {
          desired: covered.desired?.children.get(k),
          live: covered.live?.children.get(k),
          managers: covered.managers?.[`f:${k}`],
        },
        ours?.[`f:${k}`],
      );
      if (r !== GONE) out[k] = r;
    }
    if (desired === undefined && Object.keys(out).length === 0) return GONE;
    return out;
  }
  return desired === undefined ? GONE : desired;
}

function applyList(d: Json[], l: Json[], covered: Covered, ours: FieldsV1 | undefined): Maybe {
  const objects = [...d, ...l].filter(isObject);
  const keys =
    objects.length && d.every(isObject) && l.every(isObject)
      ? listKeyFor((d.length ? d : l) as Record<string, Json>[])
      : undefined;
  const used = new Set<number>();
  const elementOf = (j: number, tree: FieldsV1 | undefined) =>
    j >= 0 && tree ? listElementNode(tree, l[j], j) : undefined;
  const out: Json[] = [];
  d.forEach((el, i) => {
    const j = keys
      ? l.findIndex((le) => isObject(le) && keyMatches(keys, el as Record<string, Json>, le))
      : i < l.length
        ? i
        : -1;
    if (j >= 0) used.add(j);
    const r = applyView(
      el,
      j >= 0 ? l[j] : undefined,
      {
        desired: covered.desired?.children.get(i),
        live: j >= 0 ? covered.live?.children.get(j) : undefined,
        managers: elementOf(j, covered.managers),
      },
      elementOf(j, ours),
    );
    if (r !== GONE) out.push(r);
  });
  // Live elements Git no longer has: kept only where covered and ours.
  l.forEach((el, j) => {
    if (used.has(j)) return;
    const c: Covered = {
      live: covered.live?.children.get(j),
      managers: elementOf(j, covered.managers),
    };
    if (!coversAnything(c)) return;
    const r = applyView(undefined, el, c, elementOf(j, ours));
    if (r !== GONE) out.push(r);
  });
  return out;
}

export interface IgnoredView {
  /** The desired object without what the rules cover (for the comparison). */
  compareDesired: KubeObject;
  /** The live object without what the rules cover (for the comparison). */
  compareLive: KubeObject;
  /** What applying sends: the desired object, with live values where the rules cover it. */
  applyObject: KubeObject;
}

/**
 * The comparison's and the apply's view of one object under the rules that
 * match it. Without a live object (creation) or matching rules, all three
 * are the objects themselves.
 */
export function ignoredView(
  desired: KubeObject,
  live: KubeObject | undefined,
  rules: readonly IgnoreDifference[],
): IgnoredView {
  const matching = ignoreRulesFor(rules, desired);
  if (!live || matching.length === 0) {
    return { compareDesired: desired, compareLive: live ?? desired, applyObject: desired };
  }
  const managers = matching.flatMap((r) => r.managedFieldsManagers);
  const managerFields = managers.length ? fieldsOwnedByAny(live, managers) : undefined;
  const covered: Covered = {
    desired: trieOf(selectedPaths(matching, desired)),
    live: trieOf(selectedPaths(matching, live)),
    managers: managerFields && Object.keys(managerFields).length ? managerFields : undefined,
  };
  if (!coversAnything(covered)) {
    return { compareDesired: desired, compareLive: live, applyObject: desired };
  }
  const without = (obj: KubeObject, t: Trie | undefined): KubeObject => {
    const stripped = strip(obj, t) as KubeObject;
    return (managerFields ? withoutFields(stripped, managerFields) : stripped) as KubeObject;
  };
  const ours = fieldsOwnedBy(live, FIELD_MANAGER, 'Apply');
  const { status: _status, ...liveSpec } = live;
  const applied = applyView(desired, desired.status === undefined ? liveSpec : live, covered, ours);
  const applyObject = {
    ...(applied as KubeObject),
    // Identity is never the rules' to change.
    apiVersion: desired.apiVersion,
    kind: desired.kind,
    metadata: {
      ...(applied as KubeObject).metadata,
      name: desired.metadata.name,
      ...(desired.metadata.namespace !== undefined
        ? { namespace: desired.metadata.namespace }
        : {}),
    },
  } as KubeObject;
  return {
    compareDesired: without(desired, covered.desired),
    compareLive: without(live, covered.live),
    applyObject,
  };
}
