// age (age-encryption.org/v1) decryption with X25519 identities, on
// node:crypto only: what SOPS needs to unwrap a file's data key from an
// `sops.age[].enc` stanza. The format is the age specification's
// (C2SP age.md): a text header of recipient stanzas and a MAC, then a payload
// of 64 KiB ChaCha20-Poly1305 chunks (STREAM). Only X25519 stanzas are
// understood; scrypt, SSH and plugin stanzas are skipped, so a file with no
// X25519 stanza for one of the identities fails with a clear reason. Secret
// keys and file keys are never put in an error message.

import {
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  diffieHellman,
  hkdfSync,
  type KeyObject,
  timingSafeEqual,
} from 'node:crypto';

const VERSION_LINE = 'age-encryption.org/v1';
const X25519_INFO = 'age-encryption.org/v1/X25519';
const ARMOR_BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const ARMOR_END = '-----END AGE ENCRYPTED FILE-----';
const CHUNK_SIZE = 64 * 1024;
const TAG_SIZE = 16;
const FILE_KEY_SIZE = 16;
const SECRET_KEY_HRP = 'age-secret-key-';
const PUBLIC_KEY_HRP = 'age';
// DER wrappers of a raw X25519 key (RFC 8410), so node:crypto takes raw bytes.
const PKCS8_X25519 = Buffer.from('302e020100300506032b656e04220420', 'hex');
const SPKI_X25519 = Buffer.from('302a300506032b656e032100', 'hex');

/** Why an age file could not be decrypted; never carries key material. */
export class AgeError extends Error {}

/** One X25519 identity (`AGE-SECRET-KEY-1…`) and its recipient (`age1…`). */
export interface AgeIdentity {
  readonly recipient: string;
  readonly privateKey: KeyObject;
  readonly publicKey: Buffer;
}

// --- bech32 (BIP 173), as age encodes its keys (no length limit) ---

const CHARSET = 'qpzry9x8gf2tvdw0s3jn54khce6mua7l';
const GENERATOR = [0x3b6a57b2, 0x26508e6d, 0x1ea119fa, 0x3d4233dd, 0x2a1462b3];

function polymod(values: number[]): number {
  let chk = 1;
  for (const v of values) {
    const top = chk >>> 25;
    chk = ((chk & 0x1ffffff) << 5) ^ v;
    for (let i = 0; i < 5; i++) if ((top >>> i) & 1) chk ^= GENERATOR[i] as number;
  }
  return chk >>> 0;
}

function hrpExpand(hrp: string): number[] {
  const out: number[] = [];
  for (const c of hrp) out.push(c.charCodeAt(0) >>> 5);
  out.push(0);
  for (const c of hrp) out.push(c.charCodeAt(0) & 31);
  return out;
}

function convertBits(data: number[], from: number, to: number, pad: boolean): number[] {
  let acc = 0;
  let bits = 0;
  const out: number[] = [];
  const max = (1 << to) - 1;
  for (const v of data) {
    acc = (acc << from) | v;
    bits += from;
    while (bits >= to) {
      bits -= to;
      out.push((acc >>> bits) & max);
    }
  }
  if (pad) {
    if (bits > 0) out.push((acc << (to - bits)) & max);
  } else if (bits >= from || ((acc << (to - bits)) & max) !== 0) {
    throw new AgeError('invalid bech32 padding');
  }
  return out;
}

/** Decodes a bech32 string into its human-readable part and bytes. */
export function bech32Decode(s: string): { hrp: string; data: Buffer } {
  if (s !== s.toLowerCase() && s !== s.toUpperCase()) throw new AgeError('mixed-case bech32');
  const lower = s.toLowerCase();
  const sep = lower.lastIndexOf('1');
  if (sep < 1 || sep + 7 > lower.length) throw new AgeError('malformed bech32');
  const hrp = lower.slice(0, sep);
  const values: number[] = [];
  for (const c of lower.slice(sep + 1)) {
    const v = CHARSET.indexOf(c);
    if (v < 0) throw new AgeError('invalid bech32 character');
    values.push(v);
  }
  if (polymod([...hrpExpand(hrp), ...values]) !== 1) throw new AgeError('bad bech32 checksum');
  return { hrp, data: Buffer.from(convertBits(values.slice(0, -6), 5, 8, false)) };
}

export function bech32Encode(hrp: string, data: Uint8Array): string {
  const values = convertBits([...data], 8, 5, true);
  const mod = polymod([...hrpExpand(hrp), ...values, 0, 0, 0, 0, 0, 0]) ^ 1;
  const checksum: number[] = [];
  for (let i = 0; i < 6; i++) checksum.push((mod >>> (5 * (5 - i))) & 31);
  return `${hrp}1${[...values, ...checksum].map((v) => CHARSET[v]).join('')}`;
}

