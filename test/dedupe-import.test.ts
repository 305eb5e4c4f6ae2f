/**
 * No resend while a request may still be running, through real Temporal: a bulk POST answered later than the
 * heartbeat timeout, and a worker SIGKILLed while its POST was in flight. Each chunk must create one async action.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { progressQuery, startImport, type StartImportRequest } from '../client';
import { HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS } from '../common/timeouts';
import type { VoucherifySandbox } from '../sandbox';
import { writeCatalog } from '../scripts/catalog';
import { eventually, spawnWorkerProcess, tempDir, uniqueTaskQueue, useTemporal } from './helpers';
import { onEnd, sandboxFor, workerFor } from './harness';

const t = useTemporal();

/** The async actions the sandbox holds, through its own list endpoint. */
async function actionsIn(sandbox: VoucherifySandbox): Promise<number> {
  const { VOUCHERIFY_API_URL: url, VOUCHERIFY_APP_ID: appId = '', VOUCHERIFY_APP_TOKEN: token = '' } = sandbox.env;
  const answer = await fetch(`${url}/v1/async-actions?limit=100`, { headers: { 'X-App-Id': appId, 'X-App-Token': token } });
  return ((await answer.json()) as { async_actions: unknown[] }).async_actions.length;
}

async function catalog(name: string, count: number): Promise<string> {
  return writeCatalog(path.join(await tempDir(name), 'catalog.jsonl'), { target: 'voucherify', count, format: 'jsonl', keyPrefix: name });
}

// 10 products a chunk: two chunks of 20 products.
const options = { maxItemsPerChunk: 10, concurrency: 2, pollIntervalMs: 200, retryBackoffMs: 200 };

describe('no resend while a request may be running', { concurrency: 2, timeout: 300_000 }, () => {
  test(`a POST answered after the ${HEARTBEAT_TIMEOUT_MS / 1000} s heartbeat timeout is not sent again: one action per chunk`, async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', {});
    const worker = await workerFor(ctx, t, sandbox.env, 'dedupe-slow');
    // Every answer is held past the heartbeat timeout (the POST is applied at once); polls answer normally once the POSTs are in.
    sandbox.setFaults({ slowRate: 1, slowMs: HEARTBEAT_TIMEOUT_MS + 5_000 });
    const request = { target: 'voucherify', source: { location: await catalog('dedupe-slow', 20) }, options } as StartImportRequest;
    const handle = await startImport(t.client, request, { taskQueue: worker.taskQueue, workflowId: `dedupe-slow-${Date.now()}` });
    await eventually('both POSTs applied', () => sandbox.productCount() >= 20 || undefined, 120_000);
    sandbox.setFaults({});
    const summary = await handle.result();
    assert.equal(summary.counts.succeeded, 20);
    assert.equal(summary.counts.unknownOutcomeRetries, 0, 'nothing was sent twice');
    assert.equal(await actionsIn(sandbox), 2, 'one async action per chunk');
  });

  test('a worker killed while its POST is in flight: the next attempt finds the action instead of posting again', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', {});
    const dir = await tempDir('dedupe-kill');
    const taskQueue = uniqueTaskQueue('dedupe-kill');
    const worker = () => spawnWorkerProcess({ targetEnv: sandbox.env, taskQueue, stagingDir: path.join(dir, 'staging') });
    let running = worker();
    onEnd(ctx, () => running.kill());
    // The answers are held for a minute: the worker dies while waiting for them.
    sandbox.setFaults({ slowRate: 1, slowMs: 60_000 });
    const request = { target: 'voucherify', source: { location: await catalog('dedupe-kill', 20) }, options } as StartImportRequest;
    const handle = await startImport(t.client, request, { taskQueue, workflowId: `dedupe-kill-${Date.now()}` });
    await eventually('both POSTs applied', () => sandbox.productCount() >= 20 || undefined, 180_000);
    // Heartbeats reach Temporal at most every HEARTBEAT_INTERVAL_MS: let the one naming the send arrive first.
    await new Promise((resolve) => setTimeout(resolve, HEARTBEAT_INTERVAL_MS + 1_000));
    await running.kill();
    sandbox.setFaults({});
    running = worker();
    const summary = await handle.result();
    assert.equal(summary.counts.succeeded, 20);
    assert.equal(await actionsIn(sandbox), 2, 'one async action per chunk, though each POST was sent by a worker that died');
    assert.ok((sandbox.stats().requests['GET /v1/async-actions']?.[200] ?? 0) >= 2, 'each chunk looked its action up');
    assert.equal(summary.counts.unknownOutcomeRetries, 0, 'found, not resent');
    assert.equal((await handle.query(progressQuery)).unknownOutcomeRetries, 0);
  });
});
