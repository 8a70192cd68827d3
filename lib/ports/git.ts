// The Git port: resolve a revision, check out one commit. lib/source/git.ts
// implements it with isomorphic-git.

/** Git credentials for a private repository. */
export interface GitCredentials {
  username: string;
  password: string;
}

export interface Checkout {
  /** Absolute path of a directory holding exactly the commit's files. */
  dir: string;
  /** Full commit SHA. */
  commit: string;
}

export interface GitSource {
  /** Resolves a branch, tag or (abbreviated) SHA to a full commit SHA with one cheap request. */
  resolve(repoURL: string, revision: string, credentials?: GitCredentials): Promise<string>;
  /** The files of one commit (cached: an unchanged commit costs no network). */
  checkout(repoURL: string, commit: string, credentials?: GitCredentials): Promise<Checkout>;
}
