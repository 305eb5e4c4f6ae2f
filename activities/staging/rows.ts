/**
 * The report's rows as outcomes arrive. When every product of a round-0 chunk succeeded, its rows are final (a
 * retry round only takes products that did not succeed), so they are written beside its outcomes, in the report's own
 * words: results.jsonl's rows, then results.csv's. The report copies them between the invalid rows instead of making a
 * row per product once the last chunk is done, where it used to run alone (17 of 158 s for 10M products).
 *
 * They are a cache of what the outcome file says: a report that finds none, or finds one damaged, builds the rows from
 * the outcome file as before. Beside them that file is one line saying that all the chunk's products succeeded, and
 * the chunk's heads say which (files.ts, allSucceededLine). The report trusts rows only beside that line: an
 * asynchronous target's rows are written while its action runs, before anyone knows whether they will hold
 * (writeRowsAhead).
 */
import { csvField, csvRow, resultJson } from '../report-rows';
import type { ItemOutcome } from '../../common/outcome';
import type { ItemHead } from '../../targets/types';
import {
  addSucceeded,
  bytesAt,
  digitsAt,
  NEWLINE,
  rowsKey,
  SealedFile,
  sealedDataEnd,
  writeAllSucceeded,
  writeOutcomes,
  writeSealed,
} from './files';
import type { StagingStore } from './store';

/**
 * A rows file: this head line, results.jsonl's rows, results.csv's rows, then the line `{"csvAt":…,"end":…}` giving the
 * byte offsets where the CSV rows start and end, so that a reader finds its way without looking for every line end.
 */
interface RowsHead {
  /** How many products, and the source lines of the first and the last. */
  rows: number;
  first: number;
  last: number;
}

/**
 * Writes a chunk's outcomes, and its rows when they are final (unless `rowsWritten`: writeRowsAhead wrote them). A
 * chunk's outcomes may be written again (a retried activity): rows that no longer hold are removed before the outcomes
 * that contradict them are written, so that rows beside an outcome file that says otherwise are left only by an
 * attempt that died between writing rows ahead and removing them; the report does not trust those.
 */
export async function recordOutcomes(
  store: StagingStore,
  importId: string,
  id: string,
  items: readonly ItemHead[],
  outcomes: ItemOutcome[],
  /** False when the report will not use them: it builds every row to keep the delta ledger. */
  wanted = true,
  rowsWritten = false,
): Promise<void> {
  const final = wanted && rowsFit(id, items) && outcomes.every((o) => o.kind === 'succeeded');
  if (!final && wanted && id.startsWith('r0-')) await store.remove(rowsKey(importId, id));
  if (final) {
    // The outcome file then says only that all succeeded (the heads say which).
    await writeAllSucceeded(store, importId, id, items.length);
    if (!rowsWritten) await writeRows(store, importId, id, items);
  } else await writeOutcomes(store, importId, id, items, outcomes);
}

/**
 * Records that all `products` of a chunk succeeded, its rows written ahead (writeRowsAhead said so): what
 * recordOutcomes writes then, without the heads (the outcome line says only how many).
 */
export function recordAllSucceeded(store: StagingStore, importId: string, id: string, products: number): Promise<void> {
  return writeAllSucceeded(store, importId, id, products);
}

/**
 * Writes the rows a round-0 chunk keeps if all its products succeed, before its outcomes are known: an asynchronous
 * target's action runs for a second or more, and written when it had ended, the last chunk's rows were 0.06–0.13 s of an
 * import's tail. They hold only once recordOutcomes writes that all succeeded; any other outcome removes them. True
 * when they were written.
 */
export async function writeRowsAhead(store: StagingStore, importId: string, id: string, items: readonly ItemHead[]): Promise<boolean> {
  if (!rowsFit(id, items)) return false;
  await writeRows(store, importId, id, items);
  return true;
}

/** Only round 0's products end with their first answer; rows are merged with the invalid ones by line. */
const rowsFit = (id: string, items: readonly ItemHead[]) => id.startsWith('r0-') && inLineOrder(items);

/** Rows are merged with the invalid ones by line: a chunk's products are in source order, and kept only if so. */
function inLineOrder(items: readonly ItemHead[]): boolean {
  for (let i = 1; i < items.length; i++) if (items[i]!.line <= items[i - 1]!.line) return false;
  return items.length > 0;
}

