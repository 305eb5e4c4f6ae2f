/**
 * `bulkport schedule`: recurring syncs on Temporal Schedules. Each run is an ordinary import with an id of its own and
 * the import's search attributes; delta sync is on by default (a second run sends nothing that did not change); a run
 * due while one is going is skipped; pause, list and delete do what they say.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ImportSummary } from '../common/import';
import { BulkImportStatus, BulkImportTarget } from '../common/search-attributes';
import { writeCatalog } from '../scripts/catalog';
import { scheduleInfo, type SyncScheduleInfo, triggerSync } from '../client/schedule';
import { useCliHarness } from './cli-harness';
import { eventually } from './helpers';
import { importCatalog, type ScheduledRequest } from '../workflows/import';

const h = useCliHarness('schedule');

/** As `schedule list --json` shows it. */
async function listed(id: string): Promise<SyncScheduleInfo | undefined> {
  const run = await h.bulkport(['schedule', 'list', '--json']);
  assert.equal(run.code, 0, run.stderr);
  return (JSON.parse(run.stdout) as SyncScheduleInfo[]).find((s) => s.scheduleId === id);
}

/** The same, straight from Temporal: quick enough to poll. */
const scheduleNow = async (id: string) => scheduleInfo(id, await h.t.client.schedule.getHandle(id).describe());

/** The next run after the `known` ones, to its end. */
async function nextRun(id: string, known: number): Promise<{ workflowId: string; summary: ImportSummary }> {
  const workflowId = await eventually(`run ${known + 1} of ${id}`, async () => {
    const runs = (await scheduleNow(id)).recentRuns;
    return runs.length > known ? runs[0] : undefined;
  });
  return { workflowId, summary: await h.t.client.workflow.getHandle(workflowId).result() };
}

/** A scheduled run's import id: its workflow id made a folder name, and 12 hex digits of its run id. */
const runImportId = (workflowId: string) => new RegExp(`^${workflowId.replace(/[^A-Za-z0-9._-]/g, '-')}-[0-9a-f]{12}$`);

