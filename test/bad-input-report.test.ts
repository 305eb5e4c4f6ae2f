/**
 * Bad input for the report (issue 8, points 1-3): chunks split by 413s, a reused import id, and
 * staging files damaged while an import runs. Each case checks what a user sees: the exit code, the
 * message, and the report's rows, which must all be true against the sandbox.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { WorkflowFailedError } from '@temporalio/client';
import { pauseSignal, progressQuery, resumeSignal, startImport } from '../client';
import { decodeItem, importPrefix, invalidKey, reportKey } from '../activities/staging/files';
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
    const says = `line ${row.line} (${row.key}) says ${row.outcome} ${row.error}`;
    assert.equal(stored, row.outcome === 'succeeded', `${says}, the sandbox ${stored ? 'has' : 'lacks'} it`);
  }
}

/**
 * Serves `file` over HTTP, holding all of it back until `release()`: staging is running (waiting for its source) when
 * the test pauses the import, and has cut no chunk yet. The first chunk goes out as soon as it is cut, so a source that
 * gave most of its lines at once let a chunk be sent before the pause came (a pause signal in the workflow's first
 * task is not what is tested here).
 */
async function heldSource(file: string): Promise<{ url: string; release(): void; close(): Promise<void> }> {
  const text = await readFile(file, 'utf8');
  let release!: () => void;
  const released = new Promise<void>((resolve) => (release = resolve));
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'application/x-ndjson' });
    res.flushHeaders();
    void released.then(() => res.end(text));
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/${path.basename(file)}`, release, close: () => new Promise((r) => server.close(() => r())) };
}

/**
 * Pauses an import while it stages (nothing is submitted while paused), lets `damage` change its
 * staging files, resumes it and waits for its end. Returns what `bulkport watch` then shows and the report's rows.
 */
async function damagedImport(name: string, file: string, damage: (dir: string, id: string) => Promise<void>) {
  const id = `${name}-${Date.now()}`;
  const source = await heldSource(file);
  let failure: unknown;
  try {
    const handle = await startImport(
      h.t.client,
      { target: 'voucherify', source: { location: source.url }, options: { pollIntervalMs: 100, retryBackoffMs: 100, chunkBytes: 8000 } },
      { workflowId: id, taskQueue: h.worker.taskQueue },
    );
    await eventually('the import staging', async () => ((await handle.query(progressQuery)).phase === 'staging' ? true : undefined));
    await handle.signal(pauseSignal);
    await eventually('the import paused', async () => ((await handle.query(progressQuery)).paused ? true : undefined));
    source.release();
    const progress = await eventually('staging done, paused before any submission', async () => {
      const p = await handle.query(progressQuery);
      // Round 0's first chunks go out while staging runs (`staging`): the files to damage exist once it has ended.
      return p.phase !== 'staging' && !p.staging ? p : undefined;
    });
    assert.equal(progress.submitted, 0, 'nothing submitted before the damage');
    await damage(h.worker.store.locate(importPrefix(id)), id);
    await handle.signal(resumeSignal);
    // An import must end, whatever happened to its files; a hang is a failure of this test, not a wait forever.
    const ended = await Promise.race([
      handle.result().then(
        () => true,
        (err: unknown) => {
          failure = err;
          return true;
        },
      ),
      new Promise<false>((resolve) => setTimeout(() => resolve(false), 45_000).unref()),
    ]);
    if (!ended) {
      await handle.terminate('the test gave up: the import hung after its staging files were damaged');
      assert.fail('the import never ended after its staging files were damaged (it must fail naming them)');
    }
  } finally {
    source.release();
    await source.close();
  }
  const watched = await h.bulkport(['watch', id, '--json']);
  const rows = await readJsonl<ReportRow>(reportFile(id, 'results.jsonl')).catch(() => undefined);
  return { id, ...watched, output: `${watched.stdout}\n${watched.stderr}`, rows, cause: rootCause(failure) };
}

/** The innermost ApplicationFailure of a workflow's failure: what the import failed of. */
function rootCause(err: unknown): ApplicationFailure | undefined {
  let found: ApplicationFailure | undefined;
  for (let e = err; e instanceof Error; e = e.cause) if (e instanceof ApplicationFailure) found = e;
  return found;
}

/** The import failed of StagingDamaged with a message matching every pattern, and `bulkport watch` says so with exit 1. */
function assertFailedNaming(run: Awaited<ReturnType<typeof damagedImport>>, ...patterns: RegExp[]): void {
  assert.equal(run.cause?.type, 'StagingDamaged', `the import failed of StagingDamaged (${run.cause?.type}: ${run.cause?.message})`);
  for (const p of patterns) assert.match(run.cause.message, p);
  assert.match(run.cause.message, /import them again under a new --id/, 'the message names the fix');
  // What the user sees (needs the CLI and workflow branches: the root cause shown, exit 1 for a failed import).
  assert.equal(run.code, ExitCode.failed, run.output);
  for (const p of patterns) assert.match(run.output, p);
}

/** The source lines of a staged chunk, read before it is damaged. */
async function chunkLines(dir: string, chunk: string): Promise<number[]> {
  const text = await readFile(path.join(dir, 'chunks', `${chunk}.jsonl`), 'utf8');
  return text
    .split('\n')
    .filter((l) => l && !l.startsWith('{"#seal"'))
    .map((l) => decodeItem(l).line);
}

describe('bad input: the report is right whatever happened', { concurrency: 3 }, () => {
  test('chunks split twice by 413s: one row per line, all succeeded, nothing in failed-records, every product stored', async () => {
    const file = await catalog('split', 600);
    const run = await h.importFile(file, 'voucherify', ['--chunk-bytes', '40000']);
    assert.equal(run.code, ExitCode.ok, run.output);
    assert.equal(run.status?.summary?.status, 'completed', run.output);
    const id = run.status!.workflowId;
    const chunkFiles = await readdir(h.worker.store.locate(`${importPrefix(id)}/chunks`));
    assert.ok(
      chunkFiles.some((f) => /^r0-\d+\.\d\.\d\.jsonl$/.test(f)),
      `chunks were split at least twice deep (${chunkFiles.join(' ')})`,
    );
    assert.deepEqual(
      run.rows?.map((r) => r.line),
      lines(1, 600),
      'exactly one row per source line, in order',
    );
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
    const refused = `An import with id ${id} already exists \\(it ended Completed\\)\\. One import id names one import's data and report: choose another --id`;
    assert.match(again.output, new RegExp(refused));
    assert.equal(again.rows, undefined, 'the refused import has no report of its own');
    const after = await Promise.all(files.map((f) => readFile(reportFile(id, f))));
    for (const [i, f] of files.entries()) assert.ok(after[i]!.equals(before[i]!), `${f} of the first import is unchanged, byte for byte`);
    assert.deepEqual(
      lines(0, 79).filter((i) => h.voucherify.getProduct(keyOf('reuse-b', i))),
      [],
      'no product of the second file was sent',
    );
  });

  test('an import id reused under another workflow id: the stage refuses it (ImportIdReused), the first report unchanged', async () => {
    const importId = `owner-${Date.now()}`;
    const first = await h.importFile(await catalog('owner-a', 30), 'voucherify', ['--id', importId, ...noSplit]);
    assert.equal(first.code, ExitCode.ok, first.output);
    const before = await readFile(reportFile(importId, 'results.jsonl'));
    const other = await startImport(
      h.t.client,
      {
        target: 'voucherify',
        importId,
        source: { location: await catalog('owner-b', 40) },
        options: { pollIntervalMs: 100, retryBackoffMs: 100 },
      },
      { workflowId: `${importId}-other`, taskQueue: h.worker.taskQueue },
    );
    const err = await other.result().then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof WorkflowFailedError, `the second workflow fails (${String(err)})`);
    let cause: unknown = err;
    while (cause instanceof Error && !(cause instanceof ApplicationFailure && cause.type === 'ImportIdReused')) cause = cause.cause;
    assert.ok(cause instanceof ApplicationFailure, `the root cause is ImportIdReused (${String(err.cause)})`);
    assert.match(
      cause.message,
      new RegExp(`import id ${importId} already names the data of workflow ${importId} .*${importId}-other.*choose another id`),
    );
    assert.ok((await readFile(reportFile(importId, 'results.jsonl'))).equals(before), 'the first report is unchanged');
    assert.deepEqual(
      lines(0, 39).filter((i) => h.voucherify.getProduct(keyOf('owner-b', i))),
      [],
      'nothing of the second file was sent',
    );
  });

  for (const [kind, damage] of [
    ['deleted', (file: string) => rm(file)],
    ['truncated', async (file: string) => writeFile(file, `${(await readFile(file, 'utf8')).split('\n').slice(0, 3).join('\n')}\n`)],
    ['garbage', (file: string) => writeFile(file, Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0xde, 0xad, 0xbe, 0xef, 0x0a]))],
  ] as const) {
    test(`a ${kind} chunk file: the import fails naming the chunk, every row it has is true`, async () => {
      const name = `chunk-${kind}`;
      let lost: number[] = [];
      const run = await damagedImport(name, await catalog(name, 200), async (dir) => {
        lost = await chunkLines(dir, 'r0-000001');
        await damage(path.join(dir, 'chunks', 'r0-000001.jsonl'));
      });
      const what = { deleted: 'missing', truncated: 'no seal', garbage: 'garbage' }[kind];
      assert.deepEqual(
        run.rows?.map((r) => r.line),
        lines(1, 200).filter((l) => !lost.includes(l)),
        "a row for every product but the damaged chunk's",
      );
      assertRowsTrue(run.rows!);
      assertFailedNaming(run, new RegExp(`chunk r0-000001 \\(${what}`), new RegExp(`${lost.length} products have no row`));
    });
  }

  test('one chunk deleted and another garbled: the import fails naming both', async () => {
    const lost: number[] = [];
    const run = await damagedImport('two-chunks', await catalog('two-chunks', 200), async (dir) => {
      for (const c of ['r0-000000', 'r0-000002']) lost.push(...(await chunkLines(dir, c)));
      await rm(path.join(dir, 'chunks', 'r0-000000.jsonl'));
      await writeFile(path.join(dir, 'chunks', 'r0-000002.jsonl'), 'not a chunk\n');
    });
    assert.deepEqual(
      run.rows?.map((r) => r.line),
      lines(1, 200).filter((l) => !lost.includes(l)),
    );
    assertRowsTrue(run.rows!);
    const gap = new RegExp(`the report has ${200 - lost.length} rows for 200 records read`);
    assertFailedNaming(run, /chunk r0-000000 \(missing\).*chunk r0-000002 \(garbage/, gap);
  });

  for (const [kind, damage] of [
    ['deleted', (file: string) => rm(file)],
    ['garbled', (file: string) => writeFile(file, '{"line": 10, "errors": []}\n')],
  ] as const) {
    test(`a ${kind} invalid-rows file: the import fails naming it, the valid rows are all there and true`, async () => {
      const file = await catalog(`invalid-${kind}`, 100, 10);
      const run = await damagedImport(`invalid-${kind}`, file, (_dir, id) => damage(h.worker.store.locate(invalidKey(id))));
      assert.deepEqual(
        run.rows?.map((r) => r.line),
        lines(1, 100).filter((l) => l % 10 !== 0 || (kind === 'garbled' && l === 10)),
      );
      assertRowsTrue(run.rows!);
      const what = kind === 'deleted' ? 'missing' : 'no seal';
      const rows = kind === 'deleted' ? 90 : 91;
      assertFailedNaming(
        run,
        new RegExp(`the report has ${rows} rows for 100 records read; staging file invalid\\.jsonl \\(${what}.*\\) was damaged`),
      );
    });
  }

  test('a deleted meta file: the import fails naming it, every staged product still has its true row', async () => {
    const run = await damagedImport('meta-gone', await catalog('meta-gone', 100), (dir) => rm(path.join(dir, 'meta.json')));
    assert.deepEqual(
      run.rows?.map((r) => r.line),
      lines(1, 100),
    );
    assert.deepEqual(new Set(run.rows?.map((r) => r.outcome)), new Set(['succeeded']));
    assertRowsTrue(run.rows!);
    assertFailedNaming(run, /staging file meta\.json \(missing\) was damaged while the import ran/);
  });
});