/** What follows the key in a round-0 success's rows, as resultJson and csvRow write them. */
const SUCCEEDED_ROW_TAIL = resultJson({ line: 0, key: '', outcome: 'succeeded', attempts: 1, error: '' }).slice(
  '{"line":0,"key":""'.length,
);
const SUCCEEDED_CSV_TAIL = csvRow([0, '', 'succeeded', 1, '']).slice('0,'.length);

async function writeRows(store: StagingStore, importId: string, id: string, items: readonly ItemHead[]): Promise<void> {
  const file = new SealedFile();
  const head: RowsHead = { rows: items.length, first: items[0]!.line, last: items.at(-1)!.line };
  file.add(JSON.stringify(head));
  // resultJson's and csvRow's bytes, written in parts: no string a row.
  for (const { line, key } of items) addSucceeded(file, line, key, SUCCEEDED_ROW_TAIL);
  const csvAt = file.size;
  for (const { line, key } of items) {
    file.room(64 + 6 * key.length);
    file.int(line);
    file.ascii(',');
    file.text(csvField(key));
    file.ascii(SUCCEEDED_CSV_TAIL);
    file.endLine();
  }
  file.add(JSON.stringify({ csvAt, end: file.size }));
  await writeSealed(store, rowsKey(importId, id), file);
}

const LINE_BYTES = Buffer.from('{"line":');

/** One file's rows of a chunk, as bytes: `start` and `end` are offsets of row starts (`end`: past the last row). */
export interface RowBlock {
  start: number;
  end: number;
  /** The source line of the row that starts at `at`. */
  lineAt(at: number): number;
  /** Where the first row from `from` on whose line is above `line` starts (`end`: none). */
  firstAbove(line: number, from: number): number;
  /** The rows from `from` to `to` as bytes, one a line, the last newline included (a view of the file, not a copy). */
  bytes(from: number, to: number): Buffer;
}

/** A chunk's final rows, checked whole: its results.jsonl and results.csv rows. */
export interface KeptRows extends RowsHead {
  jsonl: RowBlock;
  csv: RowBlock;
}

function rowBlock(bytes: Buffer, start: number, end: number, lineAt: (at: number) => number): RowBlock {
  return {
    start,
    end,
    lineAt,
    // A search by bytes: each step reads the row around the middle; rows are in line order.
    firstAbove(line, from) {
      let [lo, hi] = [from, end];
      while (lo < hi) {
        const row = Math.max(lo, bytes.lastIndexOf(NEWLINE, ((lo + hi) >>> 1) - 1) + 1);
        if (lineAt(row) > line) hi = row;
        else lo = bytes.indexOf(NEWLINE, row) + 1;
      }
      return lo;
    },
    bytes: (from, to) => bytes.subarray(from, to),
  };
}

/** A chunk's rows, or undefined when they cannot be trusted (missing, cut short, changed): the caller builds them. */
export async function readRows(store: StagingStore, importId: string, id: string): Promise<KeptRows | undefined> {
  if (!store.readBytes) return undefined;
  const bytes = await store.readBytes(rowsKey(importId, id)).catch(() => undefined);
  const dataEnd = bytes && sealedDataEnd(bytes);
  if (!bytes || !dataEnd) return undefined;
  // The checksum holds, so these are the bytes writeRows wrote, unless another version wrote them otherwise.
  const jsonlAt = bytes.indexOf(NEWLINE) + 1;
  const indexAt = bytes.lastIndexOf(NEWLINE, dataEnd - 2) + 1;
  let head: RowsHead;
  let index: { csvAt: number; end: number };
  try {
    head = JSON.parse(bytes.toString('utf8', 0, jsonlAt - 1)) as RowsHead;
    index = JSON.parse(bytes.toString('utf8', indexAt, dataEnd - 1)) as typeof index;
  } catch {
    return undefined;
  }
  const { rows, first, last } = head;
  const { csvAt, end } = index;
  if (!(rows > 0 && jsonlAt > 0 && jsonlAt < csvAt && csvAt < end && end === indexAt)) return undefined;
  const digits = (at: number) => digitsAt(bytes, at, end).value;
  return {
    rows,
    first,
    last,
    jsonl: rowBlock(bytes, jsonlAt, csvAt, (at) => {
      if (!bytesAt(bytes, at, LINE_BYTES)) throw new Error(`rows of chunk ${id}: no line at byte ${at}`);
      return digits(at + LINE_BYTES.length);
    }),
    csv: rowBlock(bytes, csvAt, end, digits),
  };
}
