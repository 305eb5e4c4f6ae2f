import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Readable } from 'node:stream';
import { countOrEstimateRecords, countRecords, importTitle } from '../client/index';
import {
  csvColumns,
  detectFormat,
  keysWithin,
  MAX_NESTING_DEPTH,
  mayHoldProtoKey,
  nestedDeeperThan,
  protoKeyPath,
  tooDeepMessage,
  flattenDotted,
  readSource,
  readSourceBatches,
  SourceError,
  unflattenDotted,
  type ReadSourceOptions,
  type SourceFormat,
  type SourceItem,
} from '../activities/sources';
import { decodeSource } from '../activities/sources/decode';
import { seededRandom } from './random';

const fixtures = new URL('./fixtures/sources/', import.meta.url);
const fixture = (name: string): string => new URL(name, fixtures).pathname;

const scratch = mkdtempSync(join(tmpdir(), 'bulkport-sources-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

let scratchFiles = 0;
function scratchFile(extension: string, content: string | Buffer): string {
  const path = join(scratch, `${++scratchFiles}.${extension}`);
  writeFileSync(path, content);
  return path;
}

/**
 * The items read, each record's JSON text (when it came with one) checked to be that record on one line, and its count
 * of keys to be the record's, then both left out.
 */
async function collect(location: string, format: SourceFormat, opts?: ReadSourceOptions): Promise<SourceItem[]> {
  const items: SourceItem[] = [];
  for await (const item of readSource(location, format, opts)) {
    if ('record' in item && item.json !== undefined) {
      const { json, keys, ...rest } = item;
      assert.deepEqual(JSON.parse(json), item.record);
      assert.doesNotMatch(json, /[\r\n]/);
      assert.equal(keys, keysWithin(item.record, MAX_NESTING_DEPTH));
      items.push(rest);
    } else items.push(item);
  }
  return items;
}

/** Reads inline content in the given format, once per chunk size, and checks every run agrees. */
async function read(format: SourceFormat, content: string, opts: ReadSourceOptions = {}): Promise<SourceItem[]> {
  const path = scratchFile(format, content);
  const whole = await collect(path, format, opts);
  // One byte per chunk splits every multi-byte character, escape and CRLF across chunks.
  for (const highWaterMark of [1, 3]) assert.deepEqual(await collect(path, format, { ...opts, highWaterMark }), whole);
  return whole;
}

const lines = (items: SourceItem[]): number[] => items.map((item) => item.line);
const records = (items: SourceItem[]): unknown[] => items.flatMap((item) => ('record' in item ? [item.record] : []));
const errors = (items: SourceItem[]): { line: number; error: string; text?: string }[] =>
  items.flatMap((item) => ('error' in item ? [item] : []));

const catalog = [
  {
    sku: 'SKU-1',
    name: 'Desk lamp',
    description: 'Warm light, 40W',
    price: { amount: '19.90', currency: 'EUR' },
    metadata: { color: 'black' },
  },
  {
    sku: 'SKU-2',
    name: 'Chair "Ergo"',
    description: 'Line one\nline two',
    price: { amount: '120.00', currency: 'EUR' },
    metadata: { size: { label: 'L' } },
  },
  {
    sku: 'SKU-3',
    name: 'Café table',
    description: 'Round [oak] {natural}',
    price: { amount: '250.00', currency: 'EUR' },
    metadata: { color: 'oak', size: { label: 'XL' } },
  },
];

test('detectFormat maps extensions, ignores URL queries and honours an explicit format', () => {
  assert.equal(detectFormat('/data/products.jsonl'), 'jsonl');
  assert.equal(detectFormat('products.NDJSON'), 'jsonl');
  assert.equal(detectFormat('C:\\exports\\products.Csv'), 'csv');
  assert.equal(detectFormat('./products.json'), 'json');
  assert.equal(detectFormat('https://cdn.example.com/export/products.csv?X-Amz-Signature=abc&v=1.json'), 'csv');
  assert.equal(detectFormat('https://cdn.example.com/products.json#part.csv'), 'json');
  assert.equal(detectFormat('/data/products.txt', 'jsonl'), 'jsonl');
  assert.equal(detectFormat('/data/products.jsonl.gz'), 'jsonl');
  assert.equal(detectFormat('https://cdn.example.com/products.CSV.GZ?sig=1'), 'csv');
  assert.throws(() => detectFormat('products.json', 'xml' as SourceFormat), /--format accepts jsonl, csv, json/);
});

test('detectFormat names the accepted extensions and --format for an unknown one, without the query string', () => {
  for (const location of ['/data/products.xlsx', '/data/products', 'https://example.com/feed?token=s3cret']) {
    assert.throws(
      () => detectFormat(location),
      (err: unknown) => {
        assert.ok(err instanceof SourceError);
        for (const part of ['.jsonl', '.ndjson', '.csv', '.json', '--format']) assert.ok(err.message.includes(part), err.message);
        assert.ok(!err.message.includes('s3cret'), err.message);
        return true;
      },
    );
  }
});

test('JSONL: records with their line numbers, blank lines skipped, CRLF and BOM accepted', async () => {
  const items = await read('jsonl', '\uFEFF{"sku":"a"}\r\n\r\n   \n{"sku":"b","tags":["x"]}\r\n"just a string"\n7');
  assert.deepEqual(items, [
    { line: 1, record: { sku: 'a' } },
    { line: 4, record: { sku: 'b', tags: ['x'] } },
    { line: 5, record: 'just a string' },
    { line: 6, record: 7 },
  ]);
});

test('JSONL: a line the precheck answers for comes as it is, with its answer; any other is parsed as before', async () => {
  const asked: string[] = [];
  const precheck = (json: string) => {
    asked.push(json);
    return json === '{"sku":"a"}' || json === '{"sku":"c"}' ? { sku: json.slice(8, 9) } : undefined;
  };
  const content = '{"sku":"a"}\r\n{"sku": "b"}\n\n{"sku":"d"}\nnot json\n{"sku":"c"}';
  // Whole, and in pieces of one and three bytes (lines joined by the collector, and the last line without a newline).
  const items = await read('jsonl', content, { precheck });
  assert.deepEqual(
    items.map((item) =>
      'sure' in item ? [item.line, item.json, item.sure] : 'error' in item ? [item.line, 'error'] : [item.line, item.record],
    ),
    [
      [1, '{"sku":"a"}', { sku: 'a' }],
      [2, { sku: 'b' }],
      [4, { sku: 'd' }],
      [5, 'error'],
      [6, '{"sku":"c"}', { sku: 'c' }],
    ],
  );
  // Its text without the line's \r; blank lines too (it answers nothing for them).
  assert.deepEqual(asked.slice(0, 6), ['{"sku":"a"}', '{"sku": "b"}', '', '{"sku":"d"}', 'not json', '{"sku":"c"}']);
  const csv = await read('csv', 'sku\na\n', { precheck });
  assert.deepEqual(records(csv), [{ sku: 'a' }], 'a CSV row is never given to it');
});

test('a record on one line comes with its text as it was (the chunk keeps it, never serialized again); over several lines, without', async () => {
  const jsonl = [];
  for await (const item of readSource(scratchFile('jsonl', '{"sku": "a",  "n": 1.50}\r\n{"sku":"b"}'), 'jsonl')) jsonl.push(item);
  assert.deepEqual(
    jsonl.map((item) => 'json' in item && item.json),
    ['{"sku": "a",  "n": 1.50}', '{"sku":"b"}'],
  );
  const json = [];
  for await (const item of readSource(scratchFile('json', '[{"sku": "a"},\n {\n  "sku": "b"\n }]'), 'json')) json.push(item);
  assert.deepEqual(
    json.map((item) => 'json' in item && item.json),
    ['{"sku": "a"}', false],
  );
});

test('JSONL: a broken line is reported with its number and text, and later lines still come', async () => {
  const long = `{"sku": "c", "description": "${'x'.repeat(500)}`;
  const items = await read('jsonl', `{"sku":"a"}\n{"sku": "b",}\n${long}\n{"sku":"d"}\n`);
  assert.deepEqual(lines(items), [1, 2, 3, 4]);
  assert.deepEqual(records(items), [{ sku: 'a' }, { sku: 'd' }]);
  const [trailingComma, unterminated] = errors(items);
  assert.match(trailingComma?.error ?? '', /^invalid JSON: /);
  assert.equal(trailingComma?.text, '{"sku": "b",}');
  // Whole, not a preview: the text goes to the failed-records file for someone to fix.
  assert.equal(unterminated?.text, long);
});

test('a record over maxRecordChars becomes an error item instead of being held in memory', async () => {
  const huge = `{"sku":"big","blob":"${'y'.repeat(300)}"}`;
  const jsonl = await read('jsonl', `{"sku":"a"}\n${huge}\n{"sku":"b"}\n`, { maxRecordChars: 100 });
  assert.deepEqual(records(jsonl), [{ sku: 'a' }, { sku: 'b' }]);
  assert.equal(errors(jsonl)[0]?.line, 2);
  assert.match(errors(jsonl)[0]?.error ?? '', /longer than the limit of 100 characters/);
  assert.ok(errors(jsonl)[0]?.text?.startsWith('{"sku":"big"'));

  const json = await read('json', `[{"sku":"a"},\n${huge},\n{"sku":"b"}]`, { maxRecordChars: 100 });
  assert.deepEqual(records(json), [{ sku: 'a' }, { sku: 'b' }]);
  assert.deepEqual(lines(json), [1, 2, 3]);

  // csv-parse cannot resume past an oversized record, so it ends the read, naming where the record starts.
  const csv = scratchFile('csv', 'sku,name\na,"never closed\nb,B\nc,C\nd,D\ne,E\n');
  await assert.rejects(collect(csv, 'csv', { maxRecordChars: 10 }), {
    name: 'SourceError',
    message: /record starting at line 2 is longer than 10 bytes/,
  });
});

test('JSON array: elements spanning lines get the line of their opening character', async () => {
  const items = await collect(fixture('catalog.json'), 'json');
  assert.deepEqual(lines(items), [2, 9, 10]);
  assert.deepEqual(records(items), catalog);
});

test('JSON array: brackets, commas and escaped quotes inside strings do not cut elements', async () => {
  const tricky = [
    { sku: 'a', name: 'ends with ] and }', note: 'comma, "quoted", and \\ backslash' },
    { sku: 'b', name: '[{"not": "json"}]', path: 'C:\\dir\\', quote: '\\"' },
    ['nested', ['arrays'], { with: ['objects'] }],
    'a top-level string with ] inside',
    42,
    null,
  ];
  const items = await read('json', `[${tricky.map((element) => JSON.stringify(element)).join(',\n')}]`);
  assert.deepEqual(records(items), tricky);
  assert.deepEqual(lines(items), [1, 2, 3, 4, 5, 6]);
});

test('JSON array: multi-byte characters split across chunks survive', async () => {
  const names = ['Café', '日本語の商品', 'emoji 😀🛋️', 'Größe €'];
  const items = await read(
    'json',
    JSON.stringify(
      names.map((name) => ({ name })),
      null,
      2,
    ),
  );
  assert.deepEqual(
    records(items),
    names.map((name) => ({ name })),
  );
});

test('JSON array: a malformed element is reported and reading resumes at the next top-level comma', async () => {
  const items = await read(
    'json',
    ['[', '  {"sku": "a"},', '  {"sku": "b", "tags": [1, 2},', '  {"sku": c},', '  ,', '  {"sku": "d"},', ']'].join('\n'),
  );
  assert.deepEqual(records(items), [{ sku: 'a' }, { sku: 'd' }]);
  assert.deepEqual(lines(errors(items)), [3, 4, 5]);
  for (const { error } of errors(items)) assert.match(error, /^invalid JSON: /);
  assert.match(errors(items)[2]?.error ?? '', /empty array element/);
  assert.equal(errors(items)[0]?.text, '{"sku": "b", "tags": [1, 2}');
});

test('JSON array: an unterminated string is reported with how far it reached', async () => {
  // Inside a nested array the bracket balance recovers, so the following element is still read.
  const nested = ['[', '{"sku": "a", "variants": [', '  {"sku": "a1", "name": "no end},', '  {"sku": "a2"}', ']},', '{"sku": "b"}', ']'];
  const recovered = await read('json', nested.join('\n'));
  assert.deepEqual(records(recovered), [{ sku: 'b' }]);
  assert.deepEqual(lines(recovered), [2, 6]);
  assert.match(errors(recovered)[0]?.error ?? '', /string on line 3 is not terminated, so everything up to line 5 was read as one element/);

  // At the top level the closing brace was lost inside the string, so later elements are absorbed, and the error says so.
  const absorbed = await read('json', '[\n{"sku": "a", "name": "no end},\n{"sku": "b"},\n{"sku": "c"}\n]');
  assert.deepEqual(
    absorbed.map((item) => ('error' in item ? item.line : -1)),
    [2],
  );
  assert.match(errors(absorbed)[0]?.error ?? '', /string on line 2 is not terminated, so everything up to line 5/);
});

test('JSON array: a truncated file or trailing content is reported after the good elements', async () => {
  const truncated = await read('json', '[{"sku":"a"},\n{"sku":"b", "na');
  assert.deepEqual(records(truncated), [{ sku: 'a' }]);
  assert.equal(errors(truncated)[0]?.line, 2);
  assert.match(errors(truncated)[0]?.error ?? '', /not closed with \]/);

  const trailing = await read('json', '[1, 2]\n{"extra": true}');
  assert.deepEqual(records(trailing), [1, 2]);
  assert.deepEqual(
    errors(trailing).map((item) => item.line),
    [2],
  );
  assert.match(errors(trailing)[0]?.error ?? '', /after the closing \]/);
});

