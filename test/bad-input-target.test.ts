/**
 * Bad input from the environment: a target that is plainly misconfigured stops the import within
 * a few requests, names the variable to check, and leaves a report where every product that was
 * never sent is `not-submitted`. Each case runs its own worker with the bad setting.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import type { SandboxStats } from '../sandbox';
import { writeCatalog } from '../scripts/catalog';
import { refusedUrl } from './refused-url';
import { ExitCode, useCliHarness, type ImportRun } from './cli-harness';
import { startWorker } from './helpers';
import { onEnd, sandboxFor } from './harness';

const h = useCliHarness('bad-target');

/** Six products, two a chunk, one chunk in flight: which requests the target sees is then exact. */
const PRODUCTS = 6;
const flags = ['--max-items-per-chunk', '2', '--concurrency', '1', '--retry-rounds', '1'];

const requestCount = (stats: SandboxStats, endpoint?: string) =>
  Object.entries(stats.requests)
    .filter(([name]) => !endpoint || name === endpoint)
    .flatMap(([, byStatus]) => Object.values(byStatus))
    .reduce((a, b) => a + b, 0);

/** A web server that answers every request 200 with an HTML page, counting them. */
async function htmlServer(): Promise<{ url: string; requests: () => number; close(): Promise<void> }> {
  let requests = 0;
  const server = http.createServer((req, res) => {
    requests++;
    req
      .resume()
      .on('end', () => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>Welcome to nginx!</title>'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests: () => requests,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Imports a fresh six-product catalog through a worker whose target environment is `env`. */
async function importWith(name: string, target: 'voucherify' | 'propeller', env: NodeJS.ProcessEnv): Promise<ImportRun> {
  const file = await writeCatalog(path.join(h.dir, `${name}.jsonl`), { target, format: 'jsonl', keyPrefix: name, count: PRODUCTS });
  const worker = await startWorker(h.t, env, name);
  try {
    return await h.importFile(file, target, flags, { TEMPORAL_TASK_QUEUE: worker.taskQueue });
  } finally {
    await worker.stop();
  }
}

/** The import failed, naming the problem and the fix, with a report where the listed outcomes are, in order, those of each product. */
function assertStopped(run: ImportRun, message: RegExp, outcomes: string[]): void {
  assert.equal(run.code, ExitCode.failed, run.output);
  assert.match(run.status?.failure?.message ?? '', message);
  assert.match(run.output, message, 'the message reaches the user');
  assert.doesNotMatch(run.output, /Activity task failed/);
  assert.deepEqual(
    run.rows?.map((r) => r.outcome),
    outcomes,
  );
}

const notSubmitted = Array<string>(PRODUCTS).fill('not-submitted');

describe('a misconfigured target stops the import at once and says what to check', { concurrency: 3 }, () => {
  test('connection refused (nothing listens at VOUCHERIFY_API_URL)', async () => {
    const url = await refusedUrl();
    const run = await importWith('refused', 'voucherify', { ...h.voucherify.env, VOUCHERIFY_API_URL: url });
    const message = `Voucherify at ${url} refused the connection \\(ECONNREFUSED\\) on 3 attempts: check VOUCHERIFY_API_URL in the worker's environment`;
    assertStopped(run, new RegExp(message), notSubmitted);
  });

  test('wrong base URL (the sandbox plus /nope): 404 on the bulk endpoint, two requests and no more', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 1 });
    const run = await importWith('wrong-url', 'voucherify', { ...sandbox.env, VOUCHERIFY_API_URL: `${sandbox.url}/nope` });
    assertStopped(
      run,
      /answered 404 to POST \/nope\/v1\/products\/bulk\/async, an endpoint of its API: check VOUCHERIFY_API_URL/,
      notSubmitted,
    );
    // The first chunk is tried again once (it could have been a blip); the second 404 in a row stops the import.
    assert.equal(requestCount(sandbox.stats()), 2);
    assert.equal(sandbox.productCount(), 0);
  });

  test('wrong Propeller base URL (the sandbox plus /nope): one token request, two bulk requests, then the import stops', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'propeller', { seed: 1 });
    const run = await importWith('propeller-wrong-url', 'propeller', { ...sandbox.env, PROPELLER_API_URL: `${sandbox.url}/nope` });
    assertStopped(
      run,
      /Propeller at \S+\/nope answered 404 to POST \/nope\/v2\/products\/bulk\/sourceId, .*: check PROPELLER_API_URL/,
      notSubmitted,
    );
    assert.equal(requestCount(sandbox.stats()), 3);
    assert.equal(sandbox.productCount(), 0);
  });

  test('wrong credentials (401): one request, then the import stops', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 1 });
    const run = await importWith('wrong-token', 'voucherify', { ...sandbox.env, VOUCHERIFY_APP_TOKEN: 'not-the-token' });
    assertStopped(run, /answered 401 to POST \/v1\/products\/bulk\/async.*Check the credentials in the worker's environment/, notSubmitted);
    assert.deepEqual(sandbox.stats().requests['POST /v1/products/bulk/async'], { 401: 1 });
  });

  test('unknown host in PROPELLER_API_URL: named after three attempts a chunk', async () => {
    const run = await importWith('unknown-host', 'propeller', { ...h.propeller.env, PROPELLER_API_URL: 'http://bulkport-test.invalid' });
    const message =
      /Propeller at http:\/\/bulkport-test\.invalid could not be reached \((ENOTFOUND|EAI_AGAIN)\) on 3 attempts: check PROPELLER_API_URL/;
    assertStopped(run, message, notSubmitted);
  });

  test('wrong Propeller token URL: its 404 names PROPELLER_TOKEN_URL, no product request is sent', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'propeller', { seed: 1 });
    const tokenUrl = `${sandbox.url}/nope/oauth2/token`;
    const run = await importWith('wrong-token-url', 'propeller', { ...sandbox.env, PROPELLER_TOKEN_URL: tokenUrl });
    const message =
      /Propeller's token endpoint at \S+\/nope\/oauth2\/token answered 404 to POST \/nope\/oauth2\/token, .*: check PROPELLER_TOKEN_URL/;
    assertStopped(run, message, notSubmitted);
    assert.equal(requestCount(sandbox.stats()), 2, 'two token requests, nothing else');
    assert.equal(sandbox.productCount(), 0);
  });

  test("VOUCHERIFY_* missing in the worker's environment: named, not retried", async () => {
    const run = await importWith('no-env', 'voucherify', { ...h.propeller.env });
    assertStopped(
      run,
      /Missing VOUCHERIFY_API_URL, VOUCHERIFY_APP_ID, VOUCHERIFY_APP_TOKEN in the worker's environment\. Set them/,
      notSubmitted,
    );
  });

  test('a web page instead of the API (HTML answering 200): two requests, then the import stops', async (ctx) => {
    const page = await htmlServer();
    onEnd(ctx, () => page.close());
    const run = await importWith('html', 'voucherify', { ...h.voucherify.env, VOUCHERIFY_API_URL: page.url });
    const message =
      `Voucherify at ${page.url} answered POST /v1/products/bulk/async ` +
      'with something other than JSON \\(text/html\\): check VOUCHERIFY_API_URL';
    assertStopped(run, new RegExp(message), notSubmitted);
    assert.equal(page.requests(), 2);
  });

  test('a target slower than its timeout: names VOUCHERIFY_TIMEOUT_MS; what may have been applied is failed, the rest not submitted', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 1, faults: { slowRate: 1, slowMs: 1500 } });
    const run = await importWith('slow', 'voucherify', { ...sandbox.env, VOUCHERIFY_TIMEOUT_MS: '200' });
    // After a POST without an answer, later attempts first look for the action it may have created (GET async-actions).
    const slowRequest = /gave no answer to (POST \/v1\/products\/bulk\/async|GET \/v1\/async-actions) in time on 3 attempts: /;
    assertStopped(run, new RegExp(`${slowRequest.source}check VOUCHERIFY_TIMEOUT_MS \\(or VOUCHERIFY_API_URL\\)`), [
      'failed',
      'failed',
      'failed',
      'failed',
      'not-submitted',
      'not-submitted',
    ]);
    assert.match(run.rows?.[0]?.error ?? '', /gave no answer .* in time/);
    // Three attempts for each of the two chunks, then the import stops; each chunk is posted once, as its later
    // attempts look for the action the first may have created. The sandbox counts a slow request once it answers,
    // which may be after the import ended: give the last one its delay before counting.
    await new Promise((resolve) => setTimeout(resolve, 2000));
    assert.equal(requestCount(sandbox.stats(), 'POST /v1/products/bulk/async'), 2);
  });
});
