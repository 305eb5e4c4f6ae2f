/**
 * Adaptive concurrency in the import: the real workflow on a real dev server, against the Propeller sandbox whose
 * latency grows with load, and with stub activities for the live ceiling.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { progressQuery, setConcurrencyUpdate, startImport, type StartImportRequest } from '../client';
import type { ImportProgress } from '../common/import';
import { writeCatalog } from '../scripts/catalog';
import { eventually, stubWorker, tempDir, uniqueTaskQueue, useTemporal } from './helpers';
import { sandboxFor, workerFor } from './harness';

const t = useTemporal();

describe('adaptive concurrency for Propeller', { concurrency: 2, timeout: 180_000 }, () => {
  test('against a server whose latency grows past its capacity, the limit ends near the capacity: not at the ceiling, not at 1', async (ctx) => {
    const capacity = 3;
    // 0.2 s per 20-product request up to 3 in flight; each one more adds 0.2 s to every request.
    const sandbox = await sandboxFor(ctx, 'propeller', { load: { capacity, msPerProduct: 10, slowdown: 1 } });
    const worker = await workerFor(ctx, t, sandbox.env, 'adaptive-load');
    const file = await writeCatalog(path.join(await tempDir('adaptive-load'), 'catalog.jsonl'), {
      target: 'propeller',
      count: 1600,
      format: 'jsonl',
    });
    const request = {
      target: 'propeller',
      source: { location: file },
      options: { chunkSize: 20, concurrency: 16, retryBackoffMs: 100, adaptiveConcurrency: true },
    };
    const handle = await startImport(t.client, request as StartImportRequest, {
      taskQueue: worker.taskQueue,
      workflowId: `adaptive-load-${Date.now()}`,
    });
    const summary = await handle.result();
    assert.equal(summary.counts.succeeded, 1600);
    const progress = await handle.query(progressQuery);
    assert.equal(progress.concurrency, 16);
    assert.ok(progress.adaptiveLimit !== undefined, 'the progress shows the adaptive limit');
    // Temporal's own work between a chunk's requests keeps fewer requests at the server than chunks in the window: up to twice as many.
    assert.ok(
      progress.adaptiveLimit >= 2 && progress.adaptiveLimit <= 2 * capacity,
      `limit ${progress.adaptiveLimit} near capacity ${capacity}`,
    );
  });

  test('setConcurrency lowers the ceiling live: once the chunks sent before it finish, no more than the new ceiling are in flight', async () => {
    const taskQueue = uniqueTaskQueue('adaptive-ceiling');
    let active = 0;
    let maxAfter = 0;
    let lowered = false;
    const before = new Set<string>();
    const load = { latencyMsPerProduct: 1, failedAttempts: 0 };
    const stubs = {
      stage: async () => ({ read: 400, valid: 400, invalid: 0, chunks: 200 }),
      submitChunk: async ({ chunkId }: { chunkId: string }) => {
        active++;
        if (!lowered) before.add(chunkId);
        else if (before.size === 0) maxAfter = Math.max(maxAfter, active);
        // Long enough for the update to reach the import while most chunks are still to come.
        await new Promise((resolve) => setTimeout(resolve, 250));
        active--;
        before.delete(chunkId);
        return { kind: 'completed', counts: { succeeded: 2, failed: 0, retryable: 0, invalid: 0, unknownOutcomeRetries: 0 }, load };
      },
      failChunk: async () => assert.fail('no chunk fails'),
      writeReport: async () => ({
        files: { resultsJsonl: '/tmp/r.jsonl', resultsCsv: '/tmp/r.csv', failedRecords: '/tmp/f.jsonl' },
        counts: { invalid: 0, succeeded: 400, failed: 0, notSubmitted: 0 },
      }),
    };
    const worker = await stubWorker(t, taskQueue, stubs);
    await worker.runUntil(async () => {
      const request = {
        target: 'propeller',
        source: { location: 'https://example.invalid/c.jsonl' },
        options: { concurrency: 8, chunkSize: 2, adaptiveConcurrency: true },
      };
      const start = { taskQueue, workflowId: `adaptive-ceiling-${Date.now()}`, countRecords: false };
      const handle = await startImport(t.client, request as StartImportRequest, start);
      // Steady latency: slow start reaches the ceiling of 8.
      await eventually('the adaptive limit reaches the ceiling', async () =>
        (await handle.query(progressQuery)).adaptiveLimit === 8 ? true : undefined,
      );
      assert.equal(await handle.executeUpdate(setConcurrencyUpdate, { args: [2] }), 8);
      lowered = true;
      const progress: ImportProgress = await handle.query(progressQuery);
      assert.deepEqual([progress.concurrency, progress.adaptiveLimit], [2, 2]);
      await handle.result();
    });
    assert.ok(maxAfter > 0, 'chunks were sent after the ceiling was lowered');
    assert.equal(maxAfter, 2);
  });
});
