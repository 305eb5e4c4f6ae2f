/**
 * Bad input for the report (issue 8, points 1-3): chunks split by 413s, a reused import id, and
 * staging files damaged while an import runs. Each case checks what a user sees: the exit code, the
 * message, and the report's rows, which must all be true against the sandbox.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { pauseSignal, progressQuery, resumeSignal, startImport } from '../client';
import { importPrefix, invalidKey, reportKey } from '../activities/staging/files';
import { writeCatalog } from '../scripts/catalog';
import { ExitCode, useCliHarness, type ReportRow } from './cli-harness';
import { eventually, readJsonl } from './helpers';

// A small request limit: 40 kB chunks are halved twice (40 → 20 → 10 kB) before the sandbox takes them.
const MAX_BODY = 12_000;
const h = useCliHarness('bad-report', { voucherify: { maxBodyBytes: MAX_BODY } });
const noSplit = ['--chunk-bytes', '8000'];

const catalog = (name: string, count: number, invalidEvery = 0) =>
  writeCatalog(path.join(h.dir, `${name}.jsonl`), { target: 'voucherify', count, format: 'jsonl', keyPrefix: name, invalidEvery });
const keyOf = (name: string, i: number) => `${name}-${String(i).padStart(7, '0')}`;
const lines = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const reportFile = (id: string, file: string) => h.worker.store.locate(reportKey(id, file));

/** Every succeeded row's product is in the sandbox; a row of any other outcome names a product the sandbox lacks. */
function assertRowsTrue(rows: ReportRow[]): void {
  for (const row of rows) {
    const stored = h.voucherify.getProduct(row.key) !== undefined;
    assert.equal(stored, row.outcome === 'succeeded', `line ${row.line} (${row.key}) says ${row.outcome} ${row.error}, the sandbox ${stored ? 'has' : 'lacks'} it`);
  }
}

/**
 * Starts an import paused (staging runs, nothing is submitted), lets `damage` change its staging
 * files, resumes it and waits for its end. Returns what `bulkport watch` then shows and the report's rows.
 */
async function damagedImport(name: string, file: string, damage: (dir: string, id: string) => Promise<void>) {
  const id = `${name}-${Date.now()}`;
  const handle = await startImport(
    h.t.client,
    { target: 'voucherify', source: { location: file }, options: { pollIntervalMs: 100, retryBackoffMs: 100, chunkBytes: 8000 } },
    { workflowId: id, taskQueue: h.worker.taskQueue },
  );
  await handle.signal(pauseSignal);
  const progress = await eventually('staging done, paused before any submission', async () => {
    const p = await handle.query(progressQuery);
    return p.phase !== 'staging' ? p : undefined;
  });
  assert.ok(progress.paused && progress.submitted === 0, `paused before submitting (${JSON.stringify({ paused: progress.paused, submitted: progress.submitted })})`);
  await damage(h.worker.store.locate(importPrefix(id)), id);
  await handle.signal(resumeSignal);
  // An import must end, whatever happened to its files; a hang is a failure of this test, not a wait forever.
  const ended = await Promise.race([
    handle.result().then(() => true, () => true),
    new Promise<false>((resolve) => setTimeout(() => resolve(false), 45_000).unref()),
  ]);
  if (!ended) {
    await handle.terminate('the test gave up: the import hung after its staging files were damaged');
    assert.fail('the import never ended after its staging files were damaged (it must fail naming them)');
  }
  const watched = await h.bulkport(['watch', id, '--json']);
  const rows = await readJsonl<ReportRow>(reportFile(id, 'results.jsonl')).catch(() => undefined);
  return { id, ...watched, output: `${watched.stdout}\n${watched.stderr}`, rows };
}

/** The source lines of a staged chunk, read before it is damaged. */
async function chunkLines(dir: string, chunk: string): Promise<number[]> {
  const text = await readFile(path.join(dir, 'chunks', `${chunk}.jsonl`), 'utf8');
  return text.split('\n').filter((l) => l.startsWith('{"line"')).map((l) => (JSON.parse(l) as { line: number }).line);
}

