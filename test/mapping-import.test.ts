/**
 * `bulkport import --mapping`: the sample Shopify export, through each shipped mapping, lands in the sandbox with the
 * mapped fields; a record the mapping cannot handle is an invalid row with the mapping's error and goes to the
 * failed records as the source had it; a bad mapping file is refused before anything starts; a dry run maps too.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { parse } from 'csv-parse/sync';
import { rootCause } from '../client/outcome';
import { ImportInput, type ImportPlan } from '../common/import';
import { ExitCode, useCliHarness } from './cli-harness';

const h = useCliHarness('mapping-import');

const sample = path.resolve('examples/shopify-products.csv');
const mappingFor = (target: string) => path.resolve(`examples/mappings/shopify-to-${target}.json`);
const noSku = 'the mapping failed: no Variant SKU: an image row or a product without variants (one product is one variant row with a SKU)';

/** The sample's rows as the source has them, by line (the header is line 1). */
async function sampleRows(): Promise<Map<number, Record<string, string>>> {
  const rows = parse(await readFile(sample), { columns: true }) as Record<string, string>[];
  return new Map(rows.map((row, i) => [i + 2, row]));
}

// One at a time: the refusal and the dry run count the sandboxes' requests.
describe('field mapping', () => {
  test('the Shopify export into Voucherify: price in cents, names, metadata built; the image row is invalid with the mapping’s error', async () => {
    const run = await h.importFile(sample, 'voucherify', ['--mapping', mappingFor('voucherify')]);
    assert.equal(run.code, ExitCode.partial, run.output);
    const counts = run.status?.summary?.counts;
    assert.deepEqual([counts?.succeeded, counts?.invalid], [11, 1]);
    assert.deepEqual(h.voucherify.getProduct('TEE-CLS-S') && pick(h.voucherify.getProduct('TEE-CLS-S')!, ['name', 'price', 'image_url']), {
      name: 'Classic Tee / S',
      price: 1999,
      image_url: 'https://cdn.shopify.com/s/files/1/0000/0001/products/classic-tee.jpg',
    });
    assert.deepEqual(h.voucherify.getProduct('TEE-CLS-S')?.metadata, {
      handle: 'classic-tee',
      vendor: 'Northwind Apparel',
      product_type: 'T-Shirts',
      tags: ['cotton', 'summer', 'unisex'],
      option: 'Size: S',
      compare_at_price: 2499,
      barcode: '4006381333931',
    });
    // A variant row after its product's first: no Title, so the handle names it.
    assert.deepEqual(pick(h.voucherify.getProduct('TEE-CLS-L')!, ['name', 'price']), { name: 'classic-tee / L', price: 2150 });

    const invalid = run.rows?.filter((r) => r.outcome === 'invalid');
    assert.deepEqual(
      invalid?.map((r) => [r.line, r.error]),
      [[8, `source_id: ${noSku}`]],
    );
    // The failed records hold the source's row as it came, Shopify's columns and all, for the user to fix.
    const failed = parse(await readFile(run.status!.summary!.files.failedRecords), { columns: true }) as Record<string, string>[];
    assert.deepEqual(failed, [(await sampleRows()).get(8)]);
  });

  test('the Shopify export into Propeller: language set, names localized, price a number', async () => {
    const run = await h.importFile(sample, 'propeller', ['--mapping', mappingFor('propeller')]);
    assert.equal(run.code, ExitCode.partial, run.output);
    assert.equal(run.status?.summary?.counts.succeeded, 11);
    const tee = h.propeller.getProduct('sourceId', 'TEE-CLS-S', 'shopify');
    assert.ok(tee, 'TEE-CLS-S is in Propeller under source shopify');
    assert.deepEqual(pick(tee, ['language', 'names', 'descriptions', 'sku', 'price', 'supplier', 'eanCode', 'status']), {
      language: 'EN',
      names: [{ language: 'EN', value: 'Classic Tee / S' }],
      descriptions: [{ language: 'EN', value: '<p>Soft cotton tee, cut for every day.</p>' }],
      sku: 'TEE-CLS-S',
      price: 19.99,
      supplier: 'Northwind Apparel',
      eanCode: '4006381333931',
      status: 'A',
    });
    assert.equal(h.propeller.getProduct('sourceId', 'APRON-LIN-R', 'shopify')?.status, 'N', 'an unpublished product');
    assert.deepEqual(
      run.rows?.filter((r) => r.outcome === 'invalid').map((r) => [r.line, r.error]),
      [[8, `sourceId: ${noSku}`]],
    );
  });

  test('a record the mapping cannot handle is an invalid row naming the field; the rest imports; fixed, a retry maps it', async () => {
    const header = 'Handle,Title,Variant SKU,Variant Price';
    const file = await h.file('prices.csv', `${header}\nmug,Mug,MUG-1,12.50\nmug,,MUG-2,n/a\nmug,,MUG-3,9\n`);
    const run = await h.importFile(file, 'voucherify', ['--mapping', mappingFor('voucherify')]);
    assert.equal(run.code, ExitCode.partial, run.output);
    assert.deepEqual(
      run.rows?.map((r) => [r.line, r.outcome]),
      [
        [2, 'succeeded'],
        [3, 'invalid'],
        [4, 'succeeded'],
      ],
    );
    assert.match(
      run.rows?.[1]?.error ?? '',
      /^price: the mapping failed: Unable to cast value to a number: "n\/a" \(JSONata D3030 at character \d+\)$/,
    );
    assert.equal(h.voucherify.getProduct('MUG-3')?.price, 900);

    // Fixed in the failed records (the source's row), a retry maps it with the same mapping.
    const failedRecords = run.status!.summary!.files.failedRecords;
    await writeFile(failedRecords, (await readFile(failedRecords, 'utf8')).replace('n/a', '7.25'));
    const retry = await h.bulkport(['retry', run.status!.workflowId, '--include-invalid', '--wait', '--json', '--worker-timeout', '30']);
    assert.equal(retry.code, ExitCode.ok, retry.stderr);
    assert.equal(h.voucherify.getProduct('MUG-2')?.price, 725);
  });

  test('a bad mapping file is refused before anything starts, naming the field and the JSONata error', async () => {
    const requestsBefore = JSON.stringify([h.voucherify.stats().requests, h.propeller.stats().requests]);
    const bad = await h.file(
      'bad-mapping.json',
      JSON.stringify({ fields: { source_id: '`Variant SKU`', price: '$round(`Variant Price` * 100' } }),
    );
    const id = `mapping-bad-${Date.now()}`;
    const run = await h.importFile(sample, 'voucherify', ['--mapping', bad, '--id', id]);
    assert.equal(run.code, ExitCode.failed, run.output);
    assert.match(
      run.stderr,
      /bad-mapping\.json has an invalid expression: field price: Expected "\)" before end of expression \(JSONata S0203 at character \d+\)/,
    );
    assert.doesNotMatch(run.stdout, /^Started /m);
    const status = await h.bulkport(['status', id]);
    assert.match(status.stderr, new RegExp(`No import with id ${id}`), 'no workflow was started');

    const wrongTarget = await h.importFile(sample, 'propeller', ['--mapping', mappingFor('voucherify')]);
    assert.equal(wrongTarget.code, ExitCode.failed, wrongTarget.output);
    assert.match(wrongTarget.stderr, /makes voucherify products, not propeller: pick the mapping for propeller/);
    assert.equal(JSON.stringify([h.voucherify.stats().requests, h.propeller.stats().requests]), requestsBefore, 'no request to a target');
  });

  test('a start that skipped the client’s check: staging refuses the mapping at once (InvalidMapping), naming the field', async () => {
    const workflowId = `mapping-unchecked-${Date.now()}`;
    // Valid in shape (the workflow's own check passes), but an expression does not compile.
    const input = ImportInput.parse({
      importId: workflowId,
      target: 'voucherify',
      source: { location: sample },
      mapping: { fields: { source_id: '`Variant SKU`', price: '$number(`Variant Price`' } },
    });
    const handle = await h.t.client.workflow.start('importCatalog', { taskQueue: h.worker.taskQueue, workflowId, args: [input] });
    const failure = await handle.result().then(
      () => assert.fail('the import should fail'),
      (err: unknown) => rootCause(err),
    );
    assert.equal(failure.type, 'InvalidMapping');
    assert.match(failure.message, /The mapping is invalid: field price: Expected "\)" before end of expression \(JSONata S0203/);
  });

  test('--dry-run with --mapping stages through the mapping and sends nothing', async () => {
    const requestsBefore = JSON.stringify(h.propeller.stats().requests);
    const run = await h.bulkport(['import', sample, '--target', 'propeller', '--mapping', mappingFor('propeller'), '--dry-run', '--json']);
    assert.equal(run.code, 2, run.stderr);
    const plan = JSON.parse(run.stdout) as ImportPlan;
    assert.deepEqual(plan.counts, { read: 12, valid: 11, invalid: 1 });
    assert.deepEqual(plan.firstErrors, [{ line: 8, error: `sourceId: ${noSku}` }]);
    assert.equal(JSON.stringify(h.propeller.stats().requests), requestsBefore, 'the dry run sent nothing');
  });
});

function pick<T extends object>(value: T, keys: string[]): Record<string, unknown> {
  return Object.fromEntries(keys.map((k) => [k, (value as Record<string, unknown>)[k]]));
}
