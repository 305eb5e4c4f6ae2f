/**
 * Unit tests of the staging files' seals, the chunk tree and the import id guard: pure logic on a
 * local folder store, no Temporal needed.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { buffer } from 'node:stream/consumers';
import { describe, test } from 'node:test';
import { ApplicationFailure } from '@temporalio/common';
import {
  ChunkDraft,
  chunkKey,
  chunkToSend,
  claimImportId,
  damageOf,
  decodeItem,
  encodeItem,
  readAllJsonLines,
  readChunk,
  headsKey,
  outcomeKey,
  readChunkHeads,
  readOutcomes,
  readChunkFile,
  readChunkToSubmit,
  rowsKey,
  readHeadsOfChunk,
  writeChunk,
  writeChunkDraft,
  writeLines,
  writeOutcomes,
} from '../activities/staging/files';
import { Chunker } from '../activities/staging/chunker';
import { csvRow, resultJson } from '../activities/report-rows';
import { recordOutcomes } from '../activities/staging/rows';
import type { StagedItem } from '../targets/types';
import { LocalFolderStore } from '../activities/staging/store';
import { leafChunks } from '../activities/staging/tree';
import { seededRandom } from './random';
import { eventually, tempDir } from './helpers';

/** The temporary files in a folder: a chunk being written as it is built. */
const tmpFiles = async (dir: string) => (await readdir(dir).catch(() => [])).filter((f) => f.endsWith('.tmp'));

const store = new LocalFolderStore(await tempDir('seal'));
// The last one's record is its body (stored once).
const items = [1, 2, 3, 4].map((line) => ({
  line,
  key: `p${line}`,
  rawJson: JSON.stringify(line === 4 ? { source_id: 'p4' } : { id: `p${line}` }),
  body: JSON.stringify({ source_id: `p${line}` }),
}));

/** Writes a fresh chunk, lets `damage` change its file's lines, and returns what reading it throws. */
async function damaged(id: string, damage: (lines: string[]) => string | undefined): Promise<ApplicationFailure> {
  await writeChunk(store, 'imp', id, items);
  const file = store.locate(chunkKey('imp', id));
  const text = damage((await readFile(file, 'utf8')).split('\n').filter(Boolean));
  if (text === undefined) await rm(file);
  else await writeFile(file, text);
  const err = await readChunk(store, 'imp', id).then(
    () => undefined,
    (e: unknown) => e,
  );
  assert.ok(err instanceof ApplicationFailure, `reading the damaged chunk ${id} must fail, got ${String(err)}`);
  assert.equal(err.type, 'StagingDamaged');
  assert.equal(err.nonRetryable, true);
  assert.match(err.message, new RegExp(`chunk ${id} is damaged`));
  assert.match(err.message, /--id/, 'the message says what to do');
  return err;
}

