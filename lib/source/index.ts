// The source side of a reconcile: a revision's files from Git, and the
// Kubernetes objects they declare (plain YAML, Kustomize or Helm).

export {
  ChartFetcher,
  type ChartFetcherOptions,
  isChartRepository,
  sharedChartFetcher,
} from './chart.js';
export { IsomorphicGitSource, type IsomorphicGitSourceOptions } from './git.js';
export { mapHelmHooks, splitHelmOutput } from './helm.js';
export { checkKustomizations, isRemoteReference } from './kustomize.js';
export {
  type LoadManifestsOptions,
  loadManifests,
  type Manifest,
  manifestsFromRendered,
  type RenderedText,
} from './manifests.js';
export {
  detectSourceType,
  type RenderTarget,
  renderFetched,
  renderSource,
  SourceCache,
  type SourceRenderOptions,
} from './render.js';
export { locateRenderTools, type RenderTools } from './render-tools.js';
export { SourceDispatcher, type SourceDispatcherOptions } from './sources.js';
export { runTool, type ToolResult } from './tool.js';
