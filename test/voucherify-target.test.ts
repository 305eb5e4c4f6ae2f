/**
 * The Voucherify target's pure parts: how a finished action maps onto each product (both result
 * shapes), what a CSV row becomes, and what the schema rejects.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { allSucceededIn, outcomesOfAction } from '../targets/voucherify/api';
import { voucherify } from '../targets/voucherify';
import type { StagedItem } from '../targets/types';

const item = (key: string): StagedItem => ({ line: 1, key, rawJson: '{}', body: '{}' });

test('a DONE action: listed errors fail their product, validation errors for good; the rest succeeded', () => {
  const outcomeOf = outcomesOfAction({
    id: 'aa_1',
    status: 'DONE',
    result: {
      done_count: 1,
      failed_count: 2,
      errors: [
        { source_id: 'bad', key: 'invalid_payload', message: 'Invalid payload', details: 'Property .price must be integer' },
        { source_id: 'flaky', key: 'product_update_failed', message: 'Product update failed' },
      ],
    },
  });
  assert.deepEqual(outcomeOf(item('bad')), {
    kind: 'invalid',
    error: 'invalid_payload: Invalid payload: Property .price must be integer',
  });
  assert.deepEqual(outcomeOf(item('flaky')), {
    kind: 'retryable',
    error: 'product_update_failed: Product update failed',
  });
  assert.deepEqual(outcomeOf(item('fine')), { kind: 'succeeded' });
});

test('the legacy result shape: updated products succeeded, others and missing ones are retried', () => {
  const outcomeOf = outcomesOfAction({
    id: 'aa_2',
    status: 'DONE',
    result: {
      done_count: 1,
      results: [
        { source_id: 'a', found: false, updated: true },
        { source_id: 'b', found: true, updated: false },
      ],
    },
  });
  assert.deepEqual(outcomeOf(item('a')), { kind: 'succeeded' });
  assert.deepEqual(outcomeOf(item('b')), { kind: 'retryable', error: 'aa_2: reported as not updated' });
  assert.deepEqual(outcomeOf(item('c')), { kind: 'retryable', error: "aa_2: not in the action's results" });
});

test('a FAILED action fails every product of the chunk for a retry round', () => {
  const outcomeOf = outcomesOfAction({ id: 'aa_3', status: 'FAILED', result: null });
  for (const key of ['a', 'b']) assert.deepEqual(outcomeOf(item(key)), { kind: 'retryable', error: 'aa_3: the async action ended FAILED' });
});

test('an action whose products all succeeded is told apart without its products: no error names one, no legacy results', () => {
  type Action = Parameters<typeof outcomesOfAction>[0];
  const done = (result: Action['result']): Action => ({ id: 'aa_4', status: 'DONE', result });
  const cases = [
    { action: done({ done_count: 2 }), all: true },
    { action: done({ done_count: 2, errors: [] }), all: true },
    // An error that names no product fails none (outcomesOfAction passes over it).
    { action: done({ done_count: 2, errors: [{ key: 'x', message: 'about the action' }] }), all: true },
    { action: done({ done_count: 1, errors: [{ source_id: 'b', key: 'product_update_failed', message: 'failed' }] }), all: false },
    { action: done({ done_count: 1, results: [{ source_id: 'a', found: false, updated: true }] }), all: false },
    { action: { id: 'aa_4', status: 'FAILED', result: null } as Action, all: false },
  ];
  for (const { action, all } of cases) {
    assert.equal(allSucceededIn(action), all, JSON.stringify(action));
    // Where it says so, every product's outcome is a success, whichever the product.
    if (all) for (const key of ['a', 'b', 'zz']) assert.deepEqual(outcomesOfAction(action)(item(key)), { kind: 'succeeded' });
  }
});

test('a CSV row: dotted metadata columns nest, price becomes an integer, attributes split on | or parse as JSON', () => {
  assert.deepEqual(
    voucherify.fromCsvRow({ source_id: 's1', name: 'Shirt', price: '1999', attributes: 'color | size', 'metadata.color': 'red' }),
    {
      source_id: 's1',
      name: 'Shirt',
      price: 1999,
      attributes: ['color', 'size'],
      metadata: { color: 'red' },
    },
  );
  assert.deepEqual(voucherify.fromCsvRow({ source_id: 's2', attributes: '["a","b"]' }), { source_id: 's2', attributes: ['a', 'b'] });
  // A price that is not a whole number stays text, for the schema to reject with its message.
  const parsed = voucherify.productSchema.safeParse(voucherify.fromCsvRow({ source_id: 's3', price: '19.99' }));
  assert.equal(parsed.success, false);
});

test('the schema requires source_id, an integer price and string attributes, and names unknown columns', () => {
  const issues = (record: unknown) => {
    const parsed = voucherify.productSchema.safeParse(record);
    return parsed.success ? [] : parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
  };
  assert.deepEqual(
    issues({ source_id: 'ok', price: 100, attributes: ['a'], metadata: { x: 1 }, image_url: 'https://img.example/p.png' }),
    [],
  );
  assert.match(issues({ name: 'no key' }).join(), /source_id/);
  assert.match(issues({ source_id: 'p', price: 10.5 }).join(), /price: price must be an integer/);
  assert.match(issues({ source_id: 'a', attributes: [1] }).join(), /attributes\.0/);
  assert.match(issues({ source_id: 'u', colour: 'red' }).join(), /colour/);
  // metadata: any JSON object, passed through whole and in order; nothing else.
  for (const metadata of ['red', 1, null, ['a']]) assert.match(issues({ source_id: 'm', metadata }).join(), /^metadata: .*expected object/);
  const metadata = { z: { deep: [1, { x: null }] }, a: 'b', n: null, '': 0 };
  assert.equal(JSON.stringify(voucherify.productSchema.parse({ source_id: 'm', metadata })), JSON.stringify({ source_id: 'm', metadata }));
});
