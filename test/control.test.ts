/**
 * Control and visibility of a running import, on a real dev server and the Voucherify sandbox:
 * the progress query, pause/resume, graceful cancel (signal and Temporal's own), setConcurrency,
 * and what the Web UI shows (search attributes, summaries, current details).
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import type { ImportHandle, ImportProgress, ImportSummary, StartImportRequest } from '../client';
import { BulkImportFailed, BulkImportStatus, BulkImportSucceeded, BulkImportTarget, BulkImportTotal } from '../common/search-attributes';
import type { SandboxStats, VoucherifySandboxOptions } from '../sandbox';
import { writeCatalog } from '../scripts/catalog';
import { cancelSignal, pauseSignal, progressQuery, resumeSignal, setConcurrencyUpdate } from '../workflows/messages';
import workerThreads from 'node:worker_threads';
import { WORKFLOW_THREAD_YOUNG_GENERATION_MB, workflowThreads } from '../workers/workflow-thread';
import { eventually, readJsonl, tempDir, useTemporal } from './helpers';
import { importsFor, sandboxFor } from './harness';

const quick = { pollIntervalMs: 100, retryBackoffMs: 200 };

const t = useTemporal();

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const requestCount = (stats: SandboxStats) =>
  Object.values(stats.requests)
    .flatMap((byStatus) => Object.values(byStatus))
    .reduce((a, b) => a + b, 0);
const bulkPosts = (stats: SandboxStats) => Object.values(stats.requests['POST /v1/products/bulk/async'] ?? {}).reduce((a, b) => a + b, 0);

/** A sandbox, a worker bound to it, and an import started on that worker's queue; the harness closes them after the test. */
async function importSetup(
  ctx: TestContext,
  name: string,
  catalog: { count: number; invalidEvery?: number; keyPrefix?: string },
  sandboxOptions: Partial<VoucherifySandboxOptions>,
) {
  const sandbox = await sandboxFor(ctx, 'voucherify', sandboxOptions);
  const imports = await importsFor(ctx, t, sandbox.env, name);
  const dir = await tempDir(name);
  const file = await writeCatalog(path.join(dir, `${name}.jsonl`), { target: 'voucherify', format: 'jsonl', keyPrefix: name, ...catalog });
  return {
    sandbox,
    file,
    start: (options: Record<string, unknown>): Promise<ImportHandle> =>
      imports.start({ target: 'voucherify', source: { location: file }, options: { ...quick, ...options } } as StartImportRequest, name),
  };
}

const progressOf = (handle: ImportHandle) => handle.query(progressQuery);

/** Polls progress until it satisfies `ready`. */
const progressWhen = (handle: ImportHandle, what: string, ready: (p: ImportProgress) => boolean, timeoutMs = 60_000) =>
  eventually(
    what,
    async () => {
      const p = await progressOf(handle);
      return ready(p) ? p : undefined;
    },
    timeoutMs,
  );

interface ResultRow {
  key: string;
  outcome: string;
  attempts: number;
}
const rowsOf = async (summary: ImportSummary) =>
  (await readJsonl<ResultRow>(summary.files.resultsJsonl)).map((r) => `${r.key}:${r.outcome}:${r.attempts}`);

