/**
 * The report's rows as outcomes arrive. When every product of a round-0 chunk succeeded, its rows are final (a
 * retry round only takes products that did not succeed), so they are written beside its outcomes, in the report's own
 * words: results.jsonl's rows, then results.csv's. The report copies them between the invalid rows instead of making a
 * row per product once the last chunk is done, where it used to run alone (17 of 158 s for 10M products).
 *
 * They are a cache of what the outcome file says: a report that finds none, or finds one damaged, builds the rows from
 * the outcome file as before.
 */
import { csvField, resultJson } from '../report-rows';
import type { ItemOutcome } from '../../common/outcome';
import type { ItemHead } from '../../targets/types';
import { bytesAt, chunkIdOfKey, digitsAt, importPrefix, intactLineEnds, rowsKey, SealedFile, writeOutcomes, writeSealed } from './files';
import type { StagingStore } from './store';

/** The first line of a rows file: how many products, and the source lines of the first and the last. */
interface RowsHead {
  rows: number;
  first: number;
  last: number;
}

/**
 * Writes a chunk's outcomes, and its rows when they are final. A chunk's outcomes may be written again (a retried
 * activity): rows that no longer hold are removed before the outcomes that contradict them are written, and rows are
 * written only after the outcomes they come from, so rows never exist beside an outcome file that says otherwise.
 */
export async function recordOutcomes(
  store: StagingStore,
  importId: string,
  id: string,
  items: readonly ItemHead[],
  outcomes: ItemOutcome[],
  /** False when the report will not use them: it builds every row to keep the delta ledger. */
  wanted = true,
): Promise<void> {
  const final = wanted && id.startsWith('r0-') && inLineOrder(items) && outcomes.every((o) => o.kind === 'succeeded');
  if (!final && wanted && id.startsWith('r0-')) await store.remove(rowsKey(importId, id));
  await writeOutcomes(store, importId, id, items, outcomes);
  if (final) await writeRows(store, importId, id, items);
}

/** Rows are merged with the invalid ones by line: a chunk's products are in source order, and kept only if so. */
function inLineOrder(items: readonly ItemHead[]): boolean {
  for (let i = 1; i < items.length; i++) if (items[i]!.line <= items[i - 1]!.line) return false;
  return items.length > 0;
}

async function writeRows(store: StagingStore, importId: string, id: string, items: readonly ItemHead[]): Promise<void> {
  const file = new SealedFile();
  const head: RowsHead = { rows: items.length, first: items[0]!.line, last: items.at(-1)!.line };
  file.add(JSON.stringify(head));
  // Made as they are written, so that each row dies young.
  file.addAll(
    (function* () {
      for (const { line, key } of items) yield resultJson({ line, key, outcome: 'succeeded', attempts: 1, error: '' });
    })(),
  );
  file.addAll(
    (function* () {
      // csvRow([line, key, 'succeeded', 1, '']) without its array and its checks of the constant fields.
      for (const { line, key } of items) yield `${line},${csvField(key)},succeeded,1,`;
    })(),
  );
  await writeSealed(store, rowsKey(importId, id), file);
}

/** The chunks with rows, from one listing. */
export async function listRowIds(store: StagingStore, importId: string): Promise<Set<string>> {
  return new Set((await store.list(`${importPrefix(importId)}/rows/r0-`)).map(chunkIdOfKey));
}

const LINE_BYTES = Buffer.from('{"line":');

/** A chunk's final rows, read and checked whole; runs of them are taken as text, ready to write. */
export interface KeptRows extends RowsHead {
  /** The source line of row `i`. */
  lineAt(i: number): number;
  /** The first row from `from` on whose line is above `line` (`rows`: none). */
  firstAbove(line: number, from: number): number;
  /** Rows `from` to `to` (excluded) of results.jsonl, one a line, without the last newline. */
  jsonl(from: number, to: number): string;
  /** The same rows of results.csv. */
  csv(from: number, to: number): string;
}

/** A chunk's rows, or undefined when they cannot be trusted (missing, cut short, changed): the caller builds them. */
export async function readRows(store: StagingStore, importId: string, id: string): Promise<KeptRows | undefined> {
  if (!store.readBytes) return undefined;
  const bytes = await store.readBytes(rowsKey(importId, id)).catch(() => undefined);
  const ends = bytes && intactLineEnds(bytes);
  if (!bytes || !ends?.length) return undefined;
  let head: RowsHead;
  try {
    head = JSON.parse(bytes.toString('utf8', 0, ends[0])) as RowsHead;
  } catch {
    return undefined;
  }
  const { rows, first, last } = head;
  if (!Number.isSafeInteger(rows) || rows < 1 || ends.length !== 1 + 2 * rows) return undefined;
  // Row i of results.jsonl is line 1 + i of the file, its row of results.csv line 1 + rows + i.
  const startOf = (line: number) => ends[line - 1]! + 1;
  const text = (fromLine: number, toLine: number) => bytes.toString('utf8', startOf(fromLine), ends[toLine - 1]);
  const lineAt = (i: number) => {
    const at = startOf(1 + i);
    if (!bytesAt(bytes, at, LINE_BYTES)) throw new Error(`rows of chunk ${id}: row ${i} does not start with its line`);
    return digitsAt(bytes, at + LINE_BYTES.length, ends[1 + i]!).value;
  };
  return {
    rows,
    first,
    last,
    lineAt,
    firstAbove(line, from) {
      let [lo, hi] = [from, rows];
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (lineAt(mid) > line) hi = mid;
        else lo = mid + 1;
      }
      return lo;
    },
    jsonl: (from, to) => text(1 + from, 1 + to),
    csv: (from, to) => text(1 + rows + from, 1 + rows + to),
  };
}
