/**
 * The report: one row per source record with its final outcome, and the original records of
 * everything that did not succeed, in the source's own format, ready to fix and import again.
 * Its counts are the import's authoritative totals.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ImportInput, ReportFiles } from '../common/import';
import { reportOutcomeOf } from '../common/outcome';
import { csvRow, type ResultRow, resultColumns, resultJson } from './report-rows';
import { flattenDotted } from './sources';
import {
  allSucceededOf,
  assertOwner,
  damageOf,
  describeErrors,
  describeStagingFile,
  invalidKey,
  unchangedKey,
  metaKey,
  readAllJsonLines,
  readChunkFile,
  readChunkHeads,
  type ChunkFile,
  readJsonLines,
  removeReportLeftovers,
  reportKey,
  STAGING_FIX,
  StagingDamagedType,
  type ImportMeta,
  type InvalidRow,
  type OutcomeLine,
  readOutcomes,
} from './staging/files';
import type { StagingStore } from './staging/store';
import { type KeptRows, readRows } from './staging/rows';
import { keepsLedger, loadLedger, saveLedger } from './staging/delta';
import type { TargetRegistry } from './targets';
import type { ItemHead } from '../targets/types';
import { leafChunks, listChunkIds, listedRootCount, listIdsIn, retryRoundChunks, roundRoots } from './staging/tree';

/** Rows made and written at a time: few enough to die young, enough that a write per batch costs nothing. */
const ROW_BATCH = 4096;

export interface ReportCounts {
  succeeded: number;
  failed: number;
  invalid: number;
  notSubmitted: number;
  /** With delta sync. */
  unchanged?: number;
}

/** A chunk whose failure the workflow could not record: its products may or may not have been sent. */
export interface UnrecordedChunk {
  chunkId: string;
  error: string;
}

interface Row extends ResultRow {
  /** The source record, parsed only for rows that did not succeed (failed-records). */
  raw?: unknown;
  text?: string;
  /** The staged invalid row, copied to the report's invalid-rows.jsonl. */
  invalidRow?: InvalidRow;
  /** A staged product's request body, for the delta ledger. */
  body?: string;
}

/** What one report pass found wrong with the staging files. */
class Findings {
  damaged: { file: string; damage: string }[] = [];
  /** Rows written as "outcome unknown" because a file of their chunk was damaged. */
  unknownRows = 0;

  /** Records the damage if `err` is StagingDamaged; rethrows anything else. */
  note(err: unknown): { file: string; damage: string } {
    const damage = damageOf(err);
    if (!damage) throw err;
    this.damaged.push(damage);
    return damage;
  }
}

export { csvRow, type ResultOutcome, type ResultRow } from './report-rows';

type Listing = Awaited<ReturnType<typeof listChunkIds>>;
/** A report file's lines waiting to be written: text, or kept rows as bytes (each with its newline). */
type Lines = (string | Buffer)[];

/**
 * A batch's pieces to write: kept rows' bytes as they are (a run of a rows file; joined, they were copied again, 110 MB
 * for a million products), each run of lines between them as one buffer.
 */
function piecesOf(batch: Lines): Buffer[] {
  const pieces: Buffer[] = [];
  for (let from = 0; from < batch.length; ) {
    const first = batch[from]!;
    if (typeof first !== 'string') {
      pieces.push(first);
      from++;
      continue;
    }
    let to = from;
    while (to < batch.length && typeof batch[to] === 'string') to++;
    pieces.push(Buffer.from(`${batch.slice(from, to).join('\n')}\n`));
    from = to;
  }
  return pieces;
}
type Verdict = { outcome: OutcomeLine; attempts: number };