describe('import control', () => {
  test('progress counts add up at every query, through retry rounds and continue-as-new', async (ctx) => {
    const setup = await importSetup(
      ctx,
      'invariant',
      { count: 3000, invalidEvery: 100 },
      { seed: 5, productsPerSecond: 4000, faults: { productFailureRate: 0.05 } },
    );
    const handle = await setup.start({ chunkBytes: 15_000, concurrency: 3, chunksPerRun: 6 });
    let ended = false;
    const result = handle.result().finally(() => (ended = true));
    const seen: ImportProgress[] = [];
    while (!ended) {
      const p = await progressOf(handle).catch(() => undefined); // a query can land between two runs
      if (p) seen.push(p);
      await sleep(30);
    }
    const summary = await result;
    const final = await progressOf(handle);
    seen.push(final);

    for (const p of seen) {
      const at = `${p.phase} run ${p.runNumber} round ${p.retryRound}: ${JSON.stringify(p)}`;
      assert.equal(p.read, p.valid + p.invalid, `read = valid + invalid (${at})`);
      // The "submitted = succeeded + failed + in flight", with the two outcomes this codebase
      // keeps apart: rejected by the target's own validation, and failed for a passing reason and awaiting a retry round.
      assert.equal(p.submitted, p.succeeded + p.failed + p.rejected + p.awaitingRetry + p.inFlight, `submitted adds up (${at})`);
      assert.ok(p.submitted <= p.valid, `no more submitted than valid (${at})`);
      assert.ok(p.chunks.done <= p.chunks.total && p.chunks.inFlight <= p.concurrency, `chunk counts (${at})`);
    }
    assert.ok(seen.length >= 20, `queried often enough (${seen.length})`);
    assert.ok(
      seen.some((p) => p.phase === 'submitting' && p.inFlight > 0),
      'saw products in flight',
    );
    assert.ok(
      seen.some((p) => p.awaitingRetry > 0),
      'saw products awaiting a retry round',
    );
    assert.ok(
      seen.some((p) => p.runNumber > 1 && p.submitted > 0),
      'saw counts carried into a continued run',
    );
    assert.ok(
      seen.some((p) => p.throughputPerSecond > 0 && p.etaSeconds !== null),
      'saw a throughput and an ETA',
    );
    assert.ok(
      seen.every((p) => p.startedAt === final.startedAt),
      'startedAt is kept across runs',
    );

    assert.equal(summary.status, 'completed');
    assert.ok(summary.runs > 1 && summary.counts.retryRounds >= 1, `continued as new (${summary.runs} runs) and retried`);
    assert.equal(final.phase, 'completed');
    assert.equal(summary.counts.invalid, 30);
    assert.deepEqual(
      {
        read: final.read,
        succeeded: final.succeeded,
        failed: final.failed,
        invalid: final.invalid + final.rejected,
        inFlight: final.inFlight,
        awaitingRetry: final.awaitingRetry,
      },
      {
        read: summary.counts.read,
        succeeded: summary.counts.succeeded,
        failed: summary.counts.failed,
        invalid: summary.counts.invalid,
        inFlight: 0,
        awaitingRetry: 0,
      },
    );
    assert.equal(final.submitted, summary.counts.valid, 'every valid product was submitted');
  });

  test('pause holds the request counter still while paused; resume ends as an uninterrupted import does', async (ctx) => {
    // The same products (keys decide which fail) into two fresh sandboxes with the same seed.
    const catalog = { count: 2000, invalidEvery: 50, keyPrefix: 'pause' };
    const sandboxOptions = { seed: 9, productsPerSecond: 1500, faults: { productFailureRate: 0.03 } };
    const options = { chunkBytes: 15_000, concurrency: 2 };

    const reference = await importSetup(ctx, 'straight', catalog, sandboxOptions);
    const straight = await (await reference.start(options)).result();
    const expected = { summary: straight, rows: await rowsOf(straight), stored: reference.sandbox.productCount() };

    const paused = await importSetup(ctx, 'paused', catalog, sandboxOptions);
    const handle = await paused.start(options);
    await progressWhen(handle, 'two chunks done', (p) => p.chunks.done >= 2);
    await handle.signal(pauseSignal);
    // In-flight chunks finish (their actions keep being polled); then nothing at all is sent.
    const held = await progressWhen(handle, 'paused and drained', (p) => p.paused && p.chunks.inFlight === 0);
    const requestsBefore = requestCount(paused.sandbox.stats());
    await sleep(2500);
    const still = await progressOf(handle);
    assert.equal(requestCount(paused.sandbox.stats()), requestsBefore, 'no request reached the sandbox while paused');
    assert.deepEqual([still.submitted, still.chunks.done, still.phase], [held.submitted, held.chunks.done, 'submitting']);
    assert.ok(still.submitted < expected.summary.counts.valid, 'paused before the end');
    assert.equal(still.etaSeconds, null, 'no ETA while paused');
    const description = await handle.describe();
    assert.equal(description.typedSearchAttributes.get(BulkImportStatus), 'Paused', 'the Web UI sees it paused');
    // Nothing else happens while paused, so only the update handler itself can refresh the details.
    assert.equal(await handle.executeUpdate(setConcurrencyUpdate, { args: [3] }), 2);
    const { currentDetails } = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    assert.match(String(currentDetails), /^\*\*submitting\*\* \(paused\)[^\n]*\n\nRound \d+ · concurrency 3 ·/);
    // The bundle's source map still leads the stack-trace query to our sources (workers/worker.ts minifies the bundle).
    const stack = await handle.query<string>('__stack_trace');
    assert.match(stack, /workflows\/import\.ts:\d+:\d+/, stack);
    // It runs in an SDK workflow thread started with a small young generation (workers/workflow-thread.ts); other
    // threads keep Node's defaults.
    assert.ok(workflowThreads().length > 0, 'the SDK started its workflow threads through the wrapped class');
    for (const thread of workflowThreads()) {
      assert.equal(thread.resourceLimits?.maxYoungGenerationSizeMb, WORKFLOW_THREAD_YOUNG_GENERATION_MB);
    }
    const other = new workerThreads.Worker('', { eval: true });
    assert.notEqual(other.resourceLimits?.maxYoungGenerationSizeMb, WORKFLOW_THREAD_YOUNG_GENERATION_MB);
    await other.terminate();

    await handle.signal(resumeSignal);
    const summary = await handle.result();
    assert.ok(requestCount(paused.sandbox.stats()) > requestsBefore, 'resumed');
    assert.equal(summary.status, 'completed');
    assert.deepEqual(summary.counts, expected.summary.counts);
    assert.deepEqual(await rowsOf(summary), expected.rows, 'the same outcome and attempts for every record');
    assert.equal(paused.sandbox.productCount(), expected.stored);
  });

  test('cancel (signal or Temporal cancellation) finishes in-flight chunks and ends with a correct partial report', async (ctx) => {
    const cancelOne = async (name: string, cancel: (handle: ImportHandle) => Promise<void>, reason: string) => {
      const setup = await importSetup(ctx, name, { count: 3000, invalidEvery: 100 }, { seed: 2, productsPerSecond: 600 });
      const handle = await setup.start({ chunkBytes: 15_000, concurrency: 2 });
      await progressWhen(handle, 'a chunk done and products in flight', (p) => p.chunks.done >= 1 && p.inFlight > 0);
      await cancel(handle);
      const atCancel = await progressOf(handle);
      const postsAtCancel = bulkPosts(setup.sandbox.stats());
      const summary = await handle.result();
      const c = summary.counts;

      assert.equal(summary.status, 'cancelled');
      assert.equal(summary.cancelReason, reason);
      assert.ok(atCancel.cancelRequested, 'the query shows the cancel');
      assert.equal(c.read, 3000);
      assert.equal(c.invalid, 30);
      assert.equal(c.succeeded + c.failed + c.invalid + c.notSubmitted, c.read, 'every record has an outcome');
      assert.ok(c.notSubmitted > 0, `some products were never sent (${c.notSubmitted})`);
      // What was in flight when the cancel came finished: it is counted, and stored.
      assert.ok(
        c.succeeded >= atCancel.succeeded + atCancel.inFlight,
        `in-flight products finished (${c.succeeded} >= ${atCancel.succeeded} + ${atCancel.inFlight})`,
      );
      assert.ok(bulkPosts(setup.sandbox.stats()) <= postsAtCancel + atCancel.chunks.inFlight, 'nothing new was submitted after the cancel');
      assert.equal(setup.sandbox.productCount(), c.succeeded, 'the sandbox holds exactly the products reported as succeeded');

      const rows = await readJsonl<ResultRow>(summary.files.resultsJsonl);
      assert.equal(rows.length, c.read, 'one result row per record');
      const byOutcome = (o: string) => rows.filter((r) => r.outcome === o);
      assert.equal(byOutcome('not-submitted').length, c.notSubmitted);
      assert.equal(byOutcome('succeeded').length, c.succeeded);
      assert.ok(
        byOutcome('succeeded').every((r) => setup.sandbox.getProduct(r.key)),
        'succeeded rows are stored',
      );
      assert.ok(
        byOutcome('not-submitted').every((r) => !setup.sandbox.getProduct(r.key)),
        'not-submitted rows are not',
      );

      const description = await eventually('the Cancelled status', async () => {
        const d = await handle.describe();
        return d.typedSearchAttributes.get(BulkImportStatus) === 'Cancelled' ? d : undefined;
      });
      assert.equal(description.status.name, 'COMPLETED', 'the run ends with its summary as result');
    };
    await Promise.all([
      cancelOne('cancel-signal', (h) => h.signal(cancelSignal, 'sale starts'), 'sale starts'),
      cancelOne('cancel-temporal', async (h) => void (await h.cancel()), 'cancelled through Temporal'),
    ]);
  });

  test('a cancel that arrives while a run drains before continuing as new is not lost', async (ctx) => {
    const setup = await importSetup(ctx, 'cancel-drain', { count: 2000 }, { seed: 6, productsPerSecond: 400 });
    // Two chunks a run and room for three: once both are taken the run only waits for them to finish.
    const handle = await setup.start({ chunkBytes: 15_000, concurrency: 3, chunksPerRun: 2 });
    // Products in flight: a chunk was accepted (not only taken, its quota permit still on its way), so it must finish.
    await progressWhen(handle, 'the first run draining', (p) => p.runNumber === 1 && p.chunks.inFlight === 2 && p.inFlight > 0);
    await handle.signal(cancelSignal, 'while draining');
    const summary = await handle.result();
    assert.equal(summary.status, 'cancelled');
    assert.equal(summary.runs, 1, 'no continue-as-new after the cancel');
    assert.ok(summary.counts.notSubmitted > 0 && summary.counts.succeeded > 0, JSON.stringify(summary.counts));
  });

  test('setConcurrency rejects 0, fractions and values above the maximum, and changes the chunks in flight', async (ctx) => {
    const setup = await importSetup(ctx, 'concurrency', { count: 3000 }, { seed: 4, productsPerSecond: 300 });
    const handle = await setup.start({ chunkBytes: 8_000, concurrency: 1, maxConcurrency: 6 });
    await progressWhen(handle, 'one chunk in flight', (p) => p.chunks.inFlight === 1);
    for (const bad of [0, 2.5, 7, -1]) {
      await assert.rejects(handle.executeUpdate(setConcurrencyUpdate, { args: [bad] }), (err: Error) => {
        assert.ok(err instanceof WorkflowUpdateFailedError);
        assert.match(String(err.cause?.message), new RegExp(`whole number from 1 to 6; got ${bad}`));
        return true;
      });
    }
    const history = JSON.stringify((await handle.fetchHistory()).events?.map((e) => e.eventType));
    assert.ok(!history.includes('UPDATE_ACCEPTED'), 'rejected by the validator: nothing in the history');
    assert.equal((await progressOf(handle)).chunks.inFlight, 1, 'still one in flight');

    assert.equal(await handle.executeUpdate(setConcurrencyUpdate, { args: [4] }), 1, 'returns the previous value');
    const wider = await progressWhen(handle, 'four chunks in flight', (p) => p.chunks.inFlight === 4, 20_000);
    assert.equal(wider.concurrency, 4);

    assert.equal(await handle.executeUpdate(setConcurrencyUpdate, { args: [2] }), 4);
    await progressWhen(handle, 'back to two chunks in flight', (p) => p.chunks.inFlight <= 2, 30_000);
    for (let i = 0; i < 10; i++) {
      assert.ok((await progressOf(handle)).chunks.inFlight <= 2, 'never more than two again');
      await sleep(100);
    }
    await handle.signal(cancelSignal);
    assert.equal((await handle.result()).status, 'cancelled');
  });

  test('the Web UI view: search attributes, static summary, current details, activity summaries; visibility finds completed imports', async (ctx) => {
    const setup = await importSetup(ctx, 'webui', { count: 400, invalidEvery: 40 }, { seed: 1 });
    const handle = await setup.start({ chunkBytes: 20_000 });
    const summary = await handle.result();
    assert.equal(summary.status, 'completed');

    const description = await handle.describe();
    assert.equal(await description.staticSummary(), 'Import 400 products from webui.jsonl into Voucherify');
    const metadata = await handle.query<{ currentDetails?: string }>('__temporal_workflow_metadata');
    const details = String(metadata.currentDetails);
    assert.ok(details.startsWith(`**completed** · ${summary.counts.succeeded} of ${summary.counts.valid} products done (100%)`), details);
    assert.ok(
      details.includes(`| read | ${summary.counts.read} |`) && details.includes(`| invalid | ${summary.counts.invalid} |`),
      details,
    );

    const summaries = ((await handle.fetchHistory()).events ?? [])
      .filter((e) => e.activityTaskScheduledEventAttributes)
      .map((e) => (e.userMetadata?.summary?.data ? Buffer.from(e.userMetadata.summary.data).toString('utf8') : ''));
    assert.ok(
      summaries.some((s) => s.includes(`stage ${setup.file}`)),
      'the stage activity names the source',
    );
    assert.ok(
      summaries.some((s) => s.includes('voucherify chunk r0-000000 (round 0)')),
      `chunk activities name the chunk: ${summaries.join(', ')}`,
    );

    const found = await eventually('the import in visibility as Completed', async () => {
      for await (const run of t.client.workflow.list({
        query: `${BulkImportStatus.name} = 'Completed' AND WorkflowId = '${handle.workflowId}'`,
      }))
        return run;
      return undefined;
    });
    const attrs = found.typedSearchAttributes;
    assert.deepEqual(
      [attrs.get(BulkImportTarget), attrs.get(BulkImportTotal), attrs.get(BulkImportSucceeded), attrs.get(BulkImportFailed)],
      ['voucherify', summary.counts.read, summary.counts.succeeded, summary.counts.failed + summary.counts.invalid],
    );
    const running = t.client.workflow.list({ query: `${BulkImportStatus.name} = 'Running' AND WorkflowId = '${handle.workflowId}'` });
    for await (const run of running) assert.fail(`a completed import is not Running: ${run.workflowId}`);
  });
});
