/**
 * The Propeller import end to end: a real Temporal dev server, a real worker, the Propeller
 * sandbox over HTTP. Each test proves one promise the import makes, read back from the sandbox.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import type { ResultRow } from '../activities/report';
import type { PropellerSandbox } from '../sandbox';
import { propellerRecord, writeCatalog, type CatalogOptions } from '../scripts/catalog';
import { eventually, readJsonl, tempDir, useTemporal } from './helpers';
import { importsFor, runImport, sandboxFor } from './harness';

// Propeller answers within the request: there is nothing to poll, only retry rounds to wait for.
const quick = { retryBackoffMs: 100 };

const t = useTemporal();

async function writeJsonl(file: string, records: unknown[]): Promise<string> {
  await writeFile(file, records.map((r) => `${JSON.stringify(r)}\n`).join(''));
  return file;
}

/** Every field that was sent is stored as it was sent. */
function assertStoredAsSent(sandbox: PropellerSandbox, sent: Record<string, unknown>): void {
  const stored = sandbox.getProduct('sourceId', sent.sourceId as string, sent.source as string);
  assert.ok(stored, `${String(sent.sourceId)} is stored`);
  for (const [field, value] of Object.entries(sent)) assert.deepEqual(stored[field], value, `${String(sent.sourceId)}.${field}`);
}

const submitChunkAttempts = async (handle: WorkflowHandle): Promise<number[]> => {
  const history = await handle.fetchHistory();
  const scheduled = new Map<string, string>();
  const attempts: number[] = [];
  for (const event of history.events ?? []) {
    const s = event.activityTaskScheduledEventAttributes;
    if (s) scheduled.set(String(event.eventId), s.activityType?.name ?? '');
    const started = event.activityTaskStartedEventAttributes;
    if (started && scheduled.get(String(started.scheduledEventId)) === 'submitChunk') attempts.push(started.attempt ?? 1);
  }
  return attempts;
};

