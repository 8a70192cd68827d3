// Kubernetes resource quantities ("0.5", "500m", "1Gi", "1e3"), in one
// place: whether a string is one at all, as the API server decides it (the
// schema check: an object whose quantity does not parse is rejected), and its
// value, for comparing (the API server canonicalizes what users write, so
// "0.5" comes back as "500m" and must not look like drift).

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

const QUANTITY =
  /^([+-]?(?:\d+\.?\d*|\.\d+))(?:([eE][+-]?\d+)|(n|u|m|k|M|G|T|P|E|Ki|Mi|Gi|Ti|Pi|Ei))?$/;

/** The quantity's value as a number, or undefined if it is not a quantity. */
export function parseQuantity(text: string): number | undefined {
  const m = QUANTITY.exec(text.trim());
  if (!m) return undefined;
  const base = Number(m[1]);
  if (m[2]) return base * 10 ** Number(m[2].slice(1));
  return base * (SUFFIX[m[3] ?? ''] as number);
}

export function quantitiesEqual(a: string, b: string): boolean {
  const x = parseQuantity(a);
  const y = parseQuantity(b);
  if (x === undefined || y === undefined) return a === b;
  if (x === y) return true;
  return Math.abs(x - y) <= 1e-9 * Math.max(Math.abs(x), Math.abs(y));
}

// Whether a string parses: a port of apimachinery's ParseQuantity's
// accept/reject decision (not of its value).
const DIGIT = /[0-9]/;
const SUFFIXES = new Set([
  '',
  'Ki',
  'Mi',
  'Gi',
  'Ti',
  'Pi',
  'Ei',
  'n',
  'u',
  'm',
  'k',
  'M',
  'G',
  'T',
  'P',
  'E',
]);

/** ParseQuantity(strings.TrimSpace(s)) succeeds. */
export function isQuantity(text: string): boolean {
  const str = text.trim();
  if (str === '') return false;
  if (str === '0') return true;
  const end = str.length;
  let pos = 0;
  if (str[0] === '-' || str[0] === '+') pos++;
  while (pos < end && str[pos] === '0') pos++;
  if (pos >= end) return true; // only a sign and zeros
  while (pos < end && DIGIT.test(str[pos] as string)) pos++;
  if (pos >= end) return true;
  if (str[pos] === '.') {
    pos++;
    while (pos < end && DIGIT.test(str[pos] as string)) pos++;
    if (pos >= end) return true;
  }
  const suffixStart = pos;
  while (pos < end && 'eEinumkKMGTP'.includes(str[pos] as string)) pos++;
  if (pos < end) {
    if (str[pos] === '-' || str[pos] === '+') pos++;
    while (pos < end && DIGIT.test(str[pos] as string)) pos++;
    if (pos < end) return false; // a character that is neither suffix nor exponent
  }
  const suffix = str.slice(suffixStart);
  // The numeric part always parses (digits, at most one dot); the suffix decides.
  return SUFFIXES.has(suffix) || /^[eE][+-]?[0-9]+$/.test(suffix);
}
