// The SOPS file format (getsops/sops v3), decrypted in memory: YAML (one or
// more documents), JSON, dotenv and binary (a JSON `data` value) files with
// their `sops` metadata. Each value is AES-256-GCM under the file's data key
// with the value's path (map keys joined by `:`, plus a trailing `:`) as
// additional data; the MAC is the SHA-512 of every value in document order
// (plaintext; comments left out; only encrypted ones under
// `mac_only_encrypted`), upper-case hex, itself encrypted with
// `lastmodified` as additional data. Which values are encrypted follows the
// file's selector (encrypted_regex, encrypted_suffix, unencrypted_regex,
// unencrypted_suffix). Unwrapping the data key (age, KMS) is decrypt.ts's.
// Errors name the value's path, never a value.

import { createDecipheriv, createHash, timingSafeEqual } from 'node:crypto';
import {
  type Document,
  isMap,
  isScalar,
  isSeq,
  type Node,
  parseAllDocuments,
  Scalar,
  type YAMLMap,
} from 'yaml';

export type SopsFormat = 'yaml' | 'json' | 'dotenv' | 'binary';

/** A problem with one SOPS file; `path` is the value's, when it is about one. */
export class SopsError extends Error {
  constructor(
    message: string,
    readonly path?: string,
  ) {
    super(message);
  }
}

export interface SopsAgeKey {
  recipient: string;
  enc: string;
}

export interface SopsKmsKey {
  arn: string;
  enc: string;
  context?: Record<string, string>;
}

export interface SopsMetadata {
  age: SopsAgeKey[];
  kms: SopsKmsKey[];
  /** Key types present that Driftless cannot use (pgp, gcp_kms, …). */
  otherKeys: string[];
  mac: string;
  lastmodified: string;
  macOnlyEncrypted: boolean;
  shouldEncrypt: (path: readonly string[]) => boolean;
}

/** A parsed SOPS file, ready to decrypt once its data key is known. */
export interface SopsFile {
  format: SopsFormat;
  metadata: SopsMetadata;
  /** Decrypts every value, checks the MAC and returns the plaintext file and its values. */
  decrypt(dataKey: Buffer): DecryptedSopsFile;
}

export interface DecryptedSopsFile {
  text: string;
  /** The decrypted values (to scrub them from any later error message). */
  secrets: string[];
}

const ENCRYPTED =
  /^ENC\[AES256_GCM,data:([A-Za-z0-9+/=]*),iv:([A-Za-z0-9+/=]+),tag:([A-Za-z0-9+/=]+),type:(str|int|float|bool|bytes|comment)\]$/;
/** What every SOPS file contains: a cheap test before parsing. */
export const SOPS_MARKER = 'ENC[AES256_GCM,';

/** The format SOPS picks by file name (as `sops` does: by extension, else binary). */
export function sopsFormatOf(file: string): SopsFormat {
  const lower = file.toLowerCase();
  if (lower.endsWith('.yaml') || lower.endsWith('.yml')) return 'yaml';
  if (lower.endsWith('.json')) return 'json';
  if (lower.endsWith('.env')) return 'dotenv';
  return 'binary';
}

// --- values ---

type Plain = string | number | boolean | null;

interface Decrypted {
  value: Plain;
  /** The bytes the MAC takes (SOPS's ToBytes of the value). */
  macBytes: string;
  comment: boolean;
}

function decryptValue(encrypted: string, key: Buffer, aad: string, path: string): Decrypted {
  const m = ENCRYPTED.exec(encrypted);
  if (!m) throw new SopsError('malformed encrypted value', path);
  const [, data, iv, tag, type] = m as unknown as [string, string, string, string, string];
  let plain: string;
  try {
    const d = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    d.setAAD(Buffer.from(aad, 'utf8'));
    d.setAuthTag(Buffer.from(tag, 'base64'));
    plain = Buffer.concat([d.update(Buffer.from(data, 'base64')), d.final()]).toString('utf8');
  } catch {
    throw new SopsError(
      'value failed authentication (the file was modified, or this is not its data key)',
      path,
    );
  }
  switch (type) {
    case 'int': {
      const n = Number(plain);
      if (!Number.isInteger(n)) throw new SopsError('int value is not an integer', path);
      return { value: n, macBytes: plain, comment: false };
    }
    case 'float': {
      const n = Number(plain);
      if (Number.isNaN(n)) throw new SopsError('float value is not a number', path);
      return { value: n, macBytes: plain, comment: false };
    }
    case 'bool': {
      const b = /^(1|t|true)$/i.test(plain);
      if (!b && !/^(0|f|false)$/i.test(plain))
        throw new SopsError('bool value is not a boolean', path);
      return { value: b, macBytes: b ? 'True' : 'False', comment: false };
    }
    case 'comment':
      return { value: plain, macBytes: '', comment: true };
    default:
      return { value: plain, macBytes: plain, comment: false };
  }
}

