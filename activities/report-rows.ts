/**
 * The report's rows in its files' words: a row of results.jsonl and of results.csv. The report writes them, and so do
 * submissions for chunks whose rows are final (staging/rows.ts).
 */
import { stringify } from 'csv-stringify/sync';
import type { ReportOutcome } from '../common/outcome';

/** A row's outcome: the words of `common/outcome.ts`. */
export type ResultOutcome = ReportOutcome;

export interface ResultRow {
  line: number;
  key: string;
  outcome: ResultOutcome;
  attempts: number;
  error: string;
}

export const resultColumns = ['line', 'key', 'outcome', 'attempts', 'error'] as const;

/** A row of results.jsonl: JSON.stringify's bytes, with no object made (one per product). */
export function resultJson({ line, key, outcome, attempts, error }: ResultRow): string {
  return `{"line":${line},"key":${JSON.stringify(key)},"outcome":"${outcome}","attempts":${attempts},"error":${error ? JSON.stringify(error) : '""'}}`;
}

const needsQuotes = /[",\r\n]/;

/** A text field of a CSV row: quoted when it holds a quote (doubled), a comma, CR or LF. */
export const csvField = (field: string) => (needsQuotes.test(field) ? `"${field.replaceAll('"', '""')}"` : field);

/**
 * A CSV row exactly as `stringify([fields]).trimEnd()` writes it with csv-stringify's defaults, at a fraction of the
 * cost: a string is quoted when it holds a quote (doubled), a comma, CR or LF; a number is written as `String` does
 * (never quoted). Any other kind of field (booleans, dates, objects, null) is left to csv-stringify.
 */
export function csvRow(fields: readonly unknown[]): string {
  let text = '';
  for (let i = 0; i < fields.length; i++) {
    const field = fields[i];
    if (i) text += ',';
    if (typeof field === 'number') text += String(field);
    else if (typeof field !== 'string') return stringify([fields]).trimEnd();
    else text += csvField(field);
  }
  return text.trimEnd();
}
