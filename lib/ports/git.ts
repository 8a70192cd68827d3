// The Git port: resolve a revision, check out one commit. lib/source/git.ts
// implements it with isomorphic-git.

/** Git credentials for a private repository (HTTP basic auth; a token is the password). */
export interface GitCredentials {
  username: string;
  password: string;
  /** Where they came from, for messages (`secret driftless/prod/git-acme`); never the value. */
  source?: string;
  /**
   * What identifies them for the checkout cache, when not the username and
   * password (an App's installation tokens change hourly; the App does not).
   */
  cacheIdentity?: string;
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