describe('sealed staging files', () => {
  test('an intact file reads back whole, without its seal line', async () => {
    await writeChunk(store, 'imp', 'r0-000000', items);
    assert.deepEqual(
      (await readChunk(store, 'imp', 'r0-000000')).map((i) => i.key),
      ['p1', 'p2', 'p3', 'p4'],
    );
    const lines = (await readFile(store.locate(chunkKey('imp', 'r0-000000')), 'utf8')).split('\n').filter(Boolean);
    assert.equal(lines.length, 5);
    assert.match(lines[4]!, /^\{"#seal":\{"lines":4,"sha256":"[0-9a-f]{64}"\}\}$/);
  });

  test('a whole file written at once is byte for byte what the line-by-line writer writes, and both read back', async () => {
    // The same folder without writeText: writeLines falls back to the streaming, line-by-line sealed writer.
    const byLines = new LocalFolderStore(store.root);
    Object.defineProperty(byLines, 'writeText', { value: undefined });
    // Lines of JSON (not the last item's: `"raw":=` is not JSON).
    const lines = items.slice(0, 3).map(encodeItem).concat(['{"u":"ü \\u2028 \\"quoted\\""}']);
    // Many lines with multi-byte characters in them, across pieces (SealedFile writes 16 KB first, then doubles).
    const many = Array.from({ length: 5000 }, (_, i) => JSON.stringify({ i, name: `Produkt ${i} – größe ${'é'.repeat(i % 40)}` }));
    // Over 1 MiB, joined into several writes, with one line longer than a write on its own.
    // Three bytes a character: a line's room in a piece must be counted in bytes, not characters.
    const euros = Array.from({ length: 400 }, (_, i) => JSON.stringify({ i, price: '€'.repeat(1000 + i) }));
    const large = [...many, JSON.stringify({ long: 'x'.repeat(1_300_000) }), ...euros, ...many, ...many];
    for (const [key, content] of [
      ['whole', lines],
      ['whole-empty', []],
      ['whole-many', many],
      ['whole-large', large],
    ] as const) {
      await writeLines(store, `imports/imp/${key}.jsonl`, content);
      await writeLines(byLines, `imports/imp/${key}-by-lines.jsonl`, content);
      const read = (k: string) => readFile(store.locate(`imports/imp/${k}.jsonl`), 'utf8');
      assert.equal(await read(key), await read(`${key}-by-lines`));
      assert.deepEqual(
        await readAllJsonLines(store, `imports/imp/${key}.jsonl`),
        content.map((l) => JSON.parse(l)),
      );
    }
  });

  test('a file is written into its folder whether the folder exists, is new, or was removed since', async () => {
    await writeLines(store, 'folders/a/one.jsonl', ['1']);
    await writeLines(store, 'folders/a/two.jsonl', ['2']);
    await rm(store.locate('folders'), { recursive: true });
    await writeLines(store, 'folders/a/three.jsonl', ['3']);
    const draft = store.openBytes('folders/b/four.jsonl');
    draft.write(Buffer.from('4\n'));
    await draft.close();
    assert.deepEqual(await readdir(store.locate('folders/a')), ['three.jsonl']);
    assert.equal(await readFile(store.locate('folders/b/four.jsonl'), 'utf8'), '4\n');
  });

  test('an empty file is sealed too', async () => {
    await writeLines(store, 'imports/imp/empty.jsonl', []);
    assert.deepEqual(await readAllJsonLines(store, 'imports/imp/empty.jsonl'), []);
  });

  test('a deleted file is "missing"', async () => {
    assert.equal(damageOf(await damaged('r0-000001', () => undefined))?.damage, 'missing');
  });

  test('a line removed (seal kept) is "truncated: N of M lines"', async () => {
    const err = await damaged('r0-000002', (l) => [...l.slice(0, 2), l[4]].join('\n'));
    assert.match(err.message, /truncated: 2 of 4 lines/);
  });

  test('a file cut short mid-line has no seal', async () => {
    const err = await damaged('r0-000003', (l) => l.join('\n').slice(0, 150));
    assert.match(err.message, /not JSON|no seal/);
  });

  test('a file cut at a line boundary has no seal', async () => {
    const err = await damaged('r0-000004', (l) => `${l.slice(0, 3).join('\n')}\n`);
    assert.match(err.message, /no seal: truncated .*3 line\(s\) left/);
  });

  test('garbage bytes are named garbage', async () => {
    const err = await damaged('r0-000005', () => '\u0000\u0001garbage\nmore garbage\n');
    assert.match(err.message, /garbage: line 1 is not JSON/);
  });

  test('reordered lines break the checksum', async () => {
    const err = await damaged('r0-000006', (l) => [l[1], l[0], ...l.slice(2)].join('\n'));
    assert.match(err.message, /checksum mismatch/);
  });

  test('an edited value with the same line count breaks the checksum', async () => {
    const err = await damaged('r0-000007', (l) => [l[0]!.replace('p1', 'p9'), ...l.slice(1)].join('\n'));
    assert.match(err.message, /checksum mismatch/);
  });

  test('lines appended after the seal are refused', async () => {
    const err = await damaged('r0-000008', (l) => [...l, l[0]].join('\n'));
    assert.match(err.message, /follows the seal/);
  });
});

