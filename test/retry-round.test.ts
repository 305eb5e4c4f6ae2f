/**
 * Planning a retry round (activities/rounds.ts) on a real folder store, no workflow: what it stages, and that it reads
 * only the chunks that have something to retry, and no outcomes of a chunk whose products all succeeded.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { ImportInput } from '../common/import';
import { createRoundActivities } from '../activities/rounds';
import { chunkKey, metaKey, outcomeKey, readChunk, writeChunk, writeLines } from '../activities/staging/files';
import { recordOutcomes } from '../activities/staging/rows';
import { LocalFolderStore } from '../activities/staging/store';
import { createTargetRegistry } from '../activities/targets';
import { loadTargets } from '../targets';
import type { ItemOutcome } from '../targets/types';
import { tempDir } from './helpers';

test('a retry round stages the retryable products, and reads only the chunks that hold some and the outcomes that may', async () => {
  const store = new LocalFolderStore(await tempDir('retry-round'));
  const read: string[] = [];
  // Every read of a chunk file, by whichever method.
  for (const method of ['readStream', 'readBytes', 'readText', 'readLines'] as const) {
    const original = store[method].bind(store) as (key: string) => unknown;
    Object.defineProperty(store, method, {
      value: (key: string) => {
        if (key.includes('/chunks/') || key.includes('/outcomes/')) read.push(key);
        return original(key);
      },
    });
  }
  const importId = 'retry-round';
  const item = (line: number) => {
    const body = JSON.stringify({ source_id: `k${line}`, name: `Product ${line}` });
    return { line, key: `k${line}`, rawJson: body, body };
  };
  const ok: ItemOutcome = { kind: 'succeeded' };
  const retry: ItemOutcome = { kind: 'retryable', error: '503' };
  const failed: ItemOutcome = { kind: 'failed', error: 'rejected' };
  // Chunk 1 has two products to retry; the others none (all succeeded, or failed for good).
  const answers: ItemOutcome[][] = [
    [ok, ok, ok],
    [ok, retry, failed, retry],
    [failed, ok],
    [ok, ok],
  ];
  let line = 0;
  for (const [c, outcomes] of answers.entries()) {
    const items = outcomes.map(() => item(++line));
    await writeChunk(store, importId, `r0-00000${c}`, items);
    await recordOutcomes(store, importId, `r0-00000${c}`, items, outcomes);
  }
  const counts = { read: line, valid: line, invalid: 0, chunks: answers.length };
  await writeLines(store, metaKey(importId), [JSON.stringify({ format: 'jsonl', source: 'catalog.jsonl', counts })]);
  read.length = 0;

  const input = ImportInput.parse({ importId, target: 'voucherify', source: { location: 'catalog.jsonl' } });
  const { planRetryRound } = createRoundActivities(store, createTargetRegistry(await loadTargets(), {}));
  const planned = await new MockActivityEnvironment().run(planRetryRound, { input, round: 1 });

  assert.deepEqual(planned, { chunks: 1, products: 2 });
  assert.deepEqual(
    read,
    [outcomeKey(importId, 'r0-000001'), chunkKey(importId, 'r0-000001'), outcomeKey(importId, 'r0-000002')],
    'the outcomes of the chunks that did not all succeed (those that did kept their rows), and the chunk with products to retry',
  );
  assert.deepEqual(
    (await readChunk(store, importId, 'r1-000000')).map((i) => i.line),
    [5, 7],
  );
});
