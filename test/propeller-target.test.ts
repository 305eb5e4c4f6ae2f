/**
 * The Propeller target without Temporal: its schema, CSV mapping, keys, the reading of 10007
 * answers, matching answers to products, and its token handling over HTTP.
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { ApplicationFailure } from '@temporalio/common';
import { readSource } from '../activities/sources';
import { maxItemsOf } from '../activities/staging/chunker';
import { PropellerOptions } from '../common/import';
import { startPropellerSandbox } from '../sandbox';
import { propellerRecord, writeCatalog, type CatalogOptions } from '../scripts/catalog';
import { propeller } from '../targets/propeller';
import { readSchemaMessages, requestGroups, settleProducts, type BulkReply, type PendingProduct } from '../targets/propeller/api';
import { sourceOfKey } from '../targets/propeller/keys';
import { PropellerProduct } from '../targets/propeller/schema';
import type { ItemOutcome, StagedItem, SubmitItem, SynchronousApi } from '../targets/types';
import { tempDir } from './helpers';
import { FailureType } from '../common/failure-types';

const catalog: CatalogOptions = { target: 'propeller', count: 0, format: 'jsonl', invalidEvery: 10, keyPrefix: 'unit' };
const options = (given: Record<string, unknown> = {}) => PropellerOptions.parse(given);

const staged = (product: Record<string, unknown>, line: number, lookupKey: 'id' | 'sourceId' = 'sourceId'): StagedItem => ({
  line,
  key: propeller.keyOf(product, options({ lookupKey })),
  rawJson: JSON.stringify(product),
  body: JSON.stringify(product),
});

describe('Propeller product schema', () => {
  test('takes the generated products and rejects a status outside the enum', () => {
    assert.ok(PropellerProduct.safeParse(propellerRecord(0, catalog)).success);
    const invalid = PropellerProduct.safeParse(propellerRecord(9, catalog));
    assert.equal(invalid.success, false);
    assert.deepEqual(
      invalid.error?.issues.map((i) => i.path.join('.')),
      ['status'],
    );
  });

  test('requires sourceId, source and language; names are optional as the seed table says', () => {
    const result = PropellerProduct.safeParse({ names: [{ language: 'EN', value: 'x' }] });
    assert.deepEqual(result.error?.issues.map((i) => i.path.join('.')).sort(), ['language', 'source', 'sourceId']);
    assert.ok(PropellerProduct.safeParse({ sourceId: 'a', source: 'ERP', language: 'EN' }).success);
  });

  test('checks localized fields, enums, parent shapes and unknown keys', () => {
    const base = { sourceId: 'a', source: 'ERP', language: 'EN' };
    const rejects = (extra: Record<string, unknown>, field: string) => {
      const result = PropellerProduct.safeParse({ ...base, ...extra });
      assert.equal(result.success, false, JSON.stringify(extra));
      assert.equal(String(result.error?.issues[0]?.path[0] ?? ''), field);
    };
    rejects({ names: { EN: 'x' } }, 'names');
    rejects({ names: [{ language: 'english', value: 'x' }] }, 'names');
    rejects({ descriptions: [{ language: 'EN', value: 'x', extra: 1 }] }, 'descriptions');
    rejects({ taxCode: 'X' }, 'taxCode');
    rejects({ priceDisplay: 'cheap' }, 'priceDisplay');
    rejects({ parent: { sourceId: 'cat' } }, 'parent');
    rejects({ parent: { id: 1, sourceId: 'cat', source: 'ERP' } }, 'parent');
    rejects({ name: 'x' }, '');
    for (const parent of [{ id: 7 }, { sourceId: 'cat-1', source: 'ERP' }])
      assert.ok(PropellerProduct.safeParse({ ...base, parent }).success);
    // Attributes: objects of any shape, passed through whole and in order; nothing else.
    for (const attributes of [{ name: 'x' }, ['x'], [null], [[1]]]) rejects({ attributes }, 'attributes');
    const attributes = [{ name: 'color', value: { nested: [1, null] }, '': 0 }, {}];
    assert.equal(JSON.stringify(PropellerProduct.parse({ ...base, attributes })), JSON.stringify({ ...base, attributes }));
  });
});

describe('Propeller CSV rows', () => {
  test('map names.EN / descriptions.NL columns, numbers, parent and a JSON attributes cell', () => {
    const row = {
      sourceId: 's-1',
      source: 'ERP',
      language: 'EN',
      'names.EN': 'Chair',
      'names.NL': 'Stoel',
      'descriptions.NL': 'Een stoel',
      price: '12.50',
      minimumQuantity: '2',
      status: 'A',
      'parent.id': '7',
      attributes: '[{"name":"color","value":"red"}]',
      sku: '',
      eanCode: '0042',
    };
    assert.deepEqual(propeller.fromCsvRow(row), {
      sourceId: 's-1',
      source: 'ERP',
      language: 'EN',
      names: [
        { language: 'EN', value: 'Chair' },
        { language: 'NL', value: 'Stoel' },
      ],
      descriptions: [{ language: 'NL', value: 'Een stoel' }],
      price: 12.5,
      minimumQuantity: 2,
      status: 'A',
      parent: { id: 7 },
      attributes: [{ name: 'color', value: 'red' }],
      eanCode: '0042',
    });
  });

  test('a generated CSV catalog reads back as the records it was written from', async () => {
    const file = await writeCatalog(path.join(await tempDir('propeller-csv'), 'catalog.csv'), { ...catalog, count: 30, format: 'csv' });
    let i = 0;
    for await (const item of readSource(file, 'csv')) {
      assert.ok('record' in item);
      assert.deepEqual(propeller.fromCsvRow(item.record as Record<string, string>), propellerRecord(i++, catalog));
    }
    assert.equal(i, 30);
  });
});

describe('Propeller keys and chunks', () => {
  test('sourceId imports key on source and sourceId, unambiguously; id imports need an id', () => {
    const product = { sourceId: 'a:b', source: 'ERP', language: 'EN' };
    assert.equal(propeller.keyOf(product, options()), 'ERP:a:b');
    assert.notEqual(
      propeller.keyOf({ ...product, source: 'x:y', sourceId: 'z' }, options()),
      propeller.keyOf({ ...product, source: 'x', sourceId: 'y:z' }, options()),
    );
    assert.equal(propeller.keyOf({ ...product, id: 42 }, options({ lookupKey: 'id' })), '42');
    assert.throws(() => propeller.keyOf(product, options({ lookupKey: 'id' })), /id is required with lookupKey id/);
  });

  test('chunks hold up to 4 requests of chunkSize products (never more than 2000), from one request for the first window', () => {
    assert.deepEqual(propeller.limits(options()), { maxItems: 2000, ramp: { items: 500, every: 16 } });
    assert.deepEqual(propeller.limits(options({ chunkSize: 2000, maxItemsPerChunk: 5000, concurrency: 4 })), {
      maxItems: 5000,
      ramp: { items: 2000, every: 4 },
    });
    // maxItemsPerChunk caps the chunk, and so its requests.
    assert.deepEqual(propeller.limits(options({ chunkSize: 800, maxItemsPerChunk: 300 })), {
      maxItems: 300,
      ramp: { items: 300, every: 16 },
    });
    assert.throws(() => options({ chunkSize: 2001 }));
    const limits = propeller.limits(options({ chunkSize: 1000, concurrency: 4 }));
    assert.deepEqual(
      [0, 3, 4, 7, 8, 11, 12, 13, 100].map((i) => maxItemsOf(limits, i)),
      [1000, 1000, 2000, 2000, 3000, 3000, 4000, 4000, 4000],
    );
  });

  test('a chunk goes out as one request per source, answered by sourceId', () => {
    const items = [
      staged({ sourceId: 'x-1', source: 'ERP', language: 'EN' }, 1),
      staged({ sourceId: 'x-1', source: 'PIM', language: 'EN' }, 2),
      staged({ sourceId: 'x-2', source: 'ERP', language: 'EN' }, 3),
      // Sources and sourceIds holding the key's separator and its escapes keep their groups and answer keys.
      staged({ sourceId: 'a:b%3A', source: 'E:R%25P%3A', language: 'EN' }, 4),
      staged({ sourceId: ':', source: 'ERP', language: 'EN' }, 5),
    ];
    const groups = requestGroups(items, { lookupKey: 'sourceId', chunkSize: 500 });
    assert.deepEqual(
      groups.map((g) => g.map((p) => `${p.index}:${p.answerKey}`)),
      [['0:x-1', '2:x-2', '4::'], ['1:x-1'], ['3:a:b%3A']],
    );
    assert.deepEqual(
      items.map((item) => sourceOfKey(item.key)),
      items.map((item) => [JSON.parse(item.body).source, JSON.parse(item.body).sourceId]),
    );
    const byId = requestGroups([staged({ id: 5, sourceId: 'x', source: 'ERP', language: 'EN' }, 1, 'id')], {
      lookupKey: 'id',
      chunkSize: 500,
    });
    assert.deepEqual(
      byId.map((g) => g.map((p) => p.answerKey)),
      [['5']],
    );
    // Within a source, requests of chunkSize products; the plan counts the same requests.
    const many = Array.from({ length: 5 }, (_, i) => staged({ sourceId: `m-${i}`, source: i < 3 ? 'ERP' : 'PIM', language: 'EN' }, i));
    const sized = requestGroups(many, { lookupKey: 'sourceId', chunkSize: 2 });
    assert.deepEqual(
      sized.map((g) => g.map((p) => p.index)),
      [[0, 1], [2], [3, 4]],
    );
    assert.equal(
      propeller.requestsFor?.(
        many.map((item) => item.key),
        options({ chunkSize: 2 }),
      ),
      3,
    );
  });
});

describe('Propeller answers', () => {
  test('10007 messages are read by product index; others name nothing or the request', () => {
    const read = readSchemaMessages(
      [
        '#: 4 schema violations found',
        '#/products/0: required key [names] not found',
        '#/products/0: extraneous key [name] is not permitted',
        '#/products/3/names/0/language: string [english] does not match pattern ^[A-Za-z]{2}$',
        '#/products/9: beyond this request',
        '#/directives/0/operation: push is not a valid enum value',
      ],
      4,
    );
    assert.deepEqual(
      [...read.byProduct],
      [
        [0, ['required key [names] not found', 'extraneous key [name] is not permitted']],
        [3, ['names/0/language: string [english] does not match pattern ^[A-Za-z]{2}$']],
      ],
    );
    assert.deepEqual(read.unlocated, ['#: 4 schema violations found', '#/products/9: beyond this request']);
    assert.deepEqual(read.request, ['#/directives/0/operation: push is not a valid enum value']);
  });

  /** The product a request holds, whether its body came as bytes or as text. */
  const productOf = (item: SubmitItem) => JSON.parse(Buffer.from(item.body).toString()) as { sourceId: string };

  /** A fake endpoint: products whose sourceId starts with "bad" fail its schema; answers come in reverse order. */
  function fakeEndpoint(opts: { pointers: boolean; transient?: Set<string> }) {
    const requests: string[][] = [];
    const send = async (items: SubmitItem[]): Promise<BulkReply> => {
      const products = items.map(productOf);
      requests.push(products.map((p) => p.sourceId));
      const bad = products.flatMap((p, i) => (p.sourceId.startsWith('bad') ? [i] : []));
      if (bad.length)
        return {
          kind: 'schema-error',
          messages: opts.pointers ? bad.map((i) => `#/products/${i}: required key [names] not found`) : ['#: schema violations found'],
        };
      const results = products.map((p) => ({
        key: p.sourceId,
        success: !opts.transient?.has(p.sourceId),
        error: opts.transient?.has(p.sourceId) ? 'Temporary error, try again' : undefined,
      }));
      return { kind: 'answered', results: results.reverse() };
    };
    return { send, requests };
  }

  const pending = (sourceIds: string[]): PendingProduct[] =>
    sourceIds.map((sourceId, index) => ({
      index,
      answerKey: sourceId,
      item: staged({ sourceId, source: 'ERP', language: 'EN' }, index + 1),
    }));

  async function settle(sourceIds: string[], send: (items: SubmitItem[]) => Promise<BulkReply>): Promise<ItemOutcome[]> {
    const outcomes: ItemOutcome[] = new Array(sourceIds.length);
    await settleProducts(pending(sourceIds), send, outcomes);
    return outcomes;
  }

  const ids = (n: number, bad: number[]) => Array.from({ length: n }, (_, i) => (bad.includes(i) ? `bad-${i}` : `ok-${i}`));

  test('products named by 10007 pointers are invalid with the API message; the rest is sent once more', async () => {
    const { send, requests } = fakeEndpoint({ pointers: true, transient: new Set(['ok-4']) });
    const outcomes = await settle(ids(8, [1, 6]), send);
    assert.equal(requests.length, 2);
    assert.deepEqual(requests[1], ['ok-0', 'ok-2', 'ok-3', 'ok-4', 'ok-5', 'ok-7']);
    assert.deepEqual(outcomes[1], {
      kind: 'invalid',
      error: 'SchemaValidationException (10007): required key [names] not found',
    });
    assert.equal(outcomes[6]?.kind, 'invalid');
    assert.deepEqual(
      outcomes[4],
      { kind: 'retryable', error: 'Temporary error, try again' },
      'matched by key although answered in reverse',
    );
    assert.deepEqual(
      [0, 2, 3, 5, 7].map((i) => outcomes[i]),
      Array(5).fill({ kind: 'succeeded' }),
    );
  });

  test('without pointers the chunk is halved until the bad products stand alone', async () => {
    const { send, requests } = fakeEndpoint({ pointers: false });
    const outcomes = await settle(ids(64, [5, 40]), send);
    assert.deepEqual(
      outcomes.flatMap((o, i) => (o.kind === 'succeeded' ? [] : [i])),
      [5, 40],
    );
    assert.ok(outcomes.every((o) => o.kind === 'succeeded' || (o.kind === 'invalid' && /schema violations found/.test(o.error))));
    assert.ok(requests.length <= 2 * 2 * Math.log2(64) + 1, `a bounded number of requests (${requests.length})`);
    assert.deepEqual(requests.filter((r) => r.length === 1 && r[0]!.startsWith('bad')).length, 2);
  });

  test('an error about the directives fails the batch once instead of halving it', async () => {
    let calls = 0;
    const outcomes = await settle(ids(16, []), async () => {
      calls++;
      return { kind: 'schema-error', messages: ['#/directives/0/fields: expected type: JSONArray, found: String'] };
    });
    assert.equal(calls, 1);
    assert.ok(outcomes.every((o) => o.kind === 'failed' && /Propeller rejected the request/.test(o.error)));
  });

  test('a product missing from the answer may pass later; "not found" and "already exists" will not', async () => {
    const outcomes = await settle(['a', 'b', 'c'], async () => ({
      kind: 'answered',
      results: [
        { key: 'b', success: false, error: 'Category with sourceId cat-9 not found.' },
        { key: 'c', success: false, error: 'Product with sourceId c and source ERP already exists.' },
      ],
    }));
    assert.deepEqual(outcomes, [
      { kind: 'retryable', error: "Propeller's answer has no result for this product" },
      { kind: 'failed', error: 'Category with sourceId cat-9 not found.' },
      { kind: 'failed', error: 'Product with sourceId c and source ERP already exists.' },
    ]);
  });

  test('a 413 halves the request; a single product too large is invalid', async () => {
    const sizes: number[] = [];
    const outcomes = await settle(ids(10, []), async (items) => {
      sizes.push(items.length);
      if (items.length > 3 || items.some((i) => productOf(i).sourceId === 'ok-9')) return { kind: 'too-large' };
      return {
        kind: 'answered',
        results: items.map((i) => ({ key: productOf(i).sourceId, success: true })),
      };
    });
    assert.deepEqual(outcomes.filter((o) => o.kind === 'succeeded').length, 9);
    assert.match((outcomes[9] as { error: string }).error, /larger than Propeller accepts/);
    assert.equal(sizes[0], 10);
  });
});