describe('the chunk tree', () => {
  const chunks = new Set([
    'r0-000000',
    'r0-000000.0',
    'r0-000000.1',
    'r0-000000.1.0',
    'r0-000000.1.1',
    'r0-000001',
    'r0-000002',
    'r0-000002.0',
    'r0-000002.1',
  ]);
  const outcomes = new Set(['r0-000000.0', 'r0-000000.1.0', 'r0-000000.1.1', 'r0-000002']);

  test('the names sort badly: a listing puts halves before their parent', () => {
    const sorted = [...chunks].map((id) => `${id}.jsonl`).sort();
    assert.ok(sorted.indexOf('r0-000000.0.jsonl') < sorted.indexOf('r0-000000.jsonl'), 'the trap this tree avoids is real');
  });

  test('split chunks stand for their halves, recursively and in source order', () => {
    assert.deepEqual(leafChunks(['r0-000000', 'r0-000001', 'r0-000002'], chunks, outcomes), [
      'r0-000000.0',
      'r0-000000.1.0',
      'r0-000000.1.1',
      'r0-000001', // never answered: a leaf without an outcome
      'r0-000002', // answered for itself (its failure was recorded after the halves were written)
    ]);
  });

  test('a half known only by its outcome file still replaces its parent', () => {
    assert.deepEqual(leafChunks(['r1-000000'], new Set(['r1-000000']), new Set(['r1-000000.1'])), ['r1-000000.0', 'r1-000000.1']);
  });
});

describe('one import id, one owner', () => {
  test('the run that claimed an id may claim it again (its own retries); any other run is refused', async () => {
    const me = { workflowId: 'wf-a', runId: 'run-1' };
    await claimImportId(store, 'owned', me);
    await claimImportId(store, 'owned', me);
    for (const other of [
      { workflowId: 'wf-b', runId: 'run-9' },
      { workflowId: 'wf-a', runId: 'run-2' },
    ]) {
      const err = await claimImportId(store, 'owned', other).then(
        () => undefined,
        (e: unknown) => e,
      );
      assert.ok(err instanceof ApplicationFailure);
      assert.equal(err.type, 'ImportIdReused');
      assert.equal(err.nonRetryable, true);
      assert.match(
        err.message,
        new RegExp(`import id owned already names the data of workflow wf-a \\(run run-1\\).*${other.workflowId}.*choose another id`),
      );
    }
  });
});

test('a chunk line gives back its body as the very bytes written, without parsing it; lines of the earlier format still read', () => {
  // A body and a raw record that hold the field's own name and escapes: the body is found by its length, not by search.
  const item = {
    line: 3,
    key: 'k"1,"raw":',
    rawJson: JSON.stringify({ a: ',"body":x', b: ',"raw":y' }),
    body: JSON.stringify({ name: 'ü ,"body": \\"', n: [1, 2] }),
  };
  assert.deepEqual(decodeItem(encodeItem(item)), item);
  // A record that is its body, byte for byte, is stored once; one that differs by a space is kept.
  const same = { ...item, rawJson: item.body };
  const sameLine = encodeItem(same);
  assert.equal(sameLine.split(same.body).length, 2, sameLine);
  assert.ok(sameLine.includes(',"raw":=,"body":'), sameLine);
  assert.deepEqual(decodeItem(sameLine), same);
  const spaced = { ...item, rawJson: item.body.replace(',"n"', ', "n"') };
  assert.deepEqual(decodeItem(encodeItem(spaced)), spaced);
  assert.equal(encodeItem(spaced).length, sameLine.length + spaced.rawJson.length - 1);
  // An older worker reads the marker as the record: its report parses the record of each product that did not succeed,
  // and must fail (to be retried on a newer worker), not write a wrong one.
  assert.throws(() => JSON.parse(sameLine.slice(sameLine.indexOf(',"raw":') + 7, sameLine.indexOf(',"body":'))), SyntaxError);
  assert.deepEqual(decodeItem('{"line":3,"key":"k","raw":{"a":1},"body":{"x": 1}}'), {
    line: 3,
    key: 'k',
    rawJson: '{"a":1}',
    body: '{"x":1}',
  });
});

/** What a chunk's request body streams, and the bytes it said it would. */
async function sent(importId: string, id: string, head = '[', tail = ']'): Promise<{ text: string; bytes: number; said: number }> {
  const body = (await chunkToSend(store, importId, id)).body(head, tail);
  const bytes = await buffer(body.open());
  return { text: bytes.toString(), bytes: bytes.length, said: body.bytes };
}