test('JSON array: empty input yields nothing, a trailing comma is tolerated, and a non-array is refused', async () => {
  assert.deepEqual(await read('json', ''), []);
  assert.deepEqual(await read('json', ' [ ] '), []);
  assert.deepEqual(records(await read('json', '[1, 2,\n]')), [1, 2]);
  await assert.rejects(collect(scratchFile('json', '\n 42'), 'json'), (err: unknown) => {
    assert.ok(err instanceof SourceError);
    assert.match(err.message, /^expected a JSON array of records at line 2\b.*"42"/);
    return true;
  });
  await assert.rejects(
    collect(scratchFile('json', '{"sku": "a", "tags": {"x": 1}}'), 'json'),
    /holds one JSON object, not an array.*--format jsonl/,
  );
});

test('JSON object wrapping the array: the error names the arrays and --records-path, which then reads them', async () => {
  const wrapped =
    '{"meta": {"n": 2, "note": "[not this]"}, "categories": [{"id": 1}],\n "data": {"products": [{"sku": "a"},\n {"sku": "b"}]}, "tail": [3]}';
  await assert.rejects(collect(scratchFile('json', wrapped), 'json'), (err: unknown) => {
    assert.ok(err instanceof SourceError);
    assert.equal(
      err.message,
      'the source holds a JSON object, not an array of records; it has an array at "categories", "data.products", "tail": ' +
        'point at the records with --records-path categories',
    );
    return true;
  });
  const items = await read('json', wrapped, { recordsPath: 'data.products' });
  assert.deepEqual(items, [
    { line: 2, record: { sku: 'a' } },
    { line: 3, record: { sku: 'b' } },
  ]);
  assert.deepEqual(records(await read('json', wrapped, { recordsPath: 'categories' })), [{ id: 1 }]);
  await assert.rejects(
    collect(scratchFile('json', wrapped), 'json', { recordsPath: 'products' }),
    /--records-path products names no array.*"data.products"/,
  );
  await assert.rejects(
    collect(scratchFile('json', '[{"sku": "a"}]'), 'json', { recordsPath: 'products' }),
    /is a JSON array itself: leave --records-path out/,
  );
});

