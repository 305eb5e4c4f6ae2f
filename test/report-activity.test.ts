/**
 * The report activity on staging data laid out by hand: split chunks, a retry round, a chunk whose
 * failure was never recorded, and damaged files. The activity runs in Temporal's own mock activity
 * environment (no workflow involved); the staging store is a real folder.
 */
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import { stringify } from 'csv-stringify/sync';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ImportInput } from '../common/import';
import { createReportActivities, type ResultRow } from '../activities/report';
import {
  chunkKey,
  decodeItem,
  encodeItem,
  headsKey,
  invalidKey,
  metaKey,
  outcomeKey,
  ownerKey,
  roundKey,
  writeChunk,
  writeLines,
  writeOutcomes,
} from '../activities/staging/files';
import { LocalFolderStore } from '../activities/staging/store';
import { flattenDotted } from '../activities/sources';
import type { ItemOutcome } from '../targets/types';
import { readJsonl, tempDir } from './helpers';

const store = new LocalFolderStore(await tempDir('report-activity'));
const { writeReport } = createReportActivities(store);
const item = (line: number) => ({
  line,
  key: `k${line}`,
  rawJson: JSON.stringify({ source_id: `k${line}` }),
  body: JSON.stringify({ source_id: `k${line}` }),
});
const ok: ItemOutcome = { kind: 'succeeded' };
const invalidRow = { line: 5, key: 'k5', errors: [{ path: 'price', message: 'bad' }], raw: { source_id: 'k5' } };
const retry: ItemOutcome = { kind: 'retryable', error: 'HTTP 503' };

/**
 * Ten records: line 5 invalid; r0-000000 (lines 1-4) split into .0 (1-2) and .1, itself split into
 * .1.0 (3, failed, retried in round 1 and succeeded) and .1.1 (4); r0-000001 (6-8) whose failure was
 * never recorded; r0-000002 (9-10) never submitted.
 */
async function stage(importId: string): Promise<ImportInput> {
  const chunk = async (id: string, lines: number[], outcomes?: ItemOutcome[]) => {
    await writeChunk(store, importId, id, lines.map(item));
    if (outcomes) await writeOutcomes(store, importId, id, lines.map(item), outcomes);
  };
  await chunk('r0-000000', [1, 2, 3, 4]);
  await chunk('r0-000000.0', [1, 2], [ok, ok]);
  await chunk('r0-000000.1', [3, 4]);
  await chunk('r0-000000.1.0', [3], [retry]);
  await chunk('r0-000000.1.1', [4], [ok]);
  await chunk('r0-000001', [6, 7, 8]);
  await chunk('r0-000002', [9, 10]);
  await chunk('r1-000000', [3], [ok]);
  await writeLines(store, roundKey(importId, 1), [JSON.stringify({ chunks: 1, products: 1 })]);
  await writeLines(store, invalidKey(importId), [JSON.stringify(invalidRow)]);
  const counts = { read: 10, valid: 9, invalid: 1, chunks: 3 };
  await writeLines(store, metaKey(importId), [JSON.stringify({ format: 'jsonl', source: '/tmp/x.jsonl', counts })]);
  return ImportInput.parse({ importId, target: 'voucherify', source: { location: '/tmp/x.jsonl' } });
}

const run = (input: ImportInput, unrecorded?: { chunkId: string; error: string }[], lastRound = 1) =>
  new MockActivityEnvironment({ workflowExecution: { workflowId: input.importId, runId: 'run-1' } }).run(writeReport, {
    input,
    lastRound,
    unrecorded,
  }) as ReturnType<typeof writeReport>;
const brief = (rows: ResultRow[]) => rows.map((r) => `${r.line} ${r.outcome} ${r.attempts} ${r.error}`);