test('a chunk of several read pieces streams whole: lines cut by a piece, and one longer than a piece, sent as staged', async () => {
  // The store reads a chunk in pieces of 1 MiB: lines cut by a piece's end are carried into the next.
  const big: StagedItem[] = [];
  for (let i = 0; big.length < 4000; i++) {
    const text = i % 3 ? 'x'.repeat(300 + ((i * 7919) % 1500)) : `ü€${'y'.repeat(200 + (i % 900))}`;
    big.push({ line: i + 1, key: `b${i}`, rawJson: `{"id":"b${i}"}`, body: JSON.stringify({ id: `b${i}`, text }) });
  }
  big.push({ line: 4001, key: 'huge', rawJson: '{"id":"huge"}', body: JSON.stringify({ id: 'huge', text: 'z'.repeat(2_500_000) }) });
  await writeChunk(store, 'pieces', 'r0-000000', big);
  const { text, bytes, said } = await sent('pieces', 'r0-000000');
  assert.ok(bytes > 3 * 1024 * 1024, `${bytes} bytes: several pieces`);
  assert.equal(bytes, said);
  assert.ok(text === `[${big.map((i) => i.body).join(',')}]`, 'the bodies as staged');
});

test('a chunk streamed to send is its bodies as staged, of the length it says, and its heads are its lines and keys, whatever the characters', async () => {
  const mixed = [
    ...items,
    // Not ASCII: the body's length in the line counts characters, not bytes.
    { line: 5, key: 'k"5,"raw":', rawJson: '{"name":"größe ,\\"raw\\":"}', body: JSON.stringify({ name: 'größe 😀 ,"body":', n: 5 }) },
    // Its 14 two-byte characters put a `,"body":` exactly where a byte count taken for a character count would look.
    { line: 6, key: 'p6', rawJson: '{"id":"p6"}', body: `{"a":1,"body":"${'ü'.repeat(14)}"}` },
    { line: 7, key: 'p7', rawJson: '{"id":"p7"}', body: '{"source_id":"p7"}' },
    // Stored once: the record is the body.
    { line: 8, key: 'p8', rawJson: '{"source_id":"p8","n":"ß"}', body: '{"source_id":"p8","n":"ß"}' },
  ];
  const heads = (list: StagedItem[]) => list.map(({ line, key }) => ({ line, key }));
  await writeChunk(store, 'send', 'r0-000000', mixed);
  const chunk = await chunkToSend(store, 'send', 'r0-000000');
  assert.equal(chunk.products, mixed.length);
  assert.deepEqual(await chunk.heads(), heads(mixed));
  const joined = `[${mixed.map((i) => i.body).join(',')}]`;
  assert.deepEqual(await sent('send', 'r0-000000'), { text: joined, bytes: Buffer.byteLength(joined), said: Buffer.byteLength(joined) });
  assert.equal((await sent('send', 'r0-000000', '{"p":[', ']}')).text, `{"p":[${mixed.map((i) => i.body).join(',')}]}`);
  assert.deepEqual(await readHeadsOfChunk(store, 'send', 'r0-000000'), heads(mixed));
  assert.deepEqual(await readChunkHeads(store, 'send', 'r0-000000'), heads(mixed), 'its heads file holds the same heads');
  // The report reads the chunk whole, each product when asked for.
  const whole = await readChunkFile(store, 'send', 'r0-000000');
  assert.equal(whole.products, mixed.length);
  assert.deepEqual(
    mixed.map((_, i) => whole.item(i)),
    mixed,
  );
  // A synchronous target's submission: each ASCII line's body as the file's bytes, the others decoded.
  const toSubmit = await readChunkToSubmit(store, 'send', 'r0-000000');
  assert.deepEqual(
    toSubmit.map(({ line, key, body }) => ({ line, key, body: Buffer.from(body).toString() })),
    mixed.map(({ line, key, body }) => ({ line, key, body })),
  );
  assert.deepEqual(
    toSubmit.map(({ body }) => typeof body),
    mixed.map(({ line, key, rawJson, body }) =>
      Buffer.byteLength(line + key + rawJson + body) === (line + key + rawJson + body).length ? 'object' : 'string',
    ),
    'bytes where the line is ASCII',
  );
  // All ASCII: every body is copied from the bytes.
  await writeChunk(store, 'send', 'r0-000002', items);
  assert.equal((await sent('send', 'r0-000002')).text, `[${items.map((i) => i.body).join(',')}]`);
  const ascii = await readChunkFile(store, 'send', 'r0-000002');
  assert.deepEqual(
    items.map((_, i) => ascii.item(i)),
    items,
  );
  // One body, and none: no comma astray.
  await writeChunk(store, 'send', 'r0-000005', items.slice(0, 1));
  assert.equal((await sent('send', 'r0-000005')).text, `[${items[0]!.body}]`);
  await writeChunk(store, 'send', 'r0-000006', []);
  assert.deepEqual(await sent('send', 'r0-000006'), { text: '[]', bytes: 2, said: 2 });

  // Lines of the format before bodyLength, without a heads file (staged before either): measured, then decoded.
  const file = store.locate(chunkKey('send', 'r0-000001'));
  await writeLines(store, chunkKey('send', 'r0-000001'), ['{"line":1,"key":"old","raw":{"a":1},"body":{"x": 1}}']);
  assert.deepEqual(await sent('send', 'r0-000001'), { text: '[{"x":1}]', bytes: 9, said: 9 });
  assert.deepEqual(await readChunkHeads(store, 'send', 'r0-000001'), [{ line: 1, key: 'old' }]);
  // A heads file of the version before (no send facts): the chunk is measured, and sent the same.
  await writeChunk(store, 'send', 'r0-000007', mixed);
  await writeLines(store, headsKey('send', 'r0-000007'), [JSON.stringify({ lines: [1], keys: ['x'] })]);
  assert.deepEqual(await sent('send', 'r0-000007'), await sent('send', 'r0-000000'));

  // A file that is sealed right but not as writeLines writes it (a blank line in it) is read line by line: the same chunk.
  const unusual = store.locate(chunkKey('send', 'r0-000003'));
  await writeChunk(store, 'send', 'r0-000003', mixed);
  const lines = (await readFile(unusual, 'utf8')).split('\n');
  await writeFile(unusual, [...lines.slice(0, 2), '', ...lines.slice(2)].join('\n'));
  assert.equal((await sent('send', 'r0-000003')).text, joined);
  const readAgain = await readChunkFile(store, 'send', 'r0-000003');
  assert.deepEqual(
    mixed.map((_, i) => readAgain.item(i)),
    mixed,
  );
  assert.deepEqual(await readHeadsOfChunk(store, 'send', 'r0-000003'), heads(mixed));
  assert.deepEqual(
    (await readChunkToSubmit(store, 'send', 'r0-000003')).map(({ line, key, body }) => ({ line, key, body })),
    mixed.map(({ line, key, body }) => ({ line, key, body })),
    'read line by line: decoded',
  );
  assert.deepEqual(await readChunkToSubmit(store, 'send', 'r0-000001'), [{ line: 1, key: 'old', rawJson: '{"a":1}', body: '{"x":1}' }]);

  // A damaged chunk is refused before anything is sent.
  await writeFile(file, (await readFile(file, 'utf8')).replace('old', 'new'));
  await assert.rejects(chunkToSend(store, 'send', 'r0-000001'), { type: 'StagingDamaged' });
  await assert.rejects(readChunkFile(store, 'send', 'r0-000001'), { type: 'StagingDamaged' });
  await assert.rejects(readChunkToSubmit(store, 'send', 'r0-000001'), { type: 'StagingDamaged' });
  await assert.rejects(readChunkHeads(store, 'send', 'r0-000001'), { type: 'StagingDamaged' });
  await rm(store.locate(chunkKey('send', 'r0-000002')));
  await assert.rejects(
    chunkToSend(store, 'send', 'r0-000002').then((c) => buffer(c.body('[', ']').open())),
    {
      type: 'StagingDamaged',
      message: /chunk r0-000002 is damaged \(missing\)/,
    },
  );
});