test('a JSON array in a .jsonl source is named, with --format json', async () => {
  await assert.rejects(collect(scratchFile('jsonl', '\n  [\n  {"sku": "a"}\n]\n'), 'jsonl'), (err: unknown) => {
    assert.ok(err instanceof SourceError);
    assert.match(err.message, /JSON array, not JSON Lines.*--format json/);
    return true;
  });
});

test('a record nested deeper than the limit is one error item; the records around it are read', async () => {
  const deep = `${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}`;
  const items = await read('jsonl', `{"sku":"a"}\n${deep}\n{"sku":"b"}\n`);
  assert.deepEqual(records(items), [{ sku: 'a' }, { sku: 'b' }]);
  assert.deepEqual(
    errors(items).map((e) => [e.line, e.error, e.text?.length]),
    [[2, tooDeepMessage, deep.length]],
  );
  assert.equal(nestedDeeperThan(JSON.parse(`${'['.repeat(MAX_NESTING_DEPTH)}${']'.repeat(MAX_NESTING_DEPTH)}`), MAX_NESTING_DEPTH), false);
  assert.equal(
    nestedDeeperThan(JSON.parse(`${'['.repeat(MAX_NESTING_DEPTH + 1)}${']'.repeat(MAX_NESTING_DEPTH + 1)}`), MAX_NESTING_DEPTH),
    true,
  );
  // Objects in arrays in objects, the deepest branch last among shallow siblings; any depth is checked safely.
  const nested = (levels: number) => JSON.parse(`${'{"a":1,"b":['.repeat(levels / 2)}0${']}'.repeat(levels / 2)}`);
  assert.equal(nestedDeeperThan(nested(MAX_NESTING_DEPTH), MAX_NESTING_DEPTH), false);
  assert.equal(nestedDeeperThan(nested(MAX_NESTING_DEPTH + 2), MAX_NESTING_DEPTH), true);
  assert.equal(nestedDeeperThan(JSON.parse(`${'['.repeat(100_000)}${']'.repeat(100_000)}`), MAX_NESTING_DEPTH), true);
});

