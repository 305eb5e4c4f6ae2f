/**
 * Stage: stream the source, validate every record with the target's schema, reject duplicate
 * keys, and cut the valid products into chunk files in the staging store. Invalid rows are kept
 * for the report. Progress is heartbeated; after a crash the activity reads the source again
 * (staging is deterministic) and skips writing the chunks it had already committed.
 *
 * Chunks are committed in order to a progress file (staged.json) as they are written, and
 * `awaitStaged` follows it: the workflow sends round 0's chunks while the rest of the source is read.
 */
import { EventEmitter, once } from 'node:events';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ImportInput, StageResult } from '../common/import';
import { STAGE_ATTEMPTS } from '../common/timeouts';
import { compileMapping, INVALID_MAPPING, MappingError } from './mapping';
import { readRedriveSource } from './redrive';
import { stageInThread } from './stage-thread-client';
import { asStaging } from './staging/busy';
import { asGivenCheck, outputIsInput } from '../targets/as-given';
import { asGivenTextCheck } from '../targets/as-given-text';
import type { ChunkLimits, StagedItem } from '../targets/types';
import {
  detectFormat,
  jsonRecord,
  MAX_NESTING_DEPTH,
  mayHoldProtoKey,
  nestedDeeperThan,
  protoKeyMessage,
  protoKeyPath,
  readSourceBatches,
  redactLocation,
  SourceError,
  sendableAsIs,
  tooDeepMessage,
  type ReadSourceOptions,
} from './sources';
import { Chunker } from './staging/chunker';
import { importLedger, keepsLedger } from './staging/delta';
import { KeySet } from './staging/keyset';
import {
  ChunkDraft,
  chunkId,
  claimImportId,
  createSealedWriter,
  invalidKey,
  removeLeftovers,
  metaKey,
  readAllJsonLines,
  readChunkHeads,
  stagedKey,
  unchangedKey,
  writeChunkDraft,
  writeLines,
  type ImportMeta,
  type InvalidRow,
  type StagedSoFar,
} from './staging/files';
import type { StagingStore } from './staging/store';
import type { BoundTarget, TargetRegistry } from './targets';

interface StageHeartbeat {
  chunksCommitted: number;
  read: number;
}

/** The ApplicationFailure type of a problem with the source as a whole. */
export const SOURCE_ERROR = 'SourceError';

/** Whether another attempt can pass (a 503, a reset connection), so a 404 or a bad header fails at once. */
function retryableNow(err: SourceError, attempt: number): boolean {
  return err.retryable && (err.maxAttempts === undefined || attempt < err.maxAttempts) && attempt < STAGE_ATTEMPTS;
}

/** A SourceError as the workflow and the CLI see it: its own type and message, retried only when trying again can pass. */
function sourceFailure(err: SourceError, attempt: number): ApplicationFailure {
  return ApplicationFailure.create({ type: SOURCE_ERROR, message: err.message, nonRetryable: !retryableNow(err, attempt) });
}

/** What staging needs of its activity's context: plain data and callbacks, so that it can run in a thread of its own. */
export interface StageContext {
  attempt: number;
  heartbeatDetails: unknown;
  workflowExecution?: { workflowId: string; runId: string };
  signal: AbortSignal;
  heartbeat(details: unknown): void;
  log(level: 'info' | 'warn', message: string, attrs?: Record<string, unknown>): void;
}

export function stageContextOf(ctx: Context): StageContext {
  const { attempt, heartbeatDetails, workflowExecution } = ctx.info;
  return {
    attempt,
    heartbeatDetails,
    ...(workflowExecution ? { workflowExecution } : {}),
    signal: ctx.cancellationSignal,
    heartbeat: (details) => ctx.heartbeat(details),
    log: (level, message, attrs) => ctx.log[level](message, attrs),
  };
}

