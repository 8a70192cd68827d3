// A manifest is one desired object as a source declared it, with where it
// came from, so every later error can name the file, line and field.

import type { KubeObject } from './object.js';

export interface Manifest {
  object: KubeObject;
  /** Path of the file, relative to the checkout, `/`-separated. */
  file: string;
  /** 1-based line where the object starts. */
  line: number;
  /** 1-based index of the document in the file. */
  documentIndex: number;
  /** 1-based line of a field of the object (keys and list indexes), for later errors. */
  lineOf: (fieldPath: readonly (string | number)[]) => number;
}

/** What the sync plan needs of a manifest: the object and, when known, where it came from. */
export type PlannedManifest = Pick<Manifest, 'object' | 'file' | 'line'> &
  Partial<Pick<Manifest, 'lineOf'>>;
