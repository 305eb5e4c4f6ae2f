/**
 * Staging survives a crash: a worker killed with SIGKILL while it stages resumes from the last
 * heartbeat the server recorded, leaves the chunks committed before it alone, and loses nothing.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { defaultPayloadConverter } from '@temporalio/common';
import { startImport } from '../client';
import { writeCatalog } from '../scripts/catalog';
import { eventually, spawnWorkerProcess, tempDir, useTemporal, uniqueTaskQueue } from './helpers';
import { onEnd, sandboxFor } from './harness';

const t = useTemporal();

test('a worker killed while staging resumes from its last heartbeat and the import loses nothing', async (ctx) => {
  const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 2 });
  const dir = await tempDir('stage-kill');
  const count = 300_000;
  const file = await writeCatalog(path.join(dir, 'stage-kill.jsonl'), {
    target: 'voucherify',
    count,
    format: 'jsonl',
    invalidEvery: 1000,
    keyPrefix: 'stagekill',
  });
  const stagingDir = path.join(dir, 'staging');
  const taskQueue = uniqueTaskQueue('stage-kill');
  const worker = () => spawnWorkerProcess({ targetEnv: sandbox.env, taskQueue, stagingDir });
  let running = worker();
  onEnd(ctx, () => running.kill());
  // Small chunks: the first heartbeat (sent at once; later ones are throttled) already names a committed chunk.
  const handle = await startImport(
    t.client,
    { target: 'voucherify', source: { location: file }, options: { pollIntervalMs: 100, chunkBytes: 100_000, concurrency: 8 } },
    { taskQueue, workflowId: `stage-kill-${Date.now()}` },
  );
  const chunksDir = path.join(stagingDir, 'imports', handle.workflowId, 'chunks');

  const committed = await eventually(
    'a staging heartbeat naming committed chunks',
    async () => {
      const pending = (await handle.describe()).raw.pendingActivities?.find((a) => a.activityType?.name === 'stage');
      const payload = pending?.activityType?.name === 'stage' ? pending.heartbeatDetails?.payloads?.[0] : undefined;
      const details = payload ? defaultPayloadConverter.fromPayload<{ chunksCommitted: number }>(payload) : undefined;
      return details && details.chunksCommitted > 0 ? details.chunksCommitted : undefined;
    },
    120_000,
  );
  await running.kill();
  const stagedBeforeKill = (await readdir(chunksDir)).filter((f) => f.endsWith('.jsonl')).sort();
  // Half-written files of the killed attempt: its invalid rows' at least (open all through staging), likely a chunk's.
  const importDir = path.dirname(chunksDir);
  const tmpFiles = async () =>
    [...(await readdir(importDir)), ...(await readdir(chunksDir)).map((f) => `chunks/${f}`)].filter((f) => f.endsWith('.tmp'));
  const leftBehind = await tmpFiles();
  const committedFiles = stagedBeforeKill.slice(0, committed);
  const writtenAt = await Promise.all(committedFiles.map(async (f) => (await stat(path.join(chunksDir, f))).mtimeMs));

  running = worker();
  const summary = await handle.result();
  assert.ok(
    stagedBeforeKill.length < summary.counts.chunks,
    `killed mid-staging (${stagedBeforeKill.length} of ${summary.counts.chunks} chunks written)`,
  );
  assert.match(running.stderr(), /Staging resumes after a restart/);
  const rewrittenAt = await Promise.all(committedFiles.map(async (f) => (await stat(path.join(chunksDir, f))).mtimeMs));
  assert.deepEqual(rewrittenAt, writtenAt, `the ${committed} chunk(s) committed before the kill were not written again`);
  assert.ok(
    leftBehind.some((f) => f.startsWith('invalid.jsonl.')),
    `the kill left half-written files: ${leftBehind.join(', ')}`,
  );
  assert.deepEqual(await tmpFiles(), [], 'the next attempt removed them');

  assert.equal(summary.counts.read, count);
  assert.equal(summary.counts.invalid, count / 1000);
  assert.equal(summary.counts.succeeded, count - count / 1000);
  assert.equal(summary.counts.failed + summary.counts.notSubmitted, 0);
  assert.equal(sandbox.productCount(), count - count / 1000);
});