/** Staging in a worker thread of its own (see stage-thread.ts): where its staging store is, and the targets' settings. */
export interface StageThread {
  /** The staging folder, or the staging bucket's s3:// URL (storeAt rebuilds the store from it). */
  storeRoot: string;
  env: NodeJS.ProcessEnv;
}

/** The stage activity: in a thread of its own when `thread` says where (a second core for validation), else inline. */
export function createStageActivity(store: StagingStore, targets: TargetRegistry, thread?: StageThread) {
  const stage = createStage(store, targets);
  return async function stageSource(input: ImportInput): Promise<StageResult> {
    const ctx = stageContextOf(Context.current());
    try {
      return await (thread ? stageInThread(input, ctx, thread) : asStaging(() => stage(input, ctx)));
    } catch (err) {
      throw err instanceof SourceError ? sourceFailure(err, ctx.attempt) : err;
    }
  };
}

/** How long `awaitStaged` waits for news before answering anyway: it ends soon after staging does, cancelled or not. */
const AWAIT_STAGED_MAX_MS = 2000;
const AWAIT_STAGED_POLL_MS = 50;
/**
 * An import's id, each time this process has written its progress file: `awaitStaged` in the same worker reads it at
 * once instead of at its next poll (25 ms later on average, on the way of the first chunks); another worker's polls.
 */
const progressNews = new EventEmitter().setMaxListeners(0);

/** `pollMs`: how often awaitStaged reads the progress file when no news comes from this process (tests make it long). */
export function createStageActivities(store: StagingStore, targets: TargetRegistry, thread?: StageThread, pollMs = AWAIT_STAGED_POLL_MS) {
  return {
    stage: createStageActivity(store, targets, thread),
    /**
     * Staging's progress once it shows more than `after` chunks committed and at least `batchMs` have passed (fewer
     * answers, fewer history events), once staging has ended, or after a couple of seconds without news.
     */
    async awaitStaged({ importId, after, batchMs }: { importId: string; after: number; batchMs: number }): Promise<StagedSoFar> {
      const ctx = Context.current();
      const started = Date.now();
      for (;;) {
        const soFar = await readStaged(store, importId);
        const waited = Date.now() - started;
        if (soFar.done || (soFar.chunks > after && waited >= batchMs) || waited >= AWAIT_STAGED_MAX_MS) return soFar;
        ctx.heartbeat();
        const news = new AbortController();
        try {
          // `once` rejects when aborted, after the race has been decided: the race handles that.
          await Promise.race([ctx.sleep(pollMs), once(progressNews, importId, { signal: news.signal })]);
        } finally {
          news.abort();
        }
      }
    },
  };
}

const nothingStaged: StagedSoFar = { chunks: 0, read: 0, valid: 0, invalid: 0, done: false };

async function readStaged(store: StagingStore, importId: string): Promise<StagedSoFar> {
  return (await stagedIfAny(store, importId)) ?? nothingStaged;
}

async function stagedIfAny(store: StagingStore, importId: string): Promise<StagedSoFar | undefined> {
  if (!(await store.exists(stagedKey(importId)))) return undefined;
  const [soFar] = await readAllJsonLines<StagedSoFar>(store, stagedKey(importId));
  return soFar;
}

/**
 * How the first chunk is cut: as an earlier attempt cut it, since its chunks may have been sent already. Its progress
 * file says (one without the field was written before the first chunk was cut short); chunks committed without a
 * progress file were staged before there was one, by a version that cut every chunk alike.
 */
async function firstChunkRule(store: StagingStore, importId: string, resumed: number): Promise<number | null> {
  const earlier = await stagedIfAny(store, importId);
  if (earlier) return earlier.firstChunkBytes ?? null;
  return resumed > 0 ? null : FIRST_CHUNK_BYTES;
}

/**
 * Chunk files written while the next chunk is built, committed in order as soon as each is written (the window sends a
 * chunk once it is committed): `committed` counts the complete ones from the first.
 */
