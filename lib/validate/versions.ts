// Which Kubernetes versions have shipped schemas, and how a version a user
// types (`1.34`, `v1.34.4`) names one. APIs change only in minor releases, so
// one bundle per minor serves every patch release of it.

import { DriftlessError } from '../errors.js';

/**
 * The version the project pins (scripts/lib.sh, scripts/testenv/go/kube/go.mod),
 * and the default of `--kubernetes-version`; the unit tests keep them equal.
 */
export const PINNED_KUBERNETES_VERSION = 'v1.34.4';

/** Minor versions with a bundle in lib/validate/schemas/ (scripts/schemas.ts writes them). */
export const SHIPPED_KUBERNETES_MINORS = ['v1.34'] as const;

const VERSION = /^v?1\.(\d+)(?:\.(\d+))?$/;

/** `1.34`, `v1.34`, `v1.34.4` → `v1.34`; anything else is a usage error. */
export function kubernetesMinor(version: string): string {
  const m = VERSION.exec(version.trim());
  if (!m) {
    throw new DriftlessError(
      'InvalidSpec',
      `Kubernetes version "${version}" is not valid (use e.g. 1.34 or v1.34.4)`,
      { field: 'kubernetesVersion' },
    );
  }
  return `v1.${Number(m[1])}`;
}

/** The bundle of a version's minor, e.g. `v1.34.json.gz`. */
export function bundleFileName(version: string): string {
  return `${kubernetesMinor(version)}.json.gz`;
}
