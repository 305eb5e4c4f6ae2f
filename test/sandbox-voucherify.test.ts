import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { startVoucherifySandbox, type VoucherifySandbox } from '../sandbox/index';
import { httpRequest, jsonRequest, pollUntil, sleep, voucherifyBodyOfSize } from '../sandbox/test-support';
import { sandboxFor } from './harness';

const appKeys = { 'x-app-id': 'sandbox-app-id', 'x-app-token': 'sandbox-app-token' };

function clientFor(sandbox: VoucherifySandbox, headers: Record<string, string> = appKeys) {
  return {
    bulk: (body: unknown) => httpRequest(`${sandbox.url}/v1/products/bulk/async`, jsonRequest('POST', body, headers)),
    get: (path: string) => httpRequest(`${sandbox.url}${path}`, { headers }),
    action: (id: string) => httpRequest(`${sandbox.url}/v1/async-actions/${id}`, { headers }),
    finished: (id: string) =>
      pollUntil(
        () => httpRequest(`${sandbox.url}/v1/async-actions/${id}`, { headers }),
        (answer) => answer.json?.status === 'DONE' || answer.json?.status === 'FAILED',
      ).then((answer) => answer.json),
  };
}

describe('Voucherify sandbox', () => {
  let sandbox: VoucherifySandbox;
  let client: ReturnType<typeof clientFor>;
  before(async () => {
    sandbox = await startVoucherifySandbox({ reportTtlSeconds: 3600 });
    client = clientFor(sandbox);
  });
  after(() => sandbox.close());

  describe('authentication', () => {
    test('rejects missing or wrong app keys with 401 in Voucherify shape', async () => {
      const missing = await httpRequest(`${sandbox.url}/v1/products/bulk/async`, jsonRequest('POST', [], {}));
      assert.equal(missing.status, 401);
      assert.deepEqual(
        { code: missing.json.code, key: missing.json.key, message: missing.json.message },
        { code: 401, key: 'unauthorized', message: 'Unauthorized' },
      );
      const wrong = await clientFor(sandbox, { ...appKeys, 'x-app-token': 'nope' }).bulk([]);
      assert.equal(wrong.status, 401);
    });

    test('accepts a Bearer token from POST /v1/oauth/token, and checks its scope', async () => {
      const tokenFor = (scope: string) =>
        httpRequest(`${sandbox.url}/v1/oauth/token`, {
          method: 'POST',
          headers: { ...appKeys, 'content-type': 'application/x-www-form-urlencoded' },
          body: new URLSearchParams({ grant_type: 'client_credentials', scope }).toString(),
        });
      const issued = await tokenFor('api');
      assert.equal(issued.status, 200);
      assert.equal(issued.json.token_type, 'Bearer');
      assert.equal(issued.json.expires_in, 900);
      assert.ok(Math.abs(issued.json.expires_at - (Date.now() / 1000 + 900)) < 5);
      const withToken = clientFor(sandbox, { authorization: `Bearer ${issued.json.access_token}` });
      assert.equal((await withToken.bulk([{ source_id: 'oauth-1' }])).status, 202);

      const narrow = await tokenFor('vouchers');
      const forbidden = await clientFor(sandbox, { authorization: `Bearer ${narrow.json.access_token}` }).bulk([]);
      assert.equal(forbidden.status, 403);
      assert.equal(forbidden.json.key, 'missing_required_permission');

      const badGrant = await httpRequest(`${sandbox.url}/v1/oauth/token`, {
        method: 'POST',
        headers: appKeys,
        body: 'grant_type=password&scope=api',
      });
      assert.equal(badGrant.status, 400);
      assert.equal(badGrant.json.key, 'invalid_grant_type');
      const badScope = await tokenFor('api,products');
      assert.equal(badScope.json.key, 'invalid_scope');
      const unknownToken = await clientFor(sandbox, { authorization: 'Bearer vf_oauth_made_up' }).bulk([]);
      assert.equal(unknownToken.status, 401);
    });

    test('an expired OAuth token gets 401', async (ctx) => {
      const shortLived = await sandboxFor(ctx, 'voucherify', { oauthTokenTtlSeconds: 1 });
      const issued = await httpRequest(`${shortLived.url}/v1/oauth/token`, {
        method: 'POST',
        headers: appKeys,
        body: 'grant_type=client_credentials&scope=api',
      });
      const withToken = clientFor(shortLived, { authorization: `Bearer ${issued.json.access_token}` });
      assert.equal((await withToken.get('/v1/async-actions')).status, 200);
      await sleep(1100);
      assert.equal((await withToken.get('/v1/async-actions')).status, 401);
    });
  });

  describe('POST /v1/products/bulk/async', () => {
    test('accepts a body of exactly 10,485,760 bytes and answers 413 at 10,485,761', async () => {
      const limit = 10_485_760;
      const accepted = await client.bulk(voucherifyBodyOfSize(limit, 'ten-mb'));
      assert.equal(accepted.status, 202);
      assert.match(accepted.json.async_action_id, /^aa_[0-9a-f]+$/);

      const rejected = await client.bulk(voucherifyBodyOfSize(limit + 1, 'ten-mb-plus-one'));
      assert.equal(rejected.status, 413);
      assert.deepEqual(rejected.json, {
        statusCode: 413,
        error: 'Request Entity Too Large',
        message: 'Payload content length greater than maximum allowed: 10485760',
      });
      assert.ok(sandbox.stats().largestBodyBytes >= limit + 1);

      const done = await client.finished(accepted.json.async_action_id);
      assert.equal(done.result.done_count, 1);
      assert.equal(sandbox.getProduct('ten-mb')?.name?.length, limit - '[{"source_id":"ten-mb","name":""}]'.length);
      assert.equal(sandbox.getProduct('ten-mb-plus-one'), undefined);
    });

    test('malformed JSON and non-array bodies get 400 in the usual error shape', async () => {
      for (const body of ['[{"source_id": "x",', '{"source_id":"x"}', '"just a string"']) {
        const answer = await client.bulk(body);
        assert.equal(answer.status, 400, body);
        assert.equal(answer.json.code, 400);
        assert.equal(answer.json.key, 'invalid_payload');
        assert.equal(typeof answer.json.message, 'string');
        assert.equal(typeof answer.json.details, 'string');
        assert.match(answer.json.request_id, /^v-/);
      }
    });

    test('upserts by source_id and reports found/updated per product', async () => {
      const first = await client.finished(
        (await client.bulk([{ source_id: 'upsert-1', name: 'One', price: 1000, metadata: { color: 'red' } }])).json.async_action_id,
      );
      assert.equal(first.status, 'DONE');
      const firstReport = await httpRequest(first.result.reports[0]);
      assert.equal(firstReport.status, 200);
      assert.equal(firstReport.text, 'found,updated,source_id,error\nfalse,true,upsert-1,\n');

      const second = await client.finished(
        (await client.bulk([{ source_id: 'upsert-1', price: 1200 }, { source_id: 'upsert-2' }])).json.async_action_id,
      );
      const secondReport = await httpRequest(second.result.reports[0]);
      assert.equal(secondReport.text, 'found,updated,source_id,error\ntrue,true,upsert-1,\nfalse,true,upsert-2,\n');
      const stored = sandbox.getProduct('upsert-1');
      assert.equal(stored?.name, 'One', 'fields not sent are kept');
      assert.equal(stored?.price, 1200);
      assert.deepEqual(stored?.metadata, { color: 'red' });
      assert.notEqual(stored?.updated_at, null);
    });

    test('per-product validation failures land in result.errors, not in an HTTP error', async () => {
      const accepted = await client.bulk([
        {
          source_id: 'valid-1',
          name: 'Fine',
          price: 100,
          attributes: ['color'],
          metadata: { a: 1 },
          image_url: 'https://images.example/1.png',
        },
        { source_id: 'bad-price', price: 12.5 },
        { source_id: 'bad-attributes', attributes: ['color', 7] },
        { source_id: 'bad-metadata', metadata: ['not', 'an', 'object'] },
        { source_id: 'bad-name', name: 42 },
        { source_id: 'bad-image', image_url: 'not a url' },
        { name: 'no source id' },
        'not an object',
      ]);
      assert.equal(accepted.status, 202);
      const done = await client.finished(accepted.json.async_action_id);
      assert.equal(done.status, 'DONE');
      assert.equal(done.operation_status, 'SUCCESS');
      assert.equal(done.progress, 100);
      assert.equal(done.result.done_count, 1);
      assert.equal(done.result.failed_count, 7);
      const bySource = Object.fromEntries(done.result.errors.map((e: { source_id: string; details: string }) => [e.source_id, e.details]));
      assert.equal(bySource['bad-price'], 'Property .price must be integer');
      assert.equal(bySource['bad-attributes'], 'Property .attributes[1] must be string');
      assert.equal(bySource['bad-metadata'], 'Property .metadata must be object');
      assert.equal(bySource['bad-name'], 'Property .name must be string');
      assert.equal(bySource['bad-image'], 'Property .image_url must be a valid URL');
      for (const error of done.result.errors) assert.deepEqual(Object.keys(error).sort(), ['details', 'key', 'message', 'source_id']);
      assert.equal(sandbox.getProduct('bad-price'), undefined);
      assert.equal(sandbox.getProduct('valid-1')?.price, 100);
      assert.match(done.result.reports_available_till, /^\d{4}-\d\d-\d\dT/);
    });
  });

  describe('async actions', () => {
    test('are processed FIFO at the configured rate: ENQUEUED → IN_PROGRESS → DONE with progress', async (ctx) => {
      const slow = await sandboxFor(ctx, 'voucherify', { productsPerSecond: 400 });
      const slowClient = clientFor(slow);
      const products = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => ({ source_id: `${prefix}-${i}` }));
      const firstId = (await slowClient.bulk(products('first', 200))).json.async_action_id as string;
      const secondId = (await slowClient.bulk(products('second', 40))).json.async_action_id as string;
      const seen = { first: [] as string[], second: [] as string[], progress: [] as number[] };
      await pollUntil(
        async () => {
          const [first, second] = await Promise.all([slowClient.action(firstId), slowClient.action(secondId)]);
          seen.first.push(first.json.status);
          seen.second.push(second.json.status);
          seen.progress.push(first.json.progress);
          if (second.json.status !== 'ENQUEUED') assert.equal(first.json.status, 'DONE', 'the second action waits for the first');
          return second.json.status;
        },
        (status) => status === 'DONE',
      );
      assert.ok(seen.first.includes('IN_PROGRESS'));
      assert.ok(seen.second.includes('ENQUEUED'));
      assert.ok(
        seen.progress.some((p) => p > 0 && p < 100),
        `progress went through intermediate values: ${seen.progress.join(',')}`,
      );
      assert.deepEqual(
        [...seen.progress].sort((a, b) => a - b),
        seen.progress,
        'progress never goes back',
      );
      const first = (await slowClient.action(firstId)).json;
      assert.ok(first.processing_time >= 300, `200 products at 400/s take about 500 ms, took ${first.processing_time}`);
      assert.equal(slow.productCount(), 240);
    });

    test('unknown ids get 404 with the documented body', async () => {
      const answer = await client.action('aa_0000000000000000ff');
      assert.equal(answer.status, 404);
      assert.equal(answer.json.key, 'not_found');
      assert.equal(answer.json.details, 'Cannot find async_action with id aa_0000000000000000ff');
    });

    test('GET /v1/async-actions lists newest first, without result, with limit and end_date', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 3; i++) ids.push((await client.bulk([{ source_id: `listed-${i}` }])).json.async_action_id);
      const listed = await client.get('/v1/async-actions?limit=2');
      assert.equal(listed.status, 200);
      assert.equal(listed.json.object, 'list');
      assert.equal(listed.json.data_ref, 'async_actions');
      assert.deepEqual(
        listed.json.async_actions.map((a: { id: string }) => a.id),
        [ids[2], ids[1]],
      );
      assert.equal(listed.json.has_more, true);
      assert.ok(listed.json.async_actions.every((a: object) => !('result' in a)));
      const before = await client.get(
        `/v1/async-actions?limit=100&end_date=${encodeURIComponent(listed.json.async_actions[1].created_at)}`,
      );
      assert.ok(!before.json.async_actions.some((a: { id: string }) => a.id === ids[1] || a.id === ids[2]));
      assert.equal((await client.get('/v1/async-actions?limit=101')).status, 400);
    });

    test('the report URL expires at reports_available_till', async (ctx) => {
      const shortReports = await sandboxFor(ctx, 'voucherify', { reportTtlSeconds: 1 });
      const c = clientFor(shortReports);
      const done = await c.finished((await c.bulk([{ source_id: 'r-1' }])).json.async_action_id);
      assert.equal((await httpRequest(done.result.reports[0])).status, 200);
      await sleep(Date.parse(done.result.reports_available_till) - Date.now() + 50);
      const expired = await httpRequest(done.result.reports[0]);
      assert.equal(expired.status, 403);
      assert.match(expired.text, /expired/);
    });

    test('the legacy result shape lists {source_id, found, updated}', async (ctx) => {
      const legacy = await sandboxFor(ctx, 'voucherify', { resultShape: 'legacy' });
      const c = clientFor(legacy);
      await c.finished((await c.bulk([{ source_id: 'l-1' }])).json.async_action_id);
      const done = await c.finished(
        (await c.bulk([{ source_id: 'l-1' }, { source_id: 'l-2' }, { source_id: 'l-3', price: 'free' }])).json.async_action_id,
      );
      assert.deepEqual(done.result, {
        results: [
          { source_id: 'l-1', found: true, updated: true },
          { source_id: 'l-2', found: false, updated: true },
          { source_id: 'l-3', found: false, updated: false },
        ],
        done_count: 2,
      });
    });
  });

  describe('reading products', () => {
    before(async () => {
      const products = Array.from({ length: 5 }, (_, i) => ({ source_id: `read-${i}`, name: `Read ${i}`, price: i * 100 }));
      await client.finished((await client.bulk(products)).json.async_action_id);
    });

    test('GET /v1/products/{id} works with the Voucherify id and with the source_id', async () => {
      const bySource = await client.get('/v1/products/read-3');
      assert.equal(bySource.status, 200);
      assert.equal(bySource.json.source_id, 'read-3');
      assert.equal(bySource.json.object, 'product');
      assert.match(bySource.json.id, /^prod_[0-9a-f]+$/);
      const byId = await client.get(`/v1/products/${bySource.json.id}`);
      assert.deepEqual(byId.json, bySource.json);
      const missing = await client.get('/v1/products/nope');
      assert.equal(missing.status, 404);
      assert.equal(missing.json.resource_type, 'product');
    });

    test('GET /v1/products pages in creation order', async () => {
      const total = sandbox.productCount();
      const page = await client.get('/v1/products?limit=2&page=1');
      assert.equal(page.status, 200);
      assert.equal(page.json.total, total);
      assert.equal(page.json.products.length, 2);
      const newest = await client.get('/v1/products?limit=1&order=-created_at');
      const lastPage = await client.get(`/v1/products?limit=1&page=${total}`);
      assert.equal(newest.json.products[0].source_id, lastPage.json.products[0].source_id);
      assert.equal((await client.get('/v1/products?limit=0')).status, 400);
    });
  });

  describe('quotas', () => {
    test('carry X-Rate-Limit-* headers and answer 429 with Retry-After and X-Rate-Limit-Type per bucket', async (ctx) => {
      const limited = await sandboxFor(ctx, 'voucherify', {
        quotas: { bulkPerHour: 2, callsPerMinute: 3, bulkWindowSeconds: 3600, callsWindowSeconds: 1 },
      });
      const c = clientFor(limited);
      const first = await c.bulk([]);
      assert.equal(first.status, 202);
      assert.equal(first.headers.get('x-rate-limit-limit'), '2');
      assert.equal(first.headers.get('x-rate-limit-remaining'), '1');
      assert.match(first.headers.get('x-rate-limit-retry') ?? '', /^\d{10}$/);
      assert.equal((await c.bulk([])).status, 202);
      const bulkLimited = await c.bulk([]);
      assert.equal(bulkLimited.status, 429);
      assert.equal(bulkLimited.headers.get('x-rate-limit-type'), 'bulk_api_calls');
      assert.equal(bulkLimited.headers.get('x-rate-limit-remaining'), '0');
      const retryAfter = Number(bulkLimited.headers.get('retry-after'));
      assert.ok(retryAfter > 3500 && retryAfter <= 3600, `Retry-After ${retryAfter}`);
      assert.ok(Number(bulkLimited.headers.get('x-rate-limit-retry')) >= Math.floor(Date.now() / 1000) + 3500);
      assert.equal(bulkLimited.json.code, 429);
      assert.equal(bulkLimited.json.message, 'Too many requests hit the API too quickly.');

      // Ordinary calls draw from their own bucket.
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push(await c.get('/v1/async-actions'));
      assert.deepEqual(
        statuses.map((s) => s.status),
        [200, 200, 200, 429],
      );
      assert.deepEqual(
        statuses.map((s) => s.headers.get('x-rate-limit-remaining')),
        ['2', '1', '0', '0'],
      );
      assert.equal(statuses[3]?.headers.get('x-rate-limit-type'), 'api_calls');
      assert.equal(statuses[3]?.headers.get('retry-after'), '1');

      const unauthorized = await clientFor(limited, {}).get('/v1/async-actions');
      assert.equal(unauthorized.status, 401);
      assert.ok(unauthorized.headers.has('x-rate-limit-limit'), 'headers on every answer');
      await sleep(1050);
      assert.equal((await c.get('/v1/async-actions')).status, 200, 'a new window allows calls again');
      assert.equal(limited.stats().requests['POST /v1/products/bulk/async']?.['429'], 1);
    });
  });

  test('GET /_sandbox/stats serves the same counters as stats()', async () => {
    const overHttp = await httpRequest(`${sandbox.url}/_sandbox/stats`);
    const inProcess = sandbox.stats();
    assert.equal(overHttp.status, 200);
    assert.deepEqual({ ...overHttp.json, memory: undefined }, { ...inProcess, memory: undefined });
    assert.equal(overHttp.json.productsStored, sandbox.productCount());
    assert.ok(overHttp.json.requests['POST /v1/products/bulk/async']['202'] > 5);
    assert.equal(overHttp.json.requests['POST /v1/products/bulk/async']['413'], 1);
  });
});
