/**
 * Generated catalogs for the demo, tests and benchmarks: deterministic for a seed, written as
 * a stream so a catalog of millions costs no memory, with invalid rows on request.
 */
import { createWriteStream } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { once } from 'node:events';
import path from 'node:path';
import { stringify } from 'csv-stringify/sync';
import type { TargetName } from '../common/import';
import { devTarget } from '../targets/dev';

export interface CatalogOptions {
  target: TargetName;
  count: number;
  format: 'jsonl' | 'csv' | 'json';
  /** Every n-th record is made invalid in a way the target's schema rejects (0 = none). */
  invalidEvery?: number;
  /** Prefix of the keys, so separate tests don't touch each other's products. */
  keyPrefix?: string;
  /** Bytes of filler text per product, to shape request sizes. */
  padding?: number;
}

/** The target's product maker: deterministic for an index; each target's dev module has its own. */
export const recordsOf = async (target: TargetName) => (await devTarget(target)).record;
export { voucherifyRecord } from '../targets/voucherify/dev';
export { propellerRecord } from '../targets/propeller/dev';

const isTranslation = (v: unknown): v is { language: string; value: string } =>
  typeof v === 'object' &&
  v !== null &&
  typeof (v as { language?: unknown }).language === 'string' &&
  typeof (v as { value?: unknown }).value === 'string';

/**
 * Flattens nested objects into dotted columns. Translations (`[{language, value}]`) become one
 * column per language (`names.EN`), other arrays of objects a JSON cell, other arrays `a|b` cells.
 */
function csvRow(record: Record<string, unknown>, prefix = '', into: Record<string, string> = {}): Record<string, string> {
  for (const [k, v] of Object.entries(record)) {
    const column = prefix ? `${prefix}.${k}` : k;
    if (Array.isArray(v) && v.length && v.every(isTranslation)) for (const t of v) into[`${column}.${t.language}`] = t.value;
    else if (Array.isArray(v)) into[column] = v.some((x) => x && typeof x === 'object') ? JSON.stringify(v) : v.join('|');
    else if (v && typeof v === 'object') csvRow(v as Record<string, unknown>, column, into);
    else into[column] = String(v);
  }
  return into;
}

export async function writeCatalog(file: string, o: CatalogOptions): Promise<string> {
  await mkdir(path.dirname(file), { recursive: true });
  const out = createWriteStream(file);
  const write = async (text: string) => {
    if (!out.write(text)) await once(out, 'drain');
  };
  const makeRecord = await recordsOf(o.target);
  let columns: string[] | undefined;
  if (o.format === 'json') await write('[\n');
  for (let i = 0; i < o.count; i++) {
    const record = makeRecord(i, o);
    if (o.format === 'csv') {
      const row = csvRow(record);
      if (!columns) {
        columns = Object.keys(row);
        await write(stringify([columns]));
      }
      await write(stringify([columns.map((c) => row[c] ?? '')]));
    } else if (o.format === 'json') {
      await write(`${i ? ',\n' : ''}  ${JSON.stringify(record)}`);
    } else {
      await write(`${JSON.stringify(record)}\n`);
    }
  }
  if (o.format === 'json') await write('\n]\n');
  out.end();
  await once(out, 'finish');
  return file;
}