/** Go's strconv.FormatFloat(v, 'f', -1, 64): shortest digits, never an exponent. */
function formatFloat(n: number): string {
  const s = String(n);
  if (!/e/i.test(s)) return s;
  if (Number.isInteger(n)) return BigInt(n).toString();
  return n.toFixed(20).replace(/\.?0+$/, '');
}

/** SOPS's ToBytes of a value it did not encrypt. */
function plainMacBytes(v: Plain): string {
  if (v === null) return '';
  if (typeof v === 'boolean') return v ? 'True' : 'False';
  if (typeof v === 'number') return formatFloat(v);
  return v;
}

/** Walks a file's values in document order, decrypting those the selector says are encrypted. */
class ValueWalker {
  private readonly hash = createHash('sha512');
  readonly secrets: string[] = [];

  constructor(
    private readonly key: Buffer,
    private readonly metadata: SopsMetadata,
  ) {
    // SOPS starts a mac_only_encrypted MAC with SHA-256("sops"), so it never equals a full one.
    if (metadata.macOnlyEncrypted) this.hash.update(createHash('sha256').update('sops').digest());
  }

  /** A comment SOPS encrypted (`#ENC[…,type:comment]`), decrypted; undefined if it is not one. */
  comment(text: string, path: readonly string[]): string | undefined {
    if (!ENCRYPTED.test(text) || !text.endsWith('type:comment]')) return undefined;
    try {
      return String(decryptValue(text, this.key, `${path.join(':')}:`, 'comment').value);
    } catch {
      return undefined; // left as it is: comments are not authenticated by the MAC
    }
  }

  /** The value to put in the decrypted file. */
  leaf(value: Plain, path: readonly string[]): Plain {
    const encrypted = this.metadata.shouldEncrypt(path);
    const shown = path.join('.') || '(root)';
    let out: Decrypted;
    if (encrypted && typeof value === 'string' && value !== '') {
      out = decryptValue(value, this.key, `${path.join(':')}:`, shown);
      if (!out.comment) this.secrets.push(out.macBytes);
    } else {
      // SOPS leaves empty strings and nulls as they are, encrypted or not.
      out = { value, macBytes: plainMacBytes(value), comment: false };
    }
    if (!out.comment && (!this.metadata.macOnlyEncrypted || encrypted))
      this.hash.update(out.macBytes, 'utf8');
    return out.value;
  }

  /** Checks the file's MAC against the values walked. */
  verifyMac(): void {
    const expected = decryptValue(
      this.metadata.mac,
      this.key,
      this.metadata.lastmodified,
      'sops.mac',
    ).value;
    const actual = Buffer.from(this.hash.digest('hex').toUpperCase(), 'utf8');
    const stored = Buffer.from(String(expected).toUpperCase(), 'utf8');
    if (actual.length !== stored.length || !timingSafeEqual(actual, stored)) {
      throw new SopsError('MAC mismatch: the file was modified after it was encrypted');
    }
  }
}

// --- metadata ---

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const KNOWN_OTHER_KEYS = ['pgp', 'gcp_kms', 'azure_kv', 'hc_vault', 'hckms'];

function selector(sops: Record<string, unknown>): (path: readonly string[]) => boolean {
  const str = (k: string) =>
    typeof sops[k] === 'string' && sops[k] !== '' ? (sops[k] as string) : undefined;
  const unencryptedSuffix = str('unencrypted_suffix');
  const encryptedSuffix = str('encrypted_suffix');
  const unencryptedRegex = str('unencrypted_regex');
  const encryptedRegex = str('encrypted_regex');
  const regex = (source: string, field: string) => {
    try {
      return new RegExp(source);
    } catch {
      throw new SopsError(`sops.${field} is not a valid regular expression`);
    }
  };
  if (unencryptedSuffix) return (p) => !p.some((k) => k.endsWith(unencryptedSuffix));
  if (encryptedSuffix) return (p) => p.some((k) => k.endsWith(encryptedSuffix));
  if (unencryptedRegex) {
    const re = regex(unencryptedRegex, 'unencrypted_regex');
    return (p) => !p.some((k) => re.test(k));
  }
  if (encryptedRegex) {
    const re = regex(encryptedRegex, 'encrypted_regex');
    return (p) => p.some((k) => re.test(k));
  }
  return () => true;
}

