/**
 * Field mapping's pure parts: what an expression per field makes of a record, the errors that name the field, the
 * mapping file's checks, and the shipped Shopify examples making valid products of the sample export.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { compileMapping, MappingError, type MappedRecord } from '../activities/mapping';
import { readSource } from '../activities/sources';
import { FieldMapping, MAX_MAPPING_BYTES } from '../common/mapping';
import { loadMapping, MappingFileError } from '../client/mapping';
import { PropellerProduct } from '../targets/propeller/schema';
import { VoucherifyProduct } from '../targets/voucherify/schema';
import { tempDir } from './helpers';

const shopifyRow = {
  Handle: 'classic-tee',
  Title: 'Classic Tee',
  Vendor: 'Northwind',
  Tags: 'cotton, summer',
  'Variant SKU': 'TEE-S',
  'Variant Price': '19.99',
  'Image Src': '',
};

const productOf = (mapped: MappedRecord) => {
  assert.ok('product' in mapped, `a product, not ${JSON.stringify(mapped)}`);
  return JSON.parse(JSON.stringify(mapped.product)) as Record<string, unknown>;
};

describe('compileMapping', () => {
  test('renames, converts units, sets a language, builds metadata and localized names; a field that gives nothing is left out', async () => {
    const mapping = compileMapping({
      fields: {
        sku: '`Variant SKU`',
        price: '$round($number(`Variant Price`) * 100)',
        language: "'EN'",
        names: "[{ 'language': 'EN', 'value': Title }]",
        metadata: "{ 'vendor': Vendor, 'tags': [$split(Tags, ',').$trim()] }",
        image_url: '`Image Src` ? `Image Src`',
      },
    });
    assert.deepEqual(productOf(await mapping.apply(shopifyRow)), {
      sku: 'TEE-S',
      price: 1999,
      language: 'EN',
      names: [{ language: 'EN', value: 'Classic Tee' }],
      metadata: { vendor: 'Northwind', tags: ['cotton', 'summer'] },
    });
  });

  test('a record the mapping cannot handle is an error naming the field and JSONata’s message', async () => {
    const mapping = compileMapping({
      fields: {
        sku: "`Variant SKU` ? `Variant SKU` : $error('no Variant SKU')",
        price: '$round($number(`Variant Price`) * 100)',
      },
    });
    assert.deepEqual(await mapping.apply({ ...shopifyRow, 'Variant Price': 'n/a' }), {
      error: { path: 'price', message: 'the mapping failed: Unable to cast value to a number: "n/a" (JSONata D3030 at character 15)' },
    });
    // $error's message is the mapping author's own: it stands alone.
    assert.deepEqual(await mapping.apply({ Handle: 'x', 'Variant Price': '1' }), {
      error: { path: 'sku', message: 'the mapping failed: no Variant SKU' },
    });
  });

  test('a record of which every expression gives nothing is an error', async () => {
    const mapping = compileMapping({ fields: { sku: '`Variant SKU`' } });
    assert.deepEqual(await mapping.apply({ other: 1 }), {
      error: { path: '', message: 'the mapping made no field of this record: every expression gave nothing' },
    });
  });

  test('an expression that does not compile is a MappingError naming the field and the JSONata error', () => {
    assert.throws(
      () => compileMapping({ fields: { sku: '`Variant SKU`', price: '$round(`Variant Price` * 100' } }),
      (err: unknown) =>
        err instanceof MappingError &&
        /^field price: Expected "\)" before end of expression \(JSONata S0203 at character \d+\), in "\$round/.test(err.message),
    );
  });

  test('$now, $millis and $random are refused: a retried staging attempt must make the same products', () => {
    assert.throws(
      () => compileMapping({ fields: { sku: 'SKU', metadata: "{ 'imported_at': $now() }" } }),
      (err: unknown) => err instanceof MappingError && /^field metadata: \$now gives another value each time/.test(err.message),
    );
    assert.throws(() => compileMapping({ fields: { sku: '($f := $random; $string($f()))' } }), /field sku: \$random/);
    assert.doesNotThrow(() => compileMapping({ fields: { sku: "$string(now) & 'random'" } }), 'fields and strings of those names are fine');
  });
});

describe('FieldMapping', () => {
  test('refuses a mapping over 64 KiB, no fields, or a field that is not an expression', () => {
    const big = { fields: { name: `'${'x'.repeat(MAX_MAPPING_BYTES)}'` } };
    assert.match(FieldMapping.safeParse(big).error?.issues[0]?.message ?? '', /over 64 KiB/);
    assert.equal(FieldMapping.safeParse({ fields: { name: `'${'x'.repeat(MAX_MAPPING_BYTES - 100)}'` } }).success, true);
    assert.equal(FieldMapping.safeParse({ fields: {} }).success, false);
    assert.equal(FieldMapping.safeParse({ fields: { price: 19.99 } }).success, false);
  });
});

describe('loadMapping (the CLI’s --mapping)', () => {
  test('names the file and the problem: not JSON, not a mapping, another target, an expression that does not compile', async () => {
    const dir = await tempDir('mapping-unit');
    const file = async (name: string, text: string) => {
      const where = path.join(dir, name);
      await writeFile(where, text);
      return where;
    };
    const refused = async (where: string, target: string, message: RegExp) =>
      assert.rejects(loadMapping(where, target), (err: unknown) => err instanceof MappingFileError && message.test(err.message));
    await refused(path.join(dir, 'missing.json'), 'voucherify', /missing\.json cannot be read \(ENOENT\)/);
    await refused(await file('broken.json', '{"fields": '), 'voucherify', /broken\.json is not JSON/);
    await refused(await file('shape.json', '{"field": {}}'), 'voucherify', /shape\.json is not a mapping: .*fields/);
    await refused(
      await file('other.json', '{"target": "propeller", "fields": {"sku": "SKU"}}'),
      'voucherify',
      /makes propeller products, not voucherify/,
    );
    await refused(
      await file('bad.json', '{"fields": {"source_id": "SKU", "price": "$round(Price *"}}'),
      'voucherify',
      /bad\.json has an invalid expression: field price: .*JSONata S0\d{3}/,
    );
    const good = await loadMapping(await file('good.json', '{"target": "voucherify", "fields": {"source_id": "SKU"}}'), 'voucherify');
    assert.deepEqual(good, { target: 'voucherify', fields: { source_id: 'SKU' } });
  });
});

describe('the Shopify examples', () => {
  for (const [target, schema, keyField] of [
    ['voucherify', VoucherifyProduct, 'source_id'],
    ['propeller', PropellerProduct, 'sourceId'],
  ] as const) {
    test(`examples/mappings/shopify-to-${target}.json makes a valid product of every variant row of the sample export`, async () => {
      const mapping = compileMapping(await loadMapping(`examples/mappings/shopify-to-${target}.json`, target));
      const outcomes: string[] = [];
      for await (const item of readSource(path.resolve('examples/shopify-products.csv'), 'csv')) {
        assert.ok('record' in item, `line ${item.line} reads`);
        const mapped = await mapping.apply(item.record);
        if ('error' in mapped) {
          outcomes.push(`${item.line} ${mapped.error.path}: ${mapped.error.message}`);
          continue;
        }
        const parsed = schema.safeParse(mapped.product);
        outcomes.push(parsed.success ? 'ok' : `${item.line} ${JSON.stringify(parsed.error.issues)}`);
      }
      // Twelve rows: eleven variants and one image row, which has no SKU.
      assert.equal(outcomes.length, 12);
      assert.deepEqual(
        outcomes.filter((o) => o !== 'ok'),
        [
          `8 ${keyField}: the mapping failed: no Variant SKU: an image row or a product without variants (one product is one variant row with a SKU)`,
        ],
      );
    });
  }
});