/** An identity from its `AGE-SECRET-KEY-1…` string. */
export function parseAgeIdentity(secret: string): AgeIdentity {
  const { hrp, data } = bech32Decode(secret.trim());
  if (hrp !== SECRET_KEY_HRP || data.length !== 32) {
    throw new AgeError('not an age X25519 identity (AGE-SECRET-KEY-1…)');
  }
  const privateKey = createPrivateKey({
    key: Buffer.concat([PKCS8_X25519, data]),
    format: 'der',
    type: 'pkcs8',
  });
  const publicKey = createPublicKey(privateKey)
    .export({ format: 'der', type: 'spki' })
    .subarray(SPKI_X25519.length);
  return { recipient: bech32Encode(PUBLIC_KEY_HRP, publicKey), privateKey, publicKey };
}

/** Every `AGE-SECRET-KEY-1…` of a key file (age-keygen's output, comments and blank lines allowed). */
export function parseAgeIdentities(text: string): AgeIdentity[] {
  const out: AgeIdentity[] = [];
  for (const [i, raw] of text.split(/\r?\n/).entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      out.push(parseAgeIdentity(line));
    } catch (e) {
      // The line number only: the line is key material.
      throw new AgeError(`line ${i + 1}: ${(e as Error).message}`);
    }
  }
  return out;
}

// --- the file format ---

function b64Raw(s: string, what: string): Buffer {
  // age uses unpadded standard base64 and rejects non-canonical encodings.
  if (!/^[A-Za-z0-9+/]*$/.test(s)) throw new AgeError(`malformed base64 in ${what}`);
  const out = Buffer.from(s, 'base64');
  if (out.toString('base64').replace(/=+$/, '') !== s)
    throw new AgeError(`non-canonical base64 in ${what}`);
  return out;
}

/** The age file in an ASCII armor (strict, as age reads it), or the input if it is not armored. */
function dearmor(input: Buffer): Buffer {
  // Whitespace around the armor is allowed; inside it, none.
  const text = input.toString('latin1').replace(/^\s+|\s+$/g, '');
  if (!text.startsWith(ARMOR_BEGIN)) return input;
  const lines = text.split('\n').map((l) => (l.endsWith('\r') ? l.slice(0, -1) : l));
  if (lines[0] !== ARMOR_BEGIN) throw new AgeError('malformed armor begin line');
  if (lines.at(-1) !== ARMOR_END) throw new AgeError('armored age file without its end line');
  const body = lines.slice(1, -1);
  if (body.length === 0) throw new AgeError('empty armor');
  body.forEach((line, i) => {
    const last = i === body.length - 1;
    if (line.length > 64 || (!last && line.length !== 64) || line.length === 0)
      throw new AgeError('armor lines must be 64 columns (the last one at most)');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(line) || (!last && line.includes('=')))
      throw new AgeError('invalid character in armor');
  });
  const b64 = body.join('');
  if (b64.length % 4 !== 0) throw new AgeError('armor base64 without its padding');
  const out = Buffer.from(b64, 'base64');
  if (out.toString('base64') !== b64) throw new AgeError('non-canonical base64 in armor');
  return out;
}

interface Stanza {
  type: string;
  args: string[];
  body: Buffer;
}

interface Header {
  stanzas: Stanza[];
  /** The header's bytes up to and including `---`, what the MAC covers. */
  macInput: Buffer;
  mac: Buffer;
  payloadOffset: number;
}

function parseHeader(file: Buffer): Header {
  let pos = 0;
  const nextLine = (): string => {
    const nl = file.indexOf(0x0a, pos);
    if (nl < 0) throw new AgeError('truncated age header');
    const line = file.subarray(pos, nl).toString('latin1');
    pos = nl + 1;
    return line;
  };
  if (nextLine() !== VERSION_LINE) throw new AgeError('not an age v1 file');
  const stanzas: Stanza[] = [];
  for (;;) {
    const lineStart = pos;
    const line = nextLine();
    if (line.startsWith('---')) {
      const parts = line.split(' ');
      if (parts.length !== 2 || parts[0] !== '---') throw new AgeError('malformed header MAC line');
      return {
        stanzas,
        macInput: file.subarray(0, lineStart + 3),
        mac: b64Raw(parts[1] as string, 'the header MAC'),
        payloadOffset: pos,
      };
    }
    if (!line.startsWith('-> ')) throw new AgeError('malformed age stanza');
    const [type, ...args] = line.slice(3).split(' ');
    // Type and arguments are non-empty strings of visible ASCII.
    if (![type, ...args].every((a) => a !== undefined && /^[\x21-\x7e]+$/.test(a)))
      throw new AgeError('malformed age stanza line');
    const chunks: Buffer[] = [];
    for (;;) {
      const bodyLine = nextLine();
      if (bodyLine.length > 64) throw new AgeError('age stanza body line over 64 columns');
      chunks.push(b64Raw(bodyLine, 'a stanza body'));
      if (bodyLine.length < 64) break;
    }
    stanzas.push({ type: type as string, args, body: Buffer.concat(chunks) });
  }
}