test('protoKeyPath finds an own "__proto__" key at any depth, and mayHoldProtoKey every text that can hold one', () => {
  assert.equal(protoKeyPath(JSON.parse('{"a":1,"m":{"b":[1,{"c":2}]},"n":"__proto__"}')), undefined);
  assert.equal(protoKeyPath(JSON.parse('{"__proto__":1}')), '__proto__');
  assert.equal(protoKeyPath(JSON.parse('{"a":1,"metadata":{"x":1,"__proto__":{"y":2}}}')), 'metadata.__proto__');
  assert.equal(protoKeyPath(JSON.parse('{"attributes":[{"a":1},{"b":[{"__proto__":null}]}]}')), 'attributes[1].b[0].__proto__');
  assert.equal(protoKeyPath(JSON.parse('[[{"__proto__":0}]]')), '[0][0].__proto__');
  // Every object inherits a __proto__ accessor: only an own key counts.
  assert.equal(protoKeyPath({ a: {}, b: [{}] }), undefined);
  // The text test: by name, or with an escape that could spell it; a line with neither cannot hold the key.
  for (const text of ['{"__proto__":1}', '{"\\u005f_proto__":1}', '{"a":"\\u00e9"}']) assert.equal(mayHoldProtoKey(text), true, text);
  assert.equal(mayHoldProtoKey('{"a":"proto","b":{"c":"_"}}'), false);
});

test('gzip is read decompressed, and UTF-16 with or without a BOM decoded, whatever the read size', async () => {
  const text = '{"name":"Café ☕"}\n{"name":"Zürich"}\n';
  const expected = [
    { line: 1, record: { name: 'Café ☕' } },
    { line: 2, record: { name: 'Zürich' } },
  ];
  const notes: string[] = [];
  for (const highWaterMark of [undefined, 7]) {
    const opts = { onNote: (n: string) => notes.push(n), ...(highWaterMark ? { highWaterMark } : {}) };
    assert.deepEqual(await collect(scratchFile('jsonl', gzipSync(text)), 'jsonl', opts), expected);
    assert.deepEqual(await collect(scratchFile('jsonl', Buffer.from(`\ufeff${text}`, 'utf16le')), 'jsonl', opts), expected);
    assert.deepEqual(await collect(scratchFile('jsonl', Buffer.from(text, 'utf16le')), 'jsonl', opts), expected);
    const be = Buffer.from(`\ufeff${text}`, 'utf16le').swap16();
    assert.deepEqual(await collect(scratchFile('jsonl', be), 'jsonl', opts), expected);
  }
  assert.ok(notes.includes('the source is gzip-compressed: reading it decompressed'));
  assert.ok(notes.includes('the source is UTF-16LE text: decoding it as such'));
  assert.ok(notes.includes('the source is UTF-16BE text: decoding it as such'));
  await assert.rejects(collect(scratchFile('jsonl', gzipSync(text).subarray(0, 20)), 'jsonl'), /cannot be decompressed.*gzip -t/);
});