test('a chunk damaged after it was staged ends its body before the tail: the request is never whole', async () => {
  // Several read pieces (1 MiB) of bodies: pieces go out before the damage, at the end of the file, is found.
  const many = Array.from({ length: 3000 }, (_, i) => ({
    line: i + 1,
    key: `k${i}`,
    rawJson: '{}',
    body: JSON.stringify({ source_id: `k${i}`, name: `name ${i}`, description: 'd'.repeat(1000) }),
  }));
  const read = async (id: string) => {
    const body = (await chunkToSend(store, 'late', id)).body('[', ']');
    const pieces: Buffer[] = [];
    const error = await (async () => {
      try {
        for await (const piece of body.open()) pieces.push(piece as Buffer);
      } catch (err) {
        return err;
      }
    })();
    return { body, error, text: Buffer.concat(pieces).toString() };
  };
  await writeChunk(store, 'late', 'r0-000000', many);
  const intact = await read('r0-000000');
  assert.equal(intact.error, undefined);
  assert.equal(intact.text, `[${many.map((i) => i.body).join(',')}]`);
  assert.equal(intact.body.failed, undefined);

  // A byte changed in its last product, the seal left as it was.
  await writeChunk(store, 'late', 'r0-000001', many);
  const file = store.locate(chunkKey('late', 'r0-000001'));
  await writeFile(file, (await readFile(file, 'utf8')).replace('name 2999', 'name 2998'));
  const damaged = await read('r0-000001');
  assert.ok(damaged.text.length > 0, 'pieces went out before the end of the file');
  assert.ok(damaged.text.length < damaged.body.bytes && !damaged.text.endsWith(']'), 'but never the last');
  assert.match(String(damaged.error), /chunk r0-000001 is damaged \(checksum mismatch\)/);
  assert.equal((damaged.body.failed as ApplicationFailure | undefined)?.type, 'StagingDamaged', 'the submission ends with the damage');

  // Another intact chunk in its place (sealed right, but not the file its heads were written for).
  await writeChunk(store, 'late', 'r0-000002', many);
  await writeFile(store.locate(chunkKey('late', 'r0-000002')), await readFile(store.locate(chunkKey('send', 'r0-000000'))));
  const replaced = await read('r0-000002');
  assert.match(String(replaced.error), /chunk r0-000002 is damaged \(not the file that was staged\)/);
  assert.ok(!replaced.text.endsWith(']'));
});

