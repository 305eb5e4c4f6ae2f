/**
 * A product whose validation returns it unchanged is sent as the record itself, in the source's key order: its line as
 * it is where that is safe, else serialized again, so that a JSON record is its body byte for byte and is stored once
 * (issue 11). Which schemas qualify, that both targets' validations do return valid records unchanged, which lines may
 * go as they are, and what the stage activity writes for each case.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { z } from 'zod';
import { createStageActivities } from '../activities/stage';
import { keysWithin, MAX_NESTING_DEPTH, sendableAsIs } from '../activities/sources';
import { chunkId, readChunk } from '../activities/staging/files';
import { LocalFolderStore } from '../activities/staging/store';
import { createTargetRegistry } from '../activities/targets';
import { ImportInput, type StageResult, type TargetName } from '../common/import';
import { recordsOf, writeCatalog } from '../scripts/catalog';
import { loadTargets } from '../targets';
import { outputIsInput } from '../targets/as-given';
import { tempDir } from './helpers';
import { writeFile } from 'node:fs/promises';

const modules = await loadTargets();
const targetNames = ['voucherify', 'propeller'] as const satisfies TargetName[];

describe('schemas whose output is their input', () => {
  test("both targets' product schemas", () => {
    for (const name of targetNames) assert.equal(outputIsInput(modules[name].productSchema), true, name);
  });

  test('any default, coercion, transform, normalization or object that drops keys, however deep, is not', () => {
    const changing: [string, z.ZodType][] = [
      ['trim', z.string().trim()],
      ['toLowerCase in an array', z.array(z.string().toLowerCase())],
      ['a default', z.strictObject({ a: z.string().default('x') })],
      ['a transform', z.string().transform((s) => s)],
      ['a coercion', z.coerce.number()],
      ["a URL's normalize", z.url({ normalize: true })],
      ['an object that drops unknown keys', z.object({ a: z.string() })],
      ['a union with one such option', z.union([z.strictObject({ a: z.string() }), z.object({ b: z.string() })])],
      ['a record (not among the kinds known)', z.record(z.string(), z.string())],
      ['a loose object whose extra values are trimmed', z.looseObject({}).catchall(z.string().trim())],
    ];
    for (const [what, schema] of changing) assert.equal(outputIsInput(schema), false, what);
    const unchanged: [string, z.ZodType][] = [
      ['a strict object of checked fields', z.strictObject({ a: z.string().min(1).regex(/x/), n: z.number().int().optional() })],
      ['a loose object', z.looseObject({ a: z.enum(['x', 'y']).nullable() })],
      ['a union of strict objects', z.union([z.strictObject({ id: z.number() }), z.strictObject({ s: z.literal('s') })])],
      ['a URL', z.url()],
    ];
    for (const [what, schema] of unchanged) assert.equal(outputIsInput(schema), true, what);
  });

  test("each target's validation returns valid records unchanged, as the verdict says", async () => {
    for (const name of targetNames) {
      const make = await recordsOf(name);
      for (let i = 0; i < 200; i++) {
        const record = JSON.parse(JSON.stringify(make(i, { target: name, count: 200, format: 'jsonl' })));
        const parsed = modules[name].productSchema.safeParse(record);
        assert.ok(parsed.success, `${name} record ${i}: ${JSON.stringify(parsed.error?.issues)}`);
        // deepStrictEqual ignores key order, and nothing else.
        assert.deepStrictEqual(parsed.data, record, `${name} record ${i}`);
      }
    }
  });
});

test('a line goes as it is unless it is spaced or repeats a key, whatever its strings hold', () => {
  const cases: [string, boolean][] = [
    ['{"a":1,"b":{"c":[1,{"d":null}]},"e":[]}', true],
    ['{"a":1.50e2,"b":"\\u00e9"}', true],
    // Strings that hold quotes, colons and backslashes, as keys and as values.
    ['{"k\\":":"v\\":","x":"\\\\","y\\\\":"\\"\\":"}', true],
    ['{"a":"x","b":{"c":1,"c":2}}', false],
    ['{"a":1,"a":1}', false],
    ['[{"a":1},{"a":1,"a":2}]', false],
    ['{"a" : 1}', false],
    ['{"a": 1, "b": 2}', false],
    [' {"a":1}', false],
    ['{"a":[1,2 ]}', false],
  ];
  assert.equal(keysWithin(JSON.parse('{"a":{"b":[{"c":1},2]},"d":null}'), MAX_NESTING_DEPTH), 4);
  assert.equal(keysWithin([[{}]], 3), 0);
  assert.equal(keysWithin([[{}]], 2), -1, 'deeper than the limit');
  for (const [text, sendable] of cases) assert.equal(sendableAsIs(text, keysWithin(JSON.parse(text), MAX_NESTING_DEPTH)), sendable, text);
});

describe('what staging writes', { concurrency: 1 }, () => {
  // Settings only for the delta ledger's scope (account and URL): nothing is sent.
  const targets = createTargetRegistry(modules, {
    PROPELLER_API_URL: 'http://127.0.0.1:9',
    PROPELLER_TOKEN_URL: 'http://127.0.0.1:9/oauth2/token',
    PROPELLER_CLIENT_ID: 'as-given',
    PROPELLER_CLIENT_SECRET: 'unused',
  });

  /** Stages `file` into `target` with the real stage activity: its first chunk's items, and that chunk file's text. */
  async function stageFile(name: string, target: TargetName, file: string, options: Record<string, unknown> = {}) {
    const store = new LocalFolderStore(path.join(path.dirname(file), 'staging'));
    const input = ImportInput.parse({ importId: name, target, source: { location: file }, options });
    const env = new MockActivityEnvironment({ workflowExecution: { workflowId: name, runId: 'run-1' } });
    const result = (await env.run(createStageActivities(store, targets).stage, input)) as StageResult;
    const chunkFile = await readFile(path.join(store.root, 'imports', name, 'chunks', `${chunkId(0, 0)}.jsonl`), 'utf8');
    return { result, items: await readChunk(store, name, chunkId(0, 0)), chunkFile };
  }

  /** Stages a catalog for Propeller (whose schema's key order is not the catalog's): its lines, and what stageFile gives. */
  async function stagePropeller(name: string, options: Record<string, unknown>) {
    const file = await writeCatalog(path.join(await tempDir(name), 'c.jsonl'), {
      target: 'propeller',
      count: 20,
      format: 'jsonl',
      keyPrefix: name,
    });
    const staged = await stageFile(name, 'propeller', file, options);
    assert.equal(staged.result.valid, 20);
    return { lines: (await readFile(file, 'utf8')).trimEnd().split('\n'), ...staged };
  }

  test('a compact record in its own key order is its body, stored once', async () => {
    const { lines, items, chunkFile } = await stagePropeller('as-given', {});
    // The catalog's order is not the schema's: validation's copy would have been another text.
    assert.notEqual(JSON.stringify(modules.propeller.productSchema.parse(JSON.parse(lines[0]!))), lines[0]);
    assert.deepEqual(
      items.map((item) => item.body),
      lines,
    );
    assert.deepEqual(
      items.map((item) => item.rawJson),
      lines,
    );
    assert.equal(chunkFile.split(',"raw":=,"body":').length - 1, 20, 'every product stored once');
  });

  test('a line goes as it is where it may; a spaced one or one that repeats a key goes as validation saw it', async () => {
    const lines = [
      '{"price":1.5e2,"source_id":"as-1","metadata":{"note":"\\":\\u00e9"}}',
      '{"source_id":"as-2","name":"first","name":"second"}',
      '{"source_id": "as-3", "price": 300}',
    ];
    const file = path.join(await tempDir('as-is'), 'c.jsonl');
    await writeFile(file, `${lines.join('\n')}\n`);
    const { items } = await stageFile('as-is', 'voucherify', file);
    assert.deepEqual(
      items.map((item) => item.body),
      [lines[0], '{"source_id":"as-2","name":"second"}', '{"source_id":"as-3","price":300}'],
    );
    assert.deepEqual(
      items.map((item) => item.rawJson),
      lines,
      'the records as they came',
    );
  });

  test("an import that keeps the delta ledger sends bodies in the schema's order, as the ledger's hashes were made", async () => {
    const { lines, items } = await stagePropeller('as-ledger', { skipUnchanged: true });
    assert.deepEqual(
      items.map((item) => item.body),
      lines.map((line) => JSON.stringify(modules.propeller.productSchema.parse(JSON.parse(line)))),
    );
    assert.deepEqual(
      items.map((item) => item.rawJson),
      lines,
      'the record as it came, for the failed records',
    );
  });
});
