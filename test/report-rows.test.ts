/**
 * Rows written as outcomes arrive (staging/rows.ts): the report copies them for chunks whose products all succeeded,
 * and its files are byte for byte the ones it builds from the outcome files alone, whatever lies between and around
 * them (invalid rows, failures, retry rounds, rows that no longer hold or were damaged).
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, truncate, writeFile } from 'node:fs/promises';
import { describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ImportInput } from '../common/import';
import { createReportActivities } from '../activities/report';
import {
  damageOf,
  headsKey,
  invalidKey,
  metaKey,
  outcomeKey,
  readOutcomes,
  roundKey,
  rowsKey,
  writeChunk,
  writeLines,
  writeOutcomes,
} from '../activities/staging/files';
import { recordAllSucceeded, recordOutcomes, writeRowsAhead } from '../activities/staging/rows';
import { LocalFolderStore } from '../activities/staging/store';
import type { ItemOutcome } from '../targets/types';
import { tempDir } from './helpers';

const store = new LocalFolderStore(await tempDir('report-rows'));
const { writeReport } = createReportActivities(store);
const ok: ItemOutcome = { kind: 'succeeded' };
// Keys that CSV must quote, and one JSON must escape.
const keyOf = (line: number) => (line % 5 === 0 ? `k"${line}, "x"` : line % 3 === 0 ? `k\\${line}` : `k${line}`);
const item = (line: number) => {
  const record = JSON.stringify({ source_id: keyOf(line) });
  return { line, key: keyOf(line), rawJson: record, body: record };
};
const isInvalid = (line: number) => line % 7 === 0;

/**
 * Records 1 to 1,200: every 7th invalid, the others in chunks of 300 lines. `outcomesOf` answers each chunk (by default,
 * all succeeded); its retryable products are retried in round 1, where they succeed.
 */
async function stage(importId: string, outcomesOf = (_chunk: number, lines: number[]): ItemOutcome[] => lines.map(() => ok)) {
  const retried: number[] = [];
  for (let c = 0; c < 4; c++) {
    const lines = Array.from({ length: 300 }, (_, i) => c * 300 + i + 1).filter((l) => !isInvalid(l));
    const id = `r0-00000${c}`;
    await writeChunk(store, importId, id, lines.map(item));
    const outcomes = outcomesOf(c, lines);
    await recordOutcomes(store, importId, id, lines.map(item), outcomes);
    retried.push(...lines.filter((_, i) => outcomes[i]!.kind === 'retryable'));
  }
  if (retried.length) {
    await writeChunk(store, importId, 'r1-000000', retried.map(item));
    await recordOutcomes(
      store,
      importId,
      'r1-000000',
      retried.map(item),
      retried.map(() => ok),
    );
  }
  await writeLines(store, roundKey(importId, 1), [JSON.stringify({ chunks: retried.length ? 1 : 0, products: retried.length })]);
  const invalid = Array.from({ length: 1200 / 7 }, (_, i) => (i + 1) * 7);
  await writeLines(
    store,
    invalidKey(importId),
    invalid.map((line) => JSON.stringify({ line, key: keyOf(line), errors: [{ path: 'price', message: 'bad' }], raw: {} })),
  );
  const counts = { read: 1200, valid: 1200 - invalid.length, invalid: invalid.length, chunks: 4 };
  await writeLines(store, metaKey(importId), [JSON.stringify({ format: 'jsonl', source: '/tmp/x.jsonl', counts })]);
  return ImportInput.parse({ importId, target: 'voucherify', source: { location: '/tmp/x.jsonl' } });
}

async function report(input: ImportInput) {
  const env = new MockActivityEnvironment({ workflowExecution: { workflowId: input.importId, runId: 'run-1' } });
  const { files, counts } = (await env.run(writeReport, { input, lastRound: 1 })) as Awaited<ReturnType<typeof writeReport>>;
  const texts = await Promise.all(Object.values(files).map((file) => readFile(file, 'utf8')));
  return { counts, texts };
}

const rowsOf = async (importId: string) => (await readdir(store.locate(`imports/${importId}/rows`)).catch(() => [])).sort();

/** The report with the rows kept, then built without them: the same files. */
async function sameWithout(input: ImportInput) {
  const kept = await report(input);
  await rm(store.locate(`imports/${input.importId}/rows`), { recursive: true, force: true });
  const built = await report(input);
  assert.deepEqual(kept, built);
  return built;
}