test('a chunk written to its file as it is built is byte for byte the chunk written whole, and appears only once written', async () => {
  // Over 1 MiB in all, multi-byte characters among it: several pieces reach the file before the chunk is cut.
  const many = Array.from({ length: 3000 }, (_, i) => ({
    line: i + 1,
    key: `k${i}`,
    rawJson: JSON.stringify({ id: i, name: `größe ${'€'.repeat(i % 200)}` }),
    body: JSON.stringify({ source_id: `k${i}`, name: `größe ${'€'.repeat(i % 200)}` }),
  }));
  const whole = new ChunkDraft();
  const streamed = ChunkDraft.streamed(store, 'stream', 'r0-000001');
  for (const item of many) {
    whole.add(item);
    streamed.add(item);
  }
  const chunks = store.locate('imports/stream/chunks');
  await eventually('pieces on disk while the chunk is built', async () => (await tmpFiles(chunks)).length === 1, 5000);
  assert.equal(await store.exists(chunkKey('stream', 'r0-000001')), false, 'but no chunk file yet');
  await writeChunkDraft(store, 'stream', 'r0-000000', whole);
  await writeChunkDraft(store, 'stream', 'r0-000001', streamed);
  const bytes = (id: string) => readFile(store.locate(chunkKey('stream', id)));
  assert.ok((await bytes('r0-000001')).equals(await bytes('r0-000000')));
  assert.deepEqual(await readChunk(store, 'stream', 'r0-000001'), many);
  assert.deepEqual(await readChunkHeads(store, 'stream', 'r0-000001'), await readChunkHeads(store, 'stream', 'r0-000000'));
  assert.deepEqual((await readdir(chunks)).sort(), ['r0-000000.jsonl', 'r0-000001.jsonl']);
});

test('a chunk being built that will not be written leaves no file: aborted, or never begun', async () => {
  const chunkerOf = (importId: string, written: string[]) =>
    new Chunker(
      { maxItems: 3 },
      0,
      async (index, draft) => {
        await writeChunkDraft(store, importId, `r0-00000${index}`, draft);
        written.push(`r0-00000${index}.jsonl`);
      },
      { draftFor: (index) => ChunkDraft.streamed(store, importId, `r0-00000${index}`) },
    );
  const big = (line: number) => ({ line, key: `b${line}`, rawJson: '{}', body: JSON.stringify({ pad: 'x'.repeat(10_000) }) });

  const written: string[] = [];
  const chunker = chunkerOf('abort', written);
  // Two products in the second chunk: more than its first piece (16 KB), which goes to the file when the next begins.
  for (const line of [1, 2, 3, 4, 5]) await chunker.add(big(line));
  const chunks = store.locate('imports/abort/chunks');
  assert.deepEqual(written, ['r0-000000.jsonl']);
  await eventually('the second chunk being written', async () => (await tmpFiles(chunks)).length === 1, 5000);
  await chunker.abort();
  assert.deepEqual(await readdir(chunks), written, 'the second is gone, the first is whole');

  // The draft begun when the last chunk is cut gets no product: it never makes a file.
  const all: string[] = [];
  const last = chunkerOf('never', all);
  for (const line of [1, 2, 3]) await last.add(big(line));
  await last.flush();
  assert.deepEqual(await readdir(store.locate('imports/never/chunks')), ['r0-000000.jsonl']);
  assert.deepEqual(all, ['r0-000000.jsonl']);
  assert.deepEqual(
    (await readChunk(store, 'never', 'r0-000000')).map((i) => i.line),
    [1, 2, 3],
  );
});

