/**
 * The real import workflow on the run's dev server with stub activities: a worker on a queue of its own runs one
 * import whose activities are what a test says (samples-typescript's style), so the workflow's logic is tested in seconds.
 */
import assert from 'node:assert/strict';
import { WorkflowFailedError } from '@temporalio/client';
import { ApplicationFailure } from '@temporalio/common';
import type { ImportActivities } from '../activities';
import { startImport, type ImportHandle, type StartImportRequest } from '../client';
import { zeroOutcomes, type OutcomeCounts, type StageResult } from '../common/import';
import { BulkImportStatus, BulkImportSucceeded } from '../common/search-attributes';
import { stubWorker, uniqueTaskQueue, useTemporal } from './helpers';

export const t = useTemporal();

export type Stubs = Partial<{ [K in keyof ImportActivities]: (...args: Parameters<ImportActivities[K]>) => unknown }>;
export type ReportRequest = Parameters<ImportActivities['writeReport']>[0] & { unrecorded?: { chunkId: string; error: string }[] };

export const report = {
  files: { resultsJsonl: '/tmp/stub/results.jsonl', resultsCsv: '/tmp/stub/results.csv', failedRecords: '/tmp/stub/failed.jsonl' },
  counts: { invalid: 0, succeeded: 0, failed: 4, notSubmitted: 0 },
};
export const staged = (chunks: number): StageResult => ({ read: chunks * 2, valid: chunks * 2, invalid: 0, chunks });
export const counts = (c: Partial<OutcomeCounts>): OutcomeCounts => ({ ...zeroOutcomes(), ...c });

/** An import of `chunks` chunks (two products each) that all succeed, with the report to match. */
export const allSucceed = (chunks: number): Stubs => ({
  stage: async () => staged(chunks),
  submitChunk: async () => ({ kind: 'completed', counts: counts({ succeeded: 2 }) }),
  writeReport: async () => ({ ...report, counts: { ...report.counts, failed: 0, succeeded: chunks * 2 } }),
});

/** Runs one import on a worker with `stubs` as its activities; returns how it ended and what the activities saw. */
export async function runWith(
  name: string,
  stubs: Stubs,
  options: Record<string, unknown> = {},
  during?: (handle: ImportHandle) => Promise<void>,
) {
  const taskQueue = uniqueTaskQueue(name);
  const worker = await stubWorker(t, taskQueue, stubs);
  return worker.runUntil(async () => {
    const request = {
      target: 'voucherify',
      source: { location: 'https://example.invalid/catalog.jsonl' },
      // The stubs pace alone (no account coordinator among them; test/quota.test.ts covers it).
      options: { pollIntervalMs: 100, retryBackoffMs: 100, concurrency: 1, shareQuota: false, ...options },
    };
    const handle = await startImport(t.client, request as StartImportRequest, {
      taskQueue,
      workflowId: `${name}-${Date.now()}`,
      countRecords: false,
    });
    await during?.(handle);
    const outcome = await handle.result().then(
      (summary) => ({ summary, failure: undefined }),
      (err: unknown) => ({ summary: undefined, failure: err }),
    );
    const description = await handle.describe();
    const { currentDetails } = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    const searchStatus = description.typedSearchAttributes.get(BulkImportStatus);
    const succeededAttribute = description.typedSearchAttributes.get(BulkImportSucceeded);
    // Each upsert of the search attributes is a history event of its own.
    const upserts = ((await handle.fetchHistory()).events ?? []).filter((e) => e.upsertWorkflowSearchAttributesEventAttributes).length;
    return {
      ...outcome,
      status: description.status.name,
      searchStatus,
      succeededAttribute,
      upserts,
      currentDetails: String(currentDetails),
    };
  });
}

/** The import's own failure (the workflow's cause), asserting it failed as an ApplicationFailure. */
export function failureOf(outcome: { failure: unknown }): ApplicationFailure {
  assert.ok(outcome.failure instanceof WorkflowFailedError, `the import failed, got ${String(outcome.failure)}`);
  assert.ok(outcome.failure.cause instanceof ApplicationFailure, 'with an ApplicationFailure, not a timeout or a workflow-task failure');
  return outcome.failure.cause;
}
