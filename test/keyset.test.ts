/**
 * Staging's key set: a hash match is confirmed against the first key (in memory for chunks not committed, from the chunk
 * file for committed ones), so different keys with the same hash both pass and a real duplicate names its first line.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createStageActivity } from '../activities/stage';
import { chunkId, invalidKey, type InvalidRow, readAllJsonLines, readChunk, writeChunk } from '../activities/staging/files';
import { type KeyHash, KeySet } from '../activities/staging/keyset';
import { LocalFolderStore } from '../activities/staging/store';
import { createTargetRegistry } from '../activities/targets';
import { ImportInput, type StageResult } from '../common/import';
import { loadTargets } from '../targets';
import { tempDir } from './helpers';

/** Every key of the same length collides. */
const byLength: KeyHash = (key, out) => {
  out[0] = 0;
  out[1] = key.length;
};

/** Keys added as staging does, chunk by chunk, into real chunk files that `commit` writes and counts. */
async function stagedKeys(importId: string) {
  const store = new LocalFolderStore(await tempDir('keyset'));
  const reads: number[] = [];
  let committed = 0;
  const keys = new KeySet(
    {
      committed: () => committed,
      readChunk: (index) => {
        reads.push(index);
        return readChunk(store, importId, chunkId(0, index));
      },
    },
    byLength,
  );
  const chunks: { line: number; key: string }[][] = [];
  return {
    keys,
    reads,
    add(chunk: number, line: number, key: string) {
      keys.add(key, line, chunk);
      chunks[chunk] ??= [];
      chunks[chunk].push({ line, key });
    },
    async commit() {
      const items = chunks[committed]!.map((i) => ({ ...i, rawJson: 'null', body: '{}' }));
      await writeChunk(store, importId, chunkId(0, committed), items);
      committed++;
    },
  };
}

describe('KeySet with colliding hashes', () => {
  test('a different key with the same hash is new; a duplicate names its first line, written or not', async () => {
    const s = await stagedKeys('collide');
    s.add(0, 1, 'aa');
    s.add(0, 2, 'bb');
    s.add(1, 4, 'cc');
    await s.commit(); // chunk 0 is on disk; chunk 1 is still being built

    assert.ok(s.keys.mayHave('zz'), 'the weak hash makes a match');
    assert.equal(await s.keys.firstLine('zz'), undefined, 'same hash as three keys, none equal');
    assert.deepEqual(s.reads, [0], 'chunk 0 was read to tell');
    assert.equal(await s.keys.firstLine('bb'), 2, 'first occurrence in a chunk file');
    assert.equal(await s.keys.firstLine('cc'), 4, 'first occurrence in the chunk being built');
    assert.deepEqual(s.reads, [0], 'the chunk read is cached; the one being built is never read');
    assert.equal(s.keys.mayHave('abc'), false, 'another hash: certainly new, with no read');

    await s.commit();
    assert.equal(await s.keys.firstLine('cc'), 4, 'read back once its chunk is committed');
    assert.deepEqual(s.reads, [0, 1]);
  });

  test('a key seen but not staged is still a duplicate', async () => {
    const s = await stagedKeys('unstaged');
    s.add(0, 1, 'aa');
    s.keys.addUnstaged('bb', 2);
    await s.commit();
    assert.equal(await s.keys.firstLine('bb'), 2);
    assert.equal(await s.keys.firstLine('aa'), 1);
    assert.equal(await s.keys.firstLine('cc'), undefined);
  });

  test('48 bits of the hash tell keys apart: the low 16 bits of its high half count, the rest do not', async () => {
    const withHigh = (high: (key: string) => number) =>
      new KeySet({ committed: () => 0, readChunk: async () => [] }, (key, out) => {
        out[0] = high(key);
        out[1] = 0;
      });
    const low16 = withHigh((key) => key.length);
    low16.add('a', 1, 0);
    assert.equal(low16.mayHave('bb'), false, 'the same low half, another 16 bits above it');
    const above = withHigh((key) => key.length << 16);
    above.add('a', 1, 0);
    assert.ok(above.mayHave('bb'), 'bits beyond the 48 are not kept: a match');
    assert.equal(await above.firstLine('bb'), undefined, 'and the key itself tells them apart');
    assert.equal(await above.firstLine('a'), 1);
  });

  test('keys must be added chunk by chunk, in order', async () => {
    const s = await stagedKeys('order');
    s.keys.add('aa', 1, 0);
    assert.throws(() => s.keys.add('bb', 2, 2), /out of order/);
  });
});

