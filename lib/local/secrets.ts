// Secrets in local mode (README, "Private repositories"): the SecretSource of
// `driftless dev`, read from environment variables and a YAML file:
//
//   # ~/.config/driftless/secrets.yaml (or driftless dev --secrets FILE)
//   secrets:
//     acme-git: { type: basic, username: bot, password: "…" }
//     gh-token: { type: token, token: "ghp_…" }
//
// A value may be a mapping (given to the resolver as JSON) or a string (as
// is). DRIFTLESS_SECRET_<NAME> (the name upper-cased, every other character
// than a letter or digit as `_`) wins over the file. The file is read on each
// request, so an edit needs no restart. Values are never put in a message.

import { readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { DriftlessError } from '../errors.js';
import { parseYamlDocuments } from '../model/yaml.js';
import type { SecretSource } from '../ports/secrets.js';

export const SECRET_ENV_PREFIX = 'DRIFTLESS_SECRET_';

/** `$XDG_CONFIG_HOME/driftless/secrets.yaml`, or `~/.config/driftless/secrets.yaml`. */
export function defaultSecretsFile(env: Record<string, string | undefined> = process.env): string {
  const config = env.XDG_CONFIG_HOME || path.join(os.homedir(), '.config');
  return path.join(config, 'driftless', 'secrets.yaml');
}

/** The environment variable that holds secret `name`. */
export function secretEnvName(name: string): string {
  return `${SECRET_ENV_PREFIX}${name.toUpperCase().replace(/[^A-Z0-9]/g, '_')}`;
}

export interface LocalSecretSourceOptions {
  /** The secrets file; absent is fine (then only the environment has secrets). */
  file: string;
  env?: Record<string, string | undefined>;
}

export class LocalSecretSource implements SecretSource {
  private readonly env: Record<string, string | undefined>;

  constructor(private readonly opts: LocalSecretSourceOptions) {
    this.env = opts.env ?? process.env;
  }

  async getSecretString(name: string): Promise<string> {
    const fromEnv = this.env[secretEnvName(name)];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    const secrets = await this.readFile();
    const value = secrets?.[name];
    if (value === undefined || value === null) {
      throw new DriftlessError(
        'InvalidSpec',
        `secret ${name} is not in ${this.opts.file}${secrets === undefined ? ' (no such file)' : ''} nor in ${secretEnvName(name)}`,
      );
    }
    if (typeof value === 'string') return value;
    if (typeof value === 'object') return JSON.stringify(value);
    throw new DriftlessError(
      'InvalidSpec',
      `secret ${name} in ${this.opts.file} must be a mapping or a string`,
      { file: this.opts.file, field: `secrets.${name}` },
    );
  }

  /** The file's `secrets` mapping; undefined when there is no file. */
  private async readFile(): Promise<Record<string, unknown> | undefined> {
    let text: string;
    try {
      text = await readFile(this.opts.file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw new DriftlessError(
        'InvalidSpec',
        `cannot read ${this.opts.file}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
    const docs = parseYamlDocuments(text, this.opts.file).filter((d) => d.value !== null);
    const root = docs[0]?.value as { secrets?: unknown } | undefined;
    const secrets = root?.secrets;
    if (
      docs.length > 1 ||
      typeof secrets !== 'object' ||
      secrets === null ||
      Array.isArray(secrets)
    ) {
      throw new DriftlessError(
        'InvalidSpec',
        `${this.opts.file} must be one YAML document with a "secrets" mapping of names to values`,
        { file: this.opts.file, field: 'secrets' },
      );
    }
    return secrets as Record<string, unknown>;
  }
}