test('bytes that are not UTF-8 stop the read naming the line and --encoding; with --encoding they decode', async () => {
  const cp1252 = Buffer.concat([
    Buffer.from('source_id,name\nsku-1,Mug\nsku-2,Caf'),
    Buffer.from([0xe9, 0x20, 0x93, 0x71, 0x94]),
    Buffer.from('\n'),
  ]);
  for (const highWaterMark of [undefined, 5]) {
    await assert.rejects(collect(scratchFile('csv', cp1252), 'csv', highWaterMark ? { highWaterMark } : {}), (err: unknown) => {
      assert.ok(err instanceof SourceError);
      assert.match(err.message, /^line 3 is not valid UTF-8 \(.*Caf.*\): .*--encoding windows-1252/);
      return true;
    });
  }
  const items = await read('csv', cp1252.toString('latin1'), {});
  assert.equal(errors(items).length, 0); // the same text as UTF-8 reads fine
  const decoded = await collect(scratchFile('csv', cp1252), 'csv', { encoding: 'windows-1252' });
  assert.deepEqual(records(decoded), [
    { source_id: 'sku-1', name: 'Mug' },
    { source_id: 'sku-2', name: 'Café “q”' },
  ]);
  await assert.rejects(
    collect(scratchFile('csv', cp1252), 'csv', { encoding: 'klingon' }),
    /unknown encoding "klingon": --encoding takes a WHATWG label/,
  );
  const notes: string[] = [];
  await collect(scratchFile('jsonl', '{"a":1}\n{"name":"Caf\uFFFD"}\n'), 'jsonl', { onNote: (n) => notes.push(n) });
  assert.equal(notes.length, 1);
  assert.match(notes[0] ?? '', /^line 2 holds the replacement character �: the file was damaged by an earlier conversion .*re-export it/);
});

test('UTF-8 is decoded as a fatal TextDecoder decodes it, wherever the pieces are cut: the same text, or an error', async () => {
  // Bytes that make valid characters of every length, and bytes no UTF-8 text holds (overlong, surrogate, too high,
  // a lone continuation, a lead without its continuations), in random pieces after a plain head (no sniffed kind).
  const parts = ['a', '\n', '{"k":1}', 'é', '€', '☕', '😀', '\ufeff', '\ufffd'].map((t) => Buffer.from(t));
  const invalid = [[0xc0, 0x80], [0xed, 0xa0, 0x80], [0xf5, 0x80, 0x80, 0x80], [0x80], [0xbf], [0xe2, 0x82], [0xf0, 0x9f], [0xff]];
  const random = seededRandom(7).int;
  const texts = { same: 0, refused: 0 };
  for (let round = 0; round < 400; round++) {
    const pieces: Buffer[] = [Buffer.from(`${round % 2 ? '\ufeff' : ''}${'x'.repeat(4100)}\n`)];
    for (let i = 0, n = 1 + random(40); i < n; i++) {
      pieces.push(random(25) === 0 ? Buffer.from(invalid[random(invalid.length)]!) : parts[random(parts.length)]!);
    }
    const bytes = Buffer.concat(pieces);
    let expected: string | undefined;
    try {
      expected = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    } catch {}
    // Cut anywhere: inside characters, one byte at a time, or whole.
    const cuts: Buffer[] = [];
    for (let at = 0; at < bytes.length; ) {
      const size = round % 3 === 0 ? 1 : 1 + random(5000);
      cuts.push(bytes.subarray(at, at + size));
      at += size;
    }
    let got: string | undefined;
    try {
      got = '';
      for await (const text of decodeSource(Readable.from(cuts))) got += text;
    } catch (err) {
      assert.ok(err instanceof SourceError, String(err));
      assert.match(err.message, /not valid UTF-8|ends in the middle of a utf-8 character/);
      got = undefined;
    }
    assert.equal(got, expected, `round ${round}`);
    texts[expected === undefined ? 'refused' : 'same']++;
  }
  assert.ok(texts.same > 50 && texts.refused > 50, `both kinds were tried: ${JSON.stringify(texts)}`);
});

test('binary sources are refused by name: ZIP/Excel, NUL bytes', async () => {
  const zip = Buffer.from('PK\x03\x04\x14\x00\x06\x00xl/workbook.xml', 'latin1');
  await assert.rejects(collect(scratchFile('csv', zip), 'csv'), /ZIP archive or an Excel.*export the sheet as CSV/);
  const binary = Buffer.from([0x7b, 0x00, 0x01, 0xff, 0x00, 0x10, 0x80, 0x00, 0x00, 0x22]);
  await assert.rejects(collect(scratchFile('jsonl', binary), 'jsonl'), /binary data, not text \(a NUL byte at offset 1\)/);
  const xlsx = scratchFile('csv', Buffer.from('PK\x03\x04\x14\x00', 'latin1'));
  await assert.rejects(collect(xlsx, 'csv', { encoding: 'windows-1252' }), /ZIP archive or an Excel/);
});