// Tagged slots throughout, and a set that stops tagging at 100,000 entries (past 16.7M keys in real use) and grows on.
for (const taggedUpTo of [undefined, 100_000]) {
  test(`KeySet: 300,000 keys in under 14 bytes each, every one found at its line, no other${taggedUpTo ? ' (tags dropped at 100,000)' : ''}`, async () => {
    const n = 300_000;
    const perChunk = 1000;
    const keyOf = (i: number) => `sku-${i}`;
    let committed = 0;
    const source = {
      committed: () => committed,
      readChunk: async (c: number) =>
        Array.from({ length: perChunk }, (_, j) => ({ line: 2 * (c * perChunk + j) + 1, key: keyOf(c * perChunk + j) })),
    };
    const keys = new KeySet(source, undefined, taggedUpTo);
    for (let i = 0; i < n; i++) {
      assert.equal(keys.mayHave(keyOf(i)), false);
      keys.add(keyOf(i), 2 * i + 1, Math.floor(i / perChunk));
    }
    assert.ok(keys.tableBytes / n < 14, `${keys.tableBytes / n} bytes a key`);
    committed = n / perChunk; // all read back from the chunks
    // Every key, those placed as the table grew included (the set reuses a key's hash between mayHave and add).
    for (let i = 0; i < n; i++) if (!keys.mayHave(keyOf(i))) assert.fail(`key ${i} is not found`);
    for (let i = 0; i < n; i += 997) assert.equal(await keys.firstLine(keyOf(i)), 2 * i + 1);
    let matches = 0;
    for (let i = n; i < 2 * n; i++) if (keys.mayHave(keyOf(i))) matches++;
    assert.equal(matches, 0, 'no unseen key matches a 48-bit hash');
  });
}

test('the stage activity rejects duplicates as before: first occurrence written, being built, or too large', async () => {
  const dir = await tempDir('keyset-stage');
  const store = new LocalFolderStore(path.join(dir, 'staging'));
  const stage = createStageActivity(store, createTargetRegistry(await loadTargets(), {}));
  const product = (key: string, name = key) => ({ source_id: key, name, price: 100 });
  // Three products a chunk: by line 50, the first chunks are committed while the pipeline holds at most four.
  const records = Array.from({ length: 60 }, (_, i) => product(`k${i}`));
  records.push(
    product('k0', 'again, from chunk 0'),
    product('k10', 'again, from the middle of chunk 3'),
    product('k59', 'again, from the chunk being built'),
  );
  records.splice(5, 0, product('big', 'x'.repeat(2000)), product('big', 'small now'));
  const file = path.join(dir, 'source.jsonl');
  await writeFile(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));

  const input = ImportInput.parse({
    importId: 'dupes',
    target: 'voucherify',
    source: { location: file },
    options: { chunkBytes: 1024, maxItemsPerChunk: 3 },
  });
  const result = (await new MockActivityEnvironment().run(stage, input)) as StageResult;
  const invalid = await readAllJsonLines<InvalidRow>(store, invalidKey('dupes'));
  assert.deepEqual(
    invalid.map((row) => `${row.line} ${row.errors[0]!.message.replace(/ makes a .*/, '')}`),
    [
      '6 the product alone',
      '7 duplicate key big: first seen at line 6',
      '63 duplicate key k0: first seen at line 1',
      '64 duplicate key k10: first seen at line 13',
      '65 duplicate key k59: first seen at line 62',
    ],
  );
  assert.deepEqual(result, { read: 65, valid: 60, invalid: 5, chunks: 20 });
  const staged = [];
  for (let c = 0; c < result.chunks; c++) staged.push(...(await readChunk(store, 'dupes', chunkId(0, c))));
  assert.deepEqual(
    staged.map((item) => item.key),
    records.slice(0, 62).flatMap((r) => (r.source_id === 'big' ? [] : [r.source_id])),
  );
});
