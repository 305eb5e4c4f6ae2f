/**
 * schemas/import-request.schema.json is what services in other languages validate a request against: it must be the
 * schema generated from the zod one, and agree with it (Ajv, draft 2020-12) on requests either accepts or refuses.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { ImportInput } from '../common/import';
import { importRequestSchemaText, schemaFile } from '../scripts/schema';

test('the committed JSON Schema is the one generated from the zod schema (npm run schema)', async () => {
  assert.equal(
    await readFile(schemaFile, 'utf8'),
    importRequestSchemaText(),
    'schemas/import-request.schema.json is stale: run `npm run schema`',
  );
});

test('the JSON Schema accepts and refuses the requests the workflow does', async () => {
  const validate = new Ajv2020({ strict: false }).compile(JSON.parse(await readFile(schemaFile, 'utf8')));
  const base = { importId: 'import-voucherify-catalog-20261203T130000Z', source: { location: '/data/catalog.jsonl' } };
  const cases: [string, unknown, boolean][] = [
    ['the least Voucherify request', { ...base, target: 'voucherify' }, true],
    ['Propeller with options', { ...base, target: 'propeller', options: { chunkSize: 1000, lookupKey: 'id', concurrency: 8 } }, true],
    ['a CSV source with a separator', { ...base, target: 'propeller', source: { location: 'https://x/c.csv', delimiter: ';' } }, true],
    ['an unknown target', { ...base, target: 'shopify' }, false],
    ['no import id', { source: base.source, target: 'voucherify' }, false],
    ['an import id with a slash', { ...base, importId: 'a/b', target: 'voucherify' }, false],
    ['concurrency 0', { ...base, target: 'voucherify', options: { concurrency: 0 } }, false],
    ["Propeller's 2001-product chunks", { ...base, target: 'propeller', options: { chunkSize: 2001 } }, false],
    ['Voucherify chunks over 10 MiB', { ...base, target: 'voucherify', options: { chunkBytes: 10_485_761 } }, false],
    ['an unknown format', { ...base, target: 'voucherify', source: { location: '/x', format: 'xml' } }, false],
    ['a field mapping', { ...base, target: 'voucherify', mapping: { target: 'voucherify', fields: { source_id: '`Variant SKU`' } } }, true],
    ['a mapping without fields', { ...base, target: 'voucherify', mapping: { fields: {} } }, false],
    ['a mapping with a number for an expression', { ...base, target: 'propeller', mapping: { fields: { price: 19.99 } } }, false],
    ['a mapping with an unknown key', { ...base, target: 'propeller', mapping: { fields: { sku: 'SKU' }, expression: '$' } }, false],
  ];
  for (const [what, request, valid] of cases) {
    assert.equal(ImportInput.safeParse(request).success, valid, `zod on ${what}`);
    assert.equal(validate(request), valid, `the JSON Schema on ${what}: ${JSON.stringify(validate.errors)}`);
  }
});
