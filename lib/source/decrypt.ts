// SOPS decryption between checkout and render, for an app with
// spec.decryption (Flux's kustomize-controller shape):
//
// 1. Every SOPS file of the checkout (YAML, JSON, dotenv, binary; found by
//    content) is decrypted in memory: its data key unwrapped with the app's
//    age identities (a secret, SecretSource) or AWS KMS (KmsDecrypter, as the
//    worker or spec.decryption.roleArn), every value authenticated and the
//    MAC checked.
// 2. If any was, the checkout is copied into a private directory (0700, on
//    /dev/shm when there is one, never the checkout or render cache) with the
//    plaintext files in place (0600), and the render (directory, Kustomize,
//    Helm and its values files) reads that; it is removed in a finally.
// 3. After the render, Secret `data`/`stringData` values that are SOPS
//    documents themselves (a secretGenerator's encrypted file) are decrypted,
//    and an object still carrying `sops` metadata is refused, so ciphertext
//    is never applied.
//
// A file under the app's path (or a Helm values file of it) that cannot be
// decrypted — no key, a MAC mismatch, over the size limit — fails the render
// naming it. Elsewhere in the checkout (other apps' files, other keys) it is
// left as it is, and fails only if it reaches the output. Error messages are
// scrubbed of every decrypted value.

import { createHash } from 'node:crypto';
import type { Dirent } from 'node:fs';
import {
  access,
  constants,
  cp,
  mkdtemp,
  open,
  readdir,
  readFile,
  rm,
  stat,
  writeFile,
} from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DriftlessError } from '../errors.js';
import type { ApplicationSource, Decryption } from '../model/application.js';
import type { Manifest } from '../model/manifest.js';
import type { KmsDecrypter } from '../ports/kms.js';
import type { SecretSource } from '../ports/secrets.js';
import { AgeError, type AgeIdentity, ageDecrypt, parseAgeIdentities } from './age.js';
import { confinedSegments } from './paths.js';
import {
  detectSopsFile,
  parseSopsFile,
  SOPS_MARKER,
  SopsError,
  type SopsFile,
  sopsFormatOf,
} from './sops.js';

const MiB = 1024 * 1024;
/** SOPS files larger than this are refused (as Flux's kustomize-controller does). */
export const MAX_SOPS_FILE_BYTES = 5 * MiB;
/** Unwrapped data keys kept in memory, so a warm worker does not ask KMS again per render. */
export const DATA_KEY_CACHE_ENTRIES = 256;
/** Decrypted values shorter than this are not scrubbed from messages (they would mangle them). */
const MIN_SCRUB_LENGTH = 3;
/** How much of a file over the limit is read to tell whether it is a SOPS file. */
const TAIL_BYTES = 64 * 1024;
const SHARED_MEMORY = '/dev/shm';

/** Where an app's keys come from. */
export interface DecryptionKeys {
  /** Reads spec.decryption.secretRef (age identities). */
  secrets?: SecretSource;
  /** AWS KMS Decrypt. */
  kms?: KmsDecrypter;
}

/** What a render with decryption needs besides the checkout. */
export interface DecryptionRequest {
  spec: Decryption | undefined;
  keys: DecryptionKeys | undefined;
  source: ApplicationSource;
  /** Where the private directory goes when /dev/shm is not there. */
  tempRoot?: string;
}

function fail(message: string, file?: string, field?: string): DriftlessError {
  return new DriftlessError('DecryptionFailed', message, { file, field });
}

/** Data keys by a hash of the wrapped key and who unwrapped it; least recently used evicted. */
const dataKeys = new Map<string, Buffer>();
/**
 * How long KMS's refusal of a key (for a role) is believed without asking
 * again: another tenant's files in a monorepo would otherwise cost a refused
 * KMS call each per render.
 */
export const KMS_REFUSAL_TTL_MS = 60_000;
const kmsRefusals = new Map<string, { until: number; message: string }>();

function remember(key: string, dataKey: Buffer): void {
  dataKeys.delete(key);
  dataKeys.set(key, dataKey);
  while (dataKeys.size > DATA_KEY_CACHE_ENTRIES)
    dataKeys.delete(dataKeys.keys().next().value as string);
}

