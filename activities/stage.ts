/**
 * Stage: stream the source, validate every record with the target's schema, reject duplicate
 * keys, and cut the valid products into chunk files in the staging store. Invalid rows are kept
 * for the report. Progress is heartbeated; after a crash the activity reads the source again
 * (staging is deterministic) and skips writing the chunks it had already committed.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ImportInput, StageResult } from '../common/import';
import type { ChunkLimits, StagedItem } from '../targets/types';
import {
  detectFormat,
  MAX_NESTING_DEPTH,
  nestedDeeperThan,
  readSource,
  redactLocation,
  SourceError,
  tooDeepMessage,
  type ReadSourceOptions,
} from './sources';
import { Chunker } from './staging/chunker';
import {
  chunkId,
  claimImportId,
  createSealedWriter,
  invalidKey,
  metaKey,
  writeChunk,
  writeLines,
  type ImportMeta,
  type InvalidRow,
} from './staging/files';
import type { StagingStore } from './staging/store';
import type { BoundTarget, TargetRegistry } from './targets';

interface StageHeartbeat {
  chunksCommitted: number;
  read: number;
}

/** The ApplicationFailure type of a problem with the source as a whole. */
export const SOURCE_ERROR = 'SourceError';

/**
 * A SourceError as the workflow and the CLI see it: its own type and message, and not retried
 * unless trying again can pass (a 503, a reset connection), so a 404 or a bad header fails at once.
 */
function sourceFailure(err: SourceError, attempt: number): ApplicationFailure {
  const retryable = err.retryable && (err.maxAttempts === undefined || attempt < err.maxAttempts);
  return ApplicationFailure.create({ type: SOURCE_ERROR, message: err.message, nonRetryable: !retryable });
}

export function createStageActivity(store: StagingStore, targets: TargetRegistry) {
  const stage = createStage(store, targets);
  return async function stageSource(input: ImportInput): Promise<StageResult> {
    try {
      return await stage(input);
    } catch (err) {
      throw err instanceof SourceError ? sourceFailure(err, Context.current().info.attempt) : err;
    }
  };
}

function createStage(store: StagingStore, targets: TargetRegistry) {
  return async function stage(input: ImportInput): Promise<StageResult> {
    const ctx = Context.current();
    const target = targets.bind(input);
    const format = detectFormat(input.source.location, input.source.format);
    const resumed = (ctx.info.heartbeatDetails as StageHeartbeat | undefined)?.chunksCommitted ?? 0;
    if (resumed) ctx.log.info('Staging resumes after a restart', { chunksCommitted: resumed });

    const run = ctx.info.workflowExecution;
    if (run) await claimImportId(store, input.importId, { workflowId: run.workflowId, runId: run.runId });
    const invalid = await createSealedWriter(store, invalidKey(input.importId));
    const firstLineOfKey = new Map<string, number>();
    const counts = { read: 0, valid: 0, invalid: 0 };
    let columns: string[] | undefined;

    const reject = (row: InvalidRow) => {
      counts.invalid++;
      return invalid.write(JSON.stringify(row));
    };
    const chunker = new Chunker(target.limits, target.envelopeBytes, async (index, items) => {
      if (index >= resumed) await writeChunk(store, input.importId, chunkId(0, index), items);
      ctx.heartbeat({ chunksCommitted: index + 1, read: counts.read } satisfies StageHeartbeat);
    });

    let lastBeat = Date.now();
    const beat = () => {
      lastBeat = Date.now();
      ctx.heartbeat({ chunksCommitted: Math.max(chunker.chunks, resumed), read: counts.read } satisfies StageHeartbeat);
    };
    const { encoding, delimiter, recordsPath } = input.source;
    const readOptions: ReadSourceOptions = {
      signal: ctx.cancellationSignal,
      ...(encoding !== undefined ? { encoding } : {}),
      ...(delimiter !== undefined ? { delimiter } : {}),
      ...(recordsPath !== undefined ? { recordsPath } : {}),
      keyColumns: target.csvKeyColumns,
      onNote: (message, level = 'info') => ctx.log[level](`Source: ${message}`),
      // Long stretches without a record (a wrapper object before its array, one huge line) must not look like a dead worker.
      onBytes: () => {
        if (Date.now() - lastBeat >= 1000) beat();
      },
    };

    try {
      for await (const item of readSource(input.source.location, format, readOptions)) {
        counts.read++;
        if (counts.read % 5000 === 0) beat();
        if ('error' in item) {
          await reject({ line: item.line, errors: [{ path: '', message: item.error }], text: item.text });
          continue;
        }
        let record = item.record;
        if (format === 'csv') {
          columns ??= Object.keys(record as Record<string, string>);
          record = target.fromCsvRow(record as Record<string, string>);
          // A cell may hold JSON (attributes): checked as JSON lines are, before anything recurses into it.
          if (nestedDeeperThan(record, MAX_NESTING_DEPTH)) {
            await reject({ line: item.line, errors: [{ path: '', message: tooDeepMessage }], raw: item.record });
            continue;
          }
        }
        const parsed = target.productSchema.safeParse(record);
        if (!parsed.success) {
          const errors = parsed.error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message }));
          await reject({ line: item.line, key: keyIfAny(target, record), errors, raw: item.record });
          continue;
        }
        let key: string;
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
        const firstLine = firstLineOfKey.get(key);
        if (firstLine !== undefined) {
          await reject({
            line: item.line,
            key,
            errors: [{ path: '', message: `duplicate key ${key}: first seen at line ${firstLine}` }],
            raw: item.record,
          });
          continue;
        }
        firstLineOfKey.set(key, item.line);
        const staged: StagedItem = { line: item.line, key, raw: item.record, body: JSON.stringify(parsed.data) };
        const size = chunker.tooLarge(staged);
        if (size !== undefined) {
          await reject({
            line: item.line,
            key,
            errors: [{ path: '', message: tooLargeMessage(size, target.limits) }],
            raw: item.record,
          });
          continue;
        }
        counts.valid++;
        await chunker.add(staged);
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
      await invalid.close();
    } catch (err) {
      await invalid.abort();
      throw err;
    }
    const result = { ...counts, chunks: chunker.chunks };
    const meta: ImportMeta = { format, columns, source: input.source.location, counts: result };
    await writeLines(store, metaKey(input.importId), [JSON.stringify(meta)]);
    return result;
  };
}

/** What to do is the target's to say (which option to raise, up to what); the size is ours. */
function tooLargeMessage(size: number, limits: ChunkLimits): string {
  const over = `the product alone makes a ${size.toLocaleString('en-US')}-byte request`;
  return limits.tooLarge
    ? `${over}, ${limits.tooLarge}`
    : `${over}, over the target's limit of ${limits.maxBodyBytes?.toLocaleString('en-US')}`;
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
