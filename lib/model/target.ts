// A target is one application on one cluster: the unit everything is
// serialized by (FIFO group, lease, one running operation).

export interface TargetId {
  app: string;
  cluster: string;
}

/** `app#cluster`: the target's key in queues, tables and logs. */
export function targetKey(t: TargetId): string {
  return `${t.app}#${t.cluster}`;
}

/** `https://github.com/Acme/Deploy.git/` → `github.com/acme/deploy`: how repositories are matched. */
export function normalizeRepoURL(url: string): string {
  return url
    .trim()
    .replace(/^[a-z+]+:\/\//i, '')
    .replace(/^[^@/]*@/, '')
    .replace(/^([^/:]+):(?!\d)/, '$1/') // scp-like git@host:owner/repo
    .replace(/\/+$/, '')
    .replace(/\.git$/i, '')
    .toLowerCase();
}