function chachaOpen(key: Buffer, nonce: Buffer, sealed: Buffer): Buffer {
  if (sealed.length < TAG_SIZE) throw new AgeError('sealed data shorter than its tag');
  const d = createDecipheriv('chacha20-poly1305', key, nonce, { authTagLength: TAG_SIZE });
  d.setAuthTag(sealed.subarray(sealed.length - TAG_SIZE));
  return Buffer.concat([d.update(sealed.subarray(0, sealed.length - TAG_SIZE)), d.final()]);
}

function hkdf(ikm: Buffer, salt: Buffer, info: string): Buffer {
  return Buffer.from(hkdfSync('sha256', ikm, salt, info, 32));
}

/** The file key from an X25519 stanza, or undefined if it is not for this identity. */
function unwrapX25519(stanza: Stanza, identity: AgeIdentity): Buffer | undefined {
  if (stanza.args.length !== 1) throw new AgeError('malformed X25519 stanza');
  const share = b64Raw(stanza.args[0] as string, 'an X25519 share');
  if (share.length !== 32) throw new AgeError('malformed X25519 share');
  if (stanza.body.length !== FILE_KEY_SIZE + TAG_SIZE) throw new AgeError('malformed X25519 body');
  const shared = diffieHellman({
    privateKey: identity.privateKey,
    publicKey: createPublicKey({
      key: Buffer.concat([SPKI_X25519, share]),
      format: 'der',
      type: 'spki',
    }),
  });
  if (shared.every((b) => b === 0)) throw new AgeError('X25519 share is a low-order point');
  const wrapKey = hkdf(shared, Buffer.concat([share, identity.publicKey]), X25519_INFO);
  try {
    return chachaOpen(wrapKey, Buffer.alloc(12), stanza.body);
  } catch {
    return undefined; // another recipient's stanza
  }
}

function decryptPayload(fileKey: Buffer, payload: Buffer): Buffer {
  if (payload.length < 16) throw new AgeError('truncated age payload');
  const key = hkdf(fileKey, payload.subarray(0, 16), 'payload');
  const sealed = payload.subarray(16);
  const out: Buffer[] = [];
  let offset = 0;
  for (let counter = 0; ; counter++) {
    const chunk = sealed.subarray(offset, offset + CHUNK_SIZE + TAG_SIZE);
    offset += chunk.length;
    const last = offset >= sealed.length;
    const nonce = Buffer.alloc(12);
    nonce.writeUIntBE(counter, 5, 6);
    if (last) nonce[11] = 1;
    let plain: Buffer;
    try {
      plain = chachaOpen(key, nonce, chunk);
    } catch {
      throw new AgeError('age payload failed authentication');
    }
    // Only the first chunk of an empty file may be empty.
    if (plain.length === 0 && counter > 0) throw new AgeError('empty final age chunk');
    out.push(plain);
    if (last) return Buffer.concat(out);
  }
}

/** Decrypts an age file (binary or ASCII-armored) with the first identity it was encrypted to. */
export function ageDecrypt(input: Buffer | string, identities: readonly AgeIdentity[]): Buffer {
  const file = dearmor(typeof input === 'string' ? Buffer.from(input, 'utf8') : input);
  const header = parseHeader(file);
  const x25519 = header.stanzas.filter((s) => s.type === 'X25519');
  let fileKey: Buffer | undefined;
  for (const stanza of x25519) {
    for (const identity of identities) {
      fileKey = unwrapX25519(stanza, identity);
      if (fileKey) break;
    }
    if (fileKey) break;
  }
  if (!fileKey) {
    const types = [...new Set(header.stanzas.map((s) => s.type))].join(', ') || 'none';
    throw new AgeError(
      x25519.length === 0
        ? `no X25519 recipient stanza (stanzas: ${types})`
        : 'encrypted to none of the given identities',
    );
  }
  const mac = createHmac('sha256', hkdf(fileKey, Buffer.alloc(0), 'header'))
    .update(header.macInput)
    .digest();
  if (mac.length !== header.mac.length || !timingSafeEqual(mac, header.mac)) {
    throw new AgeError('age header MAC mismatch');
  }
  return decryptPayload(fileKey, file.subarray(header.payloadOffset));
}
