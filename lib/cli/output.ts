// Output for people and for scripts: aligned tables with colour only on a
// terminal, or the same data as JSON or YAML with -o.

import { stringify } from 'yaml';

export type OutputFormat = 'table' | 'json' | 'yaml';

export interface Printer {
  format: OutputFormat;
  color: boolean;
  out(text: string): void;
  err(text: string): void;
}

export function consolePrinter(format: OutputFormat): Printer {
  const tty = process.stdout.isTTY === true && !process.env.NO_COLOR;
  return {
    format,
    color: tty,
    out: (t) => process.stdout.write(t.endsWith('\n') ? t : `${t}\n`),
    err: (t) => process.stderr.write(t.endsWith('\n') ? t : `${t}\n`),
  };
}

const CODES: Record<string, string> = {
  red: '31',
  green: '32',
  yellow: '33',
  blue: '34',
  gray: '90',
  bold: '1',
};

export function paint(p: Printer, color: keyof typeof CODES, text: string): string {
  return p.color ? `\x1b[${CODES[color]}m${text}\x1b[0m` : text;
}

const STATE_COLORS: Record<string, keyof typeof CODES> = {
  Synced: 'green',
  Healthy: 'green',
  Succeeded: 'green',
  OutOfSync: 'yellow',
  Progressing: 'blue',
  Running: 'blue',
  Missing: 'yellow',
  Extra: 'yellow',
  Suspended: 'gray',
  Degraded: 'red',
  Failed: 'red',
  Error: 'red',
  Unknown: 'gray',
};

export function state(p: Printer, s: string | undefined): string {
  const v = s ?? 'Unknown';
  const c = STATE_COLORS[v];
  return c ? paint(p, c, v) : v;
}

function visibleLength(s: string): number {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: stripping ANSI colour codes
  return s.replace(/\x1b\[[0-9;]*m/g, '').length;
}

/** Prints `rows` as a table (with `headers`), or `data` as JSON/YAML. */
export function emit(p: Printer, data: unknown, headers: string[], rows: string[][]): void {
  if (p.format === 'json') {
    p.out(JSON.stringify(data, null, 2));
    return;
  }
  if (p.format === 'yaml') {
    p.out(stringify(data));
    return;
  }
  if (rows.length === 0) {
    p.out(paint(p, 'gray', 'nothing to show'));
    return;
  }
  const widths = headers.map((h, i) =>
    Math.max(h.length, ...rows.map((r) => visibleLength(r[i] ?? ''))),
  );
  const line = (cells: string[]) =>
    cells
      .map((c, i) =>
        i === cells.length - 1 ? c : c + ' '.repeat((widths[i] ?? 0) - visibleLength(c)),
      )
      .join('   ')
      .trimEnd();
  p.out([paint(p, 'bold', line(headers)), ...rows.map(line)].join('\n'));
}

/** `3m`, `2h`, `5d` since an ISO time. */
export function age(iso: string | undefined, now = Date.now()): string {
  if (!iso) return '-';
  const s = Math.max(0, Math.round((now - Date.parse(iso)) / 1000));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m`;
  if (s < 86400) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86400)}d`;
}