test("a chunk's heads come from its heads file; without an intact one, from the chunk; without either, the chunk is damaged", async () => {
  const odd = [...items, { line: 9, key: 'k"9 größe', rawJson: '{"id":9}', body: '{"source_id":9}' }];
  const heads = odd.map(({ line, key }) => ({ line, key }));
  await writeChunk(store, 'heads', 'r0-000000', odd);
  await rm(store.locate(chunkKey('heads', 'r0-000000')));
  assert.deepEqual(await readChunkHeads(store, 'heads', 'r0-000000'), heads, 'read from the heads file alone');

  // A chunk staged before heads files were: its heads are read from it.
  await writeChunk(store, 'heads', 'r0-000001', odd);
  await rm(store.locate(headsKey('heads', 'r0-000001')));
  assert.deepEqual(await readChunkHeads(store, 'heads', 'r0-000001'), heads);
  // A damaged heads file is not trusted: the chunk decides.
  await writeChunk(store, 'heads', 'r0-000002', odd);
  await writeFile(store.locate(headsKey('heads', 'r0-000002')), 'garbage\n');
  assert.deepEqual(await readChunkHeads(store, 'heads', 'r0-000002'), heads);
  await writeLines(store, headsKey('heads', 'r0-000002'), [JSON.stringify({ lines: [1, 2], keys: ['p1'] })]);
  assert.deepEqual(await readChunkHeads(store, 'heads', 'r0-000002'), heads, 'nor a heads file whose arrays disagree');

  await rm(store.locate(chunkKey('heads', 'r0-000002')));
  await assert.rejects(readChunkHeads(store, 'heads', 'r0-000002'), {
    type: 'StagingDamaged',
    message: /chunk r0-000002 is damaged \(missing\)/,
  });
});

