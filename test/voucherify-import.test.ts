/**
 * The Voucherify import end to end: a real Temporal dev server, a real worker, the Voucherify
 * sandbox over HTTP. Each test proves one promise the import makes.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { startImport, type ImportSummary } from '../client';
import { progressQuery } from '../workflows/messages';
import { voucherifyRecord, writeCatalog } from '../scripts/catalog';
import { eventually, readJsonl, spawnWorkerProcess, tempDir, useTemporal, uniqueTaskQueue } from './helpers';
import { historyText } from './history';
import { onEnd, runImport, sandboxFor } from './harness';

const quick = { pollIntervalMs: 100, retryBackoffMs: 100 };

const t = useTemporal();

interface ResultRow {
  line: number;
  key: string;
  outcome: string;
  attempts: number;
  error: string;
}

describe('Voucherify import', () => {
  test('stores every valid product, reports every invalid row by line, retries failed products and FAILED actions', async (ctx) => {
    // Seed 7 fails some products on their first attempt and at least one whole action (checked below).
    const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 7, faults: { productFailureRate: 0.05, actionFailureRate: 0.25 } });
    const dir = await tempDir('mixed');
    const file = await writeCatalog(path.join(dir, 'catalog.jsonl'), {
      target: 'voucherify',
      count: 3000,
      format: 'jsonl',
      invalidEvery: 50,
      keyPrefix: 'mixed',
    });
    // A broken line and a duplicate key at the end: lines 3001 and 3002.
    await appendFile(file, `{"source_id": "broken", "name": \n${JSON.stringify({ source_id: 'mixed-0000001', name: 'dup' })}\n`);

    const { summary } = await runImport(
      ctx,
      t,
      sandbox.env,
      { target: 'voucherify', source: { location: file }, options: { ...quick, chunkBytes: 40_000 } },
      'mixed',
    );

    const invalidBySchema = 3000 / 50;
    assert.equal(summary.status, 'completed');
    assert.equal(summary.counts.read, 3002);
    assert.equal(summary.counts.invalid, invalidBySchema + 2);
    assert.equal(summary.counts.valid, 3000 - invalidBySchema);
    assert.equal(summary.counts.succeeded, summary.counts.valid, 'every valid product succeeds in the end');
    assert.equal(summary.counts.failed, 0);
    assert.ok(summary.counts.chunks > 10, `several chunks (${summary.counts.chunks})`);

    const stats = sandbox.stats();
    assert.ok((stats.faultsInjected.productFailure ?? 0) > 0, 'the sandbox failed some products on the first attempt');
    assert.ok((stats.faultsInjected.actionFailure ?? 0) > 0, 'the sandbox failed at least one whole action');
    assert.ok(summary.counts.retryRounds >= 1, 'failures were retried in a later round');

    const rows = await readJsonl<ResultRow>(summary.files.resultsJsonl);
    assert.equal(rows.length, 3002, 'one result row per source record');
    for (const row of rows.filter((r) => r.outcome === 'succeeded')) {
      const i = Number(row.key.slice('mixed-'.length));
      const stored = sandbox.getProduct(row.key);
      assert.ok(stored, `${row.key} is stored`);
      assert.equal(stored.name, `Product ${i}`);
      assert.equal(stored.price, 100 + (i % 9000));
      assert.deepEqual(stored.metadata, { color: ['red', 'green', 'blue', 'black', 'white'][i % 5], batch: `b${i % 7}` });
      assert.equal(row.line, i + 1, 'the JSONL line of the record');
    }
    const invalid = rows.filter((r) => r.outcome === 'invalid');
    assert.deepEqual(
      invalid.map((r) => r.line),
      [...Array.from({ length: invalidBySchema }, (_, k) => (k + 1) * 50), 3001, 3002],
    );
    assert.match(invalid[0]!.error, /price/);
    assert.match(invalid.at(-2)!.error, /invalid JSON/);
    assert.match(invalid.at(-1)!.error, /duplicate key mixed-0000001: first seen at line 2/);
    assert.ok(
      rows.some((r) => r.outcome === 'succeeded' && r.attempts > 1),
      'some products needed a second attempt',
    );
    assert.equal(sandbox.getProduct('mixed-0000049'), undefined, 'an invalid product is never sent');

    // Failed records hold the original records, the unparsable line as it was, ready to fix and import again.
    const failed = (await readFile(summary.files.failedRecords, 'utf8')).split('\n').filter(Boolean);
    assert.equal(failed.length, invalid.length);
    assert.equal(failed.at(-2), '{"source_id": "broken", "name": ');
    assert.deepEqual(
      JSON.parse(failed[0]!),
      voucherifyRecord(49, { target: 'voucherify', count: 0, format: 'jsonl', invalidEvery: 50, keyPrefix: 'mixed' }),
    );
  });

  test('429 bursts and server errors delay the import but lose nothing', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', {
      seed: 9,
      faults: { serverErrorRate: 0.15, rateLimitBurstRate: 0.1, rateLimitRetryAfterSeconds: 1 },
    });
    const dir = await tempDir('hostile');
    const file = await writeCatalog(path.join(dir, 'hostile.jsonl'), {
      target: 'voucherify',
      count: 1500,
      format: 'jsonl',
      keyPrefix: 'hostile',
    });
    const { summary } = await runImport(
      ctx,
      t,
      sandbox.env,
      { target: 'voucherify', source: { location: file }, options: { ...quick, chunkBytes: 20_000 } },
      'hostile',
    );
    const stats = sandbox.stats();
    assert.ok((stats.faultsInjected.serverError ?? 0) > 0, 'the sandbox answered some requests with 5xx');
    assert.ok((stats.faultsInjected.rateLimitBurst ?? 0) > 0, 'and some with 429 bursts');
    assert.equal(summary.counts.succeeded, 1500);
    assert.equal(summary.counts.failed, 0);
    assert.equal(sandbox.productCount(), 1500);
  });

  test('a chunk the target answers 413 is split in two and resubmitted until it fits', async (ctx) => {
    // The sandbox takes 30 kB; our chunks are cut at 100 kB, so each is split (more than once) on the way.
    const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 4, maxBodyBytes: 30_000 });
    const dir = await tempDir('split');
    const file = await writeCatalog(path.join(dir, 'split.jsonl'), {
      target: 'voucherify',
      count: 2000,
      format: 'jsonl',
      keyPrefix: 'split',
    });
    const { summary } = await runImport(
      ctx,
      t,
      sandbox.env,
      { target: 'voucherify', source: { location: file }, options: { ...quick, chunkBytes: 100_000 } },
      'split',
    );
    const answers = sandbox.stats().requests['POST /v1/products/bulk/async'] ?? {};
    const staged = Math.ceil((2000 * 170) / 100_000); // products of about 170 bytes
    assert.ok((answers['413'] ?? 0) > 0, 'the sandbox refused some chunks as too large');
    assert.ok((answers['202'] ?? 0) > staged, `and accepted their halves (${answers['202']} accepted)`);
    assert.equal(summary.counts.succeeded, 2000);
    assert.equal(sandbox.productCount(), 2000);
    assert.ok(summary.counts.chunks > staged, `the halves count as chunks (${summary.counts.chunks})`);
  });

  test('actions answering in the result shape from before August 2024 reconcile the same way', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 7, resultShape: 'legacy', faults: { productFailureRate: 0.05 } });
    const dir = await tempDir('legacy');
    const file = await writeCatalog(path.join(dir, 'legacy.jsonl'), {
      target: 'voucherify',
      count: 1000,
      format: 'jsonl',
      keyPrefix: 'legacy',
    });
    const { summary } = await runImport(
      ctx,
      t,
      sandbox.env,
      { target: 'voucherify', source: { location: file }, options: { ...quick, chunkBytes: 20_000 } },
      'legacy',
    );
    assert.ok((sandbox.stats().faultsInjected.productFailure ?? 0) > 0, 'some products failed on their first attempt');
    assert.ok(summary.counts.retryRounds >= 1);
    assert.equal(summary.counts.succeeded, 1000);
    assert.equal(sandbox.productCount(), 1000);
  });

  test('keeps request bodies within 10,485,760 bytes, and product data and credentials out of the workflow history', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 1 });
    const dir = await tempDir('large');
    // About 24 MB of products: at least three requests near the limit.
    const file = await writeCatalog(path.join(dir, 'large.jsonl'), {
      target: 'voucherify',
      count: 24_000,
      format: 'jsonl',
      padding: 900,
      keyPrefix: 'large',
    });
    const { summary, handle } = await runImport(
      ctx,
      t,
      sandbox.env,
      { target: 'voucherify', source: { location: file }, options: quick },
      'large',
    );
    assert.equal(summary.counts.succeeded, 24_000);
    const stats = sandbox.stats();
    assert.ok(stats.largestBodyBytes <= 10_485_760, `largest body ${stats.largestBodyBytes}`);
    assert.ok(stats.largestBodyBytes > 9_000_000, `chunks are filled close to the limit (${stats.largestBodyBytes})`);
    assert.ok(summary.counts.chunks >= 3);

    const history = historyText(await handle.fetchHistory());
    assert.ok(history.includes('large.jsonl'), 'the history was decoded (it names the source)');
    assert.ok(!history.includes('Product 12345'), 'no product name in the history');
    assert.ok(!history.includes('xxxxxxxxxx'), 'no product body in the history');
    assert.ok(
      !history.includes(sandbox.credentials.appToken) && !history.includes(sandbox.credentials.appId),
      'no credentials in the history',
    );
  });

  test('an import forced to continue as new mid-way ends with the same counts', async (ctx) => {
    const dir = await tempDir('can');
    const file = await writeCatalog(path.join(dir, 'can.jsonl'), {
      target: 'voucherify',
      count: 2000,
      format: 'jsonl',
      invalidEvery: 100,
      keyPrefix: 'can',
    });
    const options = { ...quick, chunkBytes: 20_000 };
    // A fresh sandbox with the same seed for each run, so both meet the same product failures.
    const importInto = async (name: string, chunksPerRun?: number) => {
      const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 3, faults: { productFailureRate: 0.02 } });
      return (
        await runImport(
          ctx,
          t,
          sandbox.env,
          { target: 'voucherify', source: { location: file }, options: { ...options, chunksPerRun } },
          name,
        )
      ).summary;
    };
    const once = await importInto('can-once');
    const split = await importInto('can-split', 3);
    assert.equal(once.runs, 1);
    assert.ok(split.runs > 3, `continued as new (${split.runs} runs)`);
    assert.ok(once.counts.retryRounds >= 1, 'a retry round was needed, and carried across runs');
    assert.deepEqual(split.counts, once.counts);
  });

  test('JSONL, CSV and a JSON array give the same result', async (ctx) => {
    const dir = await tempDir('formats');
    const outcomes: Record<string, { counts: ImportSummary['counts']; rows: string[]; stored: unknown[] }> = {};
    for (const format of ['jsonl', 'csv', 'json'] as const) {
      const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 5 });
      const file = await writeCatalog(path.join(dir, `catalog.${format}`), {
        target: 'voucherify',
        count: 500,
        format,
        invalidEvery: 25,
        keyPrefix: 'fmt',
      });
      const { summary } = await runImport(
        ctx,
        t,
        sandbox.env,
        { target: 'voucherify', source: { location: file }, options: { ...quick, chunkBytes: 10_000 } },
        `fmt-${format}`,
      );
      const rows = await readJsonl<ResultRow>(summary.files.resultsJsonl);
      outcomes[format] = {
        counts: summary.counts,
        rows: rows.map((r) => `${r.key}:${r.outcome}`),
        stored: rows
          .filter((r) => r.outcome === 'succeeded')
          .map((r) => sandbox.getProduct(r.key))
          .map((p) => p && { name: p.name, price: p.price, attributes: p.attributes, metadata: p.metadata }),
      };
    }
    assert.equal(outcomes.jsonl!.counts.succeeded, 480);
    assert.deepEqual(outcomes.csv, outcomes.jsonl);
    assert.deepEqual(outcomes.json, outcomes.jsonl);
  });

  test('a worker killed with SIGKILL mid-import and restarted finishes it with nothing lost', async (ctx) => {
    // Slow processing so the kill lands mid-import.
    const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 11, productsPerSecond: 1500 });
    const dir = await tempDir('kill');
    const file = await writeCatalog(path.join(dir, 'kill.jsonl'), {
      target: 'voucherify',
      count: 6000,
      format: 'jsonl',
      keyPrefix: 'kill',
    });
    const taskQueue = uniqueTaskQueue('kill');
    const worker = () => spawnWorkerProcess({ targetEnv: sandbox.env, taskQueue, stagingDir: path.join(dir, 'staging') });
    let running = worker();
    onEnd(ctx, () => running.kill());
    const handle = await startImport(
      t.client,
      { target: 'voucherify', source: { location: file }, options: { ...quick, chunkBytes: 40_000, concurrency: 2 } },
      { taskQueue, workflowId: `kill-${Date.now()}` },
    );
    // A query needs a polling worker: while the child is still starting (slow on a loaded machine) it fails, so keep asking.
    const before = await eventually(
      'some chunks done',
      async () => {
        const p = await handle.query(progressQuery).catch(() => undefined);
        return p && p.chunks.done >= 3 ? p : undefined;
      },
      180_000,
    );
    await running.kill();
    assert.ok(before.succeeded < 6000, 'the kill happened before the end');
    running = worker();
    const summary = await handle.result();
    assert.equal(summary.counts.succeeded, 6000);
    assert.equal(summary.counts.failed + summary.counts.invalid + summary.counts.notSubmitted, 0);
    assert.equal(sandbox.productCount(), 6000);
  });
});
