/**
 * Every final failure of an activity ends the import in a defined state: the real workflow on a
 * real dev server, with stub activities that fail on purpose (a worker on a queue of its own).
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ApplicationFailure } from '@temporalio/common';
import { pauseSignal, progressQuery, resumeSignal, startImport, type StartImportRequest } from '../client';
import { BulkImportStatus } from '../common/search-attributes';
import { eventually, stubWorker, uniqueTaskQueue } from './helpers';
import { counts, failureOf, report, runWith, staged, t, type ReportRequest, type Stubs } from './workflow-stubs';

/** failChunk fails for good (the staging store is gone); writeReport succeeds and keeps what it was asked. */
const storeGoneAfterSubmit = (reported: ReportRequest[]): Stubs => ({
  failChunk: async () => {
    throw ApplicationFailure.nonRetryable('staging store unavailable: EIO', 'StagingUnavailable');
  },
  writeReport: async (req) => {
    reported.push(req as ReportRequest);
    return report;
  },
});

// A workflow task failing on every replay would leave the import Running: the timeout turns that hang into a failed test.
describe('an activity failing for good ends the import in a defined state', { concurrency: 3, timeout: 120_000 }, () => {
  test('failChunk failing for good: the chunks go to the report as unrecorded, and the import ends', async () => {
    const reported: ReportRequest[] = [];
    const outcome = await runWith('unrecorded', {
      stage: async () => staged(3),
      submitChunk: async () => {
        throw ApplicationFailure.nonRetryable('the target rejected the request', 'RequestRejected');
      },
      ...storeGoneAfterSubmit(reported),
    });
    assert.equal(outcome.failure, undefined, 'the report passed its own checks, so the import completes');
    assert.equal(outcome.status, 'COMPLETED');
    assert.equal(outcome.searchStatus, 'Completed');
    assert.equal(reported.length, 1);
    assert.deepEqual(
      reported[0]!.unrecorded,
      ['r0-000000', 'r0-000001', 'r0-000002'].map((chunkId) => ({ chunkId, error: 'staging store unavailable: EIO' })),
    );
  });

  test('failChunk failing after an action could not be followed: same, and the chunk is unrecorded', async () => {
    const reported: ReportRequest[] = [];
    const outcome = await runWith('unrecorded-poll', {
      stage: async () => staged(1),
      submitChunk: async () => ({ kind: 'accepted', actionId: 'aa_1', products: 2 }),
      awaitAction: async () => {
        throw ApplicationFailure.nonRetryable('Voucherify answered 500', 'ServerError');
      },
      ...storeGoneAfterSubmit(reported),
    });
    assert.equal(outcome.status, 'COMPLETED');
    assert.deepEqual(reported[0]!.unrecorded, [{ chunkId: 'r0-000000', error: 'staging store unavailable: EIO' }]);
  });

  test('stage failing with SourceError: Failed at once, root cause shown, search attribute Failed, no chunk submitted', async () => {
    let submitted = 0;
    const outcome = await runWith('stage-fails', {
      stage: async () => {
        const message = 'GET https://example.invalid/catalog.jsonl answered 404: check the URL';
        throw ApplicationFailure.create({ message, type: 'SourceError', nonRetryable: true });
      },
      submitChunk: async () => void submitted++,
    });
    const failure = failureOf(outcome);
    assert.equal(failure.type, 'SourceError');
    assert.match(failure.message, /^Staging failed: GET https:\/\/example\.invalid\/catalog\.jsonl answered 404: check the URL$/);
    assert.equal(outcome.searchStatus, 'Failed');
    assert.match(outcome.currentDetails, /^\*\*failed\*\* · /, 'the Web UI headline says failed, not staging');
    assert.equal(submitted, 0);
  });

  test('writeReport failing with StagingDamaged: Failed with its cause, carrying the partial report for `status`/`report`', async () => {
    const damaged = { ...report, gap: { staged: 6, reported: 4 } };
    const outcome = await runWith('report-fails', {
      stage: async () => staged(3),
      submitChunk: async () => ({ kind: 'completed', counts: counts({ succeeded: 2 }) }),
      writeReport: async () => {
        const message = '2 staged products have no row: chunk r0-000001 is missing';
        throw ApplicationFailure.create({ message, type: 'StagingDamaged', nonRetryable: true, details: [damaged] });
      },
    });
    const failure = failureOf(outcome);
    assert.equal(failure.type, 'StagingDamaged');
    assert.match(failure.message, /The report could not be written: 2 staged products have no row: chunk r0-000001 is missing/);
    assert.deepEqual(failure.details?.[0], damaged);
    assert.equal(outcome.searchStatus, 'Failed');
  });

  test('planRetryRound failing for good: retries stop, the report is written, the import fails naming the cause', async () => {
    let reports = 0;
    const outcome = await runWith(
      'plan-fails',
      {
        stage: async () => staged(2),
        submitChunk: async () => ({ kind: 'completed', counts: counts({ succeeded: 1, retryable: 1 }) }),
        planRetryRound: async () => {
          throw ApplicationFailure.nonRetryable('staging store unavailable: EIO', 'StagingUnavailable');
        },
        writeReport: async () => {
          reports++;
          return report;
        },
      },
      { retryRounds: 3 },
    );
    const failure = failureOf(outcome);
    const expected =
      /^retry round 1 could not be planned: staging store unavailable: EIO \(import stopped; report: \/tmp\/stub\/results\.jsonl\)$/;
    assert.match(failure.message, expected);
    assert.deepEqual(failure.details?.[0], report);
    assert.equal(reports, 1);
    assert.equal(outcome.searchStatus, 'Failed');
  });

  test('a misconfigured target on consecutive chunks before any success stops the import; no chunk is lost', async () => {
    const submitted: string[] = [];
    const failed: string[] = [];
    const outcome = await runWith('misconfigured', {
      stage: async () => staged(5),
      submitChunk: async ({ chunkId }) => {
        submitted.push(chunkId);
        const message =
          "Voucherify at http://127.0.0.1:9 refused the connection (ECONNREFUSED) on 3 attempts: check VOUCHERIFY_API_URL in the worker's env";
        throw ApplicationFailure.nonRetryable(message, 'TargetMisconfigured');
      },
      failChunk: async ({ chunkId }) => void failed.push(chunkId),
      writeReport: async () => report,
    });
    const failure = failureOf(outcome);
    assert.match(failure.message, /refused the connection \(ECONNREFUSED\) on 3 attempts: check VOUCHERIFY_API_URL/);
    assert.equal(failure.type, 'ImportStopped');
    // The first chunk is put back and tried again; the second time in a row stops the import.
    assert.deepEqual(submitted, ['r0-000000', 'r0-000000']);
    assert.deepEqual(failed, [], 'nothing recorded as failed: the unsent products are not-submitted');
    assert.equal(outcome.searchStatus, 'Failed');
  });

  test('after a success, a misconfigured answer is an ordinary failure: recorded as retryable, for the retry rounds', async () => {
    const recorded: { chunkId: string; retryable: boolean }[] = [];
    const outcome = await runWith('misconfigured-later', {
      stage: async () => staged(3),
      submitChunk: async ({ chunkId }) => {
        if (chunkId === 'r0-000000') return { kind: 'completed', counts: counts({ succeeded: 2 }) };
        throw ApplicationFailure.nonRetryable('Voucherify at http://x answered 404 to POST /v1/products/bulk/async', 'TargetMisconfigured');
      },
      failChunk: async ({ chunkId, kind }) => {
        recorded.push({ chunkId, retryable: kind === 'retryable' });
        return counts({ failed: 2 });
      },
      writeReport: async () => report,
    });
    assert.equal(outcome.status, 'COMPLETED');
    assert.deepEqual(recorded, [
      { chunkId: 'r0-000001', retryable: true },
      { chunkId: 'r0-000002', retryable: true },
    ]);
  });

  test('once the target has answered a chunk, even with nothing succeeded, a misconfigured answer is not fatal', async () => {
    const recorded: string[] = [];
    const outcome = await runWith('misconfigured-answered', {
      stage: async () => staged(3),
      submitChunk: async ({ chunkId }) => {
        if (chunkId === 'r0-000000') return { kind: 'accepted', actionId: 'aa_1', products: 2 };
        throw ApplicationFailure.nonRetryable(
          'Voucherify at http://x refused the connection (ECONNREFUSED) on 3 attempts',
          'TargetMisconfigured',
        );
      },
      awaitAction: async () => counts({ failed: 2 }),
      failChunk: async ({ chunkId }) => {
        recorded.push(chunkId);
        return counts({ failed: 2 });
      },
      writeReport: async () => report,
    });
    assert.equal(outcome.status, 'COMPLETED');
    assert.deepEqual(recorded, ['r0-000001', 'r0-000002']);
  });

  test('cancel while every chunk fails and its failure cannot be recorded: the import is cancelled with a report', async () => {
    let failChunkCalls = 0;
    let reports = 0;
    const outcome = await runWith(
      'cancel-while-failing',
      {
        stage: async () => staged(10_000),
        submitChunk: async () => {
          throw ApplicationFailure.nonRetryable('rejected', 'RequestRejected');
        },
        failChunk: async () => {
          failChunkCalls++;
          throw ApplicationFailure.nonRetryable('staging store unavailable: EIO', 'StagingUnavailable');
        },
        writeReport: async () => {
          reports++;
          return report;
        },
      },
      {},
      async (handle) => {
        await eventually('a few failures', () => failChunkCalls >= 3);
        await handle.cancel();
      },
    );
    assert.equal(outcome.failure, undefined);
    assert.equal(outcome.summary?.status, 'cancelled');
    assert.equal(outcome.searchStatus, 'Cancelled');
    assert.equal(reports, 1);
    assert.ok(failChunkCalls < 10_000, 'submission stopped at the cancel');
  });

  test('a completed import whose report has products without an outcome (outcome files removed) fails naming the gap', async () => {
    const outcome = await runWith('outcomes-gone', {
      stage: async () => staged(2),
      submitChunk: async () => ({ kind: 'completed', counts: counts({ succeeded: 2 }) }),
      writeReport: async () => ({ ...report, counts: { invalid: 0, succeeded: 2, failed: 0, notSubmitted: 2 } }),
    });
    const cause = failureOf(outcome);
    assert.equal(cause.type, 'StagingDamaged');
    assert.match(cause.message, /^2 products have no outcome although every chunk was submitted: outcome files were removed/);
    assert.deepEqual(
      cause.details?.[0],
      { ...report, counts: { invalid: 0, succeeded: 2, failed: 0, notSubmitted: 2 } },
      'the report travels with the failure',
    );
    assert.equal(outcome.searchStatus, 'Failed');
  });

  test('the Web UI counts products the target rejected as invalid, as the summary does', async () => {
    let metadata = '';
    const outcome = await runWith(
      'webui-invalid',
      {
        stage: async () => ({ read: 7, valid: 4, invalid: 3, chunks: 2 }),
        submitChunk: async () => ({ kind: 'completed', counts: counts({ succeeded: 1, invalid: 1 }) }),
        writeReport: async () => ({ ...report, counts: { invalid: 5, succeeded: 2, failed: 0, notSubmitted: 0 } }),
      },
      {},
      async (handle) => {
        await handle.result();
        metadata = String((await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata')).currentDetails);
      },
    );
    assert.equal(outcome.summary?.counts.invalid, 5);
    assert.match(metadata, /\| invalid \| 5 \|\n\| … of which rejected by the target \| 2 \|/, metadata);
  });

  test('an unexpected error in the workflow (an activity answering nonsense) fails the import, never its workflow task', async () => {
    const outcome = await runWith('unexpected', { stage: async () => null });
    const failure = failureOf(outcome);
    assert.equal(failure.type, 'ImportFailed');
    assert.match(failure.message, /^The import failed: .*null/);
    assert.equal(outcome.searchStatus, 'Failed');
  });

  test('input the workflow cannot parse fails the import at once, naming the field', async () => {
    const taskQueue = uniqueTaskQueue('bad-input');
    const worker = await stubWorker(t, taskQueue, {});
    const failure = await worker.runUntil(async () => {
      const request = { importId: 'bad-input', target: 'voucherify', source: { location: '/tmp/x.jsonl' }, options: { concurrency: 0 } };
      const handle = await t.client.workflow.start('importCatalog', { taskQueue, workflowId: `bad-input-${Date.now()}`, args: [request] });
      const ended = await handle.result().then(
        () => undefined,
        (err: unknown) => err,
      );
      return { failure: ended, searchStatus: (await handle.describe()).typedSearchAttributes.get(BulkImportStatus) };
    });
    const cause = failureOf(failure);
    assert.equal(cause.type, 'InvalidInput');
    assert.match(cause.message, /^The import's input is invalid: options\.concurrency: /);
    assert.equal(failure.searchStatus, 'Failed');
  });
});

describe('signals that reach the import before its first workflow task', { timeout: 120_000 }, () => {
  test('a pause sent right after the start holds the import (it does not fail the workflow task), and resume lets it finish', async () => {
    const taskQueue = uniqueTaskQueue('pause-first');
    let submitted = 0;
    const handle = await startImport(
      t.client,
      {
        target: 'voucherify',
        source: { location: 'https://example.invalid/catalog.jsonl' },
        options: { pollIntervalMs: 100, concurrency: 1, shareQuota: false },
      } as StartImportRequest,
      { taskQueue, workflowId: `pause-first-${Date.now()}`, countRecords: false },
    );
    // No worker yet: the start and the pause are both in the history before the first workflow task.
    await handle.signal(pauseSignal);
    const stubs: Stubs = {
      stage: async () => staged(2),
      submitChunk: async () => {
        submitted++;
        return { kind: 'completed', counts: counts({ succeeded: 2 }) };
      },
      writeReport: async () => ({ ...report, counts: { ...report.counts, failed: 0, succeeded: 4 } }),
    };
    const worker = await stubWorker(t, taskQueue, stubs);
    const summary = await worker.runUntil(async () => {
      const paused = await eventually('the import paused after staging', async () => {
        const p = await handle.query(progressQuery);
        return p.phase === 'submitting' && p.paused ? p : undefined;
      });
      assert.equal(paused.chunks.done, 0);
      assert.equal(submitted, 0, 'nothing is submitted while paused');
      await handle.signal(resumeSignal);
      return handle.result();
    });
    assert.equal(summary.status, 'completed');
    assert.equal(submitted, 2);
  });
});
