// YAML as Kubernetes reads it. kubectl, Flux and Argo CD turn YAML into JSON
// with sigs.k8s.io/yaml, which decodes with go-yaml v2 (YAML 1.1 scalars) and
// then makes every map key a string. These are the tags (for the `yaml`
// package) and the key rule that give the same JSON, written from go-yaml
// v2.4's resolve.go/decode.go and sigs.k8s.io/yaml's yaml.go:
//
// Plain (unquoted) scalars, first match wins:
//   null   ~ null Null NULL and the empty scalar
//   bool   y Y yes Yes YES true True TRUE on On ON,
//          n N no No NO false False FALSE off Off OFF (other casings are strings)
//   .inf   .inf/.Inf/.INF with an optional sign, .nan/.NaN/.NAN: no JSON number
//          exists for them, so (like kubectl) they are an error as values
//   int    Go's integer syntax after removing every `_`: optional sign, then
//          0x/0X hex, 0b/0B binary, 0o/0O octal, a leading 0 octal (0644 = 420,
//          0400 = 256), or decimal. Beyond int64 (uint64 without a sign) a
//          decimal is read as a float, anything else is a string.
//   float  [-+]?(.d+|d+(.d*)?)([eE][-+]?d+)? after removing `_`, or .d+(e..)?
//          as written (no `_`); one that overflows a float64 is a string
//   string everything else: timestamps (2001-12-14 stays "2001-12-14"),
//          sexagesimal (190:20:30), `.`, `0x`, `1:30`, …
// Quoted and block scalars are strings. Explicit tags: !!str, !!int, !!float
// (takes ints), !!bool, !!null, !!timestamp (kept as written), !!binary
// (decoded, as text) resolve as go-yaml does and fail on a mismatch
// (`!!int yes`); unknown tags (`!foo`, `!!set`) leave the node as it is.
// Merge keys (`<<`) merge like go-yaml: at the key's position, so keys before
// `<<` are overwritten by the merged map and keys after it win; in a list of
// maps the earlier map wins.
// Keys: strings stay, ints are written in decimal (`0x1F:` is "31"), bools as
// "true"/"false" (`on:`, `yes:`, `y:` are all "true"), floats as Go's
// FormatFloat(f, 'g', -1, 32) (`1e6:` is "1e+06"); null keys, keys beyond
// int64 and collection keys are errors, as in sigs.k8s.io/yaml.
//
// Where this differs from kubectl: keys that become the same string (`1:` and
// "1":, `yes:` and `on:`) are a duplicate-key error rather than one silently
// winning; integers beyond 2^53 lose precision as all JavaScript numbers do;
// the document syntax is YAML 1.2's (the `yaml` package's), which differs from
// libyaml's 1.1 syntax only in corners (escapes like `\/`, NEL line breaks, a
// lone `-` in a flow sequence, which libyaml reads as "-" and this refuses).
// The `yaml` package's own 'yaml-1.1' schema is not used: it reads 190:20:30 as
// 685230, timestamps as Dates, `.` and `._5` as numbers, and 0o644/0X1F as
// strings, none of which go-yaml does.

import { Buffer } from 'node:buffer';
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  type Node,
  type ParsedNode,
  type ParseOptions,
  Scalar,
  type ScalarTag,
  type SchemaOptions,
  type YAMLMap,
} from 'yaml';

const tag = (name: string) => `tag:yaml.org,2002:${name}`;
const FLOAT_TAG = tag('float');

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

/** A plain scalar's type and value by go-yaml v2's rules. */
export type GoScalar =
  | { type: 'null'; value: null }
  | { type: 'bool'; value: boolean }
  | { type: 'int'; value: number; exact: bigint; unsigned: boolean }
  | { type: 'float'; value: number }
  | { type: 'str'; value: string };

