/**
 * `--dry-run`: the whole catalog validated and planned with no request to the target, and a plan that tells the
 * truth: the import that follows cuts the same chunks, sends as many product requests and reports the same
 * invalid rows first.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ResultRow } from '../activities/report';
import { startDryRun, type ImportPlan } from '../client';
import type { SandboxStats } from '../sandbox/stats';
import { propellerRecord, voucherifyRecord, writeCatalog } from '../scripts/catalog';
import { useCliHarness } from './cli-harness';
import { readJsonl, tempDir, useTemporal } from './helpers';
import { importsFor, sandboxFor } from './harness';

const t = useTemporal();

/** Requests the sandbox got, by endpoint pattern, whatever their status. */
const requestsTo = (stats: SandboxStats, endpoint: RegExp) =>
  Object.entries(stats.requests)
    .filter(([name]) => endpoint.test(name))
    .reduce((sum, [, byStatus]) => sum + Object.values(byStatus).reduce((a, b) => a + b, 0), 0);

/** The report's first invalid rows, as the plan shows them. */
async function firstInvalid(resultsJsonl: string, count: number) {
  const rows = (await readJsonl<ResultRow>(resultsJsonl)).filter((r) => r.outcome === 'invalid').slice(0, count);
  return rows.map((r) => r.line);
}

describe('dry run', () => {
  test('Propeller: no request; the import that follows matches the plan (chunks, one request per source, invalid rows)', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'propeller', { seed: 3 });
    const imports = await importsFor(ctx, t, sandbox.env, 'dry-pp');
    // Every 100th record is invalid; every 5th comes from a second source, so each chunk takes two requests.
    const o = { target: 'propeller' as const, count: 2400, format: 'jsonl' as const, invalidEvery: 100, keyPrefix: 'dry' };
    const records = Array.from({ length: o.count }, (_, i) => ({ ...propellerRecord(i, o), ...(i % 5 === 0 ? { source: 'PIM' } : {}) }));
    const file = path.join(await tempDir('dry-pp'), 'catalog.jsonl');
    await writeFile(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
    const request = { target: 'propeller' as const, source: { location: file }, options: { chunkSize: 500, retryBackoffMs: 100 } };

    const dry = await startDryRun(t.client, request, { taskQueue: imports.worker.taskQueue, workflowId: `dry-pp-${Date.now()}` });
    const plan: ImportPlan = await dry.result();
    assert.deepEqual(sandbox.stats().requests, {}, 'the dry run sent nothing, not even a token request');
    assert.deepEqual(plan.counts, { read: 2400, valid: 2376, invalid: 24 });
    assert.equal(plan.firstErrors.length, 10);
    assert.match(plan.firstErrors[0]!.error, /status/);
    assert.ok(plan.requests > plan.chunks, 'two sources: more requests than chunks');
    assert.ok(plan.estimate && /PROPELLER_MAX_RPS=50/.test(plan.estimate.why), 'the estimate names the limit that sets it');

    const { summary } = await imports.run(request, 'dry-pp-real');
    assert.equal(summary.counts.chunks, plan.chunks, 'the import cut the chunks the plan counted');
    assert.equal(requestsTo(sandbox.stats(), /^POST .*bulk/), plan.requests, 'and sent the product requests it counted');
    assert.deepEqual(
      plan.firstErrors.map((e) => e.line),
      await firstInvalid(summary.files.resultsJsonl, 10),
      'the plan shows the invalid rows the report lists first',
    );
  });

  test('Voucherify: no request; the import that follows makes the bulk calls and at least the polls the plan counted', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 3, productsPerSecond: 20_000 });
    const imports = await importsFor(ctx, t, sandbox.env, 'dry-vf');
    const file = await writeCatalog(path.join(await tempDir('dry-vf'), 'catalog.jsonl'), {
      target: 'voucherify',
      count: 1500,
      format: 'jsonl',
      invalidEvery: 300,
      keyPrefix: 'dry',
    });
    const request = {
      target: 'voucherify' as const,
      source: { location: file },
      options: { chunkBytes: 60_000, pollIntervalMs: 100, retryBackoffMs: 100, maxSubmitsPerMinute: 30 },
    };
    const dry = await startDryRun(t.client, request, { taskQueue: imports.worker.taskQueue, workflowId: `dry-vf-${Date.now()}` });
    const plan = await dry.result();
    assert.deepEqual(sandbox.stats().requests, {}, 'the dry run sent nothing');
    assert.deepEqual(plan.counts, { read: 1500, valid: 1495, invalid: 5 });
    assert.ok(plan.chunks > 1, `several chunks (${plan.chunks})`);
    assert.equal(plan.requests, plan.chunks, 'one bulk call per chunk');
    // 30 submissions a minute: the chunks after the first take 2 s each, more than the rate cap's bound.
    assert.deepEqual(plan.estimate, {
      seconds: (plan.chunks - 1) * 2,
      why: `${plan.chunks} requests at --max-submits-per-minute 30`,
    });
    assert.ok(plan.notes.some((note) => /hourly quota/.test(note)));

    const { summary } = await imports.run({ ...request, options: { ...request.options, maxSubmitsPerMinute: 600 } }, 'dry-vf-real');
    assert.equal(summary.counts.chunks, plan.chunks);
    const stats = sandbox.stats();
    assert.equal(requestsTo(stats, /^POST \/v1\/products\/bulk\/async$/), plan.requests);
    assert.ok(requestsTo(stats, /^GET \/v1\/async-actions\//) >= plan.otherCalls[0]!.count, 'each action polled at least once');
  });
});

describe('bulkport import --dry-run', () => {
  const h = useCliHarness('dry-cli');

  test('prints the plan and exits 2 with invalid rows, 0 when all are valid, 1 when none is; --json prints the plan', async () => {
    const mixed = await writeCatalog(path.join(h.dir, 'mixed.jsonl'), {
      target: 'voucherify',
      count: 200,
      format: 'jsonl',
      invalidEvery: 50,
      keyPrefix: 'dry-cli',
    });
    const run = await h.bulkport(['import', mixed, '--target', 'voucherify', '--dry-run']);
    assert.equal(run.code, 2, run.stderr);
    assert.match(run.stdout, /nothing was sent/);
    assert.match(run.stdout, /invalid\s+4 {2}all in .*invalid\.jsonl/);
    assert.match(run.stdout, /line 50 \(dry-cli-\d+\): /, 'the first invalid row, with its line and key');
    assert.match(run.stdout, /time {7}at least \d+s: /);

    const valid = await writeCatalog(path.join(h.dir, 'valid.jsonl'), { target: 'propeller', count: 30, format: 'jsonl' });
    const json = await h.bulkport(['import', valid, '--target', 'propeller', '--dry-run', '--json']);
    assert.equal(json.code, 0, json.stderr);
    const plan = JSON.parse(json.stdout) as ImportPlan;
    assert.deepEqual([plan.counts, plan.chunks, plan.requests], [{ read: 30, valid: 30, invalid: 0 }, 1, 1]);

    const none = await h.file(
      'none.jsonl',
      `${JSON.stringify(voucherifyRecord(0, { target: 'voucherify', count: 1, format: 'jsonl', invalidEvery: 1 }))}\n`,
    );
    const nothing = await h.bulkport(['import', none, '--target', 'voucherify', '--dry-run']);
    assert.equal(nothing.code, 1);
    assert.match(nothing.stdout, /Nothing is valid/);
    assert.deepEqual(h.voucherify.stats().requests, {}, 'no dry run reached Voucherify');
    assert.deepEqual(h.propeller.stats().requests, {}, 'or Propeller');
  });
});