class ChunkCommits {
  /** Written or being written, not yet committed. */
  private readonly pending: Promise<void>[] = [];
  /** The commits, one after another: each waits for its write and for the commits before it. */
  private commits: Promise<void> = Promise.resolve();
  constructor(
    public committed: number,
    /** Told of each commit before `committed` counts it: what it announces (the progress file) comes first. */
    private readonly onCommitted: (committed: number) => Promise<void>,
    // One chunk written while the next is built: a whole file's write is quick, and a pending chunk holds its products twice.
    private readonly depth = 2,
  ) {}

  async add(write: Promise<void>): Promise<void> {
    this.pending.push(write);
    this.commits = this.commits.then(() => this.commitOldest());
    // Awaited in order by the commits (a write after a failed one never is), and they below or by drain(): until then
    // a failure must not count as unhandled.
    write.catch(() => {});
    this.commits.catch(() => {});
    if (this.pending.length >= this.depth) await this.commits;
  }

  async drain(): Promise<void> {
    await this.commits;
  }

  private async commitOldest(): Promise<void> {
    await this.pending[0];
    this.pending.shift();
    await this.onCommitted(this.committed + 1);
    this.committed++;
  }
}

/**
 * Round 0's first chunk is cut at 1 MB at most: the window sends it while the rest is staged, so the first request leaves
 * within about a second even with 10 MB chunks (a 10 MB first chunk took 2-2.5 s to stage and send). One more request.
 */
const FIRST_CHUNK_BYTES = 1_000_000;

/** The progress file at most every PROGRESS_EVERY_MS, the first chunk at once: the workflow sends it as soon as it is there. */
const PROGRESS_EVERY_MS = 200;