describe('Propeller import', () => {
  test('10,000 products: valid ones stored as sent, schema-invalid ones reported with the API message and line, transient failures retried', async (ctx) => {
    // Answers come shuffled, so matching by position would mix products up; 3% fail once.
    const sandbox = await sandboxFor(ctx, 'propeller', { seed: 7, shuffleResults: true, faults: { productFailureRate: 0.03 } });
    const o: CatalogOptions = { target: 'propeller', count: 10_000, format: 'jsonl', invalidEvery: 100, keyPrefix: 'big' };
    // Every 250th product (from the 18th) has no names: our schema lets it through, as the seed's
    // field table says names are optional, but Propeller (and the sandbox) answer 10007 for it.
    const apiInvalid = (i: number) => i % 250 === 17;
    const records = Array.from({ length: o.count }, (_, i) => {
      const record = propellerRecord(i, o);
      if (apiInvalid(i)) delete record.names;
      return record;
    });
    const file = await writeJsonl(path.join(await tempDir('pp-big'), 'catalog.jsonl'), records);

    const { summary } = await runImport(
      ctx,
      t,
      sandbox.env,
      { target: 'propeller', source: { location: file }, options: { ...quick, chunkSize: 500, concurrency: 4 } },
      'pp-big',
    );

    const ourInvalid = o.count / 100;
    const theirInvalid = records.filter((_, i) => apiInvalid(i)).length;
    assert.equal(summary.status, 'completed');
    assert.equal(summary.counts.read, 10_000);
    assert.equal(summary.counts.valid, 10_000 - ourInvalid);
    assert.equal(summary.counts.invalid, ourInvalid + theirInvalid);
    assert.equal(summary.counts.succeeded, 10_000 - ourInvalid - theirInvalid);
    assert.equal(summary.counts.failed, 0);
    assert.ok(summary.counts.retryRounds >= 1, 'transient failures went to a retry round');

    const stats = sandbox.stats();
    assert.ok((stats.faultsInjected.productFailure ?? 0) > 50, 'the sandbox failed products on their first attempt');
    const bulk = stats.requests['POST /v2/products/bulk/sourceId'] ?? {};
    assert.ok((bulk['400'] ?? 0) >= 10, `10007 answers (${bulk['400']})`);
    assert.equal(bulk['413'], undefined);

    const rows = await readJsonl<ResultRow>(summary.files.resultsJsonl);
    assert.equal(rows.length, 10_000);
    for (const [i, row] of rows.entries()) {
      assert.equal(row.line, i + 1);
      assert.equal(row.key, `ERP:big-${String(i).padStart(7, '0')}`);
      const record = records[i]!;
      if (i % 100 === 99) {
        assert.equal(row.outcome, 'invalid');
        assert.match(row.error, /status/);
      } else if (apiInvalid(i)) {
        assert.equal(row.outcome, 'invalid');
        assert.equal(row.error, 'SchemaValidationException (10007): required key [names] not found');
        assert.equal(sandbox.getProduct('sourceId', record.sourceId as string, 'ERP'), undefined);
      } else {
        assert.equal(row.outcome, 'succeeded', `line ${row.line}: ${row.error}`);
        assertStoredAsSent(sandbox, record);
      }
    }
    assert.ok(rows.filter((r) => r.attempts > 1).length > 50, 'retried products succeeded on a later attempt');
    assert.equal(sandbox.productCount(), summary.counts.succeeded);
  });

  test('tokens that expire every second mid-import are renewed without failing a chunk', async (ctx) => {
    // The older gateway's token answer; slow answers stretch the import over several token lifetimes.
    const sandbox = await sandboxFor(ctx, 'propeller', {
      seed: 2,
      tokenTtlSeconds: 1,
      tokenResponseShape: 'legacy',
      faults: { slowRate: 1, slowMs: 300 },
    });
    const file = await writeCatalog(path.join(await tempDir('pp-token'), 'catalog.jsonl'), {
      target: 'propeller',
      count: 1200,
      format: 'jsonl',
      keyPrefix: 'tok',
    });
    const started = Date.now();
    const { summary, handle } = await runImport(
      ctx,
      t,
      sandbox.env,
      { target: 'propeller', source: { location: file }, options: { ...quick, chunkSize: 50, concurrency: 2 } },
      'pp-token',
    );
    assert.ok(Date.now() - started > 3000, 'the import outlived several tokens');
    assert.equal(summary.counts.succeeded, 1200);
    assert.equal(summary.counts.retryRounds, 0);
    const requests = sandbox.stats().requests;
    assert.ok((requests['POST /oauth2/token']?.['200'] ?? 0) >= 3, `tokens issued: ${requests['POST /oauth2/token']?.['200']}`);
    assert.equal(requests['POST /v2/products/bulk/sourceId']?.['200'], 24, 'one answered request per 50 products');
    assert.deepEqual(new Set(await submitChunkAttempts(handle)), new Set([1]), 'no chunk activity failed');
    const rows = await readJsonl<ResultRow>(summary.files.resultsJsonl);
    assert.ok(rows.every((r) => r.outcome === 'succeeded' && r.attempts === 1));
  });

  test('each directive changes what an update does', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'propeller', { seed: 3 });
    const dir = await tempDir('pp-directives');
    const en = (value: string) => ({ language: 'EN', value });
    const nl = (value: string) => ({ language: 'NL', value });
    const original = (sourceId: string) => ({
      sourceId,
      source: 'ERP',
      language: 'EN',
      names: [en('Chair'), nl('Stoel')],
      sku: 'SKU-1',
      parent: { sourceId: 'cat-1', source: 'ERP' },
    });
    const update = (sourceId: string) => ({
      sourceId,
      source: 'ERP',
      language: 'EN',
      names: [en('Armchair')],
      sku: 'SKU-2',
      eanCode: '8712345678906',
      parent: { sourceId: 'cat-2', source: 'ERP' },
    });
    const { run } = await importsFor(ctx, t, sandbox.env, 'pp-directives');
    const importFile = async (name: string, records: unknown[], directives = {}) => {
      const file = await writeJsonl(path.join(dir, `${name}.jsonl`), records);
      const { summary } = await run(
        { target: 'propeller', source: { location: file }, options: { ...quick, directives } },
        `pp-dir-${name}`,
      );
      assert.equal(summary.counts.succeeded, records.length, name);
    };
    await importFile('create', [original('plain'), original('directed')]);
    await importFile('plain', [update('plain')]);
    await importFile('directed', [update('directed')], {
      skipIfNotEmpty: ['sku', 'eanCode'],
      skipMoveOnUpdate: true,
      mergeTranslationsOnUpdate: true,
    });
    const read = (sourceId: string) => sandbox.getProduct('sourceId', sourceId, 'ERP')!;
    const plain = read('plain');
    const directed = read('directed');
    // Without directives: fields are overwritten, the product moves, translations not sent are kept.
    assert.equal(plain.sku, 'SKU-2');
    assert.deepEqual(plain.parent, { sourceId: 'cat-2', source: 'ERP' });
    assert.deepEqual(plain.names, [nl('Stoel'), en('Armchair')]);
    // skipIfNotEmpty: sku had a value and is kept; eanCode was empty and is filled.
    assert.equal(directed.sku, 'SKU-1');
    assert.equal(directed.eanCode, '8712345678906');
    // skipMoveOnUpdate: the product stays in its category.
    assert.deepEqual(directed.parent, { sourceId: 'cat-1', source: 'ERP' });
    // mergeTranslationsOnUpdate: translations not in the payload are deleted.
    assert.deepEqual(directed.names, [en('Armchair')]);
  });

  test('a request that times out or loses its answer after the sandbox applied it is sent again, without a duplicate product', async (ctx) => {
    // One chunk at a time, so the seed decides which requests meet which fault; slow answers outlast the 700 ms timeout.
    const sandbox = await sandboxFor(ctx, 'propeller', { seed: 5, faults: { dropAfterApplyRate: 0.35, slowRate: 0.1, slowMs: 1500 } });
    const file = await writeCatalog(path.join(await tempDir('pp-unknown'), 'catalog.jsonl'), {
      target: 'propeller',
      count: 1000,
      format: 'jsonl',
      keyPrefix: 'unk',
    });
    const { summary, handle } = await runImport(
      ctx,
      t,
      { ...sandbox.env, PROPELLER_TIMEOUT_MS: '700' },
      { target: 'propeller', source: { location: file }, options: { ...quick, chunkSize: 50, concurrency: 1 } },
      'pp-unknown',
    );
    assert.equal(summary.counts.succeeded, 1000);
    assert.equal(summary.counts.failed, 0);
    assert.equal(sandbox.productCount(), 1000, 'no product stored twice');

    const faults = sandbox.stats().faultsInjected;
    assert.ok((faults.dropAfterApply ?? 0) > 0 && (faults.slow ?? 0) > 0, JSON.stringify(faults));
    // Every request beyond the one answered per 50 products was a resend after an unknown outcome. The
    // sandbox counts a slow request when its held-back answer goes out, up to 1.5 s after the import.
    const sent = () => Object.values(sandbox.stats().requests['POST /v2/products/bulk/sourceId'] ?? {}).reduce((a, b) => a + b, 0);
    const expected = summary.counts.unknownOutcomeRetries + 1000 / 50;
    await eventually(`the sandbox to count ${expected} requests`, () => sent() === expected || undefined, 3000);
    assert.ok(summary.counts.unknownOutcomeRetries >= 5, `unknown outcomes: ${summary.counts.unknownOutcomeRetries}`);
    // The seed gives a chunk three unknown outcomes in a row: Temporal retried its activity, and the count carried over.
    assert.ok(Math.max(...(await submitChunkAttempts(handle))) > 1, 'an activity gave a chunk back to Temporal to retry');
  });

  test('a chunk of several requests: after a 5xx or a 429 mid-chunk, only the requests without an answer are sent again', async (ctx) => {
    // A 5xx fails the attempt (Temporal retries it after a backoff), a 429 ends it (the workflow waits for the window and
    // submits the chunk again): either way the requests answered before it must not go out a second time.
    const sandbox = await sandboxFor(ctx, 'propeller', {
      seed: 11,
      faults: { serverErrorRate: 0.1, rateLimitBurstRate: 0.05, rateLimitBurstLength: 1 },
    });
    const file = await writeCatalog(path.join(await tempDir('pp-multi'), 'catalog.jsonl'), {
      target: 'propeller',
      count: 2000,
      format: 'jsonl',
      keyPrefix: 'mul',
    });
    const { summary, worker } = await (async () => {
      const runner = await importsFor(ctx, t, sandbox.env, 'pp-multi');
      const options = { ...quick, chunkSize: 50, concurrency: 2, adaptiveConcurrency: false };
      return { ...(await runner.run({ target: 'propeller', source: { location: file }, options }, 'pp-multi')), worker: runner.worker };
    })();
    assert.equal(summary.counts.succeeded, 2000);
    assert.equal(sandbox.productCount(), 2000);
    // Chunks of 50, then 100, 150 and 200 products (one to four requests of 50): fewer chunks than requests.
    assert.ok(summary.counts.chunks < 2000 / 50 / 2, `${summary.counts.chunks} chunks`);
    const requests = sandbox.stats().requests['POST /v2/products/bulk/sourceId'] ?? {};
    assert.ok((requests['500'] ?? 0) + (requests['503'] ?? 0) > 0 && (requests['429'] ?? 0) > 0, JSON.stringify(requests));
    assert.equal(requests['200'], 2000 / 50, `one answered request per 50 products: ${JSON.stringify(requests)}`);
    assert.deepEqual(await worker.store.list(`imports/${summary.importId}/kept/`), [], 'kept outcomes are removed once recorded');
  });

  test('one request per source keeps answers apart; lookupKey id updates by Propeller id; a CSV with names.EN columns', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'propeller', { seed: 9, shuffleResults: true });
    const dir = await tempDir('pp-keys');
    const product = (sourceId: string, source: string, name: string) => ({
      sourceId,
      source,
      language: 'EN',
      names: [{ language: 'EN', value: name }],
    });
    const { run } = await importsFor(ctx, t, sandbox.env, 'pp-keys');
    const shared = await writeJsonl(path.join(dir, 'shared.jsonl'), [
      product('m-1', 'ERP', 'from ERP'),
      product('m-1', 'PIM', 'from PIM'),
      product('m-2', 'ERP', 'two'),
    ]);
    const first = await run({ target: 'propeller', source: { location: shared }, options: quick }, 'pp-shared');
    assert.equal(first.summary.counts.succeeded, 3);
    assert.equal(first.summary.counts.chunks, 1);
    assert.equal(sandbox.stats().requests['POST /v2/products/bulk/sourceId']?.['200'], 2, 'one request per source');
    assert.equal(sandbox.getProduct('sourceId', 'm-1', 'ERP')?.names[0]?.value, 'from ERP');
    assert.equal(sandbox.getProduct('sourceId', 'm-1', 'PIM')?.names[0]?.value, 'from PIM');

    const id = sandbox.getProduct('sourceId', 'm-1', 'PIM')!.id;
    const byId = await writeJsonl(path.join(dir, 'by-id.jsonl'), [
      { id, ...product('m-1', 'PIM', 'renamed by id') },
      product('m-2', 'ERP', 'no id'),
    ]);
    const second = await run({ target: 'propeller', source: { location: byId }, options: { ...quick, lookupKey: 'id' } }, 'pp-by-id');
    assert.equal(second.summary.counts.succeeded, 1);
    assert.equal(sandbox.getProduct('id', id)?.names[0]?.value, 'renamed by id');
    const rows = await readJsonl<ResultRow>(second.summary.files.resultsJsonl);
    assert.deepEqual(
      rows.map((r) => [r.key, r.outcome]),
      [
        [String(id), 'succeeded'],
        ['', 'invalid'],
      ],
    );
    assert.match(rows[1]!.error, /id is required with lookupKey id/);
    assert.ok(sandbox.stats().requests['POST /v2/products/bulk/id']?.['200'] === 1);

    const o: CatalogOptions = { target: 'propeller', count: 300, format: 'csv', invalidEvery: 50, keyPrefix: 'csv' };
    const csv = await writeCatalog(path.join(dir, 'catalog.csv'), o);
    const third = await run({ target: 'propeller', source: { location: csv }, options: { ...quick, chunkSize: 100 } }, 'pp-csv');
    assert.equal(third.summary.counts.succeeded, 294);
    for (let i = 0; i < o.count; i++) if (i % 50 !== 49) assertStoredAsSent(sandbox, propellerRecord(i, o));
  });
});
