/**
 * The reason for a staging bucket: the workers of one import share no disk. Two worker processes whose staging folders
 * differ share only the bucket; the one that staged the catalog is SIGKILLed mid-import and the other finishes it,
 * reading the chunks and outcomes the dead one wrote. Every report row is true and the target holds every product.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { startImport, type ImportSummary } from '../client';
import { progressQuery } from '../workflows/messages';
import { RETRY_ROUNDS, writeCheckedCatalog } from '../scripts/chaos';
import { eventually, spawnWorkerProcess, tempDir, uniqueTaskQueue, useTemporal } from './helpers';
import { onEnd, sandboxFor } from './harness';
import { assertReportTrue, testBucket } from './s3';

const t = useTemporal();

test('two workers with different folders share only the bucket: one is SIGKILLed mid-import, all products land', async (ctx) => {
  const bucket = await testBucket('two-workers');
  // Slow enough (about 25 s of actions) that the kill lands while chunks are in flight.
  const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 11, productsPerSecond: 120 });
  const taskQueue = uniqueTaskQueue('s3-two-workers');
  const [dirA, dirB] = [await tempDir('s3-worker-a'), await tempDir('s3-worker-b')];
  const workerEnv = {
    ...sandbox.env,
    ...bucket.env,
    BULKPORT_STAGING_URL: bucket.url,
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  };
  const start = async (stagingDir: string) => {
    const worker = spawnWorkerProcess({ targetEnv: workerEnv, taskQueue, stagingDir });
    onEnd(ctx, () => worker.kill());
    await eventually('the worker polls', () => worker.stderr().includes('bulkport worker on') || undefined, 60_000);
    return worker;
  };

  const { catalog, file } = await writeCheckedCatalog(path.join(await tempDir('s3-two'), 'catalog.jsonl'), 'voucherify', 3000, 'two');
  const a = await start(dirA);
  const id = `s3-two-workers-${Date.now()}`;
  const handle = await startImport(
    t.client,
    {
      target: 'voucherify',
      source: { location: file },
      options: { chunkBytes: 20_000, concurrency: 4, pollIntervalMs: 200, retryBackoffMs: 200, retryRounds: RETRY_ROUNDS },
    },
    { taskQueue, workflowId: id },
  );
  // A alone stages the whole catalog into the bucket and starts submitting.
  const staged = await eventually('A staged the catalog and has chunks in flight', async () => {
    const p = await handle.query(progressQuery);
    return !p.staging && p.chunks.total > 0 && p.chunks.inFlight > 0 ? p : undefined;
  });
  const b = await start(dirB);
  await eventually('both workers at work', async () => {
    const p = await handle.query(progressQuery);
    return p.chunks.done >= 2 && p.chunks.inFlight > 0 ? p : undefined;
  });
  const before = await handle.query(progressQuery);
  await a.kill();
  assert.ok(before.chunks.done < staged.chunks.total, `killed mid-import (${before.chunks.done} of ${staged.chunks.total} chunks done)`);

  const summary = (await handle.result()) as ImportSummary;
  assert.equal(summary.status, 'completed', b.stderr());
  await assertReportTrue({ bucket, id, sandbox, catalog, summary });
  assert.equal(summary.counts.succeeded, sandbox.productCount(), 'every valid product landed');
  // Neither worker staged anything in its own folder: the bucket was all they shared, and all they used.
  assert.deepEqual([...(await readdir(dirA)), ...(await readdir(dirB))], []);
});
