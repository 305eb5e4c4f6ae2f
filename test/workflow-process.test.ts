/**
 * The import's process with stub activities, each case in seconds: a 413 split, retry rounds and their backoff,
 * a cancel while chunks are in flight, continue-as-new carrying the books, and a pause mid-import.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { cancelSignal, pauseSignal, progressQuery, resumeSignal } from '../client';
import { eventually } from './helpers';
import { allSucceed, counts, report, runWith, staged } from './workflow-stubs';

/** A gate a stub waits on until the test opens it. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { open, opened };
}

describe('the import process with stub activities', { concurrency: 3, timeout: 120_000 }, () => {
  test('search attributes follow the status at once and the counts at a rhythm, not one history event per chunk', async () => {
    const outcome = await runWith('process-rhythm', allSucceed(40), { concurrency: 4 });
    assert.equal(outcome.summary?.status, 'completed');
    assert.equal(outcome.searchStatus, 'Completed');
    assert.equal(outcome.succeededAttribute, 80, 'the last counts are published with the last status');
    // Staging, submitting, reporting, completed, and a count or two between: not 40 chunks' worth.
    assert.ok(outcome.upserts <= 10, `${outcome.upserts} upserts for 40 chunks`);
  });

  test('a 413 split: the halves are submitted in place of their chunk, and counted once', async () => {
    const submitted: string[] = [];
    const outcome = await runWith('process-split', {
      stage: async () => staged(2),
      submitChunk: async ({ chunkId }) => {
        submitted.push(chunkId);
        if (chunkId === 'r0-000000') return { kind: 'split', parts: ['r0-000000.0', 'r0-000000.1'] };
        return { kind: 'completed', counts: counts({ succeeded: chunkId.includes('.') ? 1 : 2 }) };
      },
      writeReport: async () => ({ ...report, counts: { ...report.counts, failed: 0, succeeded: 4 } }),
    });
    assert.equal(outcome.summary?.status, 'completed');
    assert.deepEqual(submitted, ['r0-000000', 'r0-000000.0', 'r0-000000.1', 'r0-000001']);
    assert.equal(outcome.summary?.counts.chunks, 3, 'two chunks, one of them split in two');
    assert.match(outcome.currentDetails, /\| succeeded \| 4 \|/);
  });

  test('retry rounds resubmit what may pass, after a growing backoff, until none is left or the rounds run out', async () => {
    const submitted: string[] = [];
    const planned: number[] = [];
    const outcome = await runWith(
      'process-rounds',
      {
        stage: async () => staged(2),
        submitChunk: async ({ chunkId }) => {
          submitted.push(chunkId);
          // Round 0: chunk 1 fails in a way that may pass; round 1: it fails again; round 2: it passes.
          const retryable = chunkId === 'r0-000001' || chunkId === 'r1-000000';
          return { kind: 'completed', counts: counts(retryable ? { retryable: 2 } : { succeeded: 2 }) };
        },
        planRetryRound: async ({ round }) => {
          planned.push(round);
          return { chunks: 1, products: 2 };
        },
        writeReport: async () => ({ ...report, counts: { ...report.counts, failed: 0, succeeded: 4 } }),
      },
      { retryRounds: 3, retryBackoffMs: 200 },
    );
    assert.equal(outcome.summary?.status, 'completed');
    assert.deepEqual(submitted, ['r0-000000', 'r0-000001', 'r1-000000', 'r2-000000']);
    assert.deepEqual(planned, [1, 2], 'no third round: nothing was left to retry');
    assert.equal(outcome.summary?.counts.retryRounds, 2);
    assert.ok((outcome.summary?.timings.durationMs ?? 0) >= 200 + 400, 'round n waited retryBackoffMs × 2^(n-1)');
  });

  test('the last round spent: products still waiting for a retry are failed, none is lost', async () => {
    let progressAtEnd: { failed: number; awaitingRetry: number } | undefined;
    const outcome = await runWith(
      'process-rounds-out',
      {
        stage: async () => staged(1),
        submitChunk: async () => ({ kind: 'completed', counts: counts({ retryable: 2 }) }),
        planRetryRound: async () => ({ chunks: 1, products: 2 }),
        writeReport: async () => report,
      },
      { retryRounds: 1 },
      async (handle) => {
        progressAtEnd = await eventually('the report phase', async () => {
          const p = await handle.query(progressQuery);
          return p.phase === 'reporting' || p.phase === 'completed' ? p : undefined;
        });
      },
    );
    assert.equal(outcome.summary?.status, 'completed');
    assert.deepEqual({ failed: progressAtEnd?.failed, awaitingRetry: progressAtEnd?.awaitingRetry }, { failed: 2, awaitingRetry: 0 });
  });

  test('a cancel while a chunk is in flight: it finishes, nothing new is submitted, the import ends cancelled', async () => {
    const release = gate();
    const submitted: string[] = [];
    const outcome = await runWith(
      'process-cancel',
      {
        stage: async () => staged(4),
        submitChunk: async ({ chunkId }) => {
          submitted.push(chunkId);
          if (chunkId === 'r0-000001') await release.opened;
          return { kind: 'completed', counts: counts({ succeeded: 2 }) };
        },
        writeReport: async () => ({ ...report, counts: { ...report.counts, failed: 0, succeeded: 4, notSubmitted: 4 } }),
      },
      {},
      async (handle) => {
        await eventually('chunk 1 in flight', () => (submitted.includes('r0-000001') ? true : undefined));
        await handle.signal(cancelSignal, 'test');
        await eventually('the cancel seen', async () => ((await handle.query(progressQuery)).cancelRequested ? true : undefined));
        release.open();
      },
    );
    assert.equal(outcome.summary?.status, 'cancelled');
    assert.equal(outcome.summary?.cancelReason, 'test');
    assert.deepEqual(submitted, ['r0-000000', 'r0-000001'], 'the chunk in flight finished; no chunk was sent after the cancel');
    assert.equal(outcome.searchStatus, 'Cancelled');
  });

  test('continue-as-new every chunk carries the books: counts, chunks and runs add up at the end', async () => {
    const outcome = await runWith('process-can', allSucceed(3), { chunksPerRun: 1 });
    assert.equal(outcome.summary?.status, 'completed');
    assert.equal(outcome.summary?.runs, 3, 'one run a chunk');
    assert.equal(outcome.summary?.counts.chunks, 3);
    assert.match(outcome.currentDetails, /\| submitted \| 6 \|/, 'the last run still counts the first runs’ products');
  });

  test('a pause mid-import: chunks in flight finish, nothing new goes out until resume', async () => {
    const submitted: string[] = [];
    const release = gate();
    let whilePaused = -1;
    const outcome = await runWith(
      'process-pause',
      {
        stage: async () => staged(3),
        submitChunk: async ({ chunkId }) => {
          submitted.push(chunkId);
          if (chunkId === 'r0-000000') await release.opened;
          return { kind: 'completed', counts: counts({ succeeded: 2 }) };
        },
        writeReport: async () => ({ ...report, counts: { ...report.counts, failed: 0, succeeded: 6 } }),
      },
      {},
      async (handle) => {
        await eventually('chunk 0 in flight', () => (submitted.length === 1 ? true : undefined));
        await handle.signal(pauseSignal);
        await eventually('the pause seen', async () => ((await handle.query(progressQuery)).paused ? true : undefined));
        release.open();
        await eventually('chunk 0 done', async () => ((await handle.query(progressQuery)).chunks.done === 1 ? true : undefined));
        // A moment for a submission that should not come.
        await new Promise((resolve) => setTimeout(resolve, 500));
        whilePaused = submitted.length;
        await handle.signal(resumeSignal);
      },
    );
    assert.equal(whilePaused, 1, 'nothing submitted while paused');
    assert.equal(outcome.summary?.status, 'completed');
    assert.deepEqual(submitted, ['r0-000000', 'r0-000001', 'r0-000002']);
  });
});