function cacheKey(...parts: string[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex');
}

/** Resolves data keys for one render: the app's identities (read once) and KMS. */
class KeyResolver {
  private identities: Promise<AgeIdentity[]> | undefined;

  constructor(
    private readonly spec: Decryption,
    private readonly keys: DecryptionKeys,
  ) {}

  private ageIdentities(): Promise<AgeIdentity[]> {
    const ref = this.spec.secretRef;
    if (!ref) return Promise.resolve([]);
    this.identities ??= (async () => {
      if (!this.keys.secrets) {
        throw fail(
          `spec.decryption.secretRef is ${ref}, but this worker has no secret source`,
          undefined,
          'spec.decryption.secretRef',
        );
      }
      const text = await this.keys.secrets.getSecretString(ref);
      try {
        const ids = parseAgeIdentities(text);
        if (ids.length === 0) throw new AgeError('no AGE-SECRET-KEY-1… line');
        return ids;
      } catch (e) {
        throw fail(
          `secret ${ref} holds no usable age identity: ${(e as Error).message}`,
          undefined,
          'spec.decryption.secretRef',
        );
      }
    })();
    return this.identities;
  }

  /** The file's data key, or why none of its master keys could give it. */
  async dataKey(file: SopsFile): Promise<Buffer | string> {
    const m = file.metadata;
    const tried: string[] = [];
    if (m.age.length > 0) {
      const ids = await this.ageIdentities();
      const ours = new Set(ids.map((i) => i.recipient));
      for (const stanza of m.age) {
        if (!ours.has(stanza.recipient)) continue;
        const key = cacheKey('age', stanza.recipient, stanza.enc);
        const hit = dataKeys.get(key);
        if (hit) return hit;
        try {
          const dataKey = ageDecrypt(stanza.enc, ids);
          remember(key, dataKey);
          return dataKey;
        } catch (e) {
          tried.push(`age ${stanza.recipient}: ${(e as Error).message}`);
        }
      }
      const recipients = m.age.map((s) => s.recipient).join(', ');
      if (tried.length === 0)
        tried.push(
          this.spec.secretRef
            ? `age (${recipients}): secret ${this.spec.secretRef} holds none of these identities`
            : `age (${recipients}): spec.decryption.secretRef is not set`,
        );
    }
    for (const kms of m.kms) {
      if (!this.keys.kms) {
        tried.push(`kms ${kms.arn}: this worker has no KMS client`);
        continue;
      }
      const key = cacheKey(
        'kms',
        kms.arn,
        this.spec.roleArn ?? '',
        kms.enc,
        JSON.stringify(kms.context ?? {}),
      );
      const hit = dataKeys.get(key);
      if (hit) return hit;
      const refusalKey = `${kms.arn}\0${this.spec.roleArn ?? ''}`;
      const refused = kmsRefusals.get(refusalKey);
      if (refused && refused.until > Date.now()) {
        tried.push(refused.message);
        continue;
      }
      try {
        const dataKey = Buffer.from(
          await this.keys.kms.decrypt({
            keyArn: kms.arn,
            ciphertext: Buffer.from(kms.enc, 'base64'),
            context: kms.context,
            roleArn: this.spec.roleArn,
          }),
        );
        remember(key, dataKey);
        return dataKey;
      } catch (e) {
        // A KMS outage is worth a retry, not a verdict on the file.
        if (e instanceof DriftlessError && e.reason === 'Internal') throw e;
        const message = (e as Error).message;
        kmsRefusals.set(refusalKey, { until: Date.now() + KMS_REFUSAL_TTL_MS, message });
        tried.push(message);
      }
    }
    for (const other of m.otherKeys)
      tried.push(`${other}: not supported by Driftless (use age or AWS KMS)`);
    return tried.length > 0 ? tried.join('; ') : 'it names no master key';
  }
}

/** Replaces every decrypted value (and its base64) in a message. */
export function scrubber(secrets: Iterable<string>): (message: string) => string {
  const needles = new Set<string>();
  for (const s of secrets) {
    if (s.length < MIN_SCRUB_LENGTH) continue;
    needles.add(s);
    needles.add(Buffer.from(s).toString('base64'));
    for (const line of s.split('\n'))
      if (line.trim().length >= MIN_SCRUB_LENGTH) needles.add(line.trim());
  }
  const sorted = [...needles].sort((a, b) => b.length - a.length);
  return (message) => sorted.reduce((m, n) => m.split(n).join('***'), message);
}

function scrubError(e: unknown, scrub: (m: string) => string): unknown {
  if (e instanceof DriftlessError) {
    const message = scrub(e.message);
    return message === e.message ? e : new DriftlessError(e.reason, message, e.location);
  }
  if (e instanceof Error) return new Error(scrub(e.message));
  return e;
}

/** A private directory for plaintext: /dev/shm (memory) when writable, else the temp root. */
async function privateDir(tempRoot: string | undefined): Promise<string> {
  let base = tempRoot ?? os.tmpdir();
  if (process.platform === 'linux') {
    try {
      await access(SHARED_MEMORY, constants.W_OK);
      base = SHARED_MEMORY;
    } catch {
      // No /dev/shm (e.g. some sandboxes): the temp root, still 0700.
    }
  }
  // mkdtemp creates the directory with mode 0700.
  return mkdtemp(path.join(base, 'driftless-sops-'));
}

async function* files(root: string, rel = ''): AsyncGenerator<string> {
  let entries: Dirent[];
  try {
    entries = await readdir(path.join(root, rel), { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    const p = rel ? `${rel}/${e.name}` : e.name;
    if (e.isDirectory()) {
      if (e.name !== '.git') yield* files(root, p);
    } else if (e.isFile()) yield p;
  }
}

async function tail(file: string, size: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(Math.min(TAIL_BYTES, size));
    await fh.read(buf, 0, buf.length, size - buf.length);
    return buf.toString('utf8');
  } finally {
    await fh.close();
  }
}

interface Plaintext {
  rel: string;
  text: string;
}

/** What the scan found: the files to write decrypted, and what was left encrypted, why. */
interface Scan {
  decrypted: Plaintext[];
  leftEncrypted: Map<string, string>;
  secrets: string[];
}

function inScope(rel: string, source: ApplicationSource): boolean {
  const appRel = confinedSegments(source.path).join('/');
  if (appRel === '' || rel === appRel || rel.startsWith(`${appRel}/`)) return true;
  const valueFiles = source.helm?.valueFiles ?? [];
  return valueFiles.some((v) => path.posix.normalize(path.posix.join(appRel || '.', v)) === rel);
}

async function scan(root: string, source: ApplicationSource, resolver: KeyResolver): Promise<Scan> {
  const result: Scan = { decrypted: [], leftEncrypted: new Map(), secrets: [] };
  for await (const rel of files(root)) {
    const abs = path.join(root, rel);
    const size = (await stat(abs)).size;
    const scoped = inScope(rel, source);
    const problem = (why: string): void => {
      if (scoped) throw fail(why, rel);
      result.leftEncrypted.set(rel, why);
    };
    if (size > MAX_SOPS_FILE_BYTES) {
      const end = await tail(abs, size);
      if (end.includes(SOPS_MARKER) && /sops/.test(end)) {
        problem(
          `SOPS file is ${(size / MiB).toFixed(1)} MiB, over the ${MAX_SOPS_FILE_BYTES / MiB} MiB limit`,
        );
      }
      continue;
    }
    const buf = await readFile(abs);
    if (!buf.includes(SOPS_MARKER)) continue;
    let file: SopsFile | undefined;
    try {
      file = parseSopsFile(buf.toString('utf8'), sopsFormatOf(rel));
    } catch (e) {
      problem(`SOPS metadata: ${(e as Error).message}`);
      continue;
    }
    if (!file) continue;
    const dataKey = await resolver.dataKey(file);
    if (typeof dataKey === 'string') {
      problem(`cannot decrypt: no usable key (${dataKey})`);
      continue;
    }
    try {
      const out = file.decrypt(dataKey);
      result.decrypted.push({ rel, text: out.text });
      result.secrets.push(...out.secrets);
    } catch (e) {
      const at = e instanceof SopsError && e.path ? `${e.path}: ` : '';
      problem(`${at}${(e as Error).message}`);
    }
  }
  return result;
}

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

/** Secret values that are SOPS documents, decrypted; objects still encrypted refused. */
async function finish(
  manifests: readonly Manifest[],
  resolver: KeyResolver | undefined,
  leftEncrypted: ReadonlyMap<string, string>,
  secrets: string[],
): Promise<Manifest[]> {
  const out: Manifest[] = [];
  for (const m of manifests) {
    const obj = m.object as Record<string, unknown>;
    const name = `${m.object.kind}/${m.object.metadata?.name ?? ''}`;
    if (obj.sops !== undefined) {
      const why = leftEncrypted.get(m.file);
      throw new DriftlessError(
        'DecryptionFailed',
        resolver
          ? `${name} is still SOPS-encrypted after decryption${why ? `: ${why}` : ''}`
          : `${name} is SOPS-encrypted: set spec.decryption (provider sops) to decrypt it`,
        { file: m.file, line: m.line, object: name, field: 'sops' },
      );
    }
    if (m.object.kind !== 'Secret' || m.object.apiVersion !== 'v1') {
      out.push(m);
      continue;
    }
    let changed: Record<string, unknown> | undefined;
    for (const field of ['data', 'stringData'] as const) {
      const values = obj[field];
      if (typeof values !== 'object' || values === null) continue;
      for (const [k, v] of Object.entries(values as Record<string, unknown>)) {
        if (typeof v !== 'string') continue;
        const text = field === 'data' ? Buffer.from(v, 'base64').toString('utf8') : v;
        if (!text.includes(SOPS_MARKER)) continue;
        const at = `${field}.${k}`;
        const where = { file: m.file, line: m.line, object: name, field: at };
        if (!resolver)
          throw new DriftlessError(
            'DecryptionFailed',
            `${name} ${at} is a SOPS document: set spec.decryption (provider sops) to decrypt it`,
            where,
          );
        let file: SopsFile | undefined;
        try {
          file = detectSopsFile(text, k);
        } catch (e) {
          throw new DriftlessError(
            'DecryptionFailed',
            `SOPS metadata: ${(e as Error).message}`,
            where,
          );
        }
        if (!file) continue;
        const dataKey = await resolver.dataKey(file);
        if (typeof dataKey === 'string')
          throw new DriftlessError(
            'DecryptionFailed',
            `cannot decrypt: no usable key (${dataKey})`,
            where,
          );
        let plain: string;
        try {
          const d = file.decrypt(dataKey);
          plain = d.text;
          secrets.push(...d.secrets, plain);
        } catch (e) {
          const p = e instanceof SopsError && e.path ? `${e.path}: ` : '';
          throw new DriftlessError('DecryptionFailed', `${p}${(e as Error).message}`, where);
        }
        changed ??= structuredClone(obj);
        (changed[field] as Record<string, string>)[k] = field === 'data' ? b64(plain) : plain;
      }
    }
    out.push(changed ? { ...m, object: changed as unknown as Manifest['object'] } : m);
  }
  return out;
}

/**
 * Renders with the app's SOPS files decrypted: `render` is called with the
 * directory to read (the checkout itself when nothing needed decrypting).
 * Without spec.decryption, the render is checked only: nothing encrypted
 * may come out of it.
 */
export async function renderDecrypted(
  root: string,
  req: DecryptionRequest,
  render: (dir: string) => Promise<Manifest[]>,
): Promise<Manifest[]> {
  if (!req.spec) {
    let manifests: Manifest[];
    try {
      manifests = await render(root);
    } catch (e) {
      throw (await encryptedFileHint(root, e)) ?? e;
    }
    return finish(manifests, undefined, new Map(), []);
  }
  if (!req.keys) {
    throw fail(
      'spec.decryption is set, but this worker has no decryption keys configured',
      undefined,
      'spec.decryption',
    );
  }
  const resolver = new KeyResolver(req.spec, req.keys);
  const secrets: string[] = [];
  let dir: string | undefined;
  try {
    const found = await scan(root, req.source, resolver);
    secrets.push(...found.secrets);
    let renderRoot = root;
    if (found.decrypted.length > 0) {
      dir = await privateDir(req.tempRoot);
      renderRoot = path.join(dir, 'checkout');
      await cp(root, renderRoot, {
        recursive: true,
        verbatimSymlinks: true,
        filter: (src) => path.basename(src) !== '.git',
      });
      for (const f of found.decrypted) {
        const target = path.join(renderRoot, ...f.rel.split('/'));
        await rm(target, { force: true });
        await writeFile(target, f.text, { mode: 0o600 });
      }
    }
    return await finish(await render(renderRoot), resolver, found.leftEncrypted, secrets);
  } catch (e) {
    throw scrubError(e, scrubber(secrets));
  } finally {
    if (dir) await rm(dir, { recursive: true, force: true });
  }
}

/** A render error about a file that is SOPS-encrypted (its fields are ciphertext): say so instead. */
async function encryptedFileHint(root: string, e: unknown): Promise<DriftlessError | undefined> {
  const file = e instanceof DriftlessError ? e.location.file : undefined;
  if (!file) return undefined;
  const text = await readFile(path.join(root, ...file.split('/')), 'utf8').catch(() => '');
  let sops: SopsFile | undefined;
  try {
    sops = parseSopsFile(text, sopsFormatOf(file));
  } catch {
    sops = undefined;
  }
  if (!sops) return undefined;
  return fail(
    'the file is SOPS-encrypted: set spec.decryption (provider sops) to decrypt it',
    file,
  );
}

/** What of spec.decryption shapes a render (for the render cache's key; no secret in it). */
export function decryptionShape(spec: Decryption | undefined): unknown {
  return spec
    ? { provider: spec.provider, secretRef: spec.secretRef ?? null, roleArn: spec.roleArn ?? null }
    : null;
}
