/**
 * Per-chunk work: submit it, follow an asynchronous action to its end, or record why it failed.
 * Every result goes to the chunk's outcome file; the workflow gets counts only.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { HEARTBEAT_INTERVAL_MS } from '../common/timeouts';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { productsIn, zeroOutcomes, type ImportInput, type OutcomeCounts } from '../common/import';
import { FailureType, RETRY_FLOOR_MS, retryDelay, type QuotaSeen } from '../targets/http';
import type { FailedOutcome, ItemOutcome } from '../common/outcome';
import type { ItemHead } from '../targets/types';
import {
  chunkToSend,
  keepOutcomes,
  keptKey,
  keptOutcomes,
  readChunk,
  readChunkHeads,
  readChunkToSubmit,
  writeChunk,
} from './staging/files';
import { afterStaging } from './staging/busy';
import { recordAllSucceeded, recordOutcomes, writeRowsAhead } from './staging/rows';
import { keepsLedger } from './staging/delta';
import type { StagingStore } from './staging/store';
import { ActionPace, firstPollDelay, formatDuration, nextPollDelay } from './poll-schedule';
import { recordQuotaWait } from '../common/metrics';
import type { TargetRegistry } from './targets';

export interface ChunkRequest {
  input: ImportInput;
  chunkId: string;
  /** Epoch ms: a quota window opens then; the workflow scheduled the submission a little ahead of it. */
  notBefore?: number;
}

export type SubmitResult =
  /** An asynchronous target took the chunk: poll this action. */
  | {
      kind: 'accepted';
      actionId: string;
      products: number /** Sends after an attempt of unknown outcome (see AsyncActionApi). */;
      resends: number;
      quota?: QuotaSeen;
    }
  /** A synchronous target answered for every product. */
  | { kind: 'completed'; counts: OutcomeCounts; load?: SubmitLoad }
  /** The request was too large: these halves replace the chunk. */
  | { kind: 'split'; parts: string[] };

/** How a synchronous target coped with the chunk, for adaptive concurrency. */
export interface SubmitLoad {
  /** The time the target took to answer the chunk (this attempt), divided by its products. */
  latencyMsPerProduct: number;
  /** Earlier attempts of this chunk: a synchronous submission is retried only after 429, 5xx or no answer. */
  failedAttempts: number;
}

export function countOutcomes(outcomes: ItemOutcome[], unknownOutcomeRetries = 0): OutcomeCounts {
  const counts = zeroOutcomes();
  counts.unknownOutcomeRetries = unknownOutcomeRetries;
  for (const outcome of outcomes) counts[outcome.kind]++;
  return counts;
}

/** Counts of a chunk that failed as a whole, saying why, for the progress's `lastIssue`. */
function withIssue(counts: OutcomeCounts, chunkId: string, outcome: FailedOutcome): OutcomeCounts {
  const fate = outcome.kind === 'retryable' ? 'was set aside for a retry round' : 'failed';
  return { ...counts, issue: `chunk ${chunkId} (${productsIn(counts)} products) ${fate}: ${outcome.error}` };
}

/** Waits in short steps so the heartbeat keeps flowing; `signal` ends the wait (the activity's cancellation, or less). */
async function patientSleep(ms: number, details: unknown, signal: AbortSignal): Promise<void> {
  const ctx = Context.current();
  for (let left = ms; left > 0; left -= HEARTBEAT_INTERVAL_MS) {
    ctx.heartbeat(details);
    await sleep(Math.min(left, HEARTBEAT_INTERVAL_MS), undefined, { signal });
  }
  ctx.heartbeat(details);
}

const statusOf = (err: ApplicationFailure) => (err.details?.[0] as { status?: number } | undefined)?.status;

/** Failing polls back off up to this: a few requests a minute while the target is down, and back within 30 s once it is up. */
const MAX_FAILING_POLL_BACKOFF_MS = 30_000;

/** Per worker process: how long actions took per product, so the first poll of the next one is well timed. */
const pace = new ActionPace();

