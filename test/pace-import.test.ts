/**
 * Pacing against the Voucherify sandbox: the per-target request cap, polls per action within the schedule's bound,
 * polls that keep failing handing their chunk on with the reason in the report and the progress, and a cancel that ends
 * failing polls at once.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { POLL_GROWTH } from '../activities/poll-schedule';
import { progressQuery, startImport, type StartImportRequest } from '../client';
import type { SandboxStats, VoucherifySandbox } from '../sandbox';
import { writeCatalog } from '../scripts/catalog';
import { connectVoucherify } from '../targets/voucherify/api';
import { eventually, readJsonl, tempDir, useTemporal } from './helpers';
import { sandboxFor, workerFor } from './harness';

const t = useTemporal();

const requestsTo = (stats: SandboxStats, prefix: string) =>
  Object.entries(stats.requests)
    .filter(([endpoint]) => endpoint.startsWith(prefix))
    .flatMap(([, byStatus]) => Object.values(byStatus))
    .reduce((a, b) => a + b, 0);
const polls = (stats: SandboxStats) => requestsTo(stats, 'GET /v1/async-actions/');

describe('pacing', () => {
  test('VOUCHERIFY_MAX_RPS caps the requests the sandbox sees from one client, polls included', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', {});
    const api = connectVoucherify({ ...sandbox.env, VOUCHERIFY_MAX_RPS: '4' });
    const started = Date.now();
    // 16 polls at once for actions the sandbox doesn't know: each is one answered request (404).
    const all = Promise.allSettled(Array.from({ length: 16 }, (_, i) => api.poll(`aa_unknown_${i}`, {} as never)));
    await new Promise((resolve) => setTimeout(resolve, 1000));
    const inFirstSecond = polls(sandbox.stats());
    await all;
    const seconds = (Date.now() - started) / 1000;
    // A burst of 4, then 4 per second: at most 8 in the first second, and 16 take at least 3 s.
    assert.ok(inFirstSecond <= 8, `${inFirstSecond} requests in the first second`);
    assert.equal(polls(sandbox.stats()), 16, 'every poll went out in the end');
    assert.ok(seconds >= 2.9, `16 requests at 4 per second took ${seconds.toFixed(2)} s`);
  });

  test('polls per action stay within 1 + log_1.25(wait ÷ first interval)', async (ctx) => {
    // Slow actions (400 products per second) that queue behind one another: the old fixed poll interval polled many times.
    const sandbox = await sandboxFor(ctx, 'voucherify', { productsPerSecond: 400 });
    const dir = await tempDir('pace-polls');
    const file = await writeCatalog(path.join(dir, 'catalog.jsonl'), {
      target: 'voucherify',
      count: 2000,
      format: 'jsonl',
      keyPrefix: 'pace',
    });
    const worker = await workerFor(ctx, t, sandbox.env, 'pace-polls');
    const pollIntervalMs = 100;
    const options = { pollIntervalMs, chunkBytes: 60_000, concurrency: 4 };
    const request = { target: 'voucherify', source: { location: file }, options } as StartImportRequest;
    const began = Date.now();
    const summary = await (
      await startImport(t.client, request, { taskQueue: worker.taskQueue, workflowId: `pace-polls-${Date.now()}` })
    ).result();
    const waitedMs = Date.now() - began;
    assert.equal(summary.counts.succeeded, 2000);
    const actions = requestsTo(sandbox.stats(), 'POST /v1/products/bulk/async');
    assert.ok(actions >= 4, `${actions} actions`);
    // No action waited longer than the whole import, and no first interval is below pollIntervalMs.
    const bound = actions * (1 + Math.log(waitedMs / pollIntervalMs) / Math.log(POLL_GROWTH));
    assert.ok(
      polls(sandbox.stats()) <= bound,
      `${polls(sandbox.stats())} polls for ${actions} actions in ${waitedMs} ms (bound ${bound.toFixed(1)})`,
    );
  });

  /** Starts a 20-product import whose polls all get 5xx from the moment its chunk is accepted. */
  async function failingPolls(ctx: TestContext, sandbox: VoucherifySandbox, name: string, options: Record<string, unknown>) {
    const dir = await tempDir(name);
    const file = await writeCatalog(path.join(dir, 'catalog.jsonl'), { target: 'voucherify', count: 20, format: 'jsonl', keyPrefix: name });
    const worker = await workerFor(ctx, t, sandbox.env, name);
    // A long first poll interval leaves time to turn every answer into a 5xx once the chunk is accepted.
    const request = {
      target: 'voucherify',
      source: { location: file },
      options: { pollIntervalMs: 1500, ...options },
    } as StartImportRequest;
    const handle = await startImport(t.client, request, {
      taskQueue: worker.taskQueue,
      workflowId: `${name}-${Date.now()}`,
    });
    await eventually('the chunk accepted', () => requestsTo(sandbox.stats(), 'POST /v1/products/bulk/async') >= 1 || undefined);
    sandbox.setFaults({ serverErrorRate: 1 });
    return { handle };
  }

  const giveUpReason = /^the target answered 50[0234] to every poll for [34]s: Voucherify answered 50\d/;

  test('polls that fail for pollGiveUpMs hand the chunk on, with the reason in the report', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', {});
    const { handle } = await failingPolls(ctx, sandbox, 'pace-giveup', { pollGiveUpMs: 3000, retryRounds: 0 });
    const summary = await handle.result();
    const failedPolls = polls(sandbox.stats());
    assert.equal(summary.counts.succeeded, 0);
    assert.equal(summary.counts.failed, 20, 'handed on, then failed: no retry round was allowed');
    const rows = await readJsonl<{ outcome: string; error: string }>(summary.files.resultsJsonl);
    assert.equal(rows.length, 20);
    for (const row of rows) assert.match(row.error, giveUpReason);
    // The progress (and so `status` and the Web UI) says why, not only the report.
    const progress = await handle.query(progressQuery);
    assert.match(
      progress.lastIssue?.message ?? '',
      /^chunk r0-000000 \(20 products\) was set aside for a retry round: the target answered 50/,
    );
    // Backing off with jitter from about a second: a handful of polls in 3 s, not thousands.
    assert.ok(failedPolls >= 2 && failedPolls <= 8, `${failedPolls} polls while failing`);
  });

  test('a cancel while polls fail ends the import long before pollGiveUpMs, each product saying its outcome is unknown', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', {});
    // Ten minutes of failing polls would be the give-up, whose rows would name it instead: the cancel must not wait for it.
    const { handle } = await failingPolls(ctx, sandbox, 'pace-cancel', { pollGiveUpMs: 600_000 });
    await eventually('a poll failed', () => polls(sandbox.stats()) >= 1 || undefined);
    await handle.cancel();
    const summary = await handle.result();
    assert.equal(summary.status, 'cancelled');
    const rows = await readJsonl<{ outcome: string; error: string }>(summary.files.resultsJsonl);
    assert.equal(rows.length, 20);
    assert.deepEqual([...new Set(rows.map((row) => row.outcome))], ['failed']);
    const unknown =
      /^the import was cancelled while the target answered 50\d to every poll for \d+s: the outcome of async action \S+ is unknown/;
    for (const row of rows) assert.match(row.error, unknown);
    const progress = await handle.query(progressQuery);
    assert.match(progress.lastIssue?.message ?? '', /^chunk r0-000000 \(20 products\) failed: the import was cancelled while/);
  });
});