function keysOf(group: Record<string, unknown>, into: SopsMetadata): void {
  const list = (k: string) => (Array.isArray(group[k]) ? (group[k] as unknown[]) : []);
  for (const k of list('age')) {
    if (isRecord(k) && typeof k.recipient === 'string' && typeof k.enc === 'string')
      into.age.push({ recipient: k.recipient, enc: k.enc });
  }
  for (const k of list('kms')) {
    if (isRecord(k) && typeof k.arn === 'string' && typeof k.enc === 'string') {
      const context = isRecord(k.context)
        ? Object.fromEntries(Object.entries(k.context).map(([ck, cv]) => [ck, String(cv)]))
        : undefined;
      into.kms.push({ arn: k.arn, enc: k.enc, context });
    }
  }
  for (const other of KNOWN_OTHER_KEYS)
    if (list(other).length > 0 && !into.otherKeys.includes(other)) into.otherKeys.push(other);
}

/** The metadata of a `sops` map, or undefined when it is not SOPS metadata at all. */
export function parseSopsMetadata(sops: unknown): SopsMetadata | undefined {
  if (!isRecord(sops) || typeof sops.mac !== 'string' || typeof sops.version !== 'string')
    return undefined;
  if (typeof sops.lastmodified !== 'string')
    throw new SopsError("sops.lastmodified is missing (it is the MAC's additional data)");
  const metadata: SopsMetadata = {
    age: [],
    kms: [],
    otherKeys: [],
    mac: sops.mac,
    lastmodified: sops.lastmodified,
    macOnlyEncrypted: sops.mac_only_encrypted === true || sops.mac_only_encrypted === 'true',
    shouldEncrypt: selector(sops),
  };
  keysOf(sops, metadata);
  if (Array.isArray(sops.key_groups)) {
    if (sops.key_groups.length > 1) {
      // Shamir's secret sharing over several groups: every group's share is needed.
      throw new SopsError(
        `sops.key_groups has ${sops.key_groups.length} groups (Shamir threshold): not supported, use one group`,
      );
    }
    for (const g of sops.key_groups) if (isRecord(g)) keysOf(g, metadata);
  }
  return metadata;
}

// --- YAML and JSON ---

function keyOf(pairKey: unknown): string {
  if (isScalar(pairKey)) return String(pairKey.value);
  return String(pairKey);
}

function walkNode(node: unknown, path: string[], walker: ValueWalker): void {
  if (isMap(node)) {
    for (const pair of node.items) {
      const k = keyOf(pair.key);
      if (pair.value === null || pair.value === undefined) {
        walker.leaf(null, [...path, k]);
      } else walkNode(pair.value, [...path, k], walker);
    }
  } else if (isSeq(node)) {
    for (const item of node.items) walkNode(item, path, walker);
  } else if (isScalar(node)) {
    const v = node.value;
    const plain: Plain =
      typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' || v === null
        ? v
        : String(v);
    const out = walker.leaf(plain, path);
    if (out !== plain) {
      node.value = out;
      // Let the printer choose quoting for the new value's type.
      node.type = typeof out === 'string' && out.includes('\n') ? Scalar.BLOCK_LITERAL : undefined;
    }
  }
}

function removeSops(doc: Document): unknown {
  const contents = doc.contents as YAMLMap | null;
  if (!isMap(contents)) return undefined;
  const i = contents.items.findIndex((p) => keyOf(p.key) === 'sops');
  if (i < 0) return undefined;
  const sops = (contents.items[i]?.value as Node | null)?.toJSON?.() as unknown;
  contents.items.splice(i, 1);
  return sops;
}

function jsonOf(node: unknown, indent: string): string {
  const next = `${indent}\t`;
  if (isMap(node)) {
    if (node.items.length === 0) return '{}';
    const items = node.items.map(
      (p) => `${next}${JSON.stringify(keyOf(p.key))}: ${jsonOf(p.value, next)}`,
    );
    return `{\n${items.join(',\n')}\n${indent}}`;
  }
  if (isSeq(node)) {
    if (node.items.length === 0) return '[]';
    return `[\n${node.items.map((v) => next + jsonOf(v, next)).join(',\n')}\n${indent}]`;
  }
  if (isScalar(node)) return JSON.stringify(node.value ?? null);
  return 'null';
}

function parseTree(text: string, format: 'yaml' | 'json' | 'binary'): SopsFile | undefined {
  const docs = parseAllDocuments(text, { version: '1.2', uniqueKeys: false });
  if (!Array.isArray(docs) || docs.length === 0) return undefined;
  if (docs.some((d) => d.errors.length > 0)) return undefined;
  let metadata: SopsMetadata | undefined;
  for (const doc of docs) {
    const sops = removeSops(doc);
    // Every document of a multi-document file carries the same metadata.
    metadata ??= parseSopsMetadata(sops);
  }
  if (!metadata) return undefined;
  const meta = metadata;
  return {
    format,
    metadata: meta,
    decrypt(dataKey) {
      const walker = new ValueWalker(dataKey, meta);
      for (const doc of docs) walkNode(doc.contents, [], walker);
      walker.verifyMac();
      if (format === 'binary') {
        const data = isMap(docs[0]?.contents) ? docs[0].contents.get('data') : undefined;
        if (typeof data !== 'string') throw new SopsError('binary SOPS file without data');
        return { text: data, secrets: walker.secrets };
      }
      if (format === 'json')
        return { text: `${jsonOf(docs[0]?.contents, '')}\n`, secrets: walker.secrets };
      const text = docs
        .map((d) => d.toString({ lineWidth: 0 }).replace(/^---\n/, ''))
        .join('---\n');
      return { text, secrets: walker.secrets };
    },
  };
}