test('CSV: another separator, a missing key column and a headerless file are named with the fix', async () => {
  const keyColumns = { columns: ['source_id'], example: 'source_id,name,price' };
  await assert.rejects(
    collect(scratchFile('csv', 'source_id;name\na;b\n'), 'csv', { keyColumns }),
    /separates cells with ';', not ','; pass --delimiter ';'/,
  );
  await assert.rejects(collect(scratchFile('csv', 'source_id\tname\na\tb\n'), 'csv', { keyColumns }), /pass --delimiter tab/);
  assert.deepEqual(records(await read('csv', 'source_id;name\na;b\n', { keyColumns, delimiter: ';' })), [{ source_id: 'a', name: 'b' }]);
  await assert.rejects(collect(scratchFile('csv', 'sku-1,Blue mug,19.99\nsku-2,Red mug,9.99\n'), 'csv', { keyColumns }), (err: unknown) => {
    assert.ok(err instanceof SourceError);
    assert.equal(
      err.message,
      'the CSV header (line 1) has no source_id column; it has "sku-1", "Blue mug", "19.99": ' +
        'does the file lack a header row? Add one such as source_id,name,price',
    );
    return true;
  });
  const renamed = /has no source_id column; it has "sku", "name": rename the column/;
  await assert.rejects(collect(scratchFile('csv', 'sku,name\na,b\n'), 'csv', { keyColumns }), renamed);
  // A BOM and CRLF line ends leave the header's names intact.
  assert.deepEqual(records(await read('csv', '\ufeffsource_id,name\r\na,b\r\n', { keyColumns })), [{ source_id: 'a', name: 'b' }]);
});

test('CSV: records are flat string objects with the line where each row starts', async () => {
  const items = await collect(fixture('catalog.csv'), 'csv');
  assert.deepEqual(lines(items), [2, 3, 5]);
  assert.deepEqual(items[1], {
    line: 3,
    record: {
      sku: 'SKU-2',
      name: 'Chair "Ergo"',
      description: 'Line one\nline two',
      'price.amount': '120.00',
      'price.currency': 'EUR',
      'metadata.color': '',
      'metadata.size.label': 'L',
    },
  });
});

test('CSV: CRLF files, quoted CRLF cells and empty lines keep line numbers exact', async () => {
  const csv = ['\uFEFFsku, name ', 'a,"two\r\nlines"', '', 'b,"three\r\nmore\r\nlines"', ',', 'c,plain', ''].join('\r\n');
  const items = await read('csv', csv);
  assert.deepEqual(items, [
    { line: 2, record: { sku: 'a', name: 'two\r\nlines' } },
    { line: 5, record: { sku: 'b', name: 'three\r\nmore\r\nlines' } },
    { line: 9, record: { sku: 'c', name: 'plain' } },
  ]);
});

test('CSV: a row with the wrong number of cells is reported and later rows still come', async () => {
  const items = await read(
    'csv',
    'sku,name,price,stock\na,A,1,2\nb,B,1,2,extra\nc,C\n"d","multi\nline",3,4\ne,12" screen,5,6\n"f,unclosed\n',
  );
  assert.deepEqual(
    items.map((item) => ('error' in item ? [item.line, item.error, item.text] : item.line)),
    [
      2,
      [3, 'row has 5 cells but the header has 4', 'b,B,1,2,extra'],
      [4, 'row has 2 cells but the header has 4', 'c,C'],
      5,
      7,
      [8, 'invalid CSV: a quoted cell is never closed (the file ends inside it)', '"f,unclosed'],
    ],
  );
  assert.deepEqual(records(items)[2], { sku: 'e', name: '12" screen', price: '5', stock: '6' });
});

test('CSV: an empty or header-only file yields nothing; unnamed columns are dropped; a duplicate column is refused', async () => {
  assert.deepEqual(await read('csv', ''), []);
  assert.deepEqual(await read('csv', 'sku,name\n'), []);
  // Unnamed columns (trailing commas from spreadsheets) are dropped but still count as cells.
  assert.deepEqual(await read('csv', 'sku,,name,\na,,A,\nb,,B\n'), [
    { line: 2, record: { sku: 'a', name: 'A' } },
    { line: 3, error: 'row has 3 cells but the header has 4', text: 'b,,B' },
  ]);
  await assert.rejects(collect(scratchFile('csv', 'sku,name,sku\n1,2,3\n'), 'csv'), /column "sku" twice/);
});

test('the three formats of one catalog give the same records after unflattenDotted', async () => {
  const [jsonl, json, csv] = await Promise.all([
    collect(fixture('catalog.jsonl'), 'jsonl'),
    collect(fixture('catalog.json'), 'json'),
    collect(fixture('catalog.csv'), 'csv'),
  ]);
  assert.deepEqual(lines(jsonl), [1, 3, 4]);
  assert.deepEqual(records(jsonl), catalog);
  assert.deepEqual(records(json), catalog);
  assert.deepEqual(
    records(csv).map((row) => unflattenDotted(row as Record<string, string>)),
    catalog,
  );
});