/** Chunk 1 has a product retried in round 1 and one that failed; the others all succeeded. */
const mixed = (chunk: number, lines: number[]): ItemOutcome[] =>
  lines.map((line, i) =>
    chunk !== 1 || i % 100 ? ok : i ? { kind: 'failed', error: `HTTP 400: "bad, ${line}"` } : { kind: 'retryable', error: 'HTTP 503' },
  );

describe('rows written as outcomes arrive', () => {
  test('kept for the chunks whose products all succeeded, in round 0 only; the report is the same as without them', async () => {
    const input = await stage('same', mixed);
    assert.deepEqual(await rowsOf('same'), ['r0-000000.jsonl', 'r0-000002.jsonl', 'r0-000003.jsonl']);
    const { counts, texts } = await sameWithout(input);
    assert.deepEqual(counts, { succeeded: 1027, failed: 2, invalid: 171, notSubmitted: 0 });
    const [jsonl, csv] = texts;
    assert.equal(jsonl!.split('\n').length - 1, 1200);
    assert.match(csv!, /^5,"k""5, ""x""",succeeded,1,$/m, 'a key quoted in CSV');
    assert.match(jsonl!, /^{"line":7,"key":"k7","outcome":"invalid"/m, 'an invalid row between kept rows');
  });

  test('the report copies kept rows: it reads neither the chunks nor their heads', async () => {
    const input = await stage('copied');
    const before = await report(input);
    // Built from the outcome files, every row would need its chunk's heads (the outcome file says only "all succeeded").
    await rm(store.locate('imports/copied/chunks'), { recursive: true });
    await rm(store.locate('imports/copied/heads'), { recursive: true });
    assert.deepEqual(await report(input), before);
    assert.equal(before.counts.succeeded, 1029);
  });

  test('kept rows hold only beside an outcome file that says all succeeded', async () => {
    const input = await stage('outcomes-decide');
    // Each chunk's outcomes rewritten behind the rows' back: the report goes by the outcomes.
    for (let c = 0; c < 4; c++) {
      const lines = Array.from({ length: 300 }, (_, i) => c * 300 + i + 1).filter((l) => !isInvalid(l));
      await writeOutcomes(
        store,
        'outcomes-decide',
        `r0-00000${c}`,
        lines.map(item),
        lines.map(() => ({ kind: 'failed', error: 'rewritten' })),
      );
    }
    assert.equal((await rowsOf('outcomes-decide')).length, 4);
    const { counts } = await sameWithout(input);
    assert.deepEqual(counts, { succeeded: 0, failed: 1029, invalid: 171, notSubmitted: 0 });
  });

  test('rows written ahead of the outcomes: kept when all succeed, not trusted when an attempt died before it removed them', async () => {
    const lines = (c: number) => Array.from({ length: 300 }, (_, i) => c * 300 + i + 1).filter((l) => !isInvalid(l));
    // A chunk answered with a failure after its rows were written ahead, by an attempt that died before it recorded.
    const oneFailed = (chunk: number, of: number[]) =>
      of.map((_, i): ItemOutcome => (chunk === 2 && i === 7 ? { kind: 'failed', error: 'HTTP 422' } : ok));
    const input = await stage('ahead', oneFailed);
    assert.equal(await writeRowsAhead(store, 'ahead', 'r0-000002', lines(2).map(item)), true);
    assert.equal((await rowsOf('ahead')).length, 4);
    const { counts } = await sameWithout(input);
    assert.deepEqual(counts, { succeeded: 1028, failed: 1, invalid: 171, notSubmitted: 0 });
    // Written ahead, then recorded as all succeeded without being written again: the files of rows recorded after.
    const all = lines(0).map(item);
    await recordOutcomes(
      store,
      'after',
      'r0-000000',
      all,
      all.map(() => ok),
    );
    await writeRowsAhead(store, 'before', 'r0-000000', all);
    await recordOutcomes(
      store,
      'before',
      'r0-000000',
      all,
      all.map(() => ok),
      true,
      true,
    );
    // And recorded by its count alone, as awaitAction does when the target says every product succeeded: the same.
    await writeRowsAhead(store, 'counted', 'r0-000000', all);
    await recordAllSucceeded(store, 'counted', 'r0-000000', all.length);
    for (const key of [rowsKey, outcomeKey])
      for (const written of ['before', 'counted'])
        assert.deepEqual(await readFile(store.locate(key(written, 'r0-000000'))), await readFile(store.locate(key('after', 'r0-000000'))));
    // None for a retry round's chunk or one out of source order.
    assert.equal(await writeRowsAhead(store, 'ahead', 'r1-000000', [item(1)]), false);
    assert.equal(await writeRowsAhead(store, 'ahead', 'r0-000009', [item(2), item(1)]), false);
  });

  test('beside kept rows, the outcome file is one line that says all succeeded, and it is read as the heads', async () => {
    await stage('all');
    const lines = Array.from({ length: 300 }, (_, i) => i + 1).filter((l) => !isInvalid(l));
    const expected = lines.map((line) => ({ line, key: keyOf(line), kind: 'succeeded' }));
    const [only, seal, end] = (await readFile(store.locate(outcomeKey('all', 'r0-000000')), 'utf8')).split('\n');
    assert.equal(only, `{"products":${lines.length},"all":=succeeded}`);
    assert.match(seal!, /^{"#seal":/);
    assert.equal(end, '');
    // The version before reads each line with JSON.parse: it fails on this one rather than read it wrong.
    assert.throws(() => JSON.parse(only!), SyntaxError);
    assert.deepEqual(await readOutcomes(store, 'all', 'r0-000000'), expected);
    // Without the heads file, from the chunk itself.
    await rm(store.locate(headsKey('all', 'r0-000000')));
    assert.deepEqual(await readOutcomes(store, 'all', 'r0-000000'), expected);
    // A count that is not the chunk's is damage, not a guess.
    const second = (await readOutcomes(store, 'all', 'r0-000001')).length;
    await writeLines(store, outcomeKey('all', 'r0-000001'), [`{"products":${second + 1},"all":=succeeded}`]);
    const damage = await readOutcomes(store, 'all', 'r0-000001').then(
      () => undefined,
      (err: unknown) => damageOf(err),
    );
    assert.equal(damage?.damage, `it says all ${second + 1} products succeeded, and the chunk holds ${second}`);
    // Nor may it stand among a product's lines.
    await writeLines(store, outcomeKey('all', 'r0-000002'), ['{"line":1,"key":"k1","kind":"succeeded"}', only!]);
    await assert.rejects(readOutcomes(store, 'all', 'r0-000002'), (err) =>
      /a line for all products among others/.test(damageOf(err)?.damage ?? ''),
    );
  });

  test('none for a chunk out of source order, nor when the report will not use them', async () => {
    const lines = [3, 1, 2];
    await recordOutcomes(
      store,
      'none',
      'r0-000000',
      lines.map(item),
      lines.map(() => ok),
    );
    await recordOutcomes(store, 'none', 'r0-000001', [item(4)], [ok], false);
    assert.deepEqual(await rowsOf('none'), []);
  });

  test('rows that no longer hold are removed when the chunk is answered again', async () => {
    const input = await stage('again');
    const lines = Array.from({ length: 300 }, (_, i) => 300 + i + 1).filter((l) => !isInvalid(l));
    const outcomes = lines.map((_, i): ItemOutcome => (i === 5 ? { kind: 'failed', error: 'HTTP 422' } : ok));
    await recordOutcomes(store, 'again', 'r0-000001', lines.map(item), outcomes);
    assert.deepEqual(await rowsOf('again'), ['r0-000000.jsonl', 'r0-000002.jsonl', 'r0-000003.jsonl']);
    const { counts } = await sameWithout(input);
    assert.equal(counts.failed, 1);
  });

  test('damaged rows, or rows beside a retry round that answered for their chunk, are built from the outcomes', async () => {
    const input = await stage('damaged');
    await truncate(store.locate(rowsKey('damaged', 'r0-000000')), 1000);
    await writeFile(store.locate(rowsKey('damaged', 'r0-000002')), 'garbage\n');
    // A row changed in place, its seal kept: only the checksum tells.
    const changed = store.locate(rowsKey('damaged', 'r0-000001'));
    await writeFile(changed, (await readFile(changed, 'utf8')).replace('"line":302,', '"line":303,'));
    // Round 1 answered for line 901 of chunk 3, whose rows are intact (its outcome file said otherwise once): its verdict decides.
    await writeChunk(store, 'damaged', 'r1-000000', [item(901)]);
    await writeOutcomes(store, 'damaged', 'r1-000000', [item(901)], [{ kind: 'failed', error: 'HTTP 409' }]);
    await writeLines(store, roundKey('damaged', 1), [JSON.stringify({ chunks: 1, products: 1 })]);
    const kept = await report(input);
    assert.equal(kept.counts.failed, 1);
    assert.match(kept.texts[0]!, /^{"line":901,"key":"k901","outcome":"failed","attempts":2,"error":"HTTP 409"}$/m);
    await rm(store.locate(`imports/damaged/rows`), { recursive: true });
    assert.deepEqual(await report(input), kept);
  });
});
