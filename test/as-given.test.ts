/**
 * A product whose validation returns it unchanged is sent as the record itself, in the source's key order: its line as
 * it is where that is safe, else serialized again, so that a JSON record is its body byte for byte and is stored once
 * (issue 11). Which schemas qualify, that both targets' validations do return valid records unchanged, which records
 * skip zod and which lines skip parsing (asGivenCheck, asGivenTextCheck), which lines may go as they are, and what the
 * stage activity writes for each case.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import { z } from 'zod';
import { createStageActivities } from '../activities/stage';
import { keysWithin, MAX_NESTING_DEPTH, protoKeyPath, sendableAsIs } from '../activities/sources';
import { chunkId, readChunk } from '../activities/staging/files';
import { LocalFolderStore } from '../activities/staging/store';
import { createTargetRegistry } from '../activities/targets';
import { ImportInput, type StageResult, type TargetName } from '../common/import';
import { recordsOf, writeCatalog } from '../scripts/catalog';
import { loadTargets } from '../targets';
import { asGivenCheck, outputIsInput } from '../targets/as-given';
import { type AsGivenTextCheck, asGivenTextCheck } from '../targets/as-given-text';
import { unitInterval } from '../sandbox/rng';
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

/** A schema of every kind and check the tests know, with zod's meaning. */
const strict = z.strictObject({
  name: z.string().min(1).max(8),
  code: z.string().regex(/^[A-Z]{2}$/),
  exact: z.string().length(3).optional(),
  count: z.number().int().nonnegative().optional(),
  ratio: z.number().gt(0).lt(1).optional(),
  whole: z.int().optional(),
  flag: z.boolean().nullable().optional(),
  kind: z.enum(['a', 'b']).optional(),
  fixed: z.literal(['x', 7]).optional(),
  any: z.unknown(),
  tags: z.array(z.string().min(1)).min(1).max(3).optional(),
  meta: z.looseObject({ id: z.number().optional() }).optional(),
  parent: z.union([z.strictObject({ id: z.number() }), z.strictObject({ ref: z.string() })]).optional(),
});

