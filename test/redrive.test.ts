/**
 * `bulkport retry`: a new import of exactly the records of an ended import that did not succeed, linked both ways,
 * invalid records only when asked (fixed in place in the failed-records file), and a clear refusal when that file no
 * longer pairs with the report.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { writeCatalog } from '../scripts/catalog';
import { ExitCode, fastFlags, useCliHarness, type ImportRun } from './cli-harness';
import { readJsonl } from './helpers';
import type { ResultRow } from '../activities/report';
import { importCatalog, type ScheduledRequest } from '../workflows/import';

const h = useCliHarness('redrive');

const keysOf = (rows: ResultRow[] | undefined, outcome: string) =>
  new Set((rows ?? []).filter((r) => r.outcome === outcome).map((r) => r.key));

async function retry(id: string, flags: string[] = []): Promise<ImportRun> {
  const run = await h.bulkport(['retry', id, '--wait', '--json', '--worker-timeout', '30', ...flags]);
  // The one JSON document printed, at the start of a line (the first one, when nothing came before it).
  const start = run.stdout.lastIndexOf('\n{') + 1;
  const status = run.stdout.slice(start).startsWith('{') ? JSON.parse(run.stdout.slice(start)) : undefined;
  const rows = status?.summary ? await readJsonl<ResultRow>(status.summary.files.resultsJsonl) : undefined;
  return { ...run, status, rows, output: `${run.stdout}\n${run.stderr}` };
}

describe('bulkport retry', () => {
  test('sends exactly the failed records again, then the invalid ones once fixed in place; status links both ways', async () => {
    // One product in five fails and no retry round runs: the first import ends with failed and invalid records.
    h.propeller.setFaults({ productFailureRate: 0.2 });
    const file = await writeCatalog(path.join(h.dir, 'catalog.jsonl'), {
      target: 'propeller',
      count: 600,
      format: 'jsonl',
      invalidEvery: 50,
      keyPrefix: 'redrive',
    });
    const first = await h.importFile(file, 'propeller', ['--retry-rounds', '0', '--chunk-size', '100', '--id', `redrive-${Date.now()}`]);
    const id = first.status!.workflowId;
    const failed = keysOf(first.rows, 'failed');
    const invalid = keysOf(first.rows, 'invalid');
    assert.ok(failed.size > 20, `some records failed (${failed.size})`);
    assert.equal(invalid.size, 12);
    h.propeller.setFaults({ productFailureRate: 0 });

    const again = await retry(id, ['--retry-rounds', '0']);
    assert.equal(again.code, ExitCode.ok, again.output);
    assert.equal(again.status?.summary?.redriveOf, id);
    assert.deepEqual(keysOf(again.rows, 'succeeded'), failed, 'exactly the failed records were sent, and they landed');
    assert.equal(again.rows?.length, failed.size, 'and nothing else: the invalid ones stay out without --include-invalid');
    for (const key of failed) assert.ok(h.propeller.getProduct('sourceId', key.split(':')[1]!, 'ERP'), `${key} is stored`);

    const status = await h.bulkport(['status', id]);
    assert.match(status.stdout, new RegExp(`retried by ${again.status!.workflowId} \\(Completed\\)`));
    const second = await h.bulkport(['status', again.status!.workflowId]);
    assert.match(second.stdout, new RegExp(`retries the records of ${id}`));

    // Fixed in place: the invalid records' status X becomes A in the failed-records file the report names.
    const failedRecords = first.status!.summary!.files.failedRecords;
    const text = await readFile(failedRecords, 'utf8');
    await writeFile(failedRecords, text.replaceAll('"status":"X"', '"status":"A"'));
    const fixed = await retry(id, ['--include-invalid']);
    assert.equal(fixed.code, ExitCode.ok, fixed.output);
    assert.deepEqual(keysOf(fixed.rows, 'succeeded'), new Set([...failed, ...invalid]));

    // A record removed from the file: the pairing with the report is gone, and the retry says so rather than guess.
    await writeFile(failedRecords, `${text.split('\n').slice(1).join('\n')}`);
    const broken = await retry(id);
    assert.equal(broken.code, ExitCode.failed);
    assert.match(broken.output, /hold \d+ records where its report has \d+ rows that did not succeed: fix records in place/);
  });

  test('a scheduled run, whose import id is not its workflow id, is retried by its workflow id and linked to its retry', async () => {
    h.propeller.setFaults({ productFailureRate: 0.2 });
    const file = await writeCatalog(path.join(h.dir, 'scheduled.jsonl'), {
      target: 'propeller',
      count: 100,
      format: 'jsonl',
      keyPrefix: 'sched-redrive',
    });
    // As a schedule starts a run: no import id, a workflow id with ":" in it.
    const request: ScheduledRequest = { target: 'propeller', source: { location: file }, options: { retryRounds: 0, chunkSize: 50 } };
    const run = await h.t.client.workflow.start(importCatalog, {
      workflowId: `sync-redrive-${Date.now()}-2026-12-04T06:28:41Z`,
      taskQueue: h.worker.taskQueue,
      args: [request],
    });
    const summary = await run.result();
    h.propeller.setFaults({ productFailureRate: 0 });
    const failed = keysOf(await readJsonl<ResultRow>(summary.files.resultsJsonl), 'failed');
    assert.ok(failed.size > 5, `some records failed (${failed.size})`);

    const again = await retry(run.workflowId, ['--retry-rounds', '0']);
    assert.equal(again.code, ExitCode.ok, again.output);
    assert.deepEqual(keysOf(again.rows, 'succeeded'), failed, 'exactly the failed records were sent again');
    assert.equal(again.status?.summary?.redriveOf, summary.importId);
    const status = await h.bulkport(['status', run.workflowId]);
    assert.match(status.stdout, new RegExp(`retried by ${again.status!.workflowId} \\(Completed\\)`));

    // Its import id, which its report's path shows, finds it too, through the owner file in the workers' staging folder.
    assert.notEqual(summary.importId, run.workflowId);
    const byImportId = await h.bulkport(['status', summary.importId], { BULKPORT_STAGING_DIR: h.worker.store.root });
    assert.equal(byImportId.code, ExitCode.ok, byImportId.stderr);
    assert.match(byImportId.stderr, new RegExp(`${summary.importId} is the import id of workflow ${run.workflowId}`));
    assert.match(byImportId.stdout, new RegExp(`retried by ${again.status!.workflowId} \\(Completed\\)`));
    // Where that folder is not, the import id names no import, as before.
    const elsewhere = await h.bulkport(['status', summary.importId], { BULKPORT_STAGING_DIR: h.dir });
    assert.equal(elsewhere.code, 1);
    assert.match(elsewhere.stderr, new RegExp(`No import with id ${summary.importId}`));
  });

  test('nothing to retry: all succeeded exits 0; only invalid ones without --include-invalid is an error naming the flag; a running import is refused', async () => {
    const file = await writeCatalog(path.join(h.dir, 'clean.jsonl'), {
      target: 'propeller',
      count: 20,
      format: 'jsonl',
      keyPrefix: 'r-ok',
    });
    const ok = await h.importFile(file, 'propeller');
    const done = await h.bulkport(['retry', ok.status!.workflowId]);
    assert.equal(done.code, 0);
    assert.match(done.stdout, /Nothing to retry: every record of .* succeeded/);

    const mixed = await writeCatalog(path.join(h.dir, 'mixed.jsonl'), {
      target: 'propeller',
      count: 20,
      format: 'jsonl',
      invalidEvery: 10,
      keyPrefix: 'r-inv',
    });
    const withInvalid = await h.importFile(mixed, 'propeller', fastFlags);
    const refused = await h.bulkport(['retry', withInvalid.status!.workflowId]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /its 2 invalid ones go again only with --include-invalid, once fixed in .*failed-records\.jsonl/);

    // No worker polls this queue: the import stays running.
    const runningId = `r-running-${Date.now()}`;
    await h.bulkport(['import', file, '--target', 'propeller', '--task-queue', `nobody-${runningId}`, '--id', runningId]);
    const running = await h.bulkport(['retry', runningId]);
    await h.t.client.workflow.getHandle(runningId).terminate('test over');
    assert.equal(running.code, 1);
    assert.match(running.stderr, new RegExp(`${runningId} is still running: retry it once it has ended`));
  });
});
