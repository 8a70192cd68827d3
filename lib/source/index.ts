// The source side of a reconcile: a revision's files from Git, and the
// Kubernetes objects they declare.

export { IsomorphicGitSource, type IsomorphicGitSourceOptions } from './git.js';
export {
  type LoadManifestsOptions,
  loadManifests,
  type Manifest,
  ManifestCache,
} from './manifests.js';