// Underscores may stand anywhere after the first character (go-yaml removes
// them all before parsing), hence the `_*` and `[..._]` throughout.
const NULL = /^(?:~|null|Null|NULL)?$/;
const TRUE = /^(?:y|Y|yes|Yes|YES|true|True|TRUE|on|On|ON)$/;
const FALSE = /^(?:n|N|no|No|NO|false|False|FALSE|off|Off|OFF)$/;
const NON_FINITE = /^(?:[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$/;
const INT =
  /^(?:[-+]_*)?(?:0_*[xX]_*[0-9a-fA-F][0-9a-fA-F_]*|0_*[bB]_*[01][01_]*|0_*[oO]_*[0-7][0-7_]*|0[0-7_]*|[1-9][0-9_]*)$/;
const EXPONENT = '(?:[eE]_*(?:[-+]_*)?[0-9][0-9_]*)?';
const FLOAT = new RegExp(
  `^(?:(?:[-+]_*(?:\\._*[0-9][0-9_]*|[0-9][0-9_]*(?:\\.[0-9_]*)?)|[0-9][0-9_]*(?:\\.[0-9_]*)?)${EXPONENT}` +
    // Starting with a dot, go-yaml parses the text as it is: no underscores.
    '|\\.[0-9]+(?:[eE][-+]?[0-9]+)?)$',
);
const DECIMAL_DIGITS = /^[-+]?[0-9]+$/;
// The layouts go-yaml's parseTimestamp accepts (for an explicit !!timestamp).
const TIMESTAMP =
  /^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt][0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?(?:Z|[-+][0-9]{2}:[0-9]{2})| [0-9]{1,2}:[0-9]{1,2}:[0-9]{1,2}(?:\.[0-9]+)?)?$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** An integer as go-yaml reads it: int64, else uint64, else a decimal float, else text. */
function goInteger(text: string): GoScalar {
  const plain = text.replace(/_/g, '');
  const negative = plain.startsWith('-');
  const signed = negative || plain.startsWith('+');
  let digits = signed ? plain.slice(1) : plain;
  if (/^0[0-7]+$/.test(digits)) digits = `0o${digits.slice(1)}`; // 0644: octal
  const magnitude = BigInt(digits);
  const exact = negative ? -magnitude : magnitude;
  if (exact >= INT64_MIN && exact <= INT64_MAX) {
    return { type: 'int', value: Number(exact), exact, unsigned: false };
  }
  if (!signed && exact <= UINT64_MAX) {
    return { type: 'int', value: Number(exact), exact, unsigned: true };
  }
  return DECIMAL_DIGITS.test(plain) ? goFloat(plain) : { type: 'str', value: text };
}

function goFloat(text: string): GoScalar {
  const value = Number(text.replace(/_/g, ''));
  // go-yaml leaves a float that overflows float64 as a string.
  return Number.isFinite(value) ? { type: 'float', value } : { type: 'str', value: text };
}

/** What go-yaml v2 makes of a plain scalar. */
export function resolvePlain(text: string): GoScalar {
  if (NULL.test(text)) return { type: 'null', value: null };
  if (TRUE.test(text)) return { type: 'bool', value: true };
  if (FALSE.test(text)) return { type: 'bool', value: false };
  if (NON_FINITE.test(text)) {
    const value = text.toLowerCase().endsWith('nan')
      ? Number.NaN
      : text.startsWith('-')
        ? Number.NEGATIVE_INFINITY
        : Number.POSITIVE_INFINITY;
    return { type: 'float', value };
  }
  if (INT.test(text)) return goInteger(text);
  if (FLOAT.test(text)) return goFloat(text);
  return { type: 'str', value: text };
}

/**
 * Implicit tags pick a plain scalar's type by a test; each resolves with
 * resolvePlain, so the tests only route and the rules live in one place.
 */
const implicit = (name: string, test: RegExp): ScalarTag => ({
  tag: tag(name),
  default: true,
  test,
  resolve: (text) => resolvePlain(text).value,
});

/** `!!int x`, `!!bool x`, …: the value go-yaml resolves, or its error for a mismatch. */
const explicit = (name: GoScalar['type']): ScalarTag => ({
  tag: tag(name),
  resolve(text, onError) {
    const r = resolvePlain(text);
    if (r.type === name || (name === 'float' && r.type === 'int')) return r.value;
    onError(`cannot decode !!${r.type} \`${text}\` as a !!${name}`);
    return text;
  },
});

const timestampTag: ScalarTag = {
  tag: tag('timestamp'),
  resolve(text, onError) {
    if (!TIMESTAMP.test(text)) onError(`cannot decode \`${text}\` as a !!timestamp`);
    return text; // go-yaml hands a timestamp to JSON as the text it was written as
  },
};

const binaryTag: ScalarTag = {
  tag: tag('binary'),
  resolve(text, onError) {
    const b64 = text.replace(/[\r\n]/g, '');
    if (!BASE64.test(b64)) onError('!!binary value contains invalid base64 data');
    return Buffer.from(b64, 'base64').toString('utf8');
  },
};

type AddToJSMap = NonNullable<Node['addToJSMap']>;
type ToJSContext = Parameters<AddToJSMap>[0];
type MapLike = Parameters<AddToJSMap>[1];
const MERGE_KEY = '<<';

/** True for the key of a merge (`<<:`) pair. */
export function isMergeKey(key: unknown): boolean {
  return isScalar(key) && typeof key.value === 'symbol' && key.value.description === MERGE_KEY;
}

/** The maps a merge value names, as go-yaml applies them: a list's last map first. */
function mergeSources(value: unknown, ctx: ToJSContext): YAMLMap[] {
  const deref = (v: unknown) => (isAlias(v) && ctx ? v.resolve(ctx.doc, ctx) : v);
  const source = deref(value);
  const maps = isSeq(source) ? source.items.map(deref).reverse() : [source];
  return maps.map((m) => {
    if (!isMap(m)) throw new Error('map merge requires map or sequence of maps as the value');
    return m;
  });
}

const mergeLikeGoYaml: AddToJSMap = (ctx, map, value) => {
  for (const source of mergeSources(value, ctx)) {
    const entries = source.toJSON(null, ctx, Map) as Map<unknown, unknown>;
    for (const [k, v] of entries) setEntry(map, k, v);
  }
};

/** Sets (overwriting) one entry; defineProperty so a `__proto__` key is just a key. */
function setEntry(map: MapLike, key: unknown, value: unknown): void {
  if (map instanceof Map) map.set(key, value);
  else if (map instanceof Set) map.add(key);
  else {
    Object.defineProperty(map, String(key), {
      value,
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
}

const mergeTag: ScalarTag = {
  tag: tag('merge'),
  default: 'key',
  test: /^<<$/,
  resolve: () => Object.assign(new Scalar(Symbol(MERGE_KEY)), { addToJSMap: mergeLikeGoYaml }),
};

const KEPT_CORE_TAGS = new Set([tag('map'), tag('seq'), tag('str')]);

/**
 * Options for the `yaml` package's parser: the tags above with its core
 * schema's map, seq and str, and nothing the package would add by itself.
 */
export const KUBERNETES_YAML_OPTIONS: ParseOptions & SchemaOptions = {
  schema: 'core',
  customTags: (core) => [
    ...core.filter((t) => typeof t === 'object' && KEPT_CORE_TAGS.has(t.tag)),
    implicit('null', NULL),
    implicit('bool', TRUE),
    implicit('bool', FALSE),
    implicit('float', NON_FINITE),
    implicit('int', INT),
    implicit('float', FLOAT),
    mergeTag,
    explicit('null'),
    explicit('bool'),
    explicit('int'),
    explicit('float'),
    timestampTag,
    binaryTag,
  ],
  resolveKnownTags: false,
  merge: false, // mergeTag is in customTags
  // Keys are equal when they become the same JSON key (`1:` and "1":).
  uniqueKeys: (a: ParsedNode, b: ParsedNode) => {
    const ka = scalarKeyName(a);
    return ka !== undefined && ka === scalarKeyName(b);
  },
};

function scalarKeyName(node: ParsedNode): string | undefined {
  if (!isScalar(node) || isMergeKey(node)) return undefined;
  const name = keyName(node);
  return typeof name === 'string' ? name : undefined;
}

/**
 * The JSON key sigs.k8s.io/yaml makes of a scalar key, or why it makes none.
 * Ints are written exactly (from the source text), floats as Go formats them.
 */
export function keyName(node: Scalar): string | { error: string } {
  const { value } = node;
  if (typeof value === 'string') return value;
  if (typeof value === 'boolean') return String(value);
  if (value === null || value === undefined) {
    return {
      error:
        'a null key (~, null or an empty key) has no JSON name; quote it to make it a string key',
    };
  }
  if (typeof value === 'number') {
    const source = typeof node.source === 'string' ? node.source : String(value);
    const r = node.tag === FLOAT_TAG ? undefined : resolvePlain(source);
    if (r?.type === 'int') {
      if (r.unsigned) {
        return { error: `key ${source} is beyond int64, which Kubernetes tools do not accept` };
      }
      return r.exact.toString();
    }
    return formatFloatKey(value);
  }
  return String(value);
}

/** Go's strconv.FormatFloat(v, 'g', -1, 32), go-yaml's spelling, as sigs.k8s.io/yaml names float keys. */
export function formatFloatKey(v: number): string {
  const f = Math.fround(v);
  if (Number.isNaN(f)) return '.nan';
  if (f === Number.POSITIVE_INFINITY) return '.inf';
  if (f === Number.NEGATIVE_INFINITY) return '-.inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  // Shortest decimal that reads back as the same float32.
  let precision = 1;
  while (precision < 9 && Math.fround(Number(f.toPrecision(precision))) !== f) precision++;
  const [mantissa = '', exponentText = '0'] = f.toExponential(precision - 1).split('e');
  const exponent = Number(exponentText);
  const digits = mantissa.replace(/[-.]/g, '');
  const sign = f < 0 ? '-' : '';
  if (exponent < -4 || exponent >= 6) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const e = Math.abs(exponent);
    return `${sign}${m}e${exponent < 0 ? '-' : '+'}${e < 10 ? '0' : ''}${e}`;
  }
  if (exponent < 0) return `${sign}0.${'0'.repeat(-exponent - 1)}${digits}`;
  if (digits.length <= exponent + 1) return sign + digits.padEnd(exponent + 1, '0');
  return `${sign}${digits.slice(0, exponent + 1)}.${digits.slice(exponent + 1)}`;
}