/** `targets`: where delta sync's ledger is (the account); without it, an import with delta sync cannot be reported. */
export function createReportActivities(store: StagingStore, targets?: TargetRegistry) {
  /**
   * A leaf chunk's products with the outcome each got (undefined: never answered), or undefined when its file is damaged.
   * Its heads come from its outcome file when that is intact (it was written from them), else from its heads file or the
   * chunk: the chunk itself is read only for rows that need its records (stagedRows).
   */
  async function readLeaf(importId: string, id: string, listing: Listing, unrecorded: Map<string, string>, found: Findings) {
    let answered: OutcomeLine[] | undefined;
    let unknownWhy = unrecorded.get(id);
    let damagedOutcomes = false;
    if (listing.outcomes.has(id)) {
      try {
        answered = await readOutcomes(store, importId, id);
        unknownWhy = undefined;
      } catch (err) {
        const { damage } = found.note(err);
        unknownWhy = `the outcome file of chunk ${id} is damaged (${damage})`;
        damagedOutcomes = true;
      }
    }
    // An outcome line is its product's head too: no second object per product.
    if (answered) return { items: answered satisfies ItemHead[], outcomes: answered };
    let items: ItemHead[];
    try {
      items = await readChunkHeads(store, importId, id);
    } catch (err) {
      found.note(err);
      return undefined;
    }
    if (unknownWhy === undefined) return { items, outcomes: [] as (OutcomeLine | undefined)[] };
    if (damagedOutcomes) found.unknownRows += items.length;
    const error = `outcome unknown: ${unknownWhy}`;
    return { items, outcomes: items.map(({ line, key }): OutcomeLine => ({ line, key, kind: 'failed', error })) };
  }

  /** The last word on each retried product: the latest round that answered for it decides. */
  async function retryVerdicts(importId: string, lastRound: number, listing: Listing, unrecorded: Map<string, string>, found: Findings) {
    const verdicts = new Map<string, Verdict>();
    for (let round = 1; round <= lastRound; round++) {
      let count: number;
      try {
        count = await retryRoundChunks(store, importId, round);
      } catch (err) {
        found.note(err);
        count = listedRootCount(round, listing.chunks, listing.outcomes);
      }
      for (const id of leafChunks(roundRoots(round, count), listing.chunks, listing.outcomes)) {
        const leaf = await readLeaf(importId, id, listing, unrecorded, found);
        for (const [j, item] of (leaf?.items ?? []).entries()) {
          const outcome = leaf!.outcomes[j];
          if (outcome) verdicts.set(item.key, { outcome, attempts: round + 1 });
        }
      }
      Context.current().heartbeat();
    }
    return verdicts;
  }

  /**
   * Rows of submitted (or never submitted) products, in source order, in batches within a leaf chunk. A leaf without rows
   * yields no batch, so the staging files are read in the same order relative to the invalid rows as row by row.
   */
  async function* stagedRows(
    importId: string,
    chunkCount: number | undefined,
    lastRound: number,
    unrecorded: Map<string, string>,
    found: Findings,
    /** Delta sync's ledger needs every product's body. */
    withBodies: boolean,
  ): AsyncIterable<Row[] | KeptRows> {
    const listing = await listChunkIds(store, importId);
    const verdicts = await retryVerdicts(importId, lastRound, listing, unrecorded, found);
    // Rows written as outcomes arrived hold for a chunk no retry round answered for: keys are unique, so by its lines.
    const kept = withBodies ? new Set<string>() : await listIdsIn(store, importId, 'rows');
    const retriedLines = Float64Array.from([...verdicts.values()].map((v) => v.outcome.line)).sort();
    // Without meta's count (damaged), the chunks the listing shows are all that can be reported.
    const roots = roundRoots(0, chunkCount ?? listedRootCount(0, listing.chunks, listing.outcomes));
    const leaves = leafChunks(roots, listing.chunks, listing.outcomes);
    const rowsOf = async (id: string | undefined) => {
      if (id === undefined || !kept.has(id) || !listing.outcomes.has(id)) return undefined;
      const [rows, all] = await Promise.all([readRows(store, importId, id), allSucceededOf(store, importId, id)]);
      // Rows may be written before the outcomes (writeRowsAhead): they hold only beside an outcome file that says so.
      return rows && all === rows.rows ? rows : undefined;
    };
    let nextRows = rowsOf(leaves[0]);
    for (const [i, id] of leaves.entries()) {
      const rows = await nextRows;
      // The next leaf's rows are read (and their checksum tested) while this one's are written: one after the other, the
      // reads took as long as the writes (1M products: 0.21–0.23 s each). Caught here only to be awaited in its turn.
      nextRows = rowsOf(leaves[i + 1]);
      nextRows.catch(() => undefined);
      if (rows && !anyWithin(retriedLines, rows.first, rows.last)) {
        yield rows;
        Context.current().heartbeat();
        continue;
      }
      const leaf = await readLeaf(importId, id, listing, unrecorded, found);
      const verdictOf = (item: ItemHead) => verdicts.get(item.key);
      // The chunk itself only for a row that needs its record (did not succeed) or its body (the ledger).
      let chunk: ChunkFile | undefined;
      if (leaf && (withBodies || leaf.items.some((item, j) => (verdictOf(item)?.outcome ?? leaf.outcomes[j])?.kind !== 'succeeded'))) {
        try {
          chunk = await readChunkFile(store, importId, id);
        } catch (err) {
          found.note(err);
          continue;
        }
      }
      // Rows in batches of ROW_BATCH, each written before the next is made: a 10 MB chunk's 71,000 rows never live at once.
      for (let from = 0; leaf && from < leaf.items.length; from += ROW_BATCH) {
        const heads = leaf.items.slice(from, from + ROW_BATCH);
        yield heads.map((item, k) => withRecord(bareRow(item, verdictOf(item), leaf.outcomes[from + k]), chunk, from + k, withBodies));
      }
      Context.current().heartbeat();
    }
  }

  /** The row of a staged product, without its record. */
  function bareRow(item: ItemHead, verdict: Verdict | undefined, answered: OutcomeLine | undefined): Row {
    const outcome = verdict?.outcome ?? answered;
    const attempts = verdict?.attempts ?? (outcome ? 1 : 0);
    const row: Row = { line: item.line, key: item.key, attempts, outcome: 'not-submitted', error: '' };
    if (!outcome) row.error = 'not submitted: the import ended before this product was sent';
    else {
      row.outcome = reportOutcomeOf(outcome);
      if (outcome.kind !== 'succeeded') row.error = outcome.error;
    }
    return row;
  }

  /** Product `j` of `chunk`'s record and body, decoded only for a row that needs them. */
  function withRecord(row: Row, chunk: ChunkFile | undefined, j: number, withBodies: boolean): Row {
    if (chunk && (row.outcome !== 'succeeded' || withBodies)) {
      const staged = chunk.item(j);
      if (row.outcome !== 'succeeded') row.raw = JSON.parse(staged.rawJson);
      if (withBodies) row.body = staged.body;
    }
    return row;
  }

  /** Invalid rows until the end of the file, or until its damage shows. */
  async function* invalidRows(importId: string, found: Findings): AsyncIterable<Row> {
    try {
      for await (const row of readJsonLines<InvalidRow>(store, invalidKey(importId))) {
        const error = describeErrors(row.errors);
        yield { line: row.line, key: row.key ?? '', outcome: 'invalid', attempts: 0, error, raw: row.raw, text: row.text, invalidRow: row };
      }
    } catch (err) {
      found.note(err);
    }
  }

  function deltaScopeOf(input: ImportInput): string {
    if (!targets) throw new Error('this report cannot keep the delta ledger: it was built without the target registry');
    return targets.bind(input).deltaScope();
  }

  /** Products delta sync did not send, until the end of the file or until its damage shows. */
  async function* unchangedRows(importId: string, found: Findings): AsyncIterable<Row> {
    try {
      for await (const row of readJsonLines<{ line: number; key: string }>(store, unchangedKey(importId))) {
        yield { line: row.line, key: row.key, outcome: 'unchanged', attempts: 0, error: '' };
      }
    } catch (err) {
      found.note(err);
    }
  }

  return {
    /**
     * Writes the report, then checks it accounts for every record staged. When a staging file was
     * damaged or a record has no row, the report is still written as far as it is known, and the
     * activity fails (StagingDamaged, nonretryable) naming the files, with `{ files, counts }` as its details.
     */
    async writeReport({
      input,
      lastRound,
      unrecorded = [],
    }: {
      input: ImportInput;
      lastRound: number;
      unrecorded?: UnrecordedChunk[];
    }): Promise<{ files: ReportFiles; counts: ReportCounts }> {
      const { importId } = input;
      const run = Context.current().info.workflowExecution;
      // Never overwrite the report of another import that staged under this id.
      if (run) await assertOwner(store, importId, { workflowId: run.workflowId });
      await removeReportLeftovers(store, importId);
      const found = new Findings();
      let meta: ImportMeta = { format: 'jsonl', source: input.source.location };
      try {
        [meta = meta] = await readAllJsonLines<ImportMeta>(store, metaKey(importId));
      } catch (err) {
        found.note(err);
      }
      const asCsv = meta.format === 'csv';
      const files: ReportFiles = {
        resultsJsonl: store.locate(reportKey(importId, 'results.jsonl')),
        resultsCsv: store.locate(reportKey(importId, 'results.csv')),
        failedRecords: store.locate(reportKey(importId, asCsv ? 'failed-records.csv' : 'failed-records.jsonl')),
        // A plain copy for people: the staged file ends with its seal.
        invalidRows: store.locate(reportKey(importId, 'invalid-rows.jsonl')),
      };
      const jsonl = await store.createWriter(reportKey(importId, 'results.jsonl'));
      const csv = await store.createWriter(reportKey(importId, 'results.csv'));
      const failed = await store.createWriter(reportKey(importId, asCsv ? 'failed-records.csv' : 'failed-records.jsonl'));
      const invalid = await store.createWriter(reportKey(importId, 'invalid-rows.jsonl'));
      const writers = [jsonl, csv, failed, invalid];
      const { skipUnchanged, full } = input.options;
      const skipping = skipUnchanged && !full;
      const counts: ReportCounts = { succeeded: 0, failed: 0, invalid: 0, notSubmitted: 0, ...(skipping ? { unchanged: 0 } : {}) };
      const countKey = {
        succeeded: 'succeeded',
        failed: 'failed',
        invalid: 'invalid',
        'not-submitted': 'notSubmitted',
        unchanged: 'unchanged',
      } as const;
      // The account's ledger as it is now: other imports into it may have confirmed products since this one staged.
      const scope = keepsLedger(input.options) ? deltaScopeOf(input) : undefined;
      const ledger = scope ? await loadLedger(store, scope, (why) => Context.current().log.warn(why)) : undefined;
      const unrecordedById = new Map(unrecorded.map((u) => [u.chunkId, u.error]));
      // Each file's lines are gathered and written once per batch: a write (a promise) per row cost more than the rows.
      // Kept rows come as bytes, and a batch that holds some goes to the writer as bytes.
      const pending = writers.map((): Lines => []);
      const [jsonlLines, csvLines, failedLines, invalidLines] = pending as [Lines, Lines, Lines, Lines];
      const add = (row: Row) => {
        counts[countKey[row.outcome]] = (counts[countKey[row.outcome]] ?? 0) + 1;
        // Only what the target confirmed is remembered; a failure may have changed the product, so it goes next time.
        if (ledger && row.body !== undefined) {
          if (row.outcome === 'succeeded') ledger.confirm(row.key, row.body);
          else if (row.outcome === 'failed') ledger.forget(row.key);
        }
        const { line, key, outcome, attempts, error } = row;
        jsonlLines.push(resultJson(row));
        csvLines.push(csvRow([line, key, outcome, attempts, error]));
        if (row.outcome !== 'succeeded' && row.outcome !== 'unchanged') failedLines.push(failedRecordLine(row, asCsv, meta.columns));
        if (row.invalidRow) invalidLines.push(JSON.stringify(row.invalidRow));
      };
      // The writer appends the last line's newline.
      // The files are written side by side: each write waits for its file's buffer to drain, not for the others'.
      const flush = () =>
        Promise.all(
          pending.map((lines, i) => {
            if (!lines.length) return undefined;
            const batch = lines.splice(0);
            if (batch.every((line) => typeof line === 'string')) return writers[i]!.write(batch.join('\n'));
            return writers[i]!.writeBytes(piecesOf(batch));
          }),
        );
      try {
        await csv.write(resultColumns.join(','));
        if (asCsv && meta.columns) await failed.write(csvRow(meta.columns));
        // Merged by line, the staged row first on a tie; each stream is read one step ahead, as row by row.
        const staged = stagedRows(importId, meta.counts?.chunks, lastRound, unrecordedById, found, ledger !== undefined)[
          Symbol.asyncIterator
        ]();
        const sideRows = skipping
          ? mergeByLine(invalidRows(importId, found), unchangedRows(importId, found))
          : invalidRows(importId, found);
        const invalidOnes = sideRows[Symbol.asyncIterator]();
        let batch = await staged.next();
        let next = await invalidOnes.next();
        for (; !batch.done; batch = await staged.next()) {
          const rows = batch.value;
          if (Array.isArray(rows))
            for (const row of rows) {
              for (; !next.done && next.value.line < row.line; next = await invalidOnes.next()) add(next.value);
              add(row);
            }
          else {
            // Kept rows are copied in runs, up to the next invalid row's place.
            counts.succeeded += rows.rows;
            const { jsonl: j, csv: c } = rows;
            for (let [at, csvAt] = [j.start, c.start]; at < j.end; ) {
              const to = next.done ? j.end : j.firstAbove(next.value.line, at);
              if (to > at) {
                const csvTo = next.done ? c.end : c.firstAbove(next.value.line, csvAt);
                // As bytes: never decoded to be encoded again.
                jsonlLines.push(j.bytes(at, to));
                csvLines.push(c.bytes(csvAt, csvTo));
                [at, csvAt] = [to, csvTo];
              }
              if (at < j.end) for (; !next.done && next.value.line < j.lineAt(at); next = await invalidOnes.next()) add(next.value);
            }
          }
          await flush();
        }
        for (let n = 1; !next.done; next = await invalidOnes.next(), n++) {
          add(next.value);
          if (n % INVALID_BATCH === 0) await flush();
        }
        await flush();
        await Promise.all(writers.map((w) => w.close()));
        if (ledger && scope) await saveLedger(store, scope, ledger);
      } catch (err) {
        await Promise.all(writers.map((w) => w.abort()));
        throw err;
      }
      const gap = reportGap(found, counts, meta.counts?.read);
      if (gap) {
        const message = `${gap}. Report so far: ${files.resultsJsonl}`;
        throw ApplicationFailure.create({ type: StagingDamagedType, nonRetryable: true, message, details: [{ files, counts }] });
      }
      return { files, counts };
    },
  };
}

