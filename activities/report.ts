/**
 * The report: one row per source record with its final outcome, and the original records of
 * everything that did not succeed, in the source's own format, ready to fix and import again.
 * Its counts are the import's authoritative totals.
 */
import { Context } from '@temporalio/activity';
import { stringify } from 'csv-stringify/sync';
import type { ImportInput, ReportFiles } from '../common/import';
import { flattenDotted } from './sources';
import {
  chunkIdOfKey,
  describeErrors,
  importPrefix,
  invalidKey,
  metaKey,
  outcomeKey,
  readChunk,
  readJsonLines,
  reportKey,
  roundOutcomesPrefix,
  type ImportMeta,
  type InvalidRow,
  type OutcomeLine,
} from './staging/files';
import type { StagingStore } from './staging/store';

export type ResultOutcome = 'succeeded' | 'failed' | 'invalid' | 'not-submitted';

export interface ResultRow {
  line: number;
  key: string;
  outcome: ResultOutcome;
  attempts: number;
  error: string;
}

export interface ReportCounts {
  succeeded: number;
  failed: number;
  invalid: number;
  notSubmitted: number;
}

const resultColumns = ['line', 'key', 'outcome', 'attempts', 'error'] as const;

interface Row extends ResultRow {
  raw?: unknown;
  text?: string;
}

export function createReportActivities(store: StagingStore) {
  /** The last word on each retried product: the latest round it was in decides. */
  async function retryVerdicts(importId: string, lastRound: number): Promise<Map<string, { outcome: OutcomeLine; attempts: number }>> {
    const verdicts = new Map<string, { outcome: OutcomeLine; attempts: number }>();
    for (let round = 1; round <= lastRound; round++) {
      for (const key of await store.list(roundOutcomesPrefix(importId, round))) {
        for await (const outcome of readJsonLines<OutcomeLine>(store, key)) verdicts.set(outcome.key, { outcome, attempts: round + 1 });
      }
    }
    return verdicts;
  }

  /** Rows of submitted (or never submitted) products, in source order. */
  async function* stagedRows(importId: string, lastRound: number): AsyncIterable<Row> {
    const verdicts = await retryVerdicts(importId, lastRound);
    const chunkKeys = await store.list(`${importPrefix(importId)}/chunks/r0-`);
    for (const [i, key] of chunkKeys.entries()) {
      const id = chunkIdOfKey(key);
      // A chunk that was split has no outcome of its own: its halves follow it in the listing.
      const next = chunkKeys[i + 1];
      if (next && chunkIdOfKey(next).startsWith(`${id}.`)) continue;
      const items = await readChunk(store, importId, id);
      const outcomes: (OutcomeLine | undefined)[] = [];
      if (await store.exists(outcomeKey(importId, id))) for await (const o of readJsonLines<OutcomeLine>(store, outcomeKey(importId, id))) outcomes.push(o);
      for (const [j, item] of items.entries()) {
        const verdict = verdicts.get(item.key);
        const outcome = verdict?.outcome ?? outcomes[j];
        const row: Row = { line: item.line, key: item.key, attempts: verdict?.attempts ?? (outcome ? 1 : 0), outcome: 'not-submitted', error: '', raw: item.raw };
        if (!outcome) row.error = 'not submitted: the import ended before this product was sent';
        else if (outcome.ok) row.outcome = 'succeeded';
        else {
          row.outcome = outcome.invalid ? 'invalid' : 'failed';
          row.error = outcome.error;
        }
        yield row;
      }
      Context.current().heartbeat();
    }
  }

  async function* invalidRows(importId: string): AsyncIterable<Row> {
    for await (const row of readJsonLines<InvalidRow>(store, invalidKey(importId))) {
      yield { line: row.line, key: row.key ?? '', outcome: 'invalid', attempts: 0, error: describeErrors(row.errors), raw: row.raw, text: row.text };
    }
  }

  return {
    async writeReport({ input, lastRound }: { input: ImportInput; lastRound: number }): Promise<{ files: ReportFiles; counts: ReportCounts }> {
      const { importId } = input;
      let meta: ImportMeta = { format: 'jsonl', source: input.source.location };
      for await (const m of readJsonLines<ImportMeta>(store, metaKey(importId))) meta = m;
      const asCsv = meta.format === 'csv';
      const files: ReportFiles = {
        resultsJsonl: store.locate(reportKey(importId, 'results.jsonl')),
        resultsCsv: store.locate(reportKey(importId, 'results.csv')),
        failedRecords: store.locate(reportKey(importId, asCsv ? 'failed-records.csv' : 'failed-records.jsonl')),
        invalidRows: store.locate(invalidKey(importId)),
      };
      const jsonl = await store.createWriter(reportKey(importId, 'results.jsonl'));
      const csv = await store.createWriter(reportKey(importId, 'results.csv'));
      const failed = await store.createWriter(reportKey(importId, asCsv ? 'failed-records.csv' : 'failed-records.jsonl'));
      const counts: ReportCounts = { succeeded: 0, failed: 0, invalid: 0, notSubmitted: 0 };
      const countKey = { succeeded: 'succeeded', failed: 'failed', invalid: 'invalid', 'not-submitted': 'notSubmitted' } as const;
      try {
        await csv.write(resultColumns.join(','));
        if (asCsv && meta.columns) await failed.write(stringify([meta.columns]).trimEnd());
        for await (const row of mergeByLine(stagedRows(importId, lastRound), invalidRows(importId))) {
          counts[countKey[row.outcome]]++;
          const result: ResultRow = { line: row.line, key: row.key, outcome: row.outcome, attempts: row.attempts, error: row.error };
          await jsonl.write(JSON.stringify(result));
          await csv.write(stringify([resultColumns.map((c) => result[c])]).trimEnd());
          if (row.outcome !== 'succeeded') await failed.write(failedRecordLine(row, asCsv, meta.columns));
        }
        await Promise.all([jsonl.close(), csv.close(), failed.close()]);
      } catch (err) {
        await Promise.all([jsonl.abort(), csv.abort(), failed.abort()]);
        throw err;
      }
      return { files, counts };
    },
  };
}

/** The record as it came; a line that could not be parsed is written back as its text. */
function failedRecordLine(row: Row, asCsv: boolean, columns: string[] | undefined): string {
  if (row.raw === undefined || row.raw === null) return row.text ?? '';
  if (!asCsv) return JSON.stringify(row.raw);
  const flat = flattenDotted(row.raw as Record<string, unknown>);
  return stringify([(columns ?? Object.keys(flat)).map((c) => flat[c] ?? '')]).trimEnd();
}

/** Merges two streams that are each in line order. */
async function* mergeByLine<T extends { line: number }>(a: AsyncIterable<T>, b: AsyncIterable<T>): AsyncIterable<T> {
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  let na = await ia.next();
  let nb = await ib.next();
  while (!na.done || !nb.done) {
    if (nb.done || (!na.done && na.value.line <= nb.value.line)) {
      yield na.value as T;
      na = await ia.next();
    } else {
      yield nb.value;
      nb = await ib.next();
    }
  }
}