describe('records the schema surely accepts as they are (asGivenCheck)', () => {
  test('each kind and check as zod has it, at its edges', () => {
    const check = asGivenCheck(strict)!;
    const base = { name: 'n', code: 'NL', any: 0 };
    const cases: [string, unknown, boolean][] = [
      ['the least record', base, true],
      [
        'every field',
        {
          ...base,
          exact: 'abc',
          count: 0,
          ratio: 0.5,
          whole: -3,
          flag: null,
          kind: 'b',
          fixed: 7,
          tags: ['t'],
          meta: { id: 1, more: [{}] },
          parent: { ref: 'r' },
        },
        true,
      ],
      ['an empty name (min 1)', { ...base, name: '' }, false],
      ['a long name (max 8)', { ...base, name: '123456789' }, false],
      ['a code the regex refuses', { ...base, code: 'nl' }, false],
      ['a length of 2 for 3', { ...base, exact: 'ab' }, false],
      ['a fraction for an int', { ...base, count: 1.5 }, false],
      ['a negative for nonnegative', { ...base, count: -1 }, false],
      ['an int beyond the safe range', { ...base, whole: 2 ** 53 }, false],
      ['0 for gt(0)', { ...base, ratio: 0 }, false],
      ['1 for lt(1)', { ...base, ratio: 1 }, false],
      ['a string for a number', { ...base, count: '1' }, false],
      ['null for a string', { ...base, name: null }, false],
      ['a value outside the enum', { ...base, kind: 'c' }, false],
      ['a value outside the literals', { ...base, fixed: 'y' }, false],
      ['an unknown key in a strict object', { ...base, other: 1 }, false],
      ['a required unknown absent', { name: 'n', code: 'NL' }, false],
      ['a required field absent', { code: 'NL', any: 0 }, false],
      ['an empty array (min 1)', { ...base, tags: [] }, false],
      ['an array too long', { ...base, tags: ['a', 'b', 'c', 'd'] }, false],
      ['an empty string in the array', { ...base, tags: ['a', ''] }, false],
      ['a wrong type in a loose object', { ...base, meta: { id: 'x' } }, false],
      ['an array for an object', { ...base, meta: [] }, false],
      ['a union option with an extra key', { ...base, parent: { id: 1, ref: 'r' } }, false],
      ['a __proto__ key, which zod leaves out of its copy', { ...base, meta: JSON.parse('{"__proto__":{"id":1}}') }, false],
    ];
    for (const [what, value, expected] of cases) {
      assert.equal(check(value), expected, what);
      assert.equal(strict.safeParse(value).success || !expected, true, `zod agrees: ${what}`);
    }
  });

  test('a kind or check it does not know leaves the value to zod', () => {
    const undecided: [string, z.ZodType, unknown][] = [
      ['a URL', z.strictObject({ u: z.url() }), { u: 'https://example.com' }],
      ['a string format', z.strictObject({ e: z.email() }), { e: 'a@b.co' }],
      ['a refinement', z.strictObject({ a: z.string() }).refine(() => true), { a: 'x' }],
      ['starts_with', z.strictObject({ a: z.string().startsWith('x') }), { a: 'x' }],
      ['multiple_of', z.strictObject({ a: z.number().multipleOf(2) }), { a: 2 }],
      ['an exclusive union', z.strictObject({ a: z.xor([z.string(), z.number()]) }), { a: 'x' }],
      ['a discriminated union', z.discriminatedUnion('k', [z.strictObject({ k: z.literal('a') })]), { k: 'a' }],
      ['a record', z.strictObject({ r: z.record(z.string(), z.string()) }), { r: {} }],
    ];
    for (const [what, schema, value] of undecided) {
      assert.equal(schema.safeParse(value).success, true, `zod accepts it: ${what}`);
      // No check at all (a record is not among the kinds outputIsInput knows) leaves it to zod too.
      assert.equal(asGivenCheck(schema)?.(value) ?? false, false, what);
    }
    // Absent, an unknown kind decides nothing: the rest of the record is tested.
    assert.equal(asGivenCheck(z.strictObject({ a: z.string(), u: z.url().optional() }))?.({ a: 'x' }), true);
    assert.equal(asGivenCheck(z.object({ a: z.string() })), undefined, 'an object that drops keys has no check');
  });

  test("never true where the schema refuses or changes a value: both targets' schemas, against mutated records", async () => {
    const schemas: [string, z.ZodType, (i: number) => unknown][] = [['strict', strict, () => ({ name: 'n', code: 'NL', any: 0 })]];
    for (const name of targetNames) {
      const make = await recordsOf(name);
      schemas.push([
        name,
        modules[name].productSchema,
        (i) => JSON.parse(JSON.stringify(make(i, { target: name, count: 3000, format: 'jsonl' }))),
      ]);
    }
    for (const [name, schema, make] of schemas) {
      const check = asGivenCheck(schema)!;
      let accepted = 0;
      let valid = 0;
      for (let i = 0; i < 3000; i++) {
        const record = changed(make(i) as Record<string, unknown>, name, i);
        const parsed = schema.safeParse(record);
        if (parsed.success) valid++;
        if (!check(record)) continue;
        accepted++;
        assert.ok(parsed.success, `${name} ${i}: passed the check, refused by zod: ${JSON.stringify(record)}`);
        assert.deepStrictEqual(parsed.data, record, `${name} ${i}: passed the check, changed by zod`);
      }
      // Not a check that refuses everything: it takes every unchanged record (none has a URL) and most other valid ones.
      assert.ok(accepted >= 1000 && accepted >= valid * 0.8, `${name}: ${accepted} accepted, ${valid} valid`);
    }
  });
});

/** Record `i` of a run: the first of every three unchanged, the others with one to three random changes anywhere in them. */
function changed(record: Record<string, unknown>, name: string, i: number): Record<string, unknown> {
  const changes = i % 3 === 0 ? 0 : 1 + Math.floor(unitInterval(name, i, 'n') * 3);
  for (let c = 0; c < changes; c++) mutate(record, [name, i, c]);
  return record;
}