const n = (x: number) => x.toLocaleString('en-US');

/** Why the report cannot be trusted as complete, or undefined when every record read has its true row. */
export function reportGap(found: Findings, counts: ReportCounts, read: number | undefined): string | undefined {
  const rows = counts.succeeded + counts.failed + counts.invalid + counts.notSubmitted + (counts.unchanged ?? 0);
  if (!found.damaged.length && (read === undefined || rows === read)) return undefined;
  const parts: string[] = [];
  if (read !== undefined && rows !== read) parts.push(`the report has ${n(rows)} rows for ${n(read)} records read`);
  if (found.damaged.length) {
    const files = found.damaged.map((d) => `${describeStagingFile(d.file)} (${d.damage})`);
    const list = files.length > 1 ? `${files.slice(0, -1).join(', ')} and ${files.at(-1)}` : files[0];
    parts.push(`staging ${files.length > 1 ? 'files' : 'file'} ${list} ${files.length > 1 ? 'were' : 'was'} damaged while the import ran`);
  }
  const unknown: string[] = [];
  const lost = read !== undefined ? read - rows : 0;
  if (lost > 0) unknown.push(`${n(lost)} ${lost === 1 ? 'product has' : 'products have'} no row (their outcomes are unknown)`);
  if (found.unknownRows) unknown.push(`${n(found.unknownRows)} ${found.unknownRows === 1 ? 'row says' : 'rows say'} "outcome unknown"`);
  return `${[...parts, ...unknown].join('; ')}: ${STAGING_FIX}`;
}

