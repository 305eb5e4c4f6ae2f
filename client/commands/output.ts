/** Output and argument helpers of the command line: lines, JSON, tables, number flags, Ctrl-C. */
import { InvalidArgumentError, Option } from 'commander';

export const say = (line = ''): void => void process.stdout.write(`${line}\n`);
export const printJson = (value: unknown) => say(JSON.stringify(value, null, 2));

export function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
}

export function commaList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Ctrl-C stops following, not the import. */
export function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  return controller.signal;
}

function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected seconds, 0 or more');
  return n;
}

/** --worker-timeout, for every command that waits on an import. */
export const workerTimeoutOption = () =>
  new Option('--worker-timeout <seconds>', "give up (exit 1) when no worker polls the import's task queue for this long; 0: keep waiting")
    .argParser(seconds)
    .default(60);

export function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  const cell = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : v === undefined ? '' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  say(line(columns.map((c) => c.toUpperCase())));
  for (const row of rows) say(line(columns.map((c) => cell(row[c]))));
}