/** One random change somewhere in a record: a key removed, added or given another value, of any JSON type. */
function mutate(record: Record<string, unknown>, seed: (string | number)[]): void {
  const pick = (n: number, what: string) => Math.floor(unitInterval(...seed, what) * n);
  // Down into a nested object or array some of the time.
  let target: Record<string, unknown> | unknown[] = record;
  for (let depth = 0; depth < 3; depth++) {
    const inner = Object.values(target).filter((v) => typeof v === 'object' && v !== null) as (Record<string, unknown> | unknown[])[];
    if (!inner.length || pick(2, `down${depth}`)) break;
    target = inner[pick(inner.length, `which${depth}`)]!;
  }
  const keys = Object.keys(target);
  const values = [
    '',
    'x',
    'NL',
    'nl',
    'abc',
    'https://example.com/a.png',
    0,
    1,
    -1,
    1.5,
    2 ** 53,
    true,
    null,
    [],
    ['a'],
    [''],
    {},
    { id: 1 },
    { language: 'EN', value: 'v' },
  ];
  const value = structuredClone(values[pick(values.length, 'value')]);
  const action = pick(3, 'action');
  if (action === 0 && keys.length) {
    const key = keys[pick(keys.length, 'key')]!;
    if (Array.isArray(target)) target.splice(Number(key), 1);
    else delete target[key];
  } else if (action === 1 && keys.length) {
    (target as Record<string, unknown>)[keys[pick(keys.length, 'key')]!] = value;
  } else if (Array.isArray(target)) target.push(value);
  else target[['extra', 'name', 'price', 'id', 'metadata', 'parent', 'status', 'unit'][pick(8, 'new')]!] = value;
}