test('unflattenDotted nests dotted columns at any depth and omits empty cells', () => {
  assert.deepEqual(
    unflattenDotted({
      sku: 'a',
      'metadata.color': 'red',
      'metadata.size.eu.label': '42',
      'metadata.size.us': '',
      empty: '',
      'odd..name': 'x',
    }),
    { sku: 'a', metadata: { color: 'red', size: { eu: { label: '42' } } }, 'odd..name': 'x' },
  );
  assert.throws(() => unflattenDotted({ metadata: 'plain', 'metadata.color': 'red' }), /clashes with another column at "metadata"/);
  assert.throws(() => unflattenDotted({ 'metadata.color': 'red', metadata: 'plain' }), /clashes/);
});

test('unflattenDotted and flattenDotted cannot be used to pollute prototypes', () => {
  const nested = unflattenDotted({ '__proto__.polluted': 'yes', 'constructor.prototype.polluted': 'yes' });
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.deepEqual(Object.keys(nested), ['__proto__', 'constructor']);
  assert.deepEqual(flattenDotted(nested), { '__proto__.polluted': 'yes', 'constructor.prototype.polluted': 'yes' });
  assert.equal(Object.getPrototypeOf(flattenDotted(JSON.parse('{"__proto__": "x"}') as Record<string, unknown>)), Object.prototype);
});

test('flattenDotted is the inverse of unflattenDotted and JSON-encodes non-string leaves', () => {
  const row = { sku: 'a', 'price.amount': '9.99', 'metadata.size.label': 'L', 'metadata.color': 'red' };
  assert.deepEqual(flattenDotted(unflattenDotted(row)), row);
  for (const product of catalog) assert.deepEqual(unflattenDotted(flattenDotted(product)), product);
  assert.deepEqual(
    flattenDotted({ sku: 'a', price: { amount: 9.99, net: true }, tags: ['x', 'y'], stock: null, attributes: {}, gone: undefined }),
    { sku: 'a', 'price.amount': '9.99', 'price.net': 'true', tags: '["x","y"]', stock: 'null', attributes: '{}' },
  );
});

test('csvColumns is the union of keys in first-seen order', () => {
  assert.deepEqual(
    csvColumns([
      { sku: '1', name: 'a' },
      { sku: '2', 'price.amount': '3' },
      { name: 'b', stock: '4', sku: '5' },
    ]),
    ['sku', 'name', 'price.amount', 'stock'],
  );
  assert.deepEqual(csvColumns([]), []);
});

test('a missing file, a directory and an unsupported scheme say what to check', async () => {
  const missing = join(scratch, 'nope.csv');
  await assert.rejects(collect(missing, 'csv'), { name: 'SourceError', message: new RegExp(`^source file not found: ${missing}`) });
  await assert.rejects(collect(scratch, 'jsonl'), /source path is a directory/);
  await assert.rejects(collect('ftp://host/products.csv', 'csv'), /use a local path, an http\(s\) URL or s3:\/\/bucket\/key/);
});

test('a bucket object without the AWS settings to read it says which to set', async () => {
  const saved = { region: process.env.AWS_REGION, fallback: process.env.AWS_DEFAULT_REGION };
  delete process.env.AWS_REGION;
  delete process.env.AWS_DEFAULT_REGION;
  try {
    await assert.rejects(collect('s3://bucket/products.csv', 'csv'), {
      name: 'SourceError',
      message: /^reading the source s3:\/\/bucket\/products\.csv failed: Region is missing; set the worker's AWS_REGION/,
    });
  } finally {
    if (saved.region !== undefined) process.env.AWS_REGION = saved.region;
    if (saved.fallback !== undefined) process.env.AWS_DEFAULT_REGION = saved.fallback;
  }
});

test('an abort signal stops reading', async () => {
  const path = scratchFile('jsonl', '{"n":1}\n'.repeat(1000));
  const controller = new AbortController();
  let seen = 0;
  await assert.rejects(
    async () => {
      for await (const item of readSource(path, 'jsonl', { signal: controller.signal, highWaterMark: 16 })) {
        assert.ok('record' in item);
        seen++;
        controller.abort();
      }
    },
    { name: 'AbortError' },
  );
  assert.ok(seen < 1000, `stopped after ${seen} records`);
  await assert.rejects(collect(path, 'jsonl', { signal: controller.signal }), { name: 'AbortError' });
});

test('HTTP sources stream over the network and HTTP errors name the URL and status without secrets', async (t) => {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname;
    if (path === '/down.csv') {
      res.writeHead(503, 'Service Unavailable').end();
      return;
    }
    let body: Buffer;
    try {
      body = readFileSync(fixture(path.slice(1)));
    } catch {
      res.writeHead(404, 'Not Found').end('no such export');
      return;
    }
    // Tiny writes so chunks reach the reader split inside multi-byte characters.
    res.writeHead(200, { 'content-type': 'application/octet-stream' });
    for (let i = 0; i < body.length; i += 7) res.write(body.subarray(i, i + 7));
    res.end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => server.close());
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  assert.deepEqual(records(await collect(`${base}/catalog.json?token=s3cret`, 'json')), catalog);
  assert.deepEqual(lines(await collect(`${base}/catalog.csv`, 'csv')), [2, 3, 5]);

  await assert.rejects(collect(`${base}/missing.jsonl?X-Amz-Signature=s3cret`, 'jsonl'), (err: unknown) => {
    assert.ok(err instanceof SourceError);
    assert.match(err.message, /HTTP 404\b/);
    assert.ok(err.message.includes(`${base}/missing.jsonl`), err.message);
    assert.ok(!err.message.includes('s3cret'), err.message);
    assert.equal(err.retryable, false);
    return true;
  });
  await assert.rejects(collect(`${base}/down.csv`, 'csv'), { name: 'SourceError', message: /HTTP 503/, retryable: true });
});