describe('the report activity', () => {
  test('split chunks, a retry round and an unrecorded chunk: one true row per record, in source order', async () => {
    const input = await stage('tree');
    const unknown = 'outcome unknown: the staging store was unavailable';
    const report = await run(input, [{ chunkId: 'r0-000001', error: 'the staging store was unavailable' }]);
    assert.deepEqual(brief(await readJsonl<ResultRow>(report.files.resultsJsonl)), [
      '1 succeeded 1 ',
      '2 succeeded 1 ',
      '3 succeeded 2 ',
      '4 succeeded 1 ',
      '5 invalid 0 price: bad',
      `6 failed 1 ${unknown}`, // one attempt that may or may not have reached the target
      `7 failed 1 ${unknown}`,
      `8 failed 1 ${unknown}`,
      '9 not-submitted 0 not submitted: the import ended before this product was sent',
      '10 not-submitted 0 not submitted: the import ended before this product was sent',
    ]);
    assert.deepEqual(report.counts, { succeeded: 4, failed: 3, invalid: 1, notSubmitted: 2 });
    const failed = (await readJsonl<{ source_id: string }>(report.files.failedRecords)).map((r) => r.source_id);
    assert.deepEqual(failed, ['k5', 'k6', 'k7', 'k8', 'k9', 'k10'], 'failed-records lists no imported product');
    assert.equal(
      await readFile(report.files.invalidRows, 'utf8'),
      `${JSON.stringify(invalidRow)}\n`,
      'the invalid rows for people: plain, no seal',
    );
  });

  test('damaged files: the partial report is written, then the activity fails naming every damaged file and the gap', async () => {
    const input = await stage('damaged');
    // Chunk .1.1 (line 4) gone with its heads and outcome files: nothing says which product it held.
    for (const key of [chunkKey, headsKey, outcomeKey]) await rm(store.locate(key('damaged', 'r0-000000.1.1')));
    await writeFile(store.locate(outcomeKey('damaged', 'r0-000000.0')), 'garbage\n');
    const err = await run(input).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'StagingDamaged');
    assert.equal(err.nonRetryable, true);
    assert.match(
      err.message,
      new RegExp(
        '^the report has 9 rows for 10 records read; ' +
          'staging files outcomes of chunk r0-000000\\.0 \\(garbage: line 1 is not JSON\\) and chunk r0-000000\\.1\\.1 \\(missing\\) ' +
          'were damaged while the import ran; 1 product has no row \\(their outcomes are unknown\\); 2 rows say "outcome unknown": ' +
          '.*new --id\\. Report so far: .*results\\.jsonl$',
      ),
    );
    const { files, counts } = err.details![0] as { files: { resultsJsonl: string }; counts: Record<string, number> };
    assert.deepEqual(counts, { succeeded: 1, failed: 2, invalid: 1, notSubmitted: 5 });
    const rows = await readJsonl<ResultRow>(files.resultsJsonl);
    assert.deepEqual(
      rows.map((r) => r.line),
      [1, 2, 3, 5, 6, 7, 8, 9, 10],
      'every row it could write, none invented for line 4',
    );
    assert.match(rows[0]!.error, /^outcome unknown: the outcome file of chunk r0-000000\.0 is damaged/);
  });

  test('a chunk file gone: its heads file still gives true rows, and a row that needs the record names the damage', async () => {
    const input = await stage('heads-only');
    // Line 4 succeeded: its row needs nothing but the heads. Lines 9-10 were never sent: their records go to failed-records.
    await rm(store.locate(chunkKey('heads-only', 'r0-000000.1.1')));
    await rm(store.locate(chunkKey('heads-only', 'r0-000002')));
    const err = await run(input, [{ chunkId: 'r0-000001', error: 'the staging store was unavailable' }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.equal(err.type, 'StagingDamaged');
    assert.match(
      err.message,
      /^the report has 8 rows for 10 records read; staging file chunk r0-000002 \(missing\) was damaged .*2 products have no row/,
    );
    const { files } = err.details![0] as { files: { resultsJsonl: string } };
    const rows = await readJsonl<ResultRow>(files.resultsJsonl);
    assert.deepEqual(
      rows.map((r) => r.line),
      [1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.equal(rows[3]!.outcome, 'succeeded');
  });

  test('a missing meta file or round file is named too; the chunks the folder shows are still reported', async () => {
    const input = await stage('no-meta');
    await rm(store.locate(metaKey('no-meta')));
    await rm(store.locate(roundKey('no-meta', 1)));
    const err = await run(input).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure);
    assert.match(err.message, /staging files meta\.json \(missing\) and rounds\/r1\.json \(missing\) were damaged/);
    const { files } = err.details![0] as { files: { resultsJsonl: string } };
    const rows = brief(await readJsonl<ResultRow>(files.resultsJsonl));
    assert.deepEqual(
      rows.map((r) => r.split(' ')[0]),
      ['1', '2', '3', '4', '5', '6', '7', '8', '9', '10'],
    );
    assert.equal(rows[2], '3 succeeded 2 ', 'the retry round is found from its files');
  });

  test("another workflow's data under the same import id: the report refuses to overwrite it", async () => {
    const input = await stage('not-mine');
    await writeLines(store, ownerKey('not-mine'), [JSON.stringify({ workflowId: 'someone-else', runId: 'r' })]);
    const err = await run(input).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure);
    assert.equal(err.type, 'ImportIdReused');
    await assert.rejects(readFile(store.locate('imports/not-mine/report/results.jsonl')), /ENOENT/);
  });
});

describe('reading chunks for the report: records parsed only where a row needs them, written back as before', () => {
  // Keys and records with what could confuse a reader that slices lines: the field names, quotes, commas, newlines.
  const records: Record<string, unknown>[] = [
    { source_id: 'a,1', name: 'say "hi"', price: 12.5, tags: ['x', 'y'], meta: { note: 'line\nbreak', empty: {}, none: null } },
    { source_id: 'k"2', nested: { deep: { v: '😀 ünï ' } }, 'dotted.key': 'v', flag: true },
    { source_id: 'k3', plain: 'succeeds' },
    { source_id: 'k4', raw: { body: ',"body":' }, list: [{ a: 1 }] },
    { source_id: 'k5', text: 'cr\r\nlf' },
  ];
  const keys = ['a,"raw":1', 'k\\",\\"raw\\":2', 'k3', 'k4 ,"body":', 'k5'];
  const items = records.map((raw, i) => ({ line: i + 1, key: keys[i]!, rawJson: JSON.stringify(raw), body: JSON.stringify(raw) }));
  const failedHttp: ItemOutcome = { kind: 'failed', error: 'HTTP 422: {"message":"bad, very bad"}\nmore' };
  const rejected: ItemOutcome = { kind: 'invalid', error: 'price: must be > 0 ' };

  /** Lines 1-3 answered (failed, retryable, succeeded), 4 rejected by the target, 5 never submitted. */
  async function stageRecords(importId: string, meta: Record<string, unknown>): Promise<ImportInput> {
    await writeChunk(store, importId, 'r0-000000', items.slice(0, 3));
    await writeOutcomes(store, importId, 'r0-000000', items.slice(0, 3), [failedHttp, retry, ok]);
    await writeChunk(store, importId, 'r0-000001', items.slice(3, 4));
    await writeOutcomes(store, importId, 'r0-000001', items.slice(3, 4), [rejected]);
    await writeChunk(store, importId, 'r0-000002', items.slice(4));
    await writeLines(store, invalidKey(importId), []);
    const counts = { read: 5, valid: 5, invalid: 0, chunks: 3 };
    await writeLines(store, metaKey(importId), [JSON.stringify({ source: '/tmp/x', counts, ...meta })]);
    return ImportInput.parse({ importId, target: 'voucherify', source: { location: '/tmp/x' } });
  }
  const text = (lines: string[]) => lines.map((l) => `${l}\n`).join('');
  const notSucceeded = records.filter((_, i) => i !== 2);

  test('results.csv is what csv-stringify made of each row; failed-records.jsonl holds each record as it came', async () => {
    const report = await run(await stageRecords('records-jsonl', { format: 'jsonl' }), undefined, 0);
    const rows = await readJsonl<ResultRow>(report.files.resultsJsonl);
    assert.deepEqual(
      rows.map((r) => `${r.line} ${r.key} ${r.outcome} ${r.attempts}`),
      [`1 ${keys[0]} failed 1`, `2 ${keys[1]} failed 1`, '3 k3 succeeded 1', `4 ${keys[3]} invalid 1`, '5 k5 not-submitted 0'],
    );
    const csvRows = rows.map((r) => stringify([[r.line, r.key, r.outcome, r.attempts, r.error]]).trimEnd());
    assert.equal(await readFile(report.files.resultsCsv, 'utf8'), text(['line,key,outcome,attempts,error', ...csvRows]));
    assert.equal(await readFile(report.files.failedRecords, 'utf8'), text(notSucceeded.map((r) => JSON.stringify(r))));
  });

  for (const columns of [['source_id', 'name', 'meta.note', 'absent'], undefined]) {
    test(`failed-records.csv of a CSV source (${columns ? 'its columns' : 'no columns recorded'}): each record flattened as before`, async () => {
      const report = await run(await stageRecords(`records-csv-${columns ? 'columns' : 'none'}`, { format: 'csv', columns }), undefined, 0);
      const flat = notSucceeded.map((r) => flattenDotted(r));
      const cells = flat.map((f) => stringify([(columns ?? Object.keys(f)).map((c) => f[c] ?? '')]).trimEnd());
      const header = columns ? [stringify([columns]).trimEnd()] : [];
      assert.equal(await readFile(report.files.failedRecords, 'utf8'), text([...header, ...cells]));
    });
  }

  test('a chunk line decodes to the line, key, record text and body it was encoded from', () => {
    for (const item of items) assert.deepEqual(decodeItem(encodeItem(item)), item);
    // A line of the format before the body's length was written first.
    const legacy = JSON.stringify({ line: 9, key: 'old', raw: records[0], body: records[0] });
    assert.deepEqual(decodeItem(legacy), { line: 9, key: 'old', rawJson: JSON.stringify(records[0]), body: JSON.stringify(records[0]) });
  });

  test('a product garbled in a chunk file is named as garbage, as when every record was parsed', async () => {
    const input = await stageRecords('records-garbled', { format: 'jsonl' });
    const file = store.locate(chunkKey('records-garbled', 'r0-000000'));
    // Each record here is its body, stored once (`"raw":=`): the body holds it.
    const garbled = (await readFile(file, 'utf8')).replace('"raw":=,"body":{"source_id":"k3"', '"raw":=,"body":{"source_id":k3"');
    assert.notEqual(garbled, await readFile(file, 'utf8'));
    await writeFile(file, garbled);
    const err = await run(input, undefined, 0).then(
      () => undefined,
      (e: unknown) => e,
    );
    assert.ok(err instanceof ApplicationFailure, String(err));
    assert.match(err.message, /staging file chunk r0-000000 \(garbage: line 3 is not JSON\) was damaged/);
  });
});
