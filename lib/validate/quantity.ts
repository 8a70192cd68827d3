// Whether a string is a Kubernetes resource.Quantity (`500m`, `1.5Gi`,
// `1e3`). The schema only says "string or number"; the API server decodes it
// with apimachinery's ParseQuantity and rejects the object when that fails,
// so this is a port of that parser's accept/reject decision (not of its value).

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
