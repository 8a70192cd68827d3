// YAML parsing for everything users write (manifests, Application and Cluster
// specs): multi-document, every error with file:line, alias expansion bounded
// (a "billion laughs" document fails instead of eating the Lambda's memory),
// and a way to find the line of any field for later validation errors.

import { isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from 'yaml';
import { DriftlessError } from '../errors.js';

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
  // merge: `<<` keys, as kubectl (go-yaml) applies them.
  const docs = parseAllDocuments(text, {
    lineCounter,
    prettyErrors: false,
    uniqueKeys: true,
    merge: true,
  });
  if (!Array.isArray(docs)) return []; // an empty stream
  const lineAt = (offset: number) => lineCounter.linePos(offset).line;
  const out: YamlDocument[] = [];
  docs.forEach((doc, i) => {
    const first = doc.errors[0];
    if (first) {
      throw new DriftlessError('InvalidManifest', `invalid YAML: ${firstLine(first.message)}`, {
        file,
        line: lineAt(first.pos[0]),
      });
    }
    // The line of the document's content, not of its `---` marker.
    const contents = doc.contents as Node | null;
    const docLine = lineAt(contents?.range ? contents.range[0] : doc.range[0]);
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
    });
  });
  return out;
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