export function createChunkActivities(store: StagingStore, targets: TargetRegistry) {
  async function record(
    input: ImportInput,
    id: string,
    items: readonly ItemHead[],
    outcomes: ItemOutcome[],
    unknown = 0,
    rowsWritten = false,
  ): Promise<OutcomeCounts> {
    await recordOutcomes(store, input.importId, id, items, outcomes, !keepsLedger(input.options), rowsWritten);
    return countOutcomes(outcomes, unknown);
  }
  /** Every product of the chunk gets the same outcome: the chunk failed, or was set aside, as a whole (and says why). */
  async function recordWhole(input: ImportInput, chunkId: string, outcome: FailedOutcome): Promise<OutcomeCounts> {
    const items = await readChunkHeads(store, input.importId, chunkId);
    return withIssue(
      await record(
        input,
        chunkId,
        items,
        items.map(() => outcome),
      ),
      chunkId,
      outcome,
    );
  }

  return {
    async submitChunk({ input, chunkId, notBefore }: ChunkRequest): Promise<SubmitResult> {
      const ctx = Context.current();
      if (notBefore !== undefined && notBefore > Date.now()) await ctx.sleep(notBefore - Date.now());
      const api = targets.api(input.target);
      const submitCtx = targets.context(input, {
        signal: ctx.cancellationSignal,
        heartbeat: (d) => ctx.heartbeat(d),
        lastHeartbeat: ctx.info.heartbeatDetails,
      });
      if (api.mode === 'synchronous') {
        const items = await readChunkToSubmit(store, input.importId, chunkId);
        // A chunk of several requests: what an earlier attempt (or submission, before a 429's wait) got is not sent again.
        const answered = await keptOutcomes(store, input.importId, chunkId, items);
        let kept = answered !== undefined;
        const keep = (outcomes: readonly (ItemOutcome | undefined)[]) => {
          kept = true;
          return keepOutcomes(store, input.importId, chunkId, items, outcomes);
        };
        const started = performance.now();
        const answer = await api.submit(items, { ...submitCtx, ...(answered ? { answered } : {}), keep });
        const load = {
          latencyMsPerProduct: (performance.now() - started) / Math.max(1, items.length),
          failedAttempts: ctx.info.attempt - 1,
        };
        const counts = await record(input, chunkId, items, answer.outcomes, answer.unknownOutcomeRetries);
        if (kept) await store.remove(keptKey(input.importId, chunkId));
        return { kind: 'completed', counts, load };
      }
      // An asynchronous target gets the bodies as the staged bytes: the chunk is never decoded product by product.
      const chunk = await chunkToSend(store, input.importId, chunkId);
      const answer = await api.submit(chunk, submitCtx);
      if (answer.accepted)
        return {
          kind: 'accepted',
          actionId: answer.actionId,
          products: chunk.products,
          resends: answer.resends,
          ...(answer.quota ? { quota: answer.quota } : {}),
        };
      if (chunk.products === 1) {
        const error = 'the product alone is larger than the target accepts in one request';
        return { kind: 'completed', counts: await record(input, chunkId, await chunk.heads(), [{ kind: 'invalid', error }]) };
      }
      const items = await readChunk(store, input.importId, chunkId);
      const half = Math.ceil(items.length / 2);
      const parts = [`${chunkId}.0`, `${chunkId}.1`];
      await writeChunk(store, input.importId, parts[0]!, items.slice(0, half));
      await writeChunk(store, input.importId, parts[1]!, items.slice(half));
      ctx.log.info('Chunk too large for the target: split in two', { chunkId, products: items.length });
      return { kind: 'split', parts };
    },

    /**
     * A heartbeating poll loop: one activity however long the action waits, so history doesn't grow with polls.
     * Polls follow `poll-schedule.ts`; failed polls back off with jitter and, once they have failed for
     * `pollGiveUpMs` in a row, hand the chunk to a retry round with the reason.
     */
    async awaitAction({
      input,
      chunkId,
      actionId,
      stopIfFailing,
      products: given,
    }: ChunkRequest & { actionId: string; stopIfFailing?: boolean; products?: number }): Promise<OutcomeCounts> {
      const ctx = Context.current();
      const api = targets.api(input.target);
      if (api.mode !== 'async-action') throw ApplicationFailure.nonRetryable(`${input.target} has no asynchronous actions to await`);
      // A cancel of the import stops the polls only while they fail (a working target's answer is worth the wait); a worker
      // shutting down stops them at once, and another attempt follows the action. A slow poll answer heartbeats too.
      const stopPolls = new AbortController();
      let failingSince: number | undefined;
      const pollCtx = targets.context(input, { signal: stopPolls.signal, heartbeat: (d) => ctx.heartbeat(d) });
      const cancelledByImport = () => (ctx.cancellationSignal.reason as Error | undefined)?.message === 'CANCELLED';
      // `stopIfFailing`: the import was cancelled before this attempt began (a cancel of the activity itself says so later).
      const importCancelled = () => stopIfFailing === true || cancelledByImport();
      const onAbort = () => {
        if (!cancelledByImport() || failingSince !== undefined) stopPolls.abort(ctx.cancellationSignal.reason);
      };
      if (ctx.cancellationSignal.aborted) onAbort();
      else ctx.cancellationSignal.addEventListener('abort', onAbort, { once: true });
      /** Cancelled while polls fail: the outcome is unknown, and each product says so. */
      const unknownOnCancel = (why: string) =>
        recordAll({
          kind: 'failed',
          error: `the import was cancelled while ${why}: the outcome of async action ${actionId} is unknown (look it up in ${input.target})`,
        });
      const { pollIntervalMs: floorMs, pollGiveUpMs } = input.options;
      const began = Date.now();
      // The rows a success keeps, written while the target works (rows.ts, writeRowsAhead). Every outcome is recorded
      // after they are, so that an outcome that does not hold them removes them for good. Only by a first attempt: a
      // later one may find outcomes recorded, which rows written beside them would contradict until it records again.
      // They wait while this worker stages (the chunks to come wait for staging), and are not written ahead once the
      // action has ended. Resolves to how many rows were written, or false.
      const staging = afterStaging();
      const rowsAhead: Promise<number | false> =
        keepsLedger(input.options) || ctx.info.attempt > 1
          ? Promise.resolve(false)
          : staging.idle
              .then(async (idle) => {
                if (!idle) return false;
                const items = await readChunkHeads(store, input.importId, chunkId);
                return (await writeRowsAhead(store, input.importId, chunkId, items)) && items.length;
              })
              // Not written: the record writes them, as before.
              .catch(() => false);
      const rowsWritten = () => {
        staging.skip();
        return rowsAhead;
      };
      const recordAll = async (outcome: FailedOutcome) => {
        await rowsWritten();
        return recordWhole(input, chunkId, outcome);
      };
      // The submission's product count shapes the first poll; an import started before it was passed reads the chunk.
      const products = given ?? (await readChunkHeads(store, input.importId, chunkId)).length;
      const firstMs = firstPollDelay(products, pace.estimate(input.target), floorMs);
      let polls = 0;
      let notRunningAt = began;
      /** When a poll last found the action unfinished. */
      let unfinishedAt = began;
      let failures = 0;
      let pollsFailed = false;
      await patientSleep(firstMs, { actionId, waiting: 'first poll' }, stopPolls.signal);
      for (;;) {
        let poll;
        try {
          poll = await api.poll(actionId, pollCtx);
        } catch (err) {
          if (err instanceof ApplicationFailure && err.type === FailureType.rejected && statusOf(err) === 404) {
            return recordAll({ kind: 'retryable', error: `async action ${actionId} is unknown to the target` });
          }
          if (stopPolls.signal.aborted) {
            if (importCancelled()) return unknownOnCancel('its polls failed');
            throw ctx.cancellationSignal.reason;
          }
          if (!(err instanceof ApplicationFailure) || err.nonRetryable) throw err;
          failures++;
          pollsFailed = true;
          const rateLimited = err.type === FailureType.rateLimited;
          // A quota's 429 is a wait, not a failing target: it neither starts nor ends the give-up clock.
          if (!rateLimited) failingSince ??= Date.now();
          const failingFor = failingSince === undefined ? 0 : Date.now() - failingSince;
          const status = statusOf(err);
          const what = status ? `the target answered ${status} to every poll` : 'every poll failed';
          if (importCancelled()) return unknownOnCancel(`${what} for ${formatDuration(failingFor)}`);
          if (failingFor >= pollGiveUpMs) {
            ctx.log.warn('Polls kept failing: the chunk goes to a retry round', { chunkId, actionId, failingFor });
            return recordAll({ kind: 'retryable', error: `${what} for ${formatDuration(failingFor)}: ${err.message}` });
          }
          // toFailure's delay counts this activity's attempts; here the failures in a row set the backoff.
          const serverDelay = rateLimited ? err.nextRetryDelay : undefined;
          const backoff = retryDelay({ attempt: failures, serverDelayMs: serverDelay, rateLimited, maxMs: MAX_FAILING_POLL_BACKOFF_MS });
          const wanted = rateLimited ? backoff : Math.max(backoff, typeof err.nextRetryDelay === 'number' ? err.nextRetryDelay : 0);
          // The last try comes at the give-up time, not a whole backoff after it.
          const wait = failingSince === undefined ? wanted : Math.min(wanted, Math.max(RETRY_FLOOR_MS, pollGiveUpMs - failingFor));
          // The Web UI shows these details on the pending activity: why the poll waits, and for how long it has.
          const why = rateLimited
            ? err.message
            : `${what} for ${formatDuration(failingFor)} (gives up after ${formatDuration(pollGiveUpMs)})`;
          if (rateLimited) recordQuotaWait(ctx.metricMeter, input.target, wait / 1000);
          try {
            await patientSleep(wait, { actionId, waiting: err.type, failures, why }, stopPolls.signal);
          } catch (sleepErr) {
            if (importCancelled()) return unknownOnCancel(`${what} for ${formatDuration(Date.now() - (failingSince ?? Date.now()))}`);
            throw sleepErr;
          }
          continue;
        }
        failures = 0;
        failingSince = undefined;
        polls++;
        if (poll.finished) {
          // Only a wait that no failure stretched tells how fast the target works: at least until the last poll that
          // found it unfinished (or at most until now, found at the first poll).
          if (!pollsFailed) pace.observe(input.target, products, (polls === 1 ? Date.now() : unfinishedAt) - began, polls === 1);
          const rows = await rowsWritten();
          if (poll.allSucceeded && rows !== false) {
            // Every product succeeded and its rows are written: the outcome line says so, with no need of the heads again.
            await recordAllSucceeded(store, input.importId, chunkId, rows);
            return { ...zeroOutcomes(), succeeded: rows };
          }
          const items = await readChunkHeads(store, input.importId, chunkId);
          return record(input, chunkId, items, items.map(poll.outcomeOf), 0, rows !== false);
        }
        const now = Date.now();
        unfinishedAt = now;
        if (poll.status === 'ENQUEUED') notRunningAt = now;
        const delay = nextPollDelay({
          firstMs,
          floorMs,
          polls,
          elapsedMs: now - began,
          status: poll.status,
          progress: poll.progress,
          runningForMs: now - notRunningAt,
        });
        await patientSleep(delay, { actionId, status: poll.status, progress: poll.progress }, stopPolls.signal);
      }
    },

    /** Records a chunk whose submission failed for good, so every product still gets an outcome. */
    async failChunk({ input, chunkId, error, kind }: ChunkRequest & FailedOutcome): Promise<OutcomeCounts> {
      return recordWhole(input, chunkId, { kind, error });
    },
  };
}
