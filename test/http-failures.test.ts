/**
 * How HTTP answers become Temporal failures: which are retried, after how long, and what the
 * message carries. Real requests to a real server on loopback.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { createHttp, FailureType, toFailure } from '../targets/http';

type Answer = { status: number; headers?: Record<string, string>; body?: string; hangMs?: number };
const answers = new Map<string, Answer>();
let server: http.Server;
let baseUrl: string;

before(async () => {
  server = http.createServer((req, res) => {
    const answer = answers.get(req.url ?? '') ?? { status: 200, body: '{}' };
    setTimeout(() => {
      res.writeHead(answer.status, { 'content-type': 'application/json', ...answer.headers });
      res.end(answer.body ?? '');
    }, answer.hangMs ?? 0);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => new Promise<void>((resolve) => server.close(() => resolve())));

/** Requests `path` with a secret header and returns the failure it turns into. */
async function failureOf(path: string, answer: Answer, timeoutMs = 5000): Promise<ApplicationFailure> {
  answers.set(`/${path}`, answer);
  const client = createHttp({ baseUrl, timeoutMs });
  try {
    await client.post(path, { headers: { 'x-app-token': 'secret-token-123' }, json: [] });
  } catch (err) {
    const failure = toFailure(err, 'Target');
    assert.ok(failure instanceof ApplicationFailure, `an ApplicationFailure, got ${failure}`);
    assert.doesNotMatch(failure.message, /secret-token-123/, 'credentials never appear in failures');
    return failure;
  }
  throw new Error(`${path} did not fail`);
}

test('429 is retried after Retry-After seconds', async () => {
  const failure = await failureOf('a', { status: 429, headers: { 'retry-after': '7', 'x-rate-limit-type': 'bulk_api_calls' }, body: '{"code":429,"message":"Too many requests hit the API too quickly."}' });
  assert.equal(failure.type, FailureType.rateLimited);
  assert.equal(failure.nonRetryable, false);
  assert.equal(failure.nextRetryDelay, 7000);
  assert.match(failure.message, /429 to POST \/a: .*Too many requests/);
});

test('without Retry-After, X-Rate-Limit-Retry (epoch seconds of the next allowed call) sets the delay', async () => {
  const retryAt = Math.ceil(Date.now() / 1000) + 30;
  const failure = await failureOf('b', { status: 429, headers: { 'x-rate-limit-retry': String(retryAt) } });
  const delay = failure.nextRetryDelay as number;
  assert.ok(delay > 25_000 && delay <= 31_000, `about 30 s, got ${delay}`);
});

test('a used-up billing-cycle quota (api_calls_cycle) is not retried', async () => {
  const failure = await failureOf('c', { status: 429, headers: { 'retry-after': '60', 'x-rate-limit-type': 'api_calls_cycle' } });
  assert.equal(failure.type, FailureType.quotaExhausted);
  assert.equal(failure.nonRetryable, true);
  assert.match(failure.message, /retrying cannot help/);
});

test('5xx is retried; 400 and 404 are final and carry the API error body; 401 says to check credentials', async () => {
  const server = await failureOf('d', { status: 503, headers: { 'retry-after': '2' } });
  assert.deepEqual([server.type, server.nonRetryable, server.nextRetryDelay], [FailureType.serverError, false, 2000]);

  const invalid = await failureOf('e', { status: 400, body: '{"code":400,"key":"invalid_payload","message":"Invalid payload","details":"Property .name must be string"}' });
  assert.deepEqual([invalid.type, invalid.nonRetryable], [FailureType.rejected, true]);
  assert.match(invalid.message, /Property \.name must be string/);
  assert.deepEqual(invalid.details?.[0], { status: 400, body: '{"code":400,"key":"invalid_payload","message":"Invalid payload","details":"Property .name must be string"}' });

  const missing = await failureOf('f', { status: 404, body: '{"code":404,"key":"not_found"}' });
  assert.deepEqual([missing.type, missing.nonRetryable], [FailureType.rejected, true]);

  const unauthorized = await failureOf('g', { status: 401, body: '{"code":401,"message":"Unauthorized","key":"unauthorized"}' });
  assert.deepEqual([unauthorized.type, unauthorized.nonRetryable], [FailureType.unauthorized, true]);
  assert.match(unauthorized.message, /Check the credentials/);
});

test('a request that outlives its timeout has an unknown outcome and is retried', async () => {
  const failure = await failureOf('h', { status: 200, body: '{}', hangMs: 1000 }, 100);
  assert.equal(failure.type, FailureType.unknownOutcome);
  assert.equal(failure.nonRetryable, false);
});
