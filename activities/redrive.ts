/**
 * A redrive's source: the records of an ended import that did not succeed, as its report wrote them back
 * (failed-records, in the source's format), paired in order with the report's rows that did not succeed. Failed and
 * not-submitted records go again; invalid ones only when asked (after the user fixed them in that file).
 */
import type { SourceRef } from '../common/import';
import { readSourceBatches, SourceError, type ReadSourceOptions, type SourceFormat, type SourceItem } from './sources';
import type { ResultRow } from './report';
import { reportKey } from './staging/files';
import type { StagingStore } from './staging/store';

type Redrive = NonNullable<SourceRef['redriveOf']>;

/** The report file a redrive reads its records from: CSV for a CSV source, JSONL otherwise (as the report writes it). */
export const failedRecordsKey = (importId: string, format: SourceFormat) =>
  reportKey(importId, format === 'csv' ? 'failed-records.csv' : 'failed-records.jsonl');

/** For each report row that did not succeed, in order: whether the redrive sends its record again. */
async function redriveChoices(store: StagingStore, of: Redrive): Promise<Uint8Array> {
  const key = reportKey(of.importId, 'results.jsonl');
  if (!(await store.exists(key))) {
    throw new SourceError(
      `import ${of.importId} has no report in this staging store (${store.locate(key)}): a redrive needs the report of an ended import, written by a worker that shares this store`,
    );
  }
  let choices = new Uint8Array(1024);
  let n = 0;
  for await (const text of store.readLines(key)) {
    const row = JSON.parse(text) as ResultRow;
    if (row.outcome === 'succeeded') continue;
    if (n === choices.length) {
      const grown = new Uint8Array(n * 2);
      grown.set(choices);
      choices = grown;
    }
    choices[n++] = row.outcome !== 'invalid' || of.includeInvalid ? 1 : 0;
  }
  return choices.subarray(0, n);
}

export async function* readRedriveSource(
  store: StagingStore,
  of: Redrive,
  format: SourceFormat,
  opts: ReadSourceOptions,
): AsyncIterable<SourceItem[]> {
  const choices = await redriveChoices(store, of);
  const key = failedRecordsKey(of.importId, format);
  const mismatch = (records: string) =>
    new SourceError(
      `the failed records of ${of.importId} (${store.locate(key)}) hold ${records} where its report has ${choices.length} rows that did not succeed: fix records in place, without adding or removing any, and retry again`,
    );
  let i = 0;
  for await (const batch of readSourceBatches(store.locate(key), format, { ...opts, open: () => store.readStream(key) })) {
    const chosen: SourceItem[] = [];
    for (const item of batch) {
      if (i >= choices.length) throw mismatch(`more records`);
      if (choices[i++]) chosen.push(item);
    }
    if (chosen.length) yield chosen;
  }
  if (i !== choices.length) throw mismatch(`${i} records`);
}