describe('bulkport schedule', () => {
  test('each run is an import of its own; delta sync is on; an overlapping run is skipped; pause, list, delete', async () => {
    const file = await writeCatalog(path.join(h.dir, 'nightly.jsonl'), {
      target: 'propeller',
      count: 500,
      format: 'jsonl',
      keyPrefix: 'sched',
    });
    const id = `sync-test-${Date.now()}`;
    const created = await h.bulkport([
      'schedule',
      'create',
      file,
      '--target',
      'propeller',
      '--every',
      '1d',
      '--id',
      id,
      '--chunk-size',
      '100',
    ]);
    assert.equal(created.code, 0, created.stderr);
    assert.match(created.stdout, new RegExp(`Created schedule ${id}: every 24h 00m, next run 20`));

    h.propeller.resetStats();
    assert.equal((await h.bulkport(['schedule', 'trigger', id])).code, 0);
    const first = await nextRun(id, 0);
    assert.match(first.summary.importId, runImportId(first.workflowId), 'each run stages under its own id');
    assert.deepEqual([first.summary.counts.succeeded, first.summary.counts.unchanged], [500, 0]);
    const attrs = (await h.t.client.workflow.getHandle(first.workflowId).describe()).typedSearchAttributes;
    assert.deepEqual([attrs.get(BulkImportTarget), attrs.get(BulkImportStatus)], ['propeller', 'Completed'], 'found like any import');
    assert.equal(h.propeller.stats().productsReceived, 500);

    // Nothing changed: the second run sends nothing.
    h.propeller.resetStats();
    await h.bulkport(['schedule', 'trigger', id]);
    const second = await nextRun(id, 1);
    assert.deepEqual([second.summary.counts.succeeded, second.summary.counts.unchanged], [0, 500]);
    assert.equal(h.propeller.stats().productsReceived, 0, 'delta sync: nothing sent');

    // 50 products changed, and Propeller answers slowly: a run asked for while the third one goes is skipped.
    const records = (await readFile(file, 'utf8')).trimEnd().split('\n');
    await writeFile(
      file,
      `${records.map((r, i) => (i % 10 === 3 ? r.replace(/"price":([\d.]+)/, (_, p) => `"price":${Number(p) + 1000}`) : r)).join('\n')}\n`,
    );
    h.propeller.setFaults({ slowRate: 1, slowMs: 6000 });
    await h.bulkport(['schedule', 'trigger', id]);
    await eventually('the third run going', async () => ((await scheduleNow(id)).running.length ? true : undefined));
    // Through the client, as the CLI does it: starting a second CLI process here took longer than the run on a loaded
    // CI machine, and the trigger came after the run had ended.
    await triggerSync(h.t.client.schedule.getHandle(id));
    const skipped = await eventually('the overlapping run counted', async () => (await scheduleNow(id)).skippedOverlap || undefined);
    assert.equal(skipped, 1, 'the run asked for while one was going was skipped');
    const third = await nextRun(id, 2);
    h.propeller.setFaults({});
    assert.deepEqual([third.summary.counts.succeeded, third.summary.counts.unchanged], [50, 450]);
    assert.equal(h.propeller.stats().productsReceived, 50, 'exactly the changed ones were sent');
    const info = await listed(id);
    assert.equal(info?.skippedOverlap, 1, 'schedule list shows the skipped run');
    assert.equal(info?.recentRuns.length, 3, 'no run started after the third');

    assert.equal((await h.bulkport(['schedule', 'pause', id])).code, 0);
    assert.equal((await listed(id))?.paused, true);
    const table = await h.bulkport(['schedule', 'list']);
    assert.match(table.stdout, new RegExp(`${id}\\s+every 24h 00m\\s+paused`));
    assert.equal((await h.bulkport(['schedule', 'delete', id])).code, 0);
    assert.equal(await listed(id), undefined);
  });

  test('two runs that share a workflow id (a schedule names runs to the second) each import under an id of their own', async () => {
    // What a schedule does when a trigger comes in the second a short run started: a second run of the same workflow id.
    // Ten chunks, a run each: every continue-as-new must carry the id its first run took.
    const file = await writeCatalog(path.join(h.dir, 'same-second.jsonl'), { target: 'propeller', count: 20, format: 'jsonl' });
    const workflowId = `sync-same-second-${Date.now()}-2026-12-04T06:28:41Z`;
    const request: ScheduledRequest = {
      target: 'propeller',
      source: { location: file },
      options: { skipUnchanged: true, chunkSize: 2, chunksPerRun: 1 },
    };
    const run = async () => {
      const handle = await h.t.client.workflow.start(importCatalog, { workflowId, taskQueue: h.worker.taskQueue, args: [request] });
      return { runId: handle.firstExecutionRunId, summary: await handle.result() };
    };
    const first = await run();
    const second = await run();
    assert.notEqual(second.runId, first.runId);
    for (const r of [first, second]) assert.match(r.summary.importId, runImportId(workflowId));
    assert.notEqual(second.summary.importId, first.summary.importId, 'each run stages under its own id');
    assert.ok(first.summary.runs >= 10, `the first import took ${first.summary.runs} runs`);
    assert.deepEqual(
      [first.summary.counts.succeeded, second.summary.counts.unchanged],
      [20, 20],
      "the second run found the first one's products unchanged",
    );
  });

  test('create refuses --cron with --every, and an id in use', async () => {
    const file = await writeCatalog(path.join(h.dir, 'x.jsonl'), { target: 'voucherify', count: 2, format: 'jsonl' });
    const both = await h.bulkport(['schedule', 'create', file, '-t', 'voucherify', '--cron', '0 2 * * *', '--every', '1h']);
    assert.equal(both.code, 1);
    assert.match(both.stderr, /exactly one of --cron .* and --every/);
    const id = `sync-dup-${Date.now()}`;
    assert.equal((await h.bulkport(['schedule', 'create', file, '-t', 'voucherify', '--cron', '0 2 * * *', '--id', id])).code, 0);
    const again = await h.bulkport(['schedule', 'create', file, '-t', 'voucherify', '--every', '1h', '--id', id]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, new RegExp(`A schedule with id ${id} already exists`));
    await h.t.client.schedule.getHandle(id).delete();
  });
});