describe('bad input: the report is right whatever happened', { concurrency: 3 }, () => {
  test('chunks split twice by 413s: one row per line, all succeeded, nothing in failed-records, every product stored', async () => {
    const file = await catalog('split', 600);
    const run = await h.importFile(file, 'voucherify', ['--chunk-bytes', '40000']);
    assert.equal(run.code, ExitCode.ok, run.output);
    assert.equal(run.status?.status, 'completed', run.output);
    const id = run.status!.workflowId;
    const chunkFiles = await readdir(h.worker.store.locate(`${importPrefix(id)}/chunks`));
    assert.ok(chunkFiles.some((f) => /^r0-\d+\.\d\.\d\.jsonl$/.test(f)), `chunks were split at least twice deep (${chunkFiles.join(' ')})`);
    assert.deepEqual(run.rows?.map((r) => r.line), lines(1, 600), 'exactly one row per source line, in order');
    assert.deepEqual(new Set(run.rows?.map((r) => r.outcome)), new Set(['succeeded']));
    assertRowsTrue(run.rows!);
    assert.equal(await readFile(reportFile(id, 'failed-records.jsonl'), 'utf8'), '', 'failed-records is empty');
  });

  test('a reused --id after the import ended: exit 1, the fix, the first report unchanged, nothing sent', async () => {
    const id = `reuse-${Date.now()}`;
    const first = await h.importFile(await catalog('reuse-a', 50), 'voucherify', ['--id', id, ...noSplit]);
    assert.equal(first.code, ExitCode.ok, first.output);
    const files = ['results.jsonl', 'results.csv', 'failed-records.jsonl'];
    const before = await Promise.all(files.map((f) => readFile(reportFile(id, f))));

    const again = await h.importFile(await catalog('reuse-b', 80), 'voucherify', ['--id', id, ...noSplit]);
    assert.equal(again.code, ExitCode.failed, again.output);
    assert.match(again.output, new RegExp(`An import with id ${id} already exists \\(it ended Completed\\)\\. One import id names one import's data and report: choose another --id`));
    assert.equal(again.rows, undefined, 'the refused import has no report of its own');
    const after = await Promise.all(files.map((f) => readFile(reportFile(id, f))));
    for (const [i, f] of files.entries()) assert.ok(after[i]!.equals(before[i]!), `${f} of the first import is unchanged, byte for byte`);
    assert.deepEqual(lines(0, 79).filter((i) => h.voucherify.getProduct(keyOf('reuse-b', i))), [], 'no product of the second file was sent');
  });

  test('an import id reused under another workflow id: the stage refuses it (ImportIdReused), the first report unchanged', async () => {
    const importId = `owner-${Date.now()}`;
    const first = await h.importFile(await catalog('owner-a', 30), 'voucherify', ['--id', importId, ...noSplit]);
    assert.equal(first.code, ExitCode.ok, first.output);
    const before = await readFile(reportFile(importId, 'results.jsonl'));
    const other = await startImport(
      h.t.client,
      { target: 'voucherify', importId, source: { location: await catalog('owner-b', 40) }, options: { pollIntervalMs: 100, retryBackoffMs: 100 } },
      { workflowId: `${importId}-other`, taskQueue: h.worker.taskQueue },
    );
    const err = await other.result().then(() => undefined, (e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError, `the second workflow fails (${String(err)})`);
    let cause: unknown = err;
    while (cause instanceof Error && !(cause instanceof ApplicationFailure && cause.type === 'ImportIdReused')) cause = cause.cause;
    assert.ok(cause instanceof ApplicationFailure, `the root cause is ImportIdReused (${String(err.cause)})`);
    assert.match(cause.message, new RegExp(`import id ${importId} already names the data of workflow ${importId} .*${importId}-other.*choose another id`));
    assert.ok((await readFile(reportFile(importId, 'results.jsonl'))).equals(before), 'the first report is unchanged');
    assert.deepEqual(lines(0, 39).filter((i) => h.voucherify.getProduct(keyOf('owner-b', i))), [], 'nothing of the second file was sent');
  });

  for (const [kind, damage] of [
    ['deleted', (file: string) => rm(file)],
    ['truncated', async (file: string) => writeFile(file, (await readFile(file, 'utf8')).split('\n').slice(0, 3).join('\n') + '\n')],
    ['garbage', (file: string) => writeFile(file, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x0a]))],
  ] as const) {
    test(`a ${kind} chunk file: the import fails naming the chunk, every row it has is true`, async () => {
      const name = `chunk-${kind}`;
      let lost: number[] = [];
      const run = await damagedImport(name, await catalog(name, 200), async (dir) => {
        lost = await chunkLines(dir, 'r0-000001');
        await damage(path.join(dir, 'chunks', 'r0-000001.jsonl'));
      });
      assert.equal(run.code, ExitCode.failed, run.output);
      const what = { deleted: 'missing', truncated: 'no seal', garbage: 'garbage' }[kind];
      assert.match(run.output, new RegExp(`chunk r0-000001 \\(${what}`), run.output);
      assert.match(run.output, new RegExp(`${lost.length} products have no row`), run.output);
      assert.match(run.output, /import them again under a new --id/);
      assert.deepEqual(run.rows?.map((r) => r.line), lines(1, 200).filter((l) => !lost.includes(l)), 'a row for every product but the damaged chunk\'s');
      assertRowsTrue(run.rows!);
    });
  }

  test('one chunk deleted and another garbled: the import fails naming both', async () => {
    const lost: number[] = [];
    const run = await damagedImport('two-chunks', await catalog('two-chunks', 200), async (dir) => {
      for (const c of ['r0-000000', 'r0-000002']) lost.push(...(await chunkLines(dir, c)));
      await rm(path.join(dir, 'chunks', 'r0-000000.jsonl'));
      await writeFile(path.join(dir, 'chunks', 'r0-000002.jsonl'), 'not a chunk\n');
    });
    assert.equal(run.code, ExitCode.failed, run.output);
    assert.match(run.output, /chunk r0-000000 \(missing\).*chunk r0-000002 \(garbage/, run.output);
    assert.match(run.output, new RegExp(`the report has ${200 - lost.length} rows for 200 records read`));
    assert.deepEqual(run.rows?.map((r) => r.line), lines(1, 200).filter((l) => !lost.includes(l)));
    assertRowsTrue(run.rows!);
  });

  test('a deleted invalid-rows file: the import fails naming it, the valid rows are all there and true', async () => {
    const run = await damagedImport('invalid-gone', await catalog('invalid-gone', 100, 10), async (_dir, id) => {
      await rm(h.worker.store.locate(invalidKey(id)));
    });
    assert.equal(run.code, ExitCode.failed, run.output);
    assert.match(run.output, /the report has 90 rows for 100 records read; staging file invalid\.jsonl \(missing\) was damaged/, run.output);
    assert.match(run.output, /10 products have no row/);
    assert.deepEqual(run.rows?.map((r) => r.line), lines(1, 100).filter((l) => l % 10 !== 0));
    assert.deepEqual(new Set(run.rows?.map((r) => r.outcome)), new Set(['succeeded']));
    assertRowsTrue(run.rows!);
  });
});

