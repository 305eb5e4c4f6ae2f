/**
 * Bad sources, as a user meets them: `bulkport import <file> --wait --json` in a child process.
 * Each kind asserts the exit code, the message (the problem and its fix) and the report's rows;
 * a whole-source problem must fail the stage activity at once (one attempt), never retry it.
 */
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { refusedUrl } from './refused-url';
import { ExitCode, useCliHarness, type ImportRun } from './cli-harness';

const h = useCliHarness('bad-sources');

/** A local HTTP server for URL sources: /ok.jsonl serves a catalog, anything else is a 404. */
let server: Server;
let base: string;
before(async () => {
  server = createServer((req, res) => {
    if (req.url === '/ok.jsonl') res.end(jsonl('url', 2));
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise((resolve) => server.close(resolve)));

/** `n` valid Voucherify products, one JSON object per line, keyed `<prefix>-1`… */
function jsonl(prefix: string, n: number): string {
  return Array.from({ length: n }, (_, i) => `${JSON.stringify({ source_id: `${prefix}-${i + 1}`, name: `Product ${i + 1}` })}\n`).join('');
}

type Row = [line: number, key: string, outcome: string];
const rowsOf = (run: ImportRun): Row[] | undefined => run.rows?.map((r) => [r.line, r.key, r.outcome] as Row).sort((a, b) => a[0] - b[0]);

const describeRun = (run: ImportRun) => `exit ${run.code}\n${run.output.slice(-3000)}`;

function assertExit(run: ImportRun, code: number): void {
  assert.equal(run.code, code, describeRun(run));
}

/** The message as printed, or as the JSON status holds it (where quotes are escaped). */
function assertMessage(run: ImportRun, message: RegExp): void {
  assert.match(`${run.output}\n${run.status?.failure?.message ?? ''}`, message, describeRun(run));
}

/** The import never started: no workflow, no report. */
function assertNeverRan(run: ImportRun): void {
  assert.equal(run.status, undefined, describeRun(run));
  assert.equal(run.rows, undefined);
}

/** The history's stage attempts: a source problem that cannot pass is tried exactly once. */
async function stageAttempts(run: ImportRun): Promise<number> {
  assert.ok(run.status?.workflowId, describeRun(run));
  const history = await h.t.client.workflow.getHandle(run.status.workflowId).fetchHistory();
  const events = history.events ?? [];
  const scheduled = new Set(
    events.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'stage').map((e) => String(e.eventId)),
  );
  const started = events.filter((e) => scheduled.has(String(e.activityTaskStartedEventAttributes?.scheduledEventId)));
  assert.equal(started.length, 1, 'one stage activity');
  return started[0]?.activityTaskStartedEventAttributes?.attempt ?? 0;
}

/**
 * The import failed on its source: exit 1, the message, the stage tried once, and nothing imported
 * (a report of what was known may exist, but no row of it succeeded and the target holds none of `keys`).
 */
async function assertSourceFailure(run: ImportRun, message: RegExp, keys: string[] = []): Promise<void> {
  assertExit(run, ExitCode.failed);
  assertMessage(run, message);
  assert.equal(run.status?.execution, 'FAILED', describeRun(run));
  assert.equal(await stageAttempts(run), 1, 'the stage activity is not retried');
  assert.deepEqual(run.rows?.filter((r) => r.outcome === 'succeeded') ?? [], []);
  for (const key of keys) assert.equal(h.voucherify.getProduct(key), undefined, `${key} was not imported`);
}

/** Every line became the row given, and each succeeded one is in the target with this name. */
function assertRows(run: ImportRun, rows: Row[]): void {
  assert.deepEqual(rowsOf(run), rows, describeRun(run));
  for (const [, key, outcome] of rows) if (outcome === 'succeeded') assert.ok(h.voucherify.getProduct(key), `${key} is in Voucherify`);
}

const succeeded = (prefix: string, n: number, firstLine = 1): Row[] =>
  Array.from({ length: n }, (_, i) => [firstLine + i, `${prefix}-${i + 1}`, 'succeeded']);

describe('bad sources', { concurrency: 3 }, () => {
  // ---- CSV headers ----------------------------------------------------------------------------
  test('a CSV without a header row: names the missing key column and the missing header', async () => {
    const file = await h.file('headerless.csv', 'hl-1,Blue mug,1999\nhl-2,Red mug,999\n');
    const run = await h.importFile(file, 'voucherify');
    await assertSourceFailure(
      run,
      new RegExp(
        String.raw`the CSV header \(line 1\) has no source_id column; it has "hl-1", "Blue mug", "1999": ` +
          String.raw`does the file lack a header row\? Add one such as source_id,name,price`,
      ),
      ['hl-1', 'hl-2'],
    );
  });

  test('a CSV header without the key column: names the column to rename', async () => {
    const file = await h.file('nokey.csv', 'sku,name\nnk-1,Mug\n');
    await assertSourceFailure(
      await h.importFile(file, 'voucherify'),
      /has no source_id column; it has "sku", "name": rename the column that holds it/,
    );
  });

  test('a Propeller CSV without the source column (lookupKey sourceId)', async () => {
    const file = await h.file('propeller-nosource.csv', 'sourceId,names.EN\np-1,Mug\n');
    await assertSourceFailure(
      await h.importFile(file, 'propeller'),
      /has no source column; it has "sourceId", "names.EN".*sourceId,source,names.EN/,
    );
  });

  test('a Propeller CSV without the id column (lookupKey id)', async () => {
    const file = await h.file('propeller-noid.csv', 'sourceId,source,names.EN\np-1,erp,Mug\n');
    await assertSourceFailure(await h.importFile(file, 'propeller', ['--lookup-key', 'id']), /has no id column/);
  });

  test('JSON Lines named .csv: names the JSON and --format jsonl', async () => {
    const file = await h.file('really-jsonl.csv', jsonl('rj', 2));
    await assertSourceFailure(
      await h.importFile(file, 'voucherify'),
      /has no source_id column; it has .*the file looks like JSON; name it \.jsonl or \.json, or pass --format jsonl/,
    );
  });

  test('a ;-separated CSV: names the separator and --delimiter', async () => {
    const file = await h.file('semicolon.csv', 'source_id;name\nsc-1;Mug\n');
    await assertSourceFailure(await h.importFile(file, 'voucherify'), /separates cells with ';', not ','; pass --delimiter ';'/, ['sc-1']);
  });

  test('a ;-separated CSV with --delimiter ";" imports', async () => {
    const file = await h.file('semicolon-ok.csv', 'source_id;name\nsd-1;Mug, blue\nsd-2;Cup\n');
    const run = await h.importFile(file, 'voucherify', ['--delimiter', ';']);
    assertExit(run, ExitCode.ok);
    assertRows(run, [
      [2, 'sd-1', 'succeeded'],
      [3, 'sd-2', 'succeeded'],
    ]);
    assert.equal(h.voucherify.getProduct('sd-1')?.name, 'Mug, blue');
  });

  test('a tab-separated CSV: names --delimiter tab', async () => {
    const file = await h.file('tabs.csv', 'source_id\tname\ntb-1\tMug\n');
    await assertSourceFailure(await h.importFile(file, 'voucherify'), /pass --delimiter tab/);
  });

  test('a tab-separated CSV with --delimiter tab imports', async () => {
    const file = await h.file('tabs-ok.csv', 'source_id\tname\ntc-1\tMug, blue\n');
    const run = await h.importFile(file, 'voucherify', ['--delimiter', 'tab']);
    assertExit(run, ExitCode.ok);
    assertRows(run, [[2, 'tc-1', 'succeeded']]);
    assert.equal(h.voucherify.getProduct('tc-1')?.name, 'Mug, blue');
  });

  test('a --delimiter of two characters is a usage error before anything starts', async () => {
    const file = await h.file('two-char.csv', 'source_id;;name\ntw-1;;Mug\n');
    const run = await h.importFile(file, 'voucherify', ['--delimiter', ';;']);
    assertExit(run, ExitCode.failed);
    assertMessage(run, /the delimiter must be one character .*got ";;"/);
    assertNeverRan(run);
  });

  test('duplicate CSV column names: named, and not retried', async () => {
    const file = await h.file('dupes.csv', 'source_id,name,name\ndp-1,Mug,Cup\n');
    await assertSourceFailure(await h.importFile(file, 'voucherify'), /the CSV header has the column "name" twice; rename one of them/);
  });

  test('a BOM before the header and CRLF line ends import cleanly', async () => {
    const file = await h.file('bom-crlf.csv', '\ufeffsource_id,name\r\nbc-1,Mug\r\nbc-2,Cup\r\n');
    const run = await h.importFile(file, 'voucherify');
    assertExit(run, ExitCode.ok);
    assertRows(run, [
      [2, 'bc-1', 'succeeded'],
      [3, 'bc-2', 'succeeded'],
    ]);
    assert.equal(h.voucherify.getProduct('bc-2')?.name, 'Cup');
  });

  // ---- no records -----------------------------------------------------------------------------
  test('an empty file holds no records', async () => {
    const file = await h.file('empty.jsonl', '');
    await assertSourceFailure(await h.importFile(file, 'voucherify'), /holds no records \(it is empty or blank\)/);
  });

  test('a header-only CSV holds no records', async () => {
    const file = await h.file('header-only.csv', 'source_id,name\n');
    await assertSourceFailure(await h.importFile(file, 'voucherify'), /holds no records \(it is empty, or has a header row and no rows\)/);
  });

  test('a whitespace-only JSONL holds no records', async () => {
    const file = await h.file('blank.jsonl', '\n  \n\t\n');
    await assertSourceFailure(await h.importFile(file, 'voucherify'), /holds no records/);
  });

  // ---- encodings ------------------------------------------------------------------------------
  // "Café “q” €0" in Windows-1252: é, the curly quotes and € are single bytes that are not UTF-8.
  const cp1252 = Buffer.concat([
    Buffer.from('source_id,name\nw1-1,Plain\nw1-2,Caf'),
    Buffer.from([0xe9, 0x20, 0x93, 0x71, 0x94, 0x20, 0x80, 0x30, 0x0a]),
  ]);

  test('Windows-1252 without --encoding: names the line and --encoding windows-1252', async () => {
    const file = await h.file('cp1252.csv', cp1252);
    await assertSourceFailure(
      await h.importFile(file, 'voucherify'),
      /line 3 is not valid UTF-8 \(.*Caf.*\): .*pass its encoding, e.g. --encoding windows-1252/,
      ['w1-1'],
    );
  });

  test('Windows-1252 with --encoding windows-1252 decodes correctly', async () => {
    const file = await h.file('cp1252-ok.csv', Buffer.from(cp1252.toString('latin1').replaceAll('w1-', 'w2-'), 'latin1'));
    const run = await h.importFile(file, 'voucherify', ['--encoding', 'windows-1252']);
    assertExit(run, ExitCode.ok);
    assertRows(run, [
      [2, 'w2-1', 'succeeded'],
      [3, 'w2-2', 'succeeded'],
    ]);
    assert.equal(h.voucherify.getProduct('w2-2')?.name, 'Café “q” €0');
  });

  test('latin1 with --encoding latin1 decodes correctly', async () => {
    const file = await h.file('latin1.jsonl', Buffer.from('{"source_id":"l1-1","name":"Zürich Straße"}\n', 'latin1'));
    const run = await h.importFile(file, 'voucherify', ['--encoding', 'latin1']);
    assertExit(run, ExitCode.ok);
    assertRows(run, [[1, 'l1-1', 'succeeded']]);
    assert.equal(h.voucherify.getProduct('l1-1')?.name, 'Zürich Straße');
  });

  test('invalid UTF-8 in the middle of a JSONL file stops the read at that line', async () => {
    const bad = Buffer.from('{"source_id":"mid-3","name":"Bad \xff byte"}\n', 'latin1');
    const bytes = Buffer.concat([Buffer.from(jsonl('mid', 2)), bad, Buffer.from(jsonl('mid4', 1))]);
    const file = await h.file('bad-utf8.jsonl', bytes);
    await assertSourceFailure(await h.importFile(file, 'voucherify'), /line 3 is not valid UTF-8.*--encoding/, ['mid-1', 'mid-2']);
  });

  test('an unknown --encoding label is a usage error before anything starts', async () => {
    const file = await h.file('klingon.jsonl', jsonl('kl', 1));
    const run = await h.importFile(file, 'voucherify', ['--encoding', 'klingon']);
    assertExit(run, ExitCode.failed);
    assertMessage(run, /unknown encoding "klingon": --encoding takes a WHATWG label such as windows-1252/);
    assertNeverRan(run);
  });

  for (const [kind, bytes] of [
    ['UTF-16LE with a BOM', (s: string) => Buffer.from(`\ufeff${s}`, 'utf16le')],
    ['UTF-16BE with a BOM', (s: string) => Buffer.from(`\ufeff${s}`, 'utf16le').swap16()],
    ['UTF-16LE without a BOM', (s: string) => Buffer.from(s, 'utf16le')],
  ] as const) {
    test(`${kind} is detected and decoded`, async () => {
      const prefix = `u16-${kind.replace(/\W+/g, '')}`;
      const file = await h.file(`${prefix}.jsonl`, bytes(`{"source_id":"${prefix}-1","name":"Crème ☕"}\n`));
      const run = await h.importFile(file, 'voucherify');
      assertExit(run, ExitCode.ok);
      assertRows(run, [[1, `${prefix}-1`, 'succeeded']]);
      assert.equal(h.voucherify.getProduct(`${prefix}-1`)?.name, 'Crème ☕');
    });
  }

  // ---- binary and compressed ------------------------------------------------------------------
  test('a gzip-compressed JSONL (.jsonl.gz) is read decompressed', async () => {
    const file = await h.file('catalog.jsonl.gz', gzipSync(jsonl('gz', 3)));
    const run = await h.importFile(file, 'voucherify');
    assertExit(run, ExitCode.ok);
    assertRows(run, succeeded('gz', 3));
  });

  test('binary garbage is refused as not text', async () => {
    const garbage = Buffer.from(Array.from({ length: 600 }, (_, i) => (i * 7919 + 13) % 256));
    const file = await h.file('garbage.jsonl', garbage);
    await assertSourceFailure(
      await h.importFile(file, 'voucherify'),
      /the source is not a text file: this is binary data, not text \(a NUL byte at offset \d+\)/,
    );
  });

  test('a ZIP/Excel file named .csv is named as such, with the fix', async () => {
    const file = await h.file(
      'export.csv',
      Buffer.concat([Buffer.from([0x50, 0x4b, 0x03, 0x04, 0x14, 0, 6, 0]), Buffer.from('[Content_Types].xml')]),
    );
    await assertSourceFailure(
      await h.importFile(file, 'voucherify'),
      /looks like a ZIP archive or an Excel \(.xlsx\) file; export the sheet as CSV/,
    );
  });

  // ---- JSON shapes ----------------------------------------------------------------------------
  test('a pretty-printed JSON array in a .jsonl: names --format json', async () => {
    const file = await h.file('array.jsonl', '[\n  {"source_id": "ar-1"},\n  {"source_id": "ar-2"}\n]\n');
    await assertSourceFailure(await h.importFile(file, 'voucherify'), /it is a JSON array, not JSON Lines.*pass --format json/, ['ar-1']);
  });

  const wrapped =
    '{"exported": "2026-11-23", "products": [\n{"source_id": "wr-1", "name": "A"},\n{"source_id": "wr-2", "name": "B"}\n], "count": 2}';

  test('a .json object wrapping the array: names the array and --records-path', async () => {
    const file = await h.file('wrapped.json', wrapped);
    await assertSourceFailure(
      await h.importFile(file, 'voucherify'),
      /holds a JSON object, not an array of records; it has an array at "products": .*--records-path products/,
      ['wr-1'],
    );
  });

  test('a .json object wrapping the array imports with --records-path', async () => {
    const file = await h.file('wrapped-ok.json', wrapped.replaceAll('wr-', 'wp-'));
    const run = await h.importFile(file, 'voucherify', ['--records-path', 'products']);
    assertExit(run, ExitCode.ok);
    assertRows(run, [
      [2, 'wp-1', 'succeeded'],
      [3, 'wp-2', 'succeeded'],
    ]);
  });

  test('--records-path naming no array lists the arrays there are', async () => {
    const file = await h.file('wrapped-wrong.json', wrapped);
    await assertSourceFailure(
      await h.importFile(file, 'voucherify', ['--records-path', 'items']),
      /--records-path items names no array .*its arrays are at "products"/,
    );
  });

  test('--records-path on a JSONL source is refused before anything starts', async () => {
    const file = await h.file('records-path.jsonl', jsonl('rp', 1));
    const run = await h.importFile(file, 'voucherify', ['--records-path', 'products']);
    assertExit(run, ExitCode.failed);
    assertMessage(run, /--records-path applies to a JSON source only/);
    assertNeverRan(run);
  });

  test('a .json holding one object without arrays: names the shape and --format jsonl', async () => {
    const file = await h.file('one-object.json', '{"source_id": "oo-1", "name": "Mug"}');
    await assertSourceFailure(
      await h.importFile(file, 'voucherify'),
      /holds one JSON object, not an array of records: wrap the products in \[ \], or .*--format jsonl/,
    );
  });

  test('a .json holding a scalar', async () => {
    const file = await h.file('scalar.json', '"products"');
    await assertSourceFailure(
      await h.importFile(file, 'voucherify'),
      /expected a JSON array of records at line 1 of the source, but it starts with "\\"products\\""/,
    );
  });

  // ---- one bad record among good ones ---------------------------------------------------------
  // The exit code is asserted last here, so rows and messages are checked even before the CLI's exit-code contract is merged.
  test('a truncated JSON array: the cut element is one invalid row, the rest imported', async () => {
    const file = await h.file('truncated.json', '[{"source_id": "tr-1"},\n{"source_id": "tr-2"},\n{"source_id": "tr-3", "na');
    const run = await h.importFile(file, 'voucherify');
    assertRows(run, [
      [1, 'tr-1', 'succeeded'],
      [2, 'tr-2', 'succeeded'],
      [3, '', 'invalid'],
    ]);
    assert.match(run.rows?.find((r) => r.line === 3)?.error ?? '', /the JSON array is not closed with \]/);
    assertExit(run, ExitCode.partial);
  });

  test('a broken JSONL line in the middle is one invalid row, the rest imported', async () => {
    const file = await h.file('broken-line.jsonl', `${jsonl('bl', 2)}{"source_id": "bl-x", "name": \n${jsonl('bm', 2)}`);
    const run = await h.importFile(file, 'voucherify');
    assertRows(run, [...succeeded('bl', 2), [3, '', 'invalid'], ...succeeded('bm', 2, 4)]);
    assert.match(run.rows?.find((r) => r.line === 3)?.error ?? '', /invalid JSON/);
    assertExit(run, ExitCode.partial);
  });

  test('a record nested 5,000 levels deep is one invalid row, the rest imported', async () => {
    const deep = `{"source_id": "dp-x", "metadata": ${'{"a":'.repeat(5000)}1${'}'.repeat(5000)}}`;
    const file = await h.file('deep.jsonl', `${jsonl('dn', 1)}${deep}\n${jsonl('do', 1)}`);
    const run = await h.importFile(file, 'voucherify');
    assertRows(run, [
      [1, 'dn-1', 'succeeded'],
      [2, '', 'invalid'],
      [3, 'do-1', 'succeeded'],
    ]);
    assert.match(run.rows?.find((r) => r.line === 2)?.error ?? '', /record is nested deeper than 64 levels/);
    assert.equal(h.voucherify.getProduct('dp-x'), undefined);
    assertExit(run, ExitCode.partial);
  });

  test('a key named __proto__ is one invalid row naming where it is, never a product sent without it', async () => {
    // Validation copies objects, and a copy's "__proto__" would set its prototype: the key would vanish unsaid.
    const lines = [
      '{"source_id": "pk-1", "metadata": {"a": 1, "__proto__": {"x": 1}}}',
      '{"source_id": "pk-2", "metadata": {"\\u005f_proto__": "spelt with an escape"}}',
      '{"source_id": "pk-3", "name": "__proto__", "metadata": {"note": "the word as a value is fine"}}',
    ];
    const file = await h.file('proto.jsonl', `${jsonl('pj', 1)}${lines.join('\n')}\n`);
    const run = await h.importFile(file, 'voucherify');
    assertRows(run, [
      [1, 'pj-1', 'succeeded'],
      [2, 'pk-1', 'invalid'],
      [3, 'pk-2', 'invalid'],
      [4, 'pk-3', 'succeeded'],
    ]);
    for (const line of [2, 3])
      assert.match(
        run.rows?.find((r) => r.line === line)?.error ?? '',
        /metadata\.__proto__: a key named "__proto__" cannot be imported.*rename the key/,
      );
    assert.equal(h.voucherify.getProduct('pk-1'), undefined);
    assert.equal(h.voucherify.getProduct('pk-3')?.name, '__proto__');
    assertExit(run, ExitCode.partial);
    // A CSV column of that name, dotted or not, is the same invalid row.
    const csv = await h.file('proto.csv', 'source_id,metadata.__proto__,name\npc-1,,Mug\npc-2,x,Cup\n');
    const csvRun = await h.importFile(csv, 'voucherify');
    assertRows(csvRun, [
      [2, 'pc-1', 'succeeded'],
      [3, 'pc-2', 'invalid'],
    ]);
    assert.match(csvRun.rows?.find((r) => r.line === 3)?.error ?? '', /metadata\.__proto__: a key named "__proto__"/);
  });

  test('a 40 MB single line is one invalid row, the rest imported', async () => {
    const huge = `{"source_id": "hg-x", "name": "${'x'.repeat(40 * 1024 * 1024)}"}\n`;
    const file = await h.file('huge-line.jsonl', `${jsonl('hg', 1)}${huge}${jsonl('hh', 1)}`);
    const run = await h.importFile(file, 'voucherify');
    assertRows(run, [
      [1, 'hg-1', 'succeeded'],
      [2, '', 'invalid'],
      [3, 'hh-1', 'succeeded'],
    ]);
    assert.match(run.rows?.find((r) => r.line === 2)?.error ?? '', /record is longer than the limit of \d+ characters/);
    assertExit(run, ExitCode.partial);
  });

  test('a product too large for --chunk-bytes names the limit and the option', async () => {
    const big = `${JSON.stringify({ source_id: 'tl-x', name: 'y'.repeat(3000) })}\n`;
    const file = await h.file('too-large.jsonl', `${jsonl('tl', 1)}${big}`);
    const run = await h.importFile(file, 'voucherify', ['--chunk-bytes', '2048']);
    assertRows(run, [
      [1, 'tl-1', 'succeeded'],
      [2, 'tl-x', 'invalid'],
    ]);
    assert.match(
      run.rows?.find((r) => r.line === 2)?.error ?? '',
      /the product alone makes a 3,0\d\d-byte request, over --chunk-bytes 2,048 \(Voucherify takes at most 10,485,760\): raise --chunk-bytes or shrink/,
    );
    assertExit(run, ExitCode.partial);
  });

  test('--format jsonl on a CSV: every line invalid, nothing imported', async () => {
    const file = await h.file('mismatch.csv', 'source_id,name\nfm-1,Mug\n');
    const run = await h.importFile(file, 'voucherify', ['--format', 'jsonl']);
    assertRows(run, [
      [1, '', 'invalid'],
      [2, '', 'invalid'],
    ]);
    assert.ok(run.rows?.every((r) => /invalid JSON/.test(r.error)));
    assertExit(run, ExitCode.failed);
  });

  // ---- where the source is ------------------------------------------------------------------
  test('a missing file fails before anything starts', async () => {
    const run = await h.importFile(`${h.dir}/no-such-file.jsonl`, 'voucherify');
    assertExit(run, ExitCode.failed);
    assertMessage(run, /source file not found: .*no-such-file\.jsonl/);
    assertNeverRan(run);
  });

  test('an unknown extension names the accepted ones and --format', async () => {
    const file = await h.file('catalog.txt', jsonl('tx', 1));
    const run = await h.importFile(file, 'voucherify');
    assertExit(run, ExitCode.failed);
    assertMessage(
      run,
      /cannot tell the format of .*catalog\.txt from its extension: expected \.jsonl, \.ndjson, \.csv, \.json; otherwise pass --format/,
    );
    assertNeverRan(run);
  });

  test('an http URL source imports', async () => {
    const run = await h.importFile(`${base}/ok.jsonl`, 'voucherify');
    assertExit(run, ExitCode.ok);
    assertRows(run, succeeded('url', 2));
  });

  test('a 404 URL fails at once, naming the status and the fix', async () => {
    const run = await h.importFile(`${base}/missing.jsonl?token=secret`, 'voucherify');
    await assertSourceFailure(
      run,
      /downloading the source http:\/\/127\.0\.0\.1:\d+\/missing\.jsonl\?… failed with HTTP 404 Not Found; check that the URL is right/,
    );
    assert.doesNotMatch(run.output, /secret/);
  });

  test('a refused URL fails after a few attempts, naming the refusal', async () => {
    const run = await h.importFile(`${await refusedUrl()}/catalog.jsonl`, 'voucherify');
    assertExit(run, ExitCode.failed);
    assertMessage(run, /127\.0\.0\.1:\d+ refused the connection \(ECONNREFUSED\); check that the server is running and the port is right/);
    assert.equal(run.status?.execution, 'FAILED', describeRun(run));
    assert.equal(await stageAttempts(run), 3, 'a refused connection is tried 3 times, then given up');
  });
});