test('countRecords counts plain text and single-byte encodings, and gives up on gzip, UTF-16, binary and multi-byte encodings', async () => {
  const text = 'source_id,name\na,Caf\xe9\nb,Mug\n';
  assert.equal(await countRecords(scratchFile('csv', text), 'csv'), 2);
  assert.equal(await countRecords(scratchFile('csv', Buffer.from(text, 'latin1')), 'csv', 'windows-1252'), 2);
  assert.equal(await countRecords(scratchFile('csv', Buffer.from(text, 'latin1')), 'csv', 'shift_jis'), undefined);
  assert.equal(await countRecords(scratchFile('csv', gzipSync(text)), 'csv'), undefined);
  assert.equal(await countRecords(scratchFile('csv', Buffer.from(`\ufeff${text}`, 'utf16le')), 'csv'), undefined);
  assert.equal(await countRecords(scratchFile('jsonl', Buffer.from([0x7b, 0, 0x0a, 0x7b, 0x0a])), 'jsonl'), undefined);
});

test('a large catalog is not read whole before the import starts: its records are estimated from its first bytes', async () => {
  const limits = { exactBytes: 4096, sampleBytes: 1024 };
  // Records of varying length (31 to 40 bytes), so that an estimate is not exact by chance.
  const rows = Array.from({ length: 1000 }, (_, i) =>
    JSON.stringify({ source_id: `p${String(i).padStart(4, '0')}`, name: 'x'.repeat(i % 10) }),
  );
  const large = scratchFile('jsonl', `${rows.join('\n')}\n`);
  const estimate = await countOrEstimateRecords(large, 'jsonl', undefined, limits);
  assert.equal(estimate?.exact, false);
  assert.ok(Math.abs(estimate!.records - 1000) <= 100, `about 1,000: ${estimate?.records}`);
  assert.equal(
    importTitle('voucherify', large, estimate),
    `Import about ${estimate!.records.toLocaleString('en-US')} products from ${basename(large)} into Voucherify`,
  );
  // A CSV's header is no record; a small file is counted exactly, and said so.
  const csv = scratchFile(
    'csv',
    `source_id,name\n${rows.map((_, i) => `p${String(i).padStart(4, '0')},${'n'.repeat(i % 10)}`).join('\n')}\n`,
  );
  const csvEstimate = await countOrEstimateRecords(csv, 'csv', undefined, { exactBytes: 1024, sampleBytes: 256 });
  assert.equal(csvEstimate?.exact, false);
  assert.ok(Math.abs(csvEstimate!.records - 1000) <= 100, `about 1,000 CSV records: ${csvEstimate?.records}`);
  assert.deepEqual(await countOrEstimateRecords(large, 'jsonl'), { records: 1000, exact: true });
  assert.equal(
    importTitle('voucherify', large, { records: 1000, exact: true }),
    `Import 1,000 products from ${basename(large)} into Voucherify`,
  );
  // What cannot be counted cannot be estimated.
  assert.equal(await countOrEstimateRecords(scratchFile('jsonl', gzipSync(rows.join('\n'))), 'jsonl', undefined, limits), undefined);
});

// CSV is left out: csv-parse gives up what it parsed when the source and its failure arrive at once, as here (records
// arriving over time do come first: 19,999 of 20,000 in a check by hand, before batches and after).
test('records come in batches, and those read before the source breaks come before its error (JSON Lines, JSON)', async () => {
  const cases: [SourceFormat, string][] = [
    ['jsonl', Array.from({ length: 600 }, (_, i) => JSON.stringify({ sku: `s${i}` })).join('\n')],
    ['json', `[${Array.from({ length: 600 }, (_, i) => JSON.stringify({ sku: `s${i}` })).join(',\n')}`],
  ];
  for (const [format, text] of cases) {
    // The text arrives in two pieces, then the stream fails (a download cut short).
    const half = text.lastIndexOf('\n', text.length / 2);
    const open = () =>
      Readable.from(
        (async function* () {
          yield Buffer.from(text.slice(0, half + 1));
          yield Buffer.from(text.slice(half + 1, text.lastIndexOf('\n') + 1));
          throw new Error('connection reset');
        })(),
      );
    const batches: number[] = [];
    const error = await (async () => {
      for await (const batch of readSourceBatches(`catalog.${format}`, format, { open })) batches.push([...batch].length);
    })().then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.match(String(error), /connection reset/, format);
    // Every record before the last separator was read, in fewer batches than records.
    assert.equal(
      batches.reduce((a, b) => a + b, 0),
      599,
      `${format}: ${batches.join(',')}`,
    );
    assert.ok(batches.length > 1 && batches.length < 100, `${format}: ${batches.length} batches`);
  }
});