export function createStage(store: StagingStore, targets: TargetRegistry) {
  return async function stage(input: ImportInput, ctx: StageContext): Promise<StageResult> {
    const target = targets.bind(input);
    const format = detectFormat(input.source.location, input.source.format);
    const mapping = compiledMapping(input);
    const resumed = (ctx.heartbeatDetails as StageHeartbeat | undefined)?.chunksCommitted ?? 0;
    if (resumed) ctx.log('info', 'Staging resumes after a restart', { chunksCommitted: resumed });

    const run = ctx.workflowExecution;
    if (run) await claimImportId(store, input.importId, { workflowId: run.workflowId, runId: run.runId });
    const leftovers = await removeLeftovers(store, input.importId, 0);
    if (leftovers) ctx.log('info', 'Removed the files an earlier attempt left half written', { files: leftovers });
    const invalid = await createSealedWriter(store, invalidKey(input.importId));
    // A duplicate's first occurrence is confirmed from memory or from its committed chunk file (see KeySet).
    const keys = new KeySet({
      committed: () => commits.committed,
      readChunk: (index) => readChunkHeads(store, input.importId, chunkId(0, index)),
    });
    // Delta sync: products the target confirmed as they are now are not sent (see staging/delta.ts).
    const { skipUnchanged, full } = input.options;
    const delta =
      skipUnchanged && !full ? await importLedger(store, input.importId, target.deltaScope(), (why) => ctx.log('warn', why)) : undefined;
    const unchanged = delta ? await createSealedWriter(store, unchangedKey(input.importId)) : undefined;
    // A body is the record itself, in its own key order, where validation returns it unchanged: its line as it is where
    // that is safe (sendableAsIs), which saves serializing it, and the record is its body byte for byte, stored once
    // (encodeItem). The ledger's content hashes are of the bodies in the schema's order, as they always were: an import
    // that keeps it sends those, or every product would look changed.
    const bodyIsRecord = !keepsLedger(input.options) && outputIsInput(target.productSchema);
    // Where the body is the record, a record the schema surely accepts as it is needs no copy made by validation.
    const acceptedAsGiven = bodyIsRecord ? asGivenCheck(target.productSchema) : undefined;
    // And a JSON line that a test of its text is sure of is neither parsed nor walked: it is its own body. keyOf reads only
    // the fields its key columns name, and the test keeps their values for it.
    const precheck =
      acceptedAsGiven && !mapping && format === 'jsonl'
        ? asGivenTextCheck(target.productSchema, target.csvKeyColumns.columns, MAX_NESTING_DEPTH)
        : undefined;
    const counts: { read: number; valid: number; invalid: number; unchanged?: number } = {
      read: 0,
      valid: 0,
      invalid: 0,
      ...(delta ? { unchanged: 0 } : {}),
    };
    let columns: string[] | undefined;

    const reject = (row: InvalidRow) => {
      counts.invalid++;
      return invalid.write(JSON.stringify(row));
    };
    let progressWritten = 0;
    // One write at a time, in order: a trailing write still under way must never land after the last (done) one.
    let progressWrites = Promise.resolve();
    let trailing: NodeJS.Timeout | undefined;
    const firstChunkBytes = await firstChunkRule(store, input.importId, resumed);
    const writeProgress = (done: boolean, chunks = commits.committed) => {
      clearTimeout(trailing);
      trailing = undefined;
      progressWritten = Date.now();
      const soFar: StagedSoFar = { chunks, ...counts, done, firstChunkBytes };
      progressWrites = progressWrites.then(() => writeLines(store, stagedKey(input.importId), [JSON.stringify(soFar)]));
      return progressWrites.then(() => {
        progressNews.emit(input.importId);
      });
    };
    // The progress file before any heartbeat counts a chunk: a later attempt told of committed chunks finds how they were cut.
    const commits = new ChunkCommits(0, async (committed) => {
      const since = Date.now() - progressWritten;
      if (committed === 1 || since >= PROGRESS_EVERY_MS) await writeProgress(false, committed);
      // Announced once the pause is over, not at the next commit: after a burst, the source may stall for long.
      // A failed write fails the next one, which staging awaits.
      else trailing ??= setTimeout(() => writeProgress(false).catch(() => {}), PROGRESS_EVERY_MS - since);
      ctx.heartbeat({ chunksCommitted: Math.max(committed, resumed), read: counts.read } satisfies StageHeartbeat);
    });
    // Writing a chunk overlaps reading the next: staging no longer waits for the disk. A chunk goes to its file as it is
    // cut (where the store can), so neither it nor the one being written is held whole: 22 MB each for Voucherify's.
    const chunker = new Chunker(
      target.limits,
      target.envelopeBytes,
      (index, draft) =>
        commits.add(index >= resumed ? writeChunkDraft(store, input.importId, chunkId(0, index), draft) : Promise.resolve()),
      {
        firstChunkBytes: firstChunkBytes ?? undefined,
        draftFor: (index) => (index >= resumed ? ChunkDraft.streamed(store, input.importId, chunkId(0, index)) : new ChunkDraft()),
      },
    );

    let lastBeat = Date.now();
    const beat = () => {
      lastBeat = Date.now();
      ctx.heartbeat({ chunksCommitted: Math.max(commits.committed, resumed), read: counts.read } satisfies StageHeartbeat);
    };
    /** The source broke for good: what was read is staged as it is, so the chunks already sent get their report. */
    const sealIncomplete = async (err: SourceError) => {
      await chunker.flush();
      await commits.drain();
      await invalid.close();
      await unchanged?.close();
      const meta: ImportMeta = {
        format,
        columns,
        source: input.source.location,
        counts: { ...counts, chunks: chunker.chunks },
        incomplete: err.message,
      };
      await writeLines(store, metaKey(input.importId), [JSON.stringify(meta)]);
      await writeProgress(true);
    };
    const { encoding, delimiter, recordsPath } = input.source;
    const readOptions: ReadSourceOptions = {
      signal: ctx.signal,
      ...(encoding !== undefined ? { encoding } : {}),
      ...(delimiter !== undefined ? { delimiter } : {}),
      ...(recordsPath !== undefined ? { recordsPath } : {}),
      // A mapping makes the key from columns of the source's own, which only its records can show.
      ...(mapping ? {} : { keyColumns: target.csvKeyColumns }),
      ...(precheck ? { precheck } : {}),
      onNote: (message, level = 'info') => ctx.log(level, `Source: ${message}`),
      // Long stretches without a record (a wrapper object before its array, one huge line) must not look like a dead worker.
      onBytes: () => {
        if (Date.now() - lastBeat >= 1000) beat();
      },
    };

    try {
      const { redriveOf } = input.source;
      const source = redriveOf
        ? readRedriveSource(store, redriveOf, format, readOptions)
        : readSourceBatches(input.source.location, format, readOptions);
      for await (const batch of source)
        for (const sourced of batch) {
          counts.read++;
          if (counts.read % 5000 === 0) beat();
          // A line the text check was sure of is its own body, keyed by the values it kept; parsed only if keyOf refuses them.
          const sureKey = 'sure' in sourced ? keyIfAny(target, sourced.sure) : undefined;
          const item = 'sure' in sourced && sureKey === undefined ? jsonRecord(sourced.line, sourced.json)! : sourced;
          if ('error' in item) {
            await reject({ line: item.line, errors: [{ path: '', message: item.error }], text: item.text });
            continue;
          }
          let key: string;
          let body: string;
          if ('sure' in item) {
            key = sureKey!;
            body = item.json;
          } else {
            let record = item.record;
            if (format === 'csv') columns ??= Object.keys(record as Record<string, string>);
            if (mapping) {
              // The mapping sees the record as the source has it (a CSV row flat, with its own column names).
              const mapped = await mapping.apply(record);
              if ('error' in mapped) {
                await reject({ line: item.line, errors: [mapped.error], raw: item.record });
                continue;
              }
              record = mapped.product;
            } else if (format === 'csv') {
              record = target.fromCsvRow(record as Record<string, string>);
            }
            // A cell may hold JSON (attributes), and a mapping may build anything: checked as JSON lines are, before anything recurses into it.
            if ((mapping || format === 'csv') && nestedDeeperThan(record, MAX_NESTING_DEPTH)) {
              await reject({ line: item.line, errors: [{ path: '', message: tooDeepMessage }], raw: item.record });
              continue;
            }
            // A JSON line is looked through only when its text may hold the key; a built record (CSV, mapping) always is.
            const text = record === item.record ? item.json : undefined;
            const protoAt = text === undefined || mayHoldProtoKey(text) ? protoKeyPath(record) : undefined;
            if (protoAt !== undefined) {
              await reject({
                line: item.line,
                key: keyIfAny(target, record),
                errors: [{ path: protoAt, message: protoKeyMessage }],
                raw: item.record,
              });
              continue;
            }
            const parsed = acceptedAsGiven?.(record) ? { success: true as const, data: record } : target.productSchema.safeParse(record);
            if (!parsed.success) {
              const errors = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
              await reject({ line: item.line, key: keyIfAny(target, record), errors, raw: item.record });
              continue;
            }
            try {
              key = target.keyOf(parsed.data);
            } catch (err) {
              // The key may depend on the import's options (Propeller's lookupKey id needs an id).
              await reject({
                line: item.line,
                errors: [{ path: '', message: err instanceof Error ? err.message : String(err) }],
                raw: item.record,
              });
              continue;
            }
            body =
              bodyIsRecord && text !== undefined && item.keys !== undefined && sendableAsIs(text, item.keys)
                ? text
                : JSON.stringify(bodyIsRecord ? record : parsed.data);
          }
          // A key first met unchanged (delta sync) is not in `keys`, as nothing was staged for it: the ledger has its line.
          const firstLine = (keys.mayHave(key) ? await keys.firstLine(key) : undefined) ?? delta?.seenLine(key);
          if (firstLine !== undefined) {
            await reject({
              line: item.line,
              key,
              errors: [{ path: '', message: `duplicate key ${key}: first seen at line ${firstLine}` }],
              raw: recordOf(item),
            });
            continue;
          }
          if (delta && unchanged && delta.unchanged(key, body)) {
            delta.markSeen(key, item.line);
            counts.unchanged!++;
            await unchanged.write(JSON.stringify({ line: item.line, key }));
            continue;
          }
          const rawJson = 'sure' in item ? item.json : (item.json ?? JSON.stringify(item.record));
          const staged: StagedItem = { line: item.line, key, rawJson, body };
          const bodyBytes = Buffer.byteLength(staged.body);
          const size = chunker.tooLarge(bodyBytes);
          if (size !== undefined) {
            keys.addUnstaged(key, item.line);
            await reject({
              line: item.line,
              key,
              errors: [{ path: '', message: tooLargeMessage(size, target.limits) }],
              raw: recordOf(item),
            });
            continue;
          }
          counts.valid++;
          // Awaited only when it cuts a chunk: a promise per record costs more than the rest of its bookkeeping.
          const cut = chunker.add(staged, bodyBytes);
          if (cut) await cut;
          keys.add(key, item.line, chunker.chunks);
        }
      if (counts.read === 0) {
        const what = {
          csv: 'it is empty, or has a header row and no rows',
          json: 'it is empty, or an empty array',
          jsonl: 'it is empty or blank',
        }[format];
        const where = redactLocation(input.source.location);
        throw new SourceError(
          `the source ${where} holds no records (${what}); check that it is the right file and was exported completely`,
        );
      }
      await chunker.flush();
      await commits.drain();
      await invalid.close();
      await unchanged?.close();
    } catch (err) {
      // No progress written once the attempt has failed, but by sealing (its own, last; its commits may set a timer again).
      clearTimeout(trailing);
      // Only the last attempt may seal: an earlier one's partial last chunk would differ from the next attempt's.
      if (err instanceof SourceError && !retryableNow(err, ctx.attempt)) {
        await sealIncomplete(err).catch(async (sealErr) => {
          ctx.log('warn', 'Could not seal what was staged', { error: String(sealErr) });
          await Promise.all([invalid.abort(), unchanged?.abort(), chunker.abort()]);
        });
      } else {
        await Promise.all([invalid.abort(), unchanged?.abort(), chunker.abort()]);
      }
      clearTimeout(trailing);
      throw err;
    }
    const result = { ...counts, chunks: chunker.chunks };
    const meta: ImportMeta = { format, columns, source: input.source.location, counts: result };
    await writeLines(store, metaKey(input.importId), [JSON.stringify(meta)]);
    await writeProgress(true);
    return result;
  };
}