// --- dotenv ---

/** `sops_age__list_0__map_enc` → sops.age[0].enc (SOPS's flattening of metadata). */
function unflatten(entries: [string, string][]): Record<string, unknown> {
  const root: Record<string, unknown> = {};
  for (const [flatKey, value] of entries) {
    const segments = flatKey.split('__').map((s, i) => {
      if (i === 0) return s;
      const list = /^list_(\d+)$/.exec(s);
      if (list) return Number(list[1]);
      return s.startsWith('map_') ? s.slice(4) : s;
    });
    let at: Record<string | number, unknown> = root;
    segments.forEach((seg, i) => {
      if (i === segments.length - 1) {
        at[seg] = value;
        return;
      }
      const nextIsIndex = typeof segments[i + 1] === 'number';
      at[seg] ??= nextIsIndex ? [] : {};
      at = at[seg] as Record<string | number, unknown>;
    });
  }
  return root;
}

function parseDotenv(text: string): SopsFile | undefined {
  type Line = { kind: 'value'; key: string; value: string } | { kind: 'other'; raw: string };
  const lines: Line[] = [];
  const meta: [string, string][] = [];
  for (const raw of text.split('\n')) {
    const eq = raw.indexOf('=');
    if (raw.startsWith('#') || raw.trim() === '' || eq < 0) {
      if (raw !== '' || lines.length > 0) lines.push({ kind: 'other', raw });
      continue;
    }
    const key = raw.slice(0, eq);
    const value = raw.slice(eq + 1).replaceAll('\\n', '\n');
    if (key.startsWith('sops_')) meta.push([key.slice(5), value]);
    else lines.push({ kind: 'value', key, value });
  }
  const sops = unflatten(meta);
  if (sops.mac_only_encrypted !== undefined)
    sops.mac_only_encrypted = sops.mac_only_encrypted === 'true';
  const metadata = parseSopsMetadata(sops);
  if (!metadata) return undefined;
  while (lines.at(-1)?.kind === 'other' && (lines.at(-1) as { raw: string }).raw === '')
    lines.pop();
  return {
    format: 'dotenv',
    metadata,
    decrypt(dataKey) {
      const walker = new ValueWalker(dataKey, metadata);
      const out = lines.map((l) => {
        if (l.kind === 'other') {
          const c = l.raw.startsWith('#') ? walker.comment(l.raw.slice(1), []) : undefined;
          return c === undefined ? l.raw : `#${c}`;
        }
        const v = walker.leaf(l.value, [l.key]);
        return `${l.key}=${String(v).replaceAll('\n', '\\n')}`;
      });
      walker.verifyMac();
      return { text: `${out.join('\n')}\n`, secrets: walker.secrets };
    },
  };
}

/**
 * The SOPS file in `text`, or undefined when it is not one (no `sops`
 * metadata). `format` is the one SOPS would use for the file's name; a
 * binary file is SOPS's JSON wrapper of it.
 */
export function parseSopsFile(text: string, format: SopsFormat): SopsFile | undefined {
  if (!text.includes(SOPS_MARKER)) return undefined;
  if (format === 'dotenv') return parseDotenv(text);
  return parseTree(text, format);
}

/**
 * The SOPS document in a value named `name` (a Secret's data key, e.g.
 * `app.env`): its format by the name, as SOPS chose it when it wrote the
 * file, else by its content.
 */
export function detectSopsFile(text: string, name: string): SopsFile | undefined {
  if (!text.includes(SOPS_MARKER)) return undefined;
  const byName = sopsFormatOf(name);
  if (byName !== 'binary') return parseSopsFile(text, byName);
  const trimmed = text.trimStart();
  if (trimmed.startsWith('{')) {
    // SOPS's binary wrapper is a JSON map of `data` and `sops` only; anything else is a JSON file.
    let keys: string[] = [];
    try {
      keys = Object.keys(JSON.parse(text) as object).sort();
    } catch {
      return undefined;
    }
    return parseTree(text, keys.join() === 'data,sops' ? 'binary' : 'json');
  }
  if (/^sops_mac=/m.test(text)) return parseDotenv(text);
  return parseTree(text, 'yaml');
}