describe('Propeller connection', () => {
  const env = (url: string) => ({
    PROPELLER_API_URL: url,
    PROPELLER_TOKEN_URL: `${url}/oauth2/token`,
    PROPELLER_CLIENT_ID: 'client-id',
    PROPELLER_CLIENT_SECRET: 'very-secret-value',
    PROPELLER_TIMEOUT_MS: '5000',
  });
  const product = (sourceId: string) => ({ sourceId, source: 'ERP', language: 'EN', names: [{ language: 'EN', value: sourceId }] });
  const submit = (api: SynchronousApi<'propeller'>, sourceIds: string[], given: Record<string, unknown> = {}) =>
    api.submit(
      sourceIds.map((s, i) => staged(product(s), i + 1)),
      { options: options(given) },
    );

  const servers: { close(): void }[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  /** A server that issues tokens in the legacy shape and revokes the first one before its time. */
  async function revokingServer() {
    const seen = { tokens: 0, bulk: [] as string[] };
    const body = (req: IncomingMessage) =>
      new Promise<string>((resolve) => {
        let text = '';
        req.on('data', (c: Buffer) => (text += c.toString()));
        req.on('end', () => resolve(text));
      });
    const server = createServer(async (req, res) => {
      const text = await body(req);
      const json = (status: number, value: unknown) =>
        res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(value));
      if (req.url === '/oauth2/token') {
        const form = new URLSearchParams(text);
        if (form.get('client_secret') !== 'very-secret-value') return json(401, { error: 'invalid_client' });
        return json(200, { access_token: `token-${++seen.tokens}`, expires_in: '1899', token_type: 'BearerToken' });
      }
      seen.bulk.push(req.headers.authorization ?? '');
      if (req.headers.authorization === 'Bearer token-1')
        return json(401, { error: { code: 401, status: 401, type: 'UnauthorizedException', messages: ['revoked'] } });
      const { products } = JSON.parse(text) as { products: { sourceId: string }[] };
      if (products.some((p) => p.sourceId === 'lookup'))
        return json(400, { error: { code: 10016, status: 400, type: 'LookupKeyNotFound', messages: ['lookup key missing'] } });
      return json(200, {
        data: products.map((p, i) => ({ action: 'create', id: i, key: p.sourceId, lookupKey: 'sourceId', success: true })),
        messages: ['Completed'],
        total: products.length,
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, seen };
  }

  test('a 429 after an answered request: its outcomes are kept, the next attempt sends the rest, and the 429 is what ends the attempt even when keeping fails', async () => {
    let bulk = 0;
    const server = createServer((req, res) => {
      let text = '';
      req.on('data', (c: Buffer) => (text += c.toString()));
      req.on('end', () => {
        const json = (status: number, value: unknown, headers: Record<string, string> = {}) =>
          res.writeHead(status, { 'content-type': 'application/json', ...headers }).end(JSON.stringify(value));
        if (req.url === '/oauth2/token') return json(200, { access_token: 't', expires_in: 1800, token_type: 'Bearer' });
        // Every second bulk request meets the quota.
        if (++bulk % 2 === 0)
          return json(429, { error: { code: 429, status: 429, messages: ['Too many requests'] } }, { 'retry-after': '1' });
        const { products } = JSON.parse(text) as { products: { sourceId: string }[] };
        return json(200, {
          data: products.map((p) => ({ action: 'create', id: 1, key: p.sourceId, lookupKey: 'sourceId', success: true })),
        });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    servers.push(server);
    const api = propeller.connect(env(`http://127.0.0.1:${(server.address() as AddressInfo).port}`)) as SynchronousApi<'propeller'>;
    const items = ['a', 'b'].map((s, i) => staged(product(s), i + 1));
    const twoRequests = options({ chunkSize: 1 });
    const isRateLimited = (err: unknown) => (err as ApplicationFailure).type === FailureType.rateLimited;
    const kept: unknown[] = [];
    await assert.rejects(api.submit(items, { options: twoRequests, keep: async (o) => void kept.push([...o]) }), isRateLimited);
    assert.deepEqual(kept, [[{ kind: 'succeeded' }, undefined]], "the first request's outcome is kept");
    const failingKeep = async () => {
      throw new Error('the staging store is full');
    };
    await assert.rejects(api.submit(items, { options: twoRequests, keep: failingKeep }), isRateLimited);
    const sent = bulk;
    const answer = await api.submit(items, { options: twoRequests, answered: kept[0] as ItemOutcome[] });
    assert.equal(bulk - sent, 1, 'only the request without an answer goes again');
    assert.deepEqual(answer.outcomes, [{ kind: 'succeeded' }, { kind: 'succeeded' }]);
  });

  test('a token revoked early is renewed once after the 401; the legacy token answer parses', async () => {
    const { url, seen } = await revokingServer();
    const api = propeller.connect(env(url)) as SynchronousApi<'propeller'>;
    const answer = await submit(api, ['a', 'b']);
    assert.deepEqual(answer.outcomes, [{ kind: 'succeeded' }, { kind: 'succeeded' }]);
    assert.deepEqual(seen.bulk, ['Bearer token-1', 'Bearer token-2']);
    await submit(api, ['c']);
    assert.equal(seen.tokens, 2, 'the renewed token is cached for the process');
  });

  test('another 400 fails the request with the API error, never with the credentials', async () => {
    const { url } = await revokingServer();
    const api = propeller.connect(env(url)) as SynchronousApi<'propeller'>;
    const { outcomes } = await submit(api, ['lookup']);
    assert.equal(outcomes[0]?.kind, 'failed');
    const error = (outcomes[0] as { error: string }).error;
    assert.match(error, /Propeller answered 400 to POST \/v2\/products\/bulk\/sourceId: .*LookupKeyNotFound/);
    assert.doesNotMatch(error, /very-secret-value|token-/);

    const wrong = propeller.connect({ ...env(url), PROPELLER_CLIENT_SECRET: 'wrong-secret' }) as SynchronousApi<'propeller'>;
    const failure = await submit(wrong, ['a']).then(
      () => undefined,
      (err: unknown) => err,
    );
    assert.ok(failure instanceof ApplicationFailure && failure.type === 'Unauthorized' && failure.nonRetryable);
    assert.doesNotMatch(failure.message, /wrong-secret/);
  });

  test('names the missing settings', () => {
    assert.throws(
      () => propeller.connect({ PROPELLER_API_URL: 'http://x' }),
      /Missing PROPELLER_TOKEN_URL, PROPELLER_CLIENT_ID, PROPELLER_CLIENT_SECRET/,
    );
  });

  test('a token is renewed before it expires: no request meets a 401', async () => {
    const sandbox = await startPropellerSandbox({ tokenTtlSeconds: 1 });
    try {
      const api = propeller.connect({ ...sandbox.env, PROPELLER_TIMEOUT_MS: '5000' }) as SynchronousApi<'propeller'>;
      for (const round of [1, 2, 3]) {
        const { outcomes } = await submit(api, [`ttl-${round}`]);
        assert.deepEqual(outcomes, [{ kind: 'succeeded' }]);
        await new Promise((r) => setTimeout(r, 500));
      }
      const requests = sandbox.stats().requests;
      assert.equal(requests['POST /oauth2/token']?.['200'], 2, 'one renewal in 1.5 s of 1-second tokens');
      assert.deepEqual(requests['POST /v2/products/bulk/sourceId'], { 200: 3 });
    } finally {
      await sandbox.close();
    }
  });

  test('an attempt after one that died with a request in flight counts its resend; an idle one does not', async () => {
    const sandbox = await startPropellerSandbox({});
    try {
      const api = propeller.connect(sandbox.env) as SynchronousApi<'propeller'>;
      const items = [staged(product('resent'), 1)];
      const beats: unknown[] = [];
      const heartbeat = (d: unknown) => beats.push(structuredClone(d));
      const resent = await api.submit(items, { options: options(), lastHeartbeat: { unknownOutcomeRetries: 1, sending: true }, heartbeat });
      assert.equal(resent.unknownOutcomeRetries, 2);
      assert.deepEqual(beats.at(-1), { unknownOutcomeRetries: 2, sending: false }, 'the answered request is no longer in flight');
      const idle = await api.submit(items, { options: options(), lastHeartbeat: { unknownOutcomeRetries: 1, sending: false } });
      assert.equal(idle.unknownOutcomeRetries, 1);
      // It died after two requests of its chunk were answered, before it could keep their outcomes: both go again.
      const lost = await api.submit(items, { options: options(), lastHeartbeat: { unknownOutcomeRetries: 0, answered: 2 } });
      assert.equal(lost.unknownOutcomeRetries, 2);
    } finally {
      await sandbox.close();
    }
  });
});
