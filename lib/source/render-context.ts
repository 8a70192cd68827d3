// What a Kustomize or Helm render is given (render.ts builds it per render;
// helm.ts and kustomize.ts use it), in a module of its own so the renderers
// and their dispatcher do not import each other.

import type { ChartSource } from './chart.js';
import type { LoadManifestsOptions } from './manifests.js';
import type { RenderTools } from './render-tools.js';

/** What a Kustomize or Helm render needs; built per render. */
export interface RenderContext {
  /** The checkout's real path. */
  root: string;
  /** The app path's real directory. */
  appDir: string;
  /** The app path, checkout-relative, `/`-separated; `.` for the root. */
  appRel: string;
  tools: RenderTools;
  timeoutMs: number;
  maxOutputBytes: number;
  maxAliasCount: number;
  /** An empty directory for this render only (the tool's HOME and temp files). */
  tempDir: string;
  manifestOptions: LoadManifestsOptions;
  /** Multi-source: checkouts of the `ref` sources by name (`$NAME/…` values files). */
  refs: Readonly<Record<string, string>>;
  /** Fetches a chart's dependencies that are not vendored under charts/. */
  charts: ChartSource;
}
