// What every CLI command is given and how it fails: the flags (one table for
// all commands), the positionals after the command word, the printer, and the
// API client (made only when a command needs one).

import type { parseArgs } from 'node:util';
import type { DriftlessClient } from './client.js';
import type { Printer } from './output.js';

export const OPTIONS = {
  output: { type: 'string', short: 'o', default: 'table' },
  endpoint: { type: 'string' },
  region: { type: 'string' },
  cluster: { type: 'string' },
  file: { type: 'string', short: 'f', multiple: true },
  revision: { type: 'string' },
  prune: { type: 'boolean' },
  cascade: { type: 'boolean' },
  'dry-run': { type: 'boolean' },
  max: { type: 'string' },
  wait: { type: 'boolean' },
  to: { type: 'string' },
  kubeconfig: { type: 'string' },
  context: { type: 'string' },
  port: { type: 'string' },
  'eks-name': { type: 'string' },
  'role-arn': { type: 'string' },
  type: { type: 'string' },
  values: { type: 'string', multiple: true },
  'release-name': { type: 'string' },
  namespace: { type: 'string' },
  repo: { type: 'string' },
  'kubernetes-version': { type: 'string' },
  crds: { type: 'string', multiple: true },
  github: { type: 'boolean' },
  secrets: { type: 'string' },
  'cluster-map': { type: 'string', multiple: true },
  'out-dir': { type: 'string' },
  help: { type: 'boolean', short: 'h' },
} as const;

export type Flags = ReturnType<
  typeof parseArgs<{ options: typeof OPTIONS; allowPositionals: true }>
>['values'];

/** A command line that cannot be run as written: printed with a hint, exit 2. */
export class UsageError extends Error {}

export interface CommandContext {
  p: Printer;
  flags: Flags;
  /** The positionals after the command word. */
  args: string[];
  /** The status API's client (SigV4 for AWS, plain for local mode). */
  client(): DriftlessClient;
}

export interface Command {
  name: string;
  /** Runs without the status API (offline, or local mode itself). */
  local?: boolean;
  run(ctx: CommandContext): Promise<number>;
}

/** The i-th positional, or a usage error naming what is missing. */
export function arg(positionals: string[], i: number, what: string): string {
  const v = positionals[i];
  if (!v) throw new UsageError(`missing ${what}`);
  return v;
}
