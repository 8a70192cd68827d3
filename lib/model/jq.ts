// jq path expressions, as Argo CD's `ignoreDifferences[].jqPathExpressions`
// take them (Argo CD evaluates them with gojq as `del(<expr>)`): what an
// expression selects is the set of paths `path(<expr>)` yields.
//
// Evaluation is @michaelhomer/jqjs (pure JavaScript, synchronous), checked
// here where it is laxer than jq: an output that is not a path is an error,
// negative indexes resolve against the object, slices are refused. Builtins
// that can loop without end, read the environment or input are refused when
// the spec is validated, since an expression runs on every compared object.

import jq from '@michaelhomer/jqjs';

/** A concrete location in a JSON document: object keys and array indexes. */
export type JsonPath = readonly (string | number)[];

/** Most paths one expression may select in one object; past that it is refused. */
export const MAX_JQ_PATHS = 10_000;

/** Builtins refused in ignore rules: unbounded loops, definitions, I/O and environment. */
const REFUSED_BUILTINS = [
  'def',
  'while',
  'until',
  'repeat',
  'range',
  'recurse',
  'recurse_down',
  'input',
  'inputs',
  'env',
  'debug',
  'stderr',
  'halt',
  'halt_error',
  'input_filename',
] as const;

export interface JqPathExpression {
  readonly source: string;
  /** The paths the expression selects in `value` (jq's `path(<expr>)`). */
  paths(value: unknown): JsonPath[];
}

/** Thrown text of jqjs (it throws strings) or an Error's message. */
function messageOf(e: unknown): string {
  if (typeof e === 'string') return e;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** The expression without its string literals, for the builtin check. */
function withoutStrings(source: string): string {
  return source.replace(/"(?:[^"\\]|\\.)*"/g, '""');
}

const compiled = new Map<string, JqPathExpression>();

/**
 * Compiles a jq path expression; throws an Error whose message says what is
 * wrong (the schema turns it into an issue naming the field).
 */
export function compileJqPath(source: string): JqPathExpression {
  const cached = compiled.get(source);
  if (cached) return cached;
  if (source.trim() === '') throw new Error('must be a jq path expression like .spec.replicas');
  const words = withoutStrings(source);
  for (const name of REFUSED_BUILTINS) {
    if (new RegExp(`(^|[^A-Za-z0-9_$.])${name}($|[^A-Za-z0-9_])`).test(words)) {
      throw new Error(
        `"${name}" is not allowed in an ignore rule (no loops, definitions, input or environment; .. descends the whole object); write the path, e.g. .spec.template.spec.containers[] | select(.name == "app") | .image`,
      );
    }
  }
  if (/\$__loc__|\$ENV/.test(words)) {
    throw new Error('$ENV and $__loc__ are not allowed in an ignore rule');
  }
  let run: (input: unknown) => Iterable<unknown>;
  try {
    // The expression alone must parse, so text cannot close path( early.
    jq.compile(source);
    run = jq.compile(`path(${source})`);
  } catch (e) {
    throw new Error(`not a valid jq expression: ${messageOf(e)}`);
  }
  // Path-ness is decided by evaluation (jq does the same); an empty object
  // reaches the first step of most expressions.
  try {
    for (const p of run({})) checkPath(p, source);
  } catch (e) {
    const m = messageOf(e);
    if (/^no paths for /.test(m) || /is not a path expression/.test(m)) {
      throw new Error(`not a jq path expression (${m.replace(/^no paths for /, 'no path for ')})`);
    }
  }
  const expression: JqPathExpression = {
    source,
    paths(value) {
      const out: JsonPath[] = [];
      for (const p of run(value)) {
        out.push(resolve(checkPath(p, source), value));
        if (out.length > MAX_JQ_PATHS) {
          throw new Error(`selects more than ${MAX_JQ_PATHS} paths`);
        }
      }
      return out;
    },
  };
  compiled.set(source, expression);
  return expression;
}

function checkPath(p: unknown, source: string): (string | number)[] {
  if (
    !Array.isArray(p) ||
    !p.every((s) => typeof s === 'string' || (typeof s === 'number' && Number.isInteger(s)))
  ) {
    const shown = JSON.stringify(p);
    throw new Error(
      Array.isArray(p)
        ? `${source}: slices are not supported in ignore rules (got ${shown})`
        : `${source} is not a path expression (it yields the value ${shown?.slice(0, 40)})`,
    );
  }
  return p as (string | number)[];
}

/** Negative indexes count from the end, as jq's `del` reads them. */
function resolve(path: (string | number)[], value: unknown): JsonPath {
  if (!path.some((s) => typeof s === 'number' && s < 0)) return path;
  let node: unknown = value;
  return path.map((s) => {
    let step = s;
    if (typeof s === 'number' && s < 0 && Array.isArray(node)) step = node.length + s;
    node =
      node !== null && typeof node === 'object'
        ? (node as Record<string | number, unknown>)[step]
        : undefined;
    return step;
  });
}
