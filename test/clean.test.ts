/**
 * `bulkport clean` against a real Temporal server: an ended import's chunks and outcomes go, its report and
 * owner file stay; a running import is never touched; --older-than and --dry-run remove nothing too early.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { pauseSignal, progressQuery, startImport, type StartImportRequest } from '../client';
import { cleanStaging, parseAge } from '../client/clean';
import { writeCatalog } from '../scripts/catalog';
import { eventually, tempDir, useTemporal } from './helpers';
import { importCatalog, type ScheduledRequest } from '../workflows/import';
import { sandboxFor, workerFor } from './harness';

const t = useTemporal();

test('ages: 30m, 12h, 7d; anything else is refused', () => {
  assert.deepEqual(['30m', '12h', '7d'].map(parseAge), [1_800_000, 43_200_000, 604_800_000]);
  assert.deepEqual(['7', 'd', '1w', '-1d'].map(parseAge), [undefined, undefined, undefined, undefined]);
});

test("clean removes an ended import's chunks and outcomes, keeps its report and owner file, and leaves a running import alone", async (ctx) => {
  const sandbox = await sandboxFor(ctx, 'voucherify', {});
  const stagingDir = await tempDir('clean-staging');
  const worker = await workerFor(ctx, t, sandbox.env, 'clean', stagingDir);
  const dir = await tempDir('clean');
  const file = await writeCatalog(path.join(dir, 'catalog.jsonl'), {
    target: 'voucherify',
    count: 50,
    format: 'jsonl',
    keyPrefix: 'clean',
  });
  const request = {
    target: 'voucherify',
    source: { location: file },
    options: { maxItemsPerChunk: 10, pollIntervalMs: 100 },
  } as StartImportRequest;
  const ended = await startImport(t.client, request, { taskQueue: worker.taskQueue, workflowId: `clean-ended-${Date.now()}` });
  const summary = await ended.result();
  // As a schedule starts a run: no import id, a workflow id with ":" in it. The run's import id is not its workflow id.
  const scheduled = await t.client.workflow.start(importCatalog, {
    workflowId: `clean-sync-${Date.now()}-2026-12-04T06:28:41Z`,
    taskQueue: worker.taskQueue,
    args: [{ ...request, importId: undefined } as ScheduledRequest],
  });
  const scheduledId = (await scheduled.result()).importId;
  assert.notEqual(scheduledId, scheduled.workflowId);
  const running = await startImport(t.client, request, { taskQueue: worker.taskQueue, workflowId: `clean-running-${Date.now()}` });
  await running.signal(pauseSignal);
  await eventually('the second import staged and paused', async () => {
    const p = await running.query(progressQuery);
    return p.phase === 'submitting' && p.paused ? p : undefined;
  });
  const contents = (id: string) => readdir(path.join(stagingDir, 'imports', id)).then((names) => names.sort());
  const before = await contents(ended.workflowId);
  assert.ok(before.includes('chunks') && before.includes('outcomes'), before.join());

  const tooYoung = await cleanStaging({ store: worker.store, client: t.client, olderThanMs: 86_400_000, reports: false, dryRun: false });
  assert.ok(
    tooYoung.every((r) => r.skipped && r.removed.length === 0),
    'nothing ended a day ago',
  );
  const dry = await cleanStaging({ store: worker.store, client: t.client, reports: false, dryRun: true });
  assert.deepEqual(await contents(ended.workflowId), before, 'a dry run removes nothing');
  assert.ok(dry.find((r) => r.id === ended.workflowId)!.bytes > 0);

  // Through the CLI, as a user runs it.
  const cli = spawnSync(process.execPath, ['--import', 'tsx', 'client/cli.ts', 'clean', '--staging-dir', stagingDir, '--json'], {
    encoding: 'utf8',
  });
  assert.equal(cli.status, 0, cli.stderr);
  const { imports } = JSON.parse(cli.stdout) as {
    imports: { id: string; status: string; removed: string[]; bytes: number; skipped?: string }[];
  };
  const cleaned = imports.find((r) => r.id === ended.workflowId)!;
  assert.equal(cleaned.status, 'COMPLETED');
  assert.ok(cleaned.bytes > 0);
  assert.deepEqual(await contents(ended.workflowId), ['owner.json', 'report']);
  const cleanedRun = imports.find((r) => r.id === scheduledId);
  assert.equal(cleanedRun?.status, 'COMPLETED', 'a scheduled run is found by the workflow id its owner file names');
  assert.equal(cleanedRun?.skipped, undefined);
  assert.deepEqual(await contents(scheduledId), ['owner.json', 'report']);
  assert.deepEqual(imports.find((r) => r.id === running.workflowId)?.skipped, 'still running');
  assert.ok((await contents(running.workflowId)).includes('chunks'), 'the running import keeps its chunks');
  // The report still reads.
  assert.ok((await readdir(path.dirname(summary.files.resultsJsonl))).length > 0);

  await running.cancel();
  await running.result();
});
