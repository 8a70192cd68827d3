// Whether a SOPS-encrypted document is well-formed, without decrypting it:
// what `driftless validate` can say about an encrypted file offline. The
// format is SOPS's (getsops/sops, stores/stores.go): a top-level `sops` map
// with the MAC, the last-modified time, the version and at least one master
// key (kms, gcp_kms, azure_kv, hc_vault, age, pgp, or key_groups of them),
// at most one of the encrypted/unencrypted key selectors, and values encrypted
// as `ENC[AES256_GCM,data:…,iv:…,tag:…,type:…]`.

/** A problem, and the path of the field it is about. */
export interface SopsMetadataProblem {
  path: (string | number)[];
  message: string;
}

/** `ENC[AES256_GCM,data:<b64>,iv:<b64>,tag:<b64>,type:<str|int|float|bool|bytes|comment>]` */
const ENCRYPTED_VALUE =
  /^ENC\[AES256_GCM,data:[A-Za-z0-9+/=]*,iv:[A-Za-z0-9+/=]+,tag:[A-Za-z0-9+/=]+,type:(str|int|float|bool|bytes|comment)\]$/;

const MASTER_KEYS: Record<string, readonly string[]> = {
  kms: ['arn', 'enc'],
  gcp_kms: ['resource_id', 'enc'],
  azure_kv: ['vault_url', 'name', 'version', 'enc'],
  hc_vault: ['vault_address', 'engine_path', 'key_name', 'enc'],
  age: ['recipient', 'enc'],
  pgp: ['fp', 'enc'],
};
const SELECTORS = [
  'encrypted_regex',
  'encrypted_suffix',
  'unencrypted_regex',
  'unencrypted_suffix',
  'encrypted_comment_regex',
  'unencrypted_comment_regex',
];

function isMap(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function isEncryptedValue(v: unknown): boolean {
  return typeof v === 'string' && ENCRYPTED_VALUE.test(v);
}

/** Master keys of a group (the top of `sops`, or one entry of `key_groups`), with their problems. */
function checkKeys(
  group: Record<string, unknown>,
  at: (string | number)[],
  problems: SopsMetadataProblem[],
): number {
  let keys = 0;
  for (const [kind, fields] of Object.entries(MASTER_KEYS)) {
    const list = group[kind];
    if (list === undefined || list === null) continue;
    if (!Array.isArray(list)) {
      problems.push({ path: [...at, kind], message: `${kind} must be a list of keys` });
      continue;
    }
    list.forEach((key, i) => {
      if (!isMap(key)) {
        problems.push({ path: [...at, kind, i], message: `a ${kind} key must be a map` });
        return;
      }
      for (const f of fields) {
        if (typeof key[f] !== 'string' || key[f] === '') {
          problems.push({ path: [...at, kind, i, f], message: `a ${kind} key needs ${f}` });
        }
      }
      keys++;
    });
  }
  return keys;
}

/** Every encrypted-looking value outside `sops`; a value that starts ENC[ but is malformed is a problem. */
function checkValues(
  value: unknown,
  at: (string | number)[],
  problems: SopsMetadataProblem[],
): number {
  if (typeof value === 'string') {
    if (value.startsWith('ENC[')) {
      if (!isEncryptedValue(value)) {
        problems.push({
          path: at,
          message: 'malformed encrypted value (expected ENC[AES256_GCM,data:…,iv:…,tag:…,type:…])',
        });
        return 0;
      }
      return 1;
    }
    return 0;
  }
  if (Array.isArray(value))
    return value.reduce<number>((n, v, i) => n + checkValues(v, [...at, i], problems), 0);
  if (isMap(value)) {
    let n = 0;
    for (const [k, v] of Object.entries(value))
      if (!(at.length === 0 && k === 'sops')) n += checkValues(v, [...at, k], problems);
    return n;
  }
  return 0;
}

/** The problems of a document that carries `sops` metadata (an empty list: well-formed). */
export function findSopsMetadataErrors(doc: Record<string, unknown>): SopsMetadataProblem[] {
  const problems: SopsMetadataProblem[] = [];
  const sops = doc.sops;
  if (!isMap(sops)) return [{ path: ['sops'], message: 'sops metadata must be a map' }];
  if (!isEncryptedValue(sops.mac)) {
    problems.push({
      path: ['sops', 'mac'],
      message: 'the MAC is missing or not an encrypted value',
    });
  }
  if (typeof sops.lastmodified !== 'string' || Number.isNaN(Date.parse(sops.lastmodified))) {
    problems.push({
      path: ['sops', 'lastmodified'],
      message: 'lastmodified must be an RFC 3339 time',
    });
  }
  if (typeof sops.version !== 'string' || !/^\d+\.\d+/.test(sops.version)) {
    problems.push({
      path: ['sops', 'version'],
      message: 'version must be the SOPS version that wrote the file',
    });
  }
  let keys = checkKeys(sops, ['sops'], problems);
  if (sops.key_groups !== undefined && sops.key_groups !== null) {
    if (!Array.isArray(sops.key_groups)) {
      problems.push({ path: ['sops', 'key_groups'], message: 'key_groups must be a list' });
    } else {
      sops.key_groups.forEach((g, i) => {
        if (isMap(g)) keys += checkKeys(g, ['sops', 'key_groups', i], problems);
        else
          problems.push({ path: ['sops', 'key_groups', i], message: 'a key group must be a map' });
      });
    }
  }
  if (keys === 0) {
    problems.push({
      path: ['sops'],
      message:
        'no master key (kms, age, pgp, gcp_kms, azure_kv or hc_vault): nobody can decrypt it',
    });
  }
  const selectors = SELECTORS.filter((s) => sops[s] !== undefined && sops[s] !== '');
  if (selectors.length > 1) {
    problems.push({
      path: ['sops', selectors[1] as string],
      message: `only one of ${selectors.join(', ')} may be set`,
    });
  }
  if (checkValues(doc, [], problems) === 0 && problems.length === 0) {
    problems.push({ path: [], message: 'sops metadata but no encrypted value' });
  }
  return problems;
}