/** The record as it came; a line that could not be parsed is written back as its text. */
function failedRecordLine(row: Row, asCsv: boolean, columns: string[] | undefined): string {
  if (row.raw === undefined || row.raw === null) return row.text ?? '';
  if (!asCsv) return JSON.stringify(row.raw);
  const flat = flattenDotted(row.raw as Record<string, unknown>);
  return csvRow((columns ?? Object.keys(flat)).map((c) => flat[c] ?? ''));
}

/** Invalid rows after the last staged one are written this many at a time. */
const INVALID_BATCH = 10_000;

/** Whether sorted `lines` holds one from `first` to `last`. */
function anyWithin(lines: Float64Array, first: number, last: number): boolean {
  let [lo, hi] = [0, lines.length];
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (lines[mid]! < first) lo = mid + 1;
    else hi = mid;
  }
  return lo < lines.length && lines[lo]! <= last;
}

/** Two streams of rows in line order, as one. */
async function* mergeByLine(a: AsyncIterable<Row>, b: AsyncIterable<Row>): AsyncIterable<Row> {
  const ia = a[Symbol.asyncIterator]();
  const ib = b[Symbol.asyncIterator]();
  let na = await ia.next();
  let nb = await ib.next();
  while (!na.done || !nb.done) {
    if (nb.done || (!na.done && na.value.line <= nb.value.line)) {
      yield na.value as Row;
      na = await ia.next();
    } else {
      yield nb.value;
      nb = await ib.next();
    }
  }
}
