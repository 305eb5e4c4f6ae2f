/**
 * Per-chunk work: submit it, follow an asynchronous action to its end, or record why it failed.
 * Every result goes to the chunk's outcome file; the workflow gets counts only.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { zeroOutcomes, type ImportInput, type OutcomeCounts } from '../common/import';
import { FailureType, type QuotaSeen } from '../targets/http';
import type { ItemOutcome, StagedItem } from '../targets/types';
import { readChunk, writeChunk, writeOutcomes } from './staging/files';
import type { StagingStore } from './staging/store';
import type { TargetRegistry } from './targets';

export interface ChunkRequest {
  input: ImportInput;
  chunkId: string;
  /** Epoch ms: a quota window opens then; the workflow scheduled the submission a little ahead of it. */
  notBefore?: number;
}

export type SubmitResult =
  /** An asynchronous target took the chunk: poll this action. */
  | { kind: 'accepted'; actionId: string; products: number; quota?: QuotaSeen }
  /** A synchronous target answered for every product. */
  | { kind: 'completed'; counts: OutcomeCounts }
  /** The request was too large: these halves replace the chunk. */
  | { kind: 'split'; parts: string[] };

export function countOutcomes(outcomes: ItemOutcome[], unknownOutcomeRetries = 0): OutcomeCounts {
  const counts = zeroOutcomes();
  counts.unknownOutcomeRetries = unknownOutcomeRetries;
  for (const outcome of outcomes) {
    if (outcome.ok) counts.succeeded++;
    else if (outcome.invalid) counts.invalid++;
    else if (outcome.retryable) counts.retryable++;
    else counts.failed++;
  }
  return counts;
}

/** Waits in short steps so the heartbeat keeps flowing and cancellation is noticed. */
async function patientSleep(ms: number, details: unknown): Promise<void> {
  const ctx = Context.current();
  for (let left = ms; left > 0; left -= 10_000) {
    ctx.heartbeat(details);
    await ctx.sleep(Math.min(left, 10_000));
  }
  ctx.heartbeat(details);
}

const MAX_QUEUED_POLL_INTERVAL_MS = 30_000;

export function createChunkActivities(store: StagingStore, targets: TargetRegistry) {
  async function record(input: ImportInput, id: string, items: StagedItem[], outcomes: ItemOutcome[], unknown = 0): Promise<OutcomeCounts> {
    await writeOutcomes(store, input.importId, id, items, outcomes);
    return countOutcomes(outcomes, unknown);
  }

  return {
    async submitChunk({ input, chunkId, notBefore }: ChunkRequest): Promise<SubmitResult> {
      const ctx = Context.current();
      if (notBefore !== undefined && notBefore > Date.now()) await ctx.sleep(notBefore - Date.now());
      const api = targets.api(input.target);
      const items = await readChunk(store, input.importId, chunkId);
      const submitCtx = targets.context(input, { signal: ctx.cancellationSignal, heartbeat: (d) => ctx.heartbeat(d), lastHeartbeat: ctx.info.heartbeatDetails });
      if (api.mode === 'synchronous') {
        const answer = await api.submit(items, submitCtx);
        return { kind: 'completed', counts: await record(input, chunkId, items, answer.outcomes, answer.unknownOutcomeRetries) };
      }
      const answer = await api.submit(items, submitCtx);
      if (answer.accepted) return { kind: 'accepted', actionId: answer.actionId, products: items.length, ...(answer.quota ? { quota: answer.quota } : {}) };
      if (items.length === 1) {
        const error = 'the product alone is larger than the target accepts in one request';
        return { kind: 'completed', counts: await record(input, chunkId, items, [{ ok: false, retryable: false, invalid: true, error }]) };
      }
      const half = Math.ceil(items.length / 2);
      const parts = [`${chunkId}.0`, `${chunkId}.1`];
      await writeChunk(store, input.importId, parts[0]!, items.slice(0, half));
      await writeChunk(store, input.importId, parts[1]!, items.slice(half));
      ctx.log.info('Chunk too large for the target: split in two', { chunkId, products: items.length });
      return { kind: 'split', parts };
    },

    /** A heartbeating poll loop: one activity however long the action waits, so history doesn't grow with polls. */
    async awaitAction({ input, chunkId, actionId }: ChunkRequest & { actionId: string }): Promise<OutcomeCounts> {
      const ctx = Context.current();
      const api = targets.api(input.target);
      if (api.mode !== 'async-action') throw ApplicationFailure.nonRetryable(`${input.target} has no asynchronous actions to await`);
      // A slow poll answer must not outlast the heartbeat timeout either.
      const pollCtx = targets.context(input, { signal: ctx.cancellationSignal, heartbeat: (d) => ctx.heartbeat(d) });
      let delay = input.options.pollIntervalMs;
      for (;;) {
        let poll;
        try {
          poll = await api.poll(actionId, pollCtx);
        } catch (err) {
          if (err instanceof ApplicationFailure && err.type === FailureType.rejected && (err.details?.[0] as { status?: number })?.status === 404) {
            const items = await readChunk(store, input.importId, chunkId);
            return record(input, chunkId, items, items.map(() => ({ ok: false, retryable: true, error: `async action ${actionId} is unknown to the target` })));
          }
          if (!(err instanceof ApplicationFailure) || err.nonRetryable) throw err;
          // Rate limits and server errors while polling only delay the poll.
          const wait = typeof err.nextRetryDelay === 'number' ? err.nextRetryDelay : delay * 2;
          await patientSleep(wait, { actionId, waiting: err.type });
          continue;
        }
        if (poll.finished) {
          const items = await readChunk(store, input.importId, chunkId);
          return record(input, chunkId, items, items.map(poll.outcomeOf));
        }
        await patientSleep(delay, { actionId, status: poll.status, progress: poll.progress });
        // Back off while the action waits behind others; poll at the base rate once it runs.
        delay = poll.status === 'ENQUEUED' ? Math.min(delay * 1.5, MAX_QUEUED_POLL_INTERVAL_MS) : input.options.pollIntervalMs;
      }
    },

    /** Records a chunk whose submission failed for good, so every product still gets an outcome. */
    async failChunk({ input, chunkId, error, retryable }: ChunkRequest & { error: string; retryable: boolean }): Promise<OutcomeCounts> {
      const items = await readChunk(store, input.importId, chunkId);
      return record(input, chunkId, items, items.map(() => ({ ok: false, retryable, error })));
    },
  };
}
