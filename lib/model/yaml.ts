// YAML parsing for everything users write (manifests, Application and Cluster
// specs): multi-document, every error with file:line, alias expansion bounded
// (a "billion laughs" document fails instead of eating the Lambda's memory),
// and a way to find the line of any field for later validation errors.
// Scalars and keys mean what they mean to kubectl (YAML 1.1 as go-yaml v2
// reads it, keys made strings): see yaml-schema.ts.

import {
  type Document,
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  type Node,
  parseAllDocuments,
  Scalar,
  visit,
} from 'yaml';
import { DriftlessError } from '../errors.js';
import { isMergeKey, KUBERNETES_YAML_OPTIONS, keyName } from './yaml-schema.js';

export interface YamlDocument {
  /** The document as plain JSON-compatible data (null for an empty document). */
  value: unknown;
  file: string;
  /** 1-based line where the document starts. */
  line: number;
  /** 1-based index of the document in the file. */
  index: number;
  /** 1-based line of the node at `path` (keys and indexes), or of the document. */
  lineOf(path: readonly (string | number)[]): number;
  /** The scalar at `path` as written (`yes` for a value read as true), if it is one. */
  sourceOf(path: readonly (string | number)[]): string | undefined;
}

/** Alias expansions allowed per document unless a caller says otherwise. */
export const DEFAULT_MAX_ALIAS_COUNT = 100;

export interface YamlParseOptions {
  /** Upper bound on alias expansions per document (yaml's maxAliasCount). */
  maxAliasCount?: number;
}

export function parseYamlDocuments(
  text: string,
  file: string,
  opts: YamlParseOptions = {},
): YamlDocument[] {
  const lineCounter = new LineCounter();
  // Merge keys (`<<`) and duplicate keys are handled by the schema's options.
  const docs = parseAllDocuments(text, {
    ...KUBERNETES_YAML_OPTIONS,
    lineCounter,
    prettyErrors: false,
  });
  if (!Array.isArray(docs)) return []; // an empty stream
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  const out: YamlDocument[] = [];
  docs.forEach((doc, i) => {
    const first = doc.errors[0];
    if (first) {
      const message =
        first.code === 'DUPLICATE_KEY'
          ? duplicateKeyMessage(doc, first.pos[0])
          : `invalid YAML: ${firstLine(first.message)}`;
      throw new DriftlessError('InvalidManifest', message, {
        file,
        line: lineAt(first.pos[0]),
      });
    }
    // The line of the document's content, not of its `---` marker.
    const contents = doc.contents as Node | null;
    const docLine = lineAt(contents?.range ? contents.range[0] : doc.range[0]);
    const invalid = jsonProblem(doc);
    if (invalid) {
      throw new DriftlessError('InvalidManifest', invalid.message, {
        file,
        line: invalid.node.range ? lineAt(invalid.node.range[0]) : docLine,
      });
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: opts.maxAliasCount ?? DEFAULT_MAX_ALIAS_COUNT });
    } catch (e) {
      throw new DriftlessError(
        'InvalidManifest',
        `invalid YAML document ${i + 1}: ${firstLine((e as Error).message)}`,
        { file, line: docLine },
      );
    }
    out.push({
      value: value ?? null,
      file,
      line: docLine,
      index: i + 1,
      lineOf: (path) => {
        const node = nodeAt(contents, path);
        return node?.range ? lineAt(node.range[0]) : docLine;
      },
      sourceOf: (path) => {
        const node = nodeAt(contents, path);
        return isScalar(node) && typeof node.source === 'string' ? node.source : undefined;
      },
    });
  });
  return out;
}

/**
 * What would keep the document from becoming the JSON kubectl sends: a key
 * with no JSON name, a non-scalar key, `.inf`/`.nan` as a value, a merge key
 * without maps. Float and big-int keys are renamed as sigs.k8s.io/yaml names
 * them (the `yaml` package would write 1e6 as "1000000").
 */
function jsonProblem(doc: Document): { message: string; node: Node } | undefined {
  let problem: { message: string; node: Node } | undefined;
  const fail = (message: string, node: Node) => {
    problem = { message, node };
    return visit.BREAK;
  };
  const deref = (node: unknown) => (isAlias(node) ? node.resolve(doc) : node);
  visit(doc, {
    Pair(_, pair) {
      const key = pair.key as Node | null;
      if (isMergeKey(key)) {
        const source = deref(pair.value);
        const maps = isSeq(source) ? source.items.map(deref) : [source];
        if (!maps.every((m) => isMap(m))) {
          return fail(
            'a merge key (<<) needs a mapping, an alias of one or a list of them',
            (pair.value as Node | null) ?? (key as Node),
          );
        }
        return undefined;
      }
      const at = (key ?? pair.value ?? doc.contents) as Node;
      const target = key === null ? new Scalar(null) : deref(key);
      if (!isScalar(target)) {
        return fail('a mapping key must be a scalar (a string, number or bool)', at);
      }
      const name = keyName(target);
      if (typeof name !== 'string') return fail(name.error, at);
      if (typeof target.value !== 'string' && String(target.value) !== name) {
        // An anchored key keeps its value for the aliases that repeat it elsewhere.
        if (isAlias(key)) pair.key = Object.assign(new Scalar(name), { range: key.range });
        else if (!target.anchor) target.value = name;
      }
      return undefined;
    },
    Scalar(at, node) {
      if (at === 'key') return undefined;
      if (typeof node.value === 'number' && !Number.isFinite(node.value)) {
        return fail(
          `${node.source ?? String(node.value)} is not a number JSON can carry (kubectl rejects it too); quote it to make it a string`,
          node,
        );
      }
      return undefined;
    },
    Alias(at, node) {
      const target = deref(node);
      if (at !== 'key' && isScalar(target) && typeof target.value === 'number') {
        if (!Number.isFinite(target.value)) {
          return fail(
            `alias *${node.source} is ${String(target.source)}, which JSON cannot carry`,
            node,
          );
        }
      }
      return undefined;
    },
  });
  return problem;
}

/** Names the key: `yes` and `on` are both "true" to Kubernetes, which is not obvious. */
function duplicateKeyMessage(doc: Document, offset: number): string {
  let message = 'invalid YAML: duplicate key';
  visit(doc, {
    Scalar(at, node) {
      if (at !== 'key' || node.range?.[0] !== offset) return undefined;
      const name = keyName(node);
      const written = String(node.source ?? node.value);
      if (typeof name === 'string') {
        message =
          name === written
            ? `invalid YAML: duplicate key "${name}"`
            : `invalid YAML: duplicate key "${name}" (written ${written}, which Kubernetes reads as "${name}")`;
      }
      return visit.BREAK;
    },
  });
  return message;
}

function nodeAt(root: Node | null, path: readonly (string | number)[]): Node | undefined {
  let node: Node | null | undefined = root;
  let last: Node | undefined = root ?? undefined;
  for (const key of path) {
    if (isMap(node)) {
      const items: { key: unknown; value: unknown }[] = node.items;
      const pair = items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      node = (pair?.value as Node | null | undefined) ?? (pair?.key as Node | undefined);
    } else if (isSeq(node) && typeof key === 'number') {
      node = node.items[key] as Node | undefined;
    } else {
      return last;
    }
    if (!node) return last;
    last = node;
  }
  return last;
}

function firstLine(message: string): string {
  return message.split('\n')[0]?.trim() ?? message;
}
