/**
 * The CLI's pure decisions: the exit code of an ended import, the root cause of a failure chain, and
 * the progress columns agreeing with the summary. No Temporal needed.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { ActivityFailure, ApplicationFailure, TimeoutFailure, WorkflowFailedError } from '@temporalio/client';
import { RetryState, TimeoutType } from '@temporalio/common';
import type { ImportProgress, ImportSummary } from '../common/import';
import { ExitCode, exitCodeOf, rootCause } from '../client/outcome';
import { progressLine, progressLines } from '../client/progress';

function summary(counts: Partial<ImportSummary['counts']>, status: ImportSummary['status'] = 'completed'): ImportSummary {
  const files = { resultsJsonl: 'r.jsonl', resultsCsv: 'r.csv', failedRecords: 'f.jsonl', invalidRows: 'i.jsonl' };
  return {
    importId: 'x',
    target: 'voucherify',
    status,
    source: '/x.jsonl',
    counts: {
      read: 0,
      valid: 0,
      invalid: 0,
      succeeded: 0,
      failed: 0,
      notSubmitted: 0,
      unknownOutcomeRetries: 0,
      chunks: 0,
      retryRounds: 0,
      ...counts,
    },
    timings: { startedAt: '', finishedAt: '', durationMs: 0 },
    files,
    runs: 1,
  };
}

describe('exit code of an ended import', () => {
  const cases: [string, Parameters<typeof exitCodeOf>[0], number][] = [
    ['every record succeeded', { summary: summary({ read: 10, valid: 10, succeeded: 10 }) }, ExitCode.ok],
    ['some invalid', { summary: summary({ read: 10, valid: 9, invalid: 1, succeeded: 9 }) }, ExitCode.partial],
    ['some failed at the target', { summary: summary({ read: 10, valid: 10, failed: 3, succeeded: 7 }) }, ExitCode.partial],
    [
      'cancelled with some not submitted',
      { summary: summary({ read: 10, valid: 10, notSubmitted: 4, succeeded: 6 }, 'cancelled') },
      ExitCode.partial,
    ],
    ['cancelled after everything succeeded', { summary: summary({ read: 5, valid: 5, succeeded: 5 }, 'cancelled') }, ExitCode.ok],
    ['every row invalid: nothing imported', { summary: summary({ read: 10, invalid: 10 }) }, ExitCode.failed],
    ['an empty catalog: nothing imported', { summary: summary({}) }, ExitCode.failed],
    ['cancelled before anything succeeded', { summary: summary({ read: 10, valid: 10, notSubmitted: 10 }, 'cancelled') }, ExitCode.failed],
    [
      'failed, even with a report of some successes',
      { failure: { message: 'x', report: { files: summary({}).files, counts: { succeeded: 3 } } } },
      ExitCode.failed,
    ],
    ['no summary and no failure', {}, ExitCode.failed],
  ];
  for (const [name, end, code] of cases) test(name, () => assert.equal(exitCodeOf(end), code));
});

describe('root cause of a failed import', () => {
  test('an activity failure: the activity\'s own message and type, not "Activity task failed"', () => {
    const cause = ApplicationFailure.nonRetryable('source file not found: /x/y.jsonl (check the path)', 'SourceError');
    const activity = new ActivityFailure('Activity task failed', 'stage', '1', RetryState.NON_RETRYABLE_FAILURE, 'worker', cause);
    const err = new WorkflowFailedError('Workflow execution failed', activity, RetryState.NON_RETRYABLE_FAILURE);
    assert.deepEqual(rootCause(err), { message: 'source file not found: /x/y.jsonl (check the path)', type: 'SourceError' });
  });

  test('a stopped import: its report is kept from whichever link carries it, the message from the deepest', () => {
    const report = { files: summary({}).files, counts: { succeeded: 0, notSubmitted: 12 } };
    const unauthorized = ApplicationFailure.nonRetryable('401 from Voucherify: check VOUCHERIFY_APP_TOKEN', 'Unauthorized');
    const activity = new ActivityFailure(
      'Activity task failed',
      'submitChunk',
      '7',
      RetryState.NON_RETRYABLE_FAILURE,
      'worker',
      unauthorized,
    );
    const stopped = ApplicationFailure.create({
      message: 'import stopped',
      type: 'ImportStopped',
      nonRetryable: true,
      details: [report],
      cause: activity,
    });
    const err = new WorkflowFailedError('Workflow execution failed', stopped, RetryState.NON_RETRYABLE_FAILURE);
    assert.deepEqual(rootCause(err), { message: '401 from Voucherify: check VOUCHERIFY_APP_TOKEN', type: 'Unauthorized', report });
  });

  test('a failure without a cause speaks for itself; a timeout is named by its class', () => {
    const stopped = ApplicationFailure.nonRetryable('staged 10 products but reported 8', 'StagingDamaged');
    assert.deepEqual(rootCause(new WorkflowFailedError('Workflow execution failed', stopped, RetryState.NON_RETRYABLE_FAILURE)), {
      message: 'staged 10 products but reported 8',
      type: 'StagingDamaged',
    });
    const timeout = new TimeoutFailure('Workflow timed out', undefined, TimeoutType.START_TO_CLOSE);
    assert.deepEqual(rootCause(new WorkflowFailedError('Workflow execution failed', timeout, RetryState.TIMEOUT)), {
      message: 'Workflow timed out',
      type: 'TimeoutFailure',
    });
    assert.deepEqual(rootCause(new Error('plain')), { message: 'plain' });
  });
});

test('the bars and the plain line count target-rejected products as invalid, as the summary does', () => {
  const p: ImportProgress = {
    importId: 'imp',
    target: 'propeller',
    phase: 'submitting',
    paused: false,
    cancelRequested: false,
    startedAt: '',
    asOf: '',
    read: 100,
    valid: 95,
    invalid: 5,
    submitted: 95,
    succeeded: 80,
    failed: 4,
    rejected: 7,
    awaitingRetry: 0,
    inFlight: 4,
    unknownOutcomeRetries: 0,
    chunks: { total: 10, inFlight: 1, done: 9 },
    retryRound: 0,
    concurrency: 4,
    throughputPerSecond: 10,
    etaSeconds: 1,
    runNumber: 1,
  };
  assert.match(progressLines(p)[2]!, /80 ok · 4 failed · 0 to retry · 4 in flight · 12 invalid/);
  assert.match(progressLine(p), /80 ok, 4 failed, 0 to retry, 4 in flight, 12 invalid/);
  assert.doesNotMatch(progressLines(p)[0]!, /reading/);
  assert.match(progressLines({ ...p, staging: true })[0]!, /^imp · submitting \(still reading the source: 100 records so far\) · /);
});
