// README's CLI section against the CLI's parser, both ways: every command,
// subcommand and flag the README lists is one the parser accepts, and every
// command and flag of the parser (lib/cli/main.ts COMMANDS, lib/cli/command.ts
// OPTIONS) is documented there. A failure names what is missing where.

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { OPTIONS } from '../../../lib/cli/command.js';
import { COMMANDS, main } from '../../../lib/cli/main.js';

const README = readFileSync(path.join(import.meta.dirname, '../../../README.md'), 'utf8');

/** README from `## The CLI` up to the next second-level heading. */
function cliSection(): string {
  const start = README.indexOf('\n## The CLI\n');
  if (start < 0) throw new Error('README.md has no "## The CLI" section');
  const end = README.indexOf('\n## ', start + 1);
  return README.slice(start, end < 0 ? undefined : end);
}

interface Documented {
  /** Command → the subcommands its usage lines list (empty: none). */
  commands: Map<string, Set<string>>;
  /** Every flag the section names (`--name` or `-x`), in usage lines or in prose. */
  flags: Set<string>;
}

const WORD = /^[a-z][a-z-]*$/;
const FLAG = /^(--?[a-zA-Z][\w-]*)/;

/** The usage lines of the section's first code block, and the flags named anywhere in it. */
function documented(): Documented {
  const section = cliSection();
  const block = /```[^\n]*\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("README's CLI section has no code block of usage lines");
  const commands = new Map<string, Set<string>>();
  const flags = new Set<string>();
  for (const raw of block.split('\n')) {
    const line = raw.replace(/\s#.*$/, '').trim();
    if (!line.startsWith('driftless ')) continue;
    let command: string | undefined;
    let withSubcommands = false;
    for (const alternative of line.slice('driftless '.length).split(/\s\|\s/)) {
      const tokens = alternative
        .replace(/[[\]]/g, ' ')
        .split(/\s+/)
        .filter(Boolean)
        .map((t) => t.replace(/\.\.\.$/, ''));
      const [first, second] = tokens;
      if (first === undefined) continue;
      if (command === undefined || (!withSubcommands && WORD.test(first))) {
        // A new command: the line's first word, or `resume` in `suspend APP | resume APP`.
        command = first;
        if (!commands.has(command)) commands.set(command, new Set());
        withSubcommands = second !== undefined && WORD.test(second);
        if (withSubcommands) commands.get(command)?.add(second as string);
      } else if (withSubcommands && WORD.test(first)) {
        commands.get(command)?.add(first);
      }
      for (const t of tokens) {
        const m = FLAG.exec(t);
        if (m) flags.add(m[1] as string);
      }
    }
  }
  // Flags the prose names, in backticks (`--values FILE`, `-o json`).
  for (const m of section.matchAll(/`(--?[a-zA-Z][\w-]*)/g)) flags.add(m[1] as string);
  return { commands, flags };
}

/** The parser's spellings of each option: `--name`, and `-x` for a short alias. */
function parserFlags(): Map<string, string> {
  const out = new Map<string, string>();
  for (const [name, spec] of Object.entries(OPTIONS)) {
    out.set(`--${name}`, name);
    if ('short' in spec) out.set(`-${spec.short}`, name);
  }
  return out;
}

describe("README's CLI section and the CLI's parser", () => {
  const docs = documented();

  it('finds the usage lines and flags it checks', () => {
    // Guards the parsing above: an empty result would make every check pass.
    expect(docs.commands.size).toBeGreaterThanOrEqual(10);
    expect(docs.commands.get('apps')).toEqual(new Set(['list', 'get', 'apply', 'delete']));
    expect(docs.flags).toContain('--revision');
  });

  it('lists only commands the dispatch table has', () => {
    const unknown = [...docs.commands.keys()].filter((c) => !COMMANDS.has(c));
    expect(unknown, 'documented in README but not a CLI command').toEqual([]);
  });

  it('documents every command of the dispatch table', () => {
    const undocumented = [...COMMANDS.keys()].filter((c) => !docs.commands.has(c));
    expect(undocumented, "CLI commands missing from README's usage lines").toEqual([]);
  });

  it('lists only flags the parser accepts', () => {
    const spellings = parserFlags();
    const unknown = [...docs.flags].filter((f) => !spellings.has(f));
    expect(unknown, 'flags in README the parser does not define').toEqual([]);
    // And the parser really takes each as written (strict: an unknown flag throws).
    for (const flag of docs.flags) {
      const name = spellings.get(flag) as keyof typeof OPTIONS;
      const args = OPTIONS[name].type === 'string' ? [flag, 'x'] : [flag];
      expect(
        () => parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true }),
        flag,
      ).not.toThrow();
    }
  });

  it('documents every flag of the parser', () => {
    const undocumented = [...parserFlags().keys()].filter((f) => !docs.flags.has(f));
    expect(undocumented, "CLI flags missing from README's CLI section").toEqual([]);
  });

  describe('subcommands', () => {
    let stderr: string;
    beforeEach(() => {
      stderr = '';
      vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
        stderr += String(chunk);
        return true;
      });
    });
    afterEach(() => {
      vi.restoreAllMocks();
    });

    /** Runs a command line against a closed port: any API call fails at once, without a server. */
    async function run(...argv: string[]): Promise<string> {
      stderr = '';
      await main([...argv, '--endpoint', 'http://127.0.0.1:1']);
      return stderr;
    }

    it('tells a subcommand it does not know (the check below relies on it)', async () => {
      expect(await run('apps', 'frobnicate', 'x')).toContain('unknown command: apps frobnicate');
    });

    it('accepts every subcommand README lists', async () => {
      const refused: string[] = [];
      for (const [command, subs] of docs.commands) {
        for (const sub of subs) {
          // A usage error about arguments, or a refused connection, means it was recognised.
          const err = await run(command, sub, 'x');
          if (/unknown command|usage: /.test(err)) refused.push(`${command} ${sub}: ${err.trim()}`);
        }
      }
      expect(refused, 'subcommands in README the CLI refuses').toEqual([]);
    });
  });
});
