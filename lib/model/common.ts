// What every Driftless document shares: its apiVersion, the names it gives
// things, and the globs its selectors use.

import { z } from 'zod';

export const API_VERSION = 'driftless.dev/v1';

/** A DNS label: lowercase letters, digits and `-`, starting and ending alphanumeric. */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

/** A name of an Application, Cluster, Project…: a DNS label. */
export const NameSchema = z
  .string()
  .min(1)
  .max(63)
  .regex(DNS_LABEL, 'must be a DNS label: lowercase letters, digits and -, at most 63');

/** Globs: `*` matches any run of characters. */
export function globMatch(pattern: string, value: string): boolean {
  // Most patterns name one thing: no regular expression for those (the drift check's ignore rules).
  if (!pattern.includes('*')) return pattern === value;
  const re = new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
  return re.test(value);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.+?^${}()|[\]\\]/g, '\\$&');
}
