import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startPropellerSandbox, type PropellerSandbox } from '../sandbox/index';
import { httpRequest, jsonRequest, sleep } from '../sandbox/test-support';
import { sandboxFor } from './harness';

const form = (fields: Record<string, string>) => ({
  method: 'POST',
  headers: { 'content-type': 'application/x-www-form-urlencoded' },
  body: new URLSearchParams(fields).toString(),
});

async function tokenFor(sandbox: PropellerSandbox): Promise<string> {
  const { clientId, clientSecret, tokenUrl } = sandbox.credentials;
  const answer = await httpRequest(tokenUrl, form({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }));
  assert.equal(answer.status, 200);
  return answer.json.access_token;
}

const product = (sourceId: string, extra: Record<string, unknown> = {}) => ({
  sourceId,
  source: 'ERP',
  language: 'EN',
  names: [{ language: 'EN', value: `Product ${sourceId}` }],
  ...extra,
});

describe('Propeller sandbox', () => {
  let sandbox: PropellerSandbox;
  let token: string;
  const bulk = (lookupKey: string, body: unknown, bearer = token) =>
    httpRequest(`${sandbox.url}/v2/products/bulk/${lookupKey}`, jsonRequest('POST', body, { authorization: `Bearer ${bearer}` }));
  const read = (path: string) => httpRequest(`${sandbox.url}/v2/products/${path}`, { headers: { authorization: `Bearer ${token}` } });

  before(async () => {
    sandbox = await startPropellerSandbox();
    token = await tokenFor(sandbox);
  });
  after(() => sandbox.close());

  describe('POST /oauth2/token', () => {
    test('issues 30-minute Bearer tokens for client credentials in a form body or Basic auth', async () => {
      const { clientId, clientSecret, tokenUrl } = sandbox.credentials;
      const viaForm = await httpRequest(
        tokenUrl,
        form({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
      );
      assert.equal(viaForm.status, 200);
      assert.equal(viaForm.json.expires_in, 1800);
      assert.equal(viaForm.json.token_type, 'Bearer');
      const basic = Buffer.from(`${clientId}:${clientSecret}`).toString('base64');
      const viaBasic = await httpRequest(tokenUrl, {
        ...form({ grant_type: 'client_credentials' }),
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
      });
      assert.equal(viaBasic.status, 200);
      assert.notEqual(viaBasic.json.access_token, viaForm.json.access_token);
      assert.equal((await bulk('sourceId', { products: [product('basic-1')] }, viaBasic.json.access_token)).status, 200);
    });

    test('rejects wrong credentials and other grant types', async () => {
      const { clientId, tokenUrl } = sandbox.credentials;
      const wrong = await httpRequest(tokenUrl, form({ grant_type: 'client_credentials', client_id: clientId, client_secret: 'guess' }));
      assert.equal(wrong.status, 401);
      assert.deepEqual(wrong.json, { error: 'invalid_client' });
      const grant = await httpRequest(tokenUrl, form({ grant_type: 'password', client_id: clientId }));
      assert.equal(grant.status, 400);
    });

    test('answers 401 in the error envelope without a valid Bearer token', async () => {
      for (const headers of [{}, { authorization: 'Bearer not-a-token' }, { authorization: `Basic ${token}` }] as Array<
        Record<string, string>
      >) {
        const answer = await httpRequest(
          `${sandbox.url}/v2/products/bulk/sourceId`,
          jsonRequest('POST', { products: [product('x')] }, headers),
        );
        assert.equal(answer.status, 401);
        assert.equal(answer.json.error.status, 401);
        assert.ok(Array.isArray(answer.json.error.messages));
      }
      assert.equal((await httpRequest(`${sandbox.url}/v2/products/id/1`)).status, 401);
    });

    test('tokens expire after tokenTtlSeconds', async (ctx) => {
      const shortLived = await sandboxFor(ctx, 'propeller', { tokenTtlSeconds: 1 });
      const t = await tokenFor(shortLived);
      const post = () =>
        httpRequest(
          `${shortLived.url}/v2/products/bulk/sourceId`,
          jsonRequest('POST', { products: [product('ttl-1')] }, { authorization: `Bearer ${t}` }),
        );
      assert.equal((await post()).status, 200);
      await sleep(1100);
      assert.equal((await post()).status, 401);
      assert.equal(
        (
          await httpRequest(
            `${shortLived.url}/v2/products/bulk/sourceId`,
            jsonRequest('POST', { products: [product('ttl-1')] }, { authorization: `Bearer ${await tokenFor(shortLived)}` }),
          )
        ).status,
        200,
      );
    });

    test('can answer in the older gateway shape', async (ctx) => {
      const legacy = await sandboxFor(ctx, 'propeller', { tokenResponseShape: 'legacy' });
      const { clientId, clientSecret, tokenUrl } = legacy.credentials;
      const answer = await httpRequest(
        tokenUrl,
        form({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }),
      );
      assert.equal(answer.json.expires_in, '1800');
      assert.equal(answer.json.token_type, 'BearerToken');
    });
  });

  describe('schema validation', () => {
    test('a missing and an extraneous key give the exact 10007 messages, and nothing is stored', async () => {
      const before = sandbox.productCount();
      const products = [
        product('schema-0'),
        { ...product('schema-1'), name: 'Wrong key' },
        product('schema-2'),
        { sourceId: 'schema-3', source: 'ERP', language: 'EN' },
      ];
      const answer = await bulk('sourceId', { products });
      assert.equal(answer.status, 400);
      assert.deepEqual(answer.json, {
        error: {
          code: 10007,
          status: 400,
          type: 'SchemaValidationException',
          messages: ['#/products/1: extraneous key [name] is not permitted', '#/products/3: required key [names] not found'],
          moreInfo: 'https://www.propel.us/docs/errors/10007',
        },
      });
      assert.equal(sandbox.productCount(), before, 'the whole request is rejected');
      assert.equal(sandbox.getProduct('sourceId', 'schema-0', 'ERP'), undefined);
    });

    test('types, enums, nested objects and the request envelope are checked too', async () => {
      const answer = await bulk('sourceId', {
        products: [product('types-0', { price: '12.50', status: 'X', unit: 1.5, names: [{ language: 'EN' }], parent: { name: 'Shoes' } })],
        directives: [{ operation: 'skipEverything', fields: [] }],
        extra: true,
      });
      assert.equal(answer.status, 400);
      assert.deepEqual(answer.json.error.messages, [
        '#: extraneous key [extra] is not permitted',
        '#/products/0/names/0: required key [value] not found',
        '#/products/0/unit: expected type: Integer, found: BigDecimal',
        '#/products/0/status: X is not a valid enum value',
        '#/products/0/price: expected type: Number, found: String',
        '#/products/0/parent: extraneous key [name] is not permitted',
        '#/directives/0/operation: skipEverything is not a valid enum value',
      ]);
      assert.deepEqual((await bulk('sourceId', { directives: [] })).json.error.messages, ['#: required key [products] not found']);
      assert.deepEqual((await bulk('sourceId', [product('not-wrapped')])).json.error.messages, [
        '#: expected type: JSONObject, found: JSONArray',
      ]);
    });

    test('more than 2000 products is a 400; exactly 2000 is answered item by item', async () => {
      const many = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => product(`${prefix}-${i}`));
      const tooMany = await bulk('sourceId', { products: many(2001, 'over') });
      assert.equal(tooMany.status, 400);
      assert.equal(tooMany.json.error.code, 10007);
      assert.deepEqual(tooMany.json.error.messages, ['#/products: expected maximum item count: 2000, found: 2001']);
      const full = await bulk('sourceId', { products: many(2000, 'full') });
      assert.equal(full.status, 200);
      assert.equal(full.json.total, 2000);
      assert.deepEqual(full.json.messages, ['Completed']);
      assert.ok(full.json.data.every((item: { success: boolean; action: string }) => item.success && item.action === 'create'));
      assert.equal(sandbox.getProduct('sourceId', 'full-1999', 'ERP')?.sourceId, 'full-1999');
    });

    test('malformed JSON is 10005', async () => {
      const answer = await bulk('sourceId', '{"products": [');
      assert.equal(answer.status, 400);
      assert.equal(answer.json.error.code, 10005);
      assert.equal(answer.json.error.type, 'InvalidJSONPayload');
    });
  });

  describe('upsert', () => {
    test('bulk/sourceId creates, then updates the same product, and GET reads it back', async () => {
      const created = await bulk('sourceId', { products: [product('up-1', { sku: 'SKU-1', price: 9.95 })] });
      assert.equal(created.status, 200);
      const [first] = created.json.data;
      assert.deepEqual(Object.keys(first).sort(), ['action', 'id', 'key', 'lookupKey', 'success']);
      assert.equal(first.action, 'create');
      assert.equal(first.key, 'up-1');
      assert.equal(first.lookupKey, 'sourceId');
      assert.equal(typeof first.id, 'number');

      const updated = await bulk('sourceId', { products: [product('up-1', { price: 12 })] });
      assert.deepEqual(updated.json.data[0], { action: 'update', id: first.id, key: 'up-1', lookupKey: 'sourceId', success: true });

      const bySource = await read('sourceId/up-1?source=ERP');
      assert.equal(bySource.status, 200);
      assert.equal(bySource.json.total, 1);
      assert.equal(bySource.json.data.price, 12);
      assert.equal(bySource.json.data.sku, 'SKU-1', 'fields not sent are kept');
      assert.equal(bySource.json.data.status, 'A', 'defaults apply on create');
      assert.equal(bySource.json.data.taxCode, 'H');
      const byId = await read(`id/${first.id}`);
      assert.deepEqual(byId.json.data, bySource.json.data);
      assert.equal((await read('sourceId/up-1?source=OTHER')).status, 404);
    });

    test('missing products are 404 / 80006; unknown lookup keys are 10006', async () => {
      const missing = await read('sourceId/nothing-here?source=ERP');
      assert.equal(missing.status, 404);
      assert.equal(missing.json.error.code, 80006);
      assert.equal(missing.json.error.type, 'ProductNotFound');
      assert.equal((await read('id/999999')).json.error.code, 80006);
      assert.equal((await read('sourceId/up-1')).status, 400, 'sourceId needs ?source=');
      assert.equal((await read('ean/123')).json.error.code, 10006);
      const bulkByEan = await bulk('eanCode', { products: [product('e-1')] });
      assert.equal(bulkByEan.status, 400);
      assert.equal(bulkByEan.json.error.code, 10006);
    });

    test('bulk/id updates by Propeller id and creates under a new id when the id does not exist', async () => {
      const created = await bulk('id', { products: [product('byid-1')] });
      assert.deepEqual(
        { ...created.json.data[0], id: undefined },
        { action: 'create', id: undefined, key: 0, lookupKey: 'id', success: true },
      );
      const id = created.json.data[0].id as number;
      const updated = await bulk('id', { products: [{ ...product('byid-1', { sku: 'BYID' }), id }] });
      assert.deepEqual(updated.json.data[0], { action: 'update', id, key: id, lookupKey: 'id', success: true });
      assert.equal(sandbox.getProduct('id', id)?.sku, 'BYID');
      const unknownId = await bulk('id', { products: [{ ...product('byid-2'), id: 48118 }] });
      assert.equal(unknownId.json.data[0].action, 'create');
      assert.equal(unknownId.json.data[0].key, 48118);
      assert.notEqual(unknownId.json.data[0].id, 48118);
      const clash = await bulk('id', { products: [product('byid-1')] });
      assert.equal(clash.json.data[0].success, false, 'a second product may not take the same source and sourceId');
      assert.equal(typeof clash.json.data[0].error, 'string');
      assert.equal('id' in clash.json.data[0], false);
    });

    test('directives change what an update does', async () => {
      const base = product('dir-1', {
        sku: 'OLD',
        names: [
          { language: 'EN', value: 'Old name' },
          { language: 'NL', value: 'Oude naam' },
        ],
        descriptions: [{ language: 'EN', value: 'Old description' }],
        parent: { id: 1 },
      });
      await bulk('sourceId', { products: [base] });
      const change = product('dir-1', { sku: 'NEW', names: [{ language: 'EN', value: 'New name' }], parent: { id: 2 }, supplier: 'ACME' });

      await bulk('sourceId', {
        products: [change],
        directives: [
          { operation: 'skipIfNotEmpty', fields: ['sku', 'supplier'] },
          { operation: 'skipMoveOnUpdate', fields: [] },
        ],
      });
      let stored = sandbox.getProduct('sourceId', 'dir-1', 'ERP');
      assert.equal(stored?.sku, 'OLD', 'skipIfNotEmpty keeps a field that has a value');
      assert.equal(stored?.supplier, 'ACME', 'skipIfNotEmpty still fills an empty field');
      assert.deepEqual(stored?.parent, { id: 1 }, 'skipMoveOnUpdate keeps the parent');
      assert.deepEqual(
        stored?.names,
        [
          { language: 'NL', value: 'Oude naam' },
          { language: 'EN', value: 'New name' },
        ],
        'by default translations are merged per language',
      );

      await bulk('sourceId', { products: [change], directives: [{ operation: 'mergeTranslationsOnUpdate', fields: [] }] });
      stored = sandbox.getProduct('sourceId', 'dir-1', 'ERP');
      assert.deepEqual(stored?.names, [{ language: 'EN', value: 'New name' }], 'mergeTranslationsOnUpdate drops translations not sent');
      assert.deepEqual(stored?.descriptions, [{ language: 'EN', value: 'Old description' }], 'fields not sent are untouched');
      assert.deepEqual(stored?.parent, { id: 2 }, 'without skipMoveOnUpdate the product moves');
      assert.equal(stored?.sku, 'NEW');
    });
  });

  test('GET /_sandbox/stats serves the same counters as stats()', async () => {
    const overHttp = await httpRequest(`${sandbox.url}/_sandbox/stats`);
    const inProcess = sandbox.stats();
    assert.deepEqual({ ...overHttp.json, memory: undefined }, { ...inProcess, memory: undefined });
    assert.equal(overHttp.json.productsStored, sandbox.productCount());
    assert.equal(overHttp.json.requests['POST /v2/products/bulk/sourceId']['400'] >= 4, true);
    assert.ok(overHttp.json.largestBodyBytes > 2000 * 80);

    sandbox.resetStats();
    const afterReset = await httpRequest(`${sandbox.url}/_sandbox/stats`);
    assert.deepEqual(afterReset.json.requests, {});
    assert.equal(afterReset.json.largestBodyBytes, 0);
    assert.equal(afterReset.json.productsStored, sandbox.productCount(), 'stored products are not counters');
  });
});