test('lines written in parts are the bytes of their string forms, whatever the characters', async () => {
  // Keys, records and bodies of random characters: escapes, control characters, DEL, multi-byte and lone surrogates,
  // CSV's quotes and separators; short and long (a short text is copied character by character, a long one encoded).
  const alphabet = ['a', 'Z', '0', ' ', '"', '\\', ',', '\r', '\n', '\t', '\x00', '\x1f', '\x7f', 'ü', '€', '🚀', '\ud800', '\u2028', '='];
  const random = seededRandom(7).int;
  const text = (from = alphabet) =>
    Array.from({ length: random(3) === 0 ? 30 + random(20) : random(12) }, () => from[random(from.length)]).join('');
  // Keys of characters JSON leaves as they are, with one that it escapes or none: a key with an escape anywhere in it
  // is JSON.stringify's whole, so only such keys show a character copied where it should not be.
  const unescaped = alphabet.filter((c) => JSON.stringify(c) === `"${c}"`);
  const escaped = alphabet.filter((c) => !unescaped.includes(c));
  const oneEscape = () => `${text(unescaped)}${random(2) ? escaped[random(escaped.length)] : ''}${text(unescaped)}`;
  const plain = () => `k-${random(1e6)}`;
  // Lines in source order (or the rows are not kept), of every length up to the largest a number prints.
  const large = [1e10, 2 ** 53 - 1, 1e21, 1e22];
  const heads = Array.from({ length: 600 }, (_, i) => ({
    line: i < 596 ? i * i : large[i - 596]!,
    key: [plain, text, oneEscape][i % 3]!(),
  }));
  const staged: StagedItem[] = heads.map((h, i) => {
    const body = i % 2 ? text() : `{"id":"${h.key}"}`;
    return { ...h, body, rawJson: i % 3 ? body : text() };
  });
  const utf8 = (strings: string[]) => strings.map((l) => `${l}\n`).join('');

  const draft = new ChunkDraft();
  for (const item of staged) draft.add(item);
  await writeChunkDraft(store, 'parts', 'r0-000000', draft);
  const chunk = await readFile(store.locate(chunkKey('parts', 'r0-000000')));
  // The file's data, its seal line last.
  assert.ok(chunk.subarray(0, chunk.lastIndexOf('\n{"#seal":') + 1).equals(Buffer.from(utf8(staged.map(encodeItem)))));
  const bodyBytes = staged.reduce((n, item) => n + Buffer.byteLength(item.body), 0);
  assert.equal(
    JSON.parse((await readFile(store.locate(headsKey('parts', 'r0-000000')), 'utf8')).split('\n')[0]!).send.bodyBytes,
    bodyBytes,
  );

  // Outcome lines as writeOutcomes writes them, a line a product (where some of a chunk's products did not succeed),
  // and the rows kept where all did (results.jsonl's, then results.csv's, between a head and an index line).
  const succeeded = heads.map(() => ({ kind: 'succeeded' as const }));
  await writeOutcomes(store, 'parts', 'r0-000001', heads, succeeded);
  await recordOutcomes(store, 'parts', 'r0-000000', heads, succeeded);
  const dataOf = async (key: string, from: (b: Buffer) => number, to: (b: Buffer) => number) => {
    const bytes = await readFile(store.locate(key));
    return bytes.subarray(from(bytes), to(bytes));
  };
  const outcomes = await dataOf(
    outcomeKey('parts', 'r0-000001'),
    () => 0,
    (b) => b.lastIndexOf('\n{"#seal":') + 1,
  );
  assert.ok(outcomes.equals(Buffer.from(utf8(heads.map((h) => JSON.stringify({ line: h.line, key: h.key, kind: 'succeeded' }))))));
  const rows = await dataOf(
    rowsKey('parts', 'r0-000000'),
    (b) => b.indexOf('\n') + 1,
    (b) => b.lastIndexOf('\n{"csvAt":') + 1,
  );
  const row = (h: (typeof heads)[number]) => ({ ...h, outcome: 'succeeded' as const, attempts: 1, error: '' });
  assert.ok(rows.equals(Buffer.from(utf8(heads.map((h) => resultJson(row(h)))) + utf8(heads.map((h) => csvRow(Object.values(row(h))))))));
});

test('outcome lines: a success is written as JSON.stringify writes it and read back without parsing; any other line is parsed', async () => {
  const keys = ['plain', '', 'quote"in', 'back\\slash', 'ünï 🚀', '","kind":"succeeded"}', '\u2028'];
  const heads = keys.map((key, i) => ({ line: i + 1, key }));
  const outcomes = keys.map((_, i) => (i % 3 === 2 ? { kind: 'failed' as const, error: `no ${i}` } : { kind: 'succeeded' as const }));
  await writeOutcomes(store, 'imp', 'r0-000100', heads, outcomes);
  const written = (await readFile(store.locate(outcomeKey('imp', 'r0-000100')), 'utf8')).split('\n').slice(0, keys.length);
  assert.deepEqual(
    written,
    heads.map((h, i) => JSON.stringify({ line: h.line, key: h.key, ...outcomes[i] })),
    'the very bytes JSON.stringify writes, which workers of the previous version read',
  );
  assert.deepEqual(
    await readOutcomes(store, 'imp', 'r0-000100'),
    heads.map((h, i) => ({ ...h, ...outcomes[i] })),
  );
  // Lines shaped almost like a success, and a line of the earlier format: each read for what it says.
  const near = [
    '{"line":1,"key":"a","kind":"succeeded","error":"x"}',
    '{"line":2,"key":"b\\"c","kind":"succeeded"}',
    '{"line":3,"key":"c","ok":true}',
    '{"line":40,"key":"d","kind":"retryable","error":"\\\\"}',
  ];
  await writeLines(store, outcomeKey('imp', 'r0-000101'), near);
  assert.deepEqual(await readOutcomes(store, 'imp', 'r0-000101'), [
    { line: 1, key: 'a', kind: 'succeeded' },
    { line: 2, key: 'b"c', kind: 'succeeded' },
    { line: 3, key: 'c', kind: 'succeeded' },
    { line: 40, key: 'd', kind: 'retryable', error: '\\' },
  ]);
});