describe('compact JSON lines the schema surely accepts, tested as text (asGivenTextCheck)', () => {
  /**
   * What staging concludes for a line without the text test: that it parses, is nested within the limit, holds no
   * `__proto__` key, is valid and returned unchanged by validation, and may be sent as it is. The text test may answer
   * only for such a line.
   */
  function byParsing(schema: z.ZodType, line: string): { ok: true; record: Record<string, unknown> } | { ok: false; why: string } {
    let record: Record<string, unknown>;
    try {
      record = JSON.parse(line);
    } catch {
      return { ok: false, why: 'not JSON' };
    }
    const keys = keysWithin(record, MAX_NESTING_DEPTH);
    if (keys < 0) return { ok: false, why: 'too deep' };
    if (protoKeyPath(record) !== undefined) return { ok: false, why: 'a __proto__ key' };
    const parsed = schema.safeParse(record);
    if (!parsed.success) return { ok: false, why: 'refused' };
    try {
      assert.deepStrictEqual(parsed.data, record);
    } catch {
      return { ok: false, why: 'changed by validation' };
    }
    if (!sendableAsIs(line, keys)) return { ok: false, why: 'not sendable as it is' };
    return { ok: true, record };
  }

  /** Asserts that where `check` answers, parsing agrees and the values kept are the record's; returns whether it answered. */
  function agrees(check: AsGivenTextCheck, schema: z.ZodType, fields: readonly string[], line: string, what: string): boolean {
    const kept = check(line);
    if (kept === undefined) return false;
    const verdict = byParsing(schema, line);
    assert.ok(verdict.ok, `${what}: the text test answered, parsing says ${verdict.ok ? '' : verdict.why}: ${line}`);
    assert.deepStrictEqual(
      kept,
      Object.fromEntries(fields.map((field) => [field, verdict.record[field]])),
      `${what}: the values kept are the record's: ${line}`,
    );
    return true;
  }

  const strictFields = ['name', 'count'];

  test('each kind and check, and JSON at its edges', () => {
    const check = asGivenTextCheck(strict, strictFields, MAX_NESTING_DEPTH)!;
    const base = '"name":"n","code":"NL","any":0';
    const nested = (levels: number) => `${'['.repeat(levels)}${']'.repeat(levels)}`;
    // true: it answers; false: it does not, and parsing does not pass the line as it is either; undefined: it leaves it.
    const cases: [string, string, boolean | undefined][] = [
      ['the least record', `{${base}}`, true],
      [
        'every field',
        `{${base},"exact":"abc","count":0,"ratio":0.5,"whole":-3,"flag":null,"kind":"b","fixed":"x","tags":["t"],"meta":{"id":1,"more":[{}]},"parent":{"ref":"r"}}`,
        true,
      ],
      ['escapes in strings', '{"name":"\\u00e9\\n","code":"NL","any":"\\"\\\\\\/\\b\\f\\r\\t"}', true],
      ['numbers as JSON writes them', '{"name":"n","code":"NL","any":[-0,0.5,1e5,-1.25E-3,2e+2],"ratio":5e-1}', true],
      ['keys in another order', `{"any":{"x":[true,false,null]},"code":"NL","name":"n"}`, true],
      ['an empty name (min 1)', '{"name":"","code":"NL","any":0}', false],
      ['a long name with an escape (max 8)', '{"name":"12345678\\u0041","code":"NL","any":0}', false],
      ['an escape counted as one character (max 8)', '{"name":"1234567\\u0041","code":"NL","any":0}', true],
      ['a code the regex refuses', '{"name":"n","code":"nl","any":0}', false],
      ['a fraction for an int', `{${base},"count":1.5}`, false],
      ['an int beyond the safe range', `{${base},"whole":9007199254740992}`, false],
      ['0 for gt(0)', `{${base},"ratio":0}`, false],
      ['a string for a number', `{${base},"count":"1"}`, false],
      ['a value outside the enum', `{${base},"kind":"c"}`, false],
      ['a literal that is a number', `{${base},"fixed":7}`, true],
      ['a number the literal is not', `{${base},"fixed":7.5}`, false],
      ['an unknown key in a strict object', `{${base},"other":1}`, false],
      ['a required unknown absent', '{"name":"n","code":"NL"}', false],
      ['an empty array (min 1)', `{${base},"tags":[]}`, false],
      ['a union option with an extra key', `{${base},"parent":{"id":1,"ref":"r"}}`, false],
      ['a repeated key', `{${base},"name":"m"}`, false],
      ['a repeated key in a loose object', `{${base},"meta":{"a":1,"b":2,"a":1}}`, false],
      ['a repeated key in any value', `{${base},"meta":{"more":{"a":1,"a":1}}}`, false],
      ['the same key in two objects', `{${base},"meta":{"a":{"a":1}}}`, true],
      ['a __proto__ key', `{${base},"meta":{"__proto__":{}}}`, false],
      ['a key with an escape (it could spell __proto__)', `{${base},"meta":{"__proto\\u005f_":{}}}`, false],
      ['a space between tokens', `{${base}, "count":1}`, false],
      ['a space before the record', ` {${base}}`, false],
      ['a trailing comma', `{${base},}`, false],
      ['something after the record', `{${base}}x`, false],
      ['a record cut short', `{${base}`, false],
      ['a leading zero', `{${base},"count":01}`, false],
      ['a bare dot', `{${base},"ratio":.5}`, false],
      ['an exponent without digits', '{"name":"n","code":"NL","any":1e}', false],
      // Parsing passes it (any value) and it goes as it is; the text test leaves it to parsing, as it does any non-finite number.
      ['Infinity (1e999)', '{"name":"n","code":"NL","any":1e999}', undefined],
      ['an unknown escape', '{"name":"\\x41","code":"NL","any":0}', false],
      ['a short \\u escape', '{"name":"\\u41","code":"NL","any":0}', false],
      ['a raw control character', '{"name":"a\u0001","code":"NL","any":0}', false],
      ['a raw tab', '{"name":"a\tb","code":"NL","any":0}', false],
      ['a misspelt null', '{"name":"n","code":"NL","any":nul}', false],
      ['an array for the record', '[]', false],
      [`nested ${MAX_NESTING_DEPTH} levels`, `{"name":"n","code":"NL","any":${nested(MAX_NESTING_DEPTH - 1)}}`, true],
      [`nested ${MAX_NESTING_DEPTH + 1} levels`, `{"name":"n","code":"NL","any":${nested(MAX_NESTING_DEPTH)}}`, false],
    ];
    for (const [what, line, expected] of cases) {
      assert.equal(check(line) !== undefined, expected === true, what);
      if (expected) assert.ok(agrees(check, strict, strictFields, line, what));
      else if (expected === false) assert.equal(byParsing(strict, line).ok, false, `parsing does not pass it as it is either: ${what}`);
    }
    const keyed = asGivenTextCheck(z.strictObject({ k: z.string(), n: z.number() }), ['k', 'n'], MAX_NESTING_DEPTH)!;
    assert.deepStrictEqual(keyed('{"k":"a-key-of-21-characters","n":-1.5e1}'), { k: 'a-key-of-21-characters', n: -15 });
    assert.deepStrictEqual(keyed('{"n":0,"k":"\\u00e9 and more than 13"}'), { k: 'é and more than 13', n: 0 });
    const unbounded = z.strictObject({ n: z.number().nonnegative() });
    assert.equal(asGivenTextCheck(unbounded, [], MAX_NESTING_DEPTH)!('{"n":1e999}'), undefined, 'Infinity, which zod refuses');
    assert.equal(unbounded.safeParse(JSON.parse('{"n":1e999}')).success, false);
    assert.deepStrictEqual(check('{"name":"\\u00e9","code":"NL","any":0,"count":3}'), { name: 'é', count: 3 });
    assert.deepStrictEqual(check('{"name":"n","code":"NL","any":0}'), { name: 'n', count: undefined }, 'an absent field');
  });

  test('a kind it does not know, or a schema that changes its input, has no answer', () => {
    assert.equal(asGivenTextCheck(z.object({ a: z.string() }), [], MAX_NESTING_DEPTH), undefined, 'an object that drops keys');
    const url = asGivenTextCheck(z.strictObject({ a: z.string(), u: z.url().optional() }), ['a'], MAX_NESTING_DEPTH)!;
    assert.deepStrictEqual(url('{"a":"x"}'), { a: 'x' });
    assert.equal(url('{"a":"x","u":"https://example.com"}'), undefined, 'a URL is zod to judge');
  });

  test("both targets' catalogs pass as they are, with the key keyOf makes from the values kept", async () => {
    for (const name of targetNames) {
      const make = await recordsOf(name);
      const { options } = ImportInput.parse({ importId: 'x', target: name, source: { location: 'c.jsonl' }, options: {} });
      const fields = modules[name].csvKeyColumns(options as never).columns;
      const check = asGivenTextCheck(modules[name].productSchema, fields, MAX_NESTING_DEPTH)!;
      for (let i = 0; i < 300; i++) {
        const line = JSON.stringify(make(i, { target: name, count: 300, format: 'jsonl' }));
        assert.ok(agrees(check, modules[name].productSchema, fields, line, `${name} ${i}`), `${name} ${i} passes: ${line}`);
        assert.equal(modules[name].keyOf(check(line), options as never), modules[name].keyOf(JSON.parse(line), options as never));
      }
    }
  });

  test('never an answer where parsing would not pass the line as it is: records and lines changed at random', async () => {
    const schemas: [string, z.ZodType, readonly string[], (i: number) => unknown][] = [
      ['strict', strict, strictFields, () => ({ name: 'n', code: 'NL', any: 0 })],
    ];
    for (const name of targetNames) {
      const make = await recordsOf(name);
      for (const lookupKey of name === 'propeller' ? ['sourceId', 'id'] : [undefined]) {
        const { options } = ImportInput.parse({ importId: 'x', target: name, source: { location: 'c.jsonl' }, options: { lookupKey } });
        schemas.push([
          `${name} ${lookupKey ?? ''}`,
          modules[name].productSchema,
          modules[name].csvKeyColumns(options as never).columns,
          (i) => JSON.parse(JSON.stringify(make(i, { target: name, count: 2000, format: 'jsonl' }))),
        ]);
      }
    }
    for (const [name, schema, fields, make] of schemas) {
      const check = asGivenTextCheck(schema, fields, MAX_NESTING_DEPTH)!;
      let answered = 0;
      let passing = 0;
      for (let i = 0; i < 2000; i++) {
        const record = changed(make(i) as Record<string, unknown>, name, i);
        // Half of them changed as text too: a snippet put in, or some characters taken out, anywhere in the line.
        const line = i % 2 ? JSON.stringify(record) : mutateText(JSON.stringify(record), [name, i]);
        if (byParsing(schema, line).ok) passing++;
        if (agrees(check, schema, fields, line, `${name} ${i}`)) answered++;
      }
      // Not a test that refuses everything: it answers for nearly every line that parsing would pass as it is.
      assert.ok(answered >= 300 && answered >= passing * 0.9, `${name}: answered ${answered}, ${passing} pass`);
    }
  });
});

/** One random change to a JSON text: a snippet put in at any place, or a few characters taken out. */
function mutateText(line: string, seed: (string | number)[]): string {
  const pick = (n: number, what: string) => Math.floor(unitInterval(...seed, what) * n);
  const at = pick(line.length + 1, 'at');
  if (pick(3, 'action') === 0) return line.slice(0, at) + line.slice(at + 1 + pick(3, 'length'));
  const snippets = [
    '"',
    '\\',
    '\\u00e9',
    '\\u12',
    '\\x',
    ' ',
    '\t',
    '\u0001',
    ',',
    ':',
    '{',
    '}',
    '[',
    ']',
    '0',
    '-',
    '.',
    'e',
    '1e999',
    '"__proto__":1,',
    '"name":"a",',
    '"sourceId":"a",',
    '"source_id":"a",',
    'true',
    'nul',
    '"a":{"a":1,"a":2},',
    '\u00e9',
  ];
  return line.slice(0, at) + snippets[pick(snippets.length, 'snippet')] + line.slice(at);
}

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