/** The import's mapping, compiled once for this attempt; one that does not compile fails staging at once, naming the field. */
function compiledMapping(input: ImportInput) {
  if (!input.mapping) return undefined;
  try {
    return compileMapping(input.mapping);
  } catch (err) {
    if (!(err instanceof MappingError)) throw err;
    throw ApplicationFailure.create({ type: INVALID_MAPPING, message: `The mapping is invalid: ${err.message}`, nonRetryable: true });
  }
}

/** What to do is the target's to say (which option to raise, up to what); the size is ours. */
function tooLargeMessage(size: number, limits: ChunkLimits): string {
  const over = `the product alone makes a ${size.toLocaleString('en-US')}-byte request`;
  return limits.tooLarge
    ? `${over}, ${limits.tooLarge}`
    : `${over}, over the target's limit of ${limits.maxBodyBytes?.toLocaleString('en-US')}`;
}

/** The record as the report keeps it, for a rejection: a line the text check was sure of is parsed only then. */
function recordOf(item: { record: unknown } | { json: string; sure: unknown }): unknown {
  return 'sure' in item ? JSON.parse(item.json) : item.record;
}

/** The key of a record that failed validation, when it has one, so the report can name it. */
function keyIfAny(target: BoundTarget, record: unknown): string | undefined {
  try {
    const key = target.keyOf(record);
    return typeof key === 'string' || typeof key === 'number' ? String(key) : undefined;
  } catch {
    return undefined;
  }
}
