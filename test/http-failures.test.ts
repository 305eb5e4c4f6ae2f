/**
 * How HTTP answers become Temporal failures: which are retried, after how long, and what the
 * message carries. Real requests to a real server on loopback.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { ApplicationFailure } from '@temporalio/common';
import { refusedUrl } from './refused-url';
import {
  createHttp,
  FailureType,
  misconfiguration,
  MISCONFIGURED_AFTER_ATTEMPTS,
  requireEnv,
  RETRY_FLOOR_MS,
  toFailure,
  type QuotaHeaders,
  type TargetSettings,
  joinedBody,
} from '../targets/http';
import { voucherifyQuotaHeaders } from '../targets/voucherify/quota-headers';

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

/** Requests `path` (of `base`) with a secret header and returns the raw error it fails with. */
async function errorOf(path: string, answer: Answer, timeoutMs = 5000, base = baseUrl): Promise<unknown> {
  answers.set(`/${path}`, answer);
  const client = createHttp({ target: 'test', baseUrl: base, timeoutMs });
  try {
    await client.post(path, { headers: { 'x-app-token': 'secret-token-123' }, json: [] }).json();
  } catch (err) {
    return err;
  }
  throw new Error(`${path} did not fail`);
}

/**
 * Requests `path` and returns the failure it turns into (with `settings`: as a target's bulk endpoint), read with
 * Voucherify's quota headers unless `names` says otherwise (null: none).
 */
async function failureOf(
  path: string,
  answer: Answer,
  timeoutMs = 5000,
  settings?: TargetSettings,
  names: QuotaHeaders | null = voucherifyQuotaHeaders,
): Promise<ApplicationFailure> {
  const failure = toFailure(await errorOf(path, answer, timeoutMs), 'Target', settings, names ?? undefined);
  assert.ok(failure instanceof ApplicationFailure, `an ApplicationFailure, got ${failure}`);
  assert.doesNotMatch(failure.message, /secret-token-123/, 'credentials never appear in failures');
  return failure;
}

test('429 is retried after Retry-After seconds', async () => {
  const failure = await failureOf('a', {
    status: 429,
    headers: { 'retry-after': '7', 'x-rate-limit-type': 'bulk_api_calls' },
    body: '{"code":429,"message":"Too many requests hit the API too quickly."}',
  });
  assert.equal(failure.type, FailureType.rateLimited);
  assert.equal(failure.nonRetryable, false);
  // The quota's window to the second, plus at most 250 ms of jitter.
  const delay = failure.nextRetryDelay as number;
  assert.ok(delay >= 7000 && delay <= 7250, `7 s plus jitter, got ${delay}`);
  assert.match(failure.message, /429 to POST \/a: .*Too many requests/);
});

test('without Retry-After, X-Rate-Limit-Retry (epoch seconds of the next allowed call) sets the delay', async () => {
  const retryAt = Math.ceil(Date.now() / 1000) + 30;
  const failure = await failureOf('b', { status: 429, headers: { 'x-rate-limit-retry': String(retryAt) } });
  const delay = failure.nextRetryDelay as number;
  assert.ok(delay > 25_000 && delay <= 31_250, `about 30 s (+ jitter), got ${delay}`);
});

test("a target without quota headers of its own (Propeller) reads only Retry-After: Voucherify's names mean nothing there", async () => {
  const retryAt = Math.floor(Date.now() / 1000) + 30;
  const failure = await failureOf('b2', { status: 429, headers: { 'x-rate-limit-retry': String(retryAt) } }, 5000, undefined, null);
  assert.ok((failure.nextRetryDelay as number) < 5_000, `the floor and jitter, not 30 s: ${failure.nextRetryDelay}`);
  const cycle = await failureOf('c2', { status: 429, headers: { 'x-rate-limit-type': 'api_calls_cycle' } }, 5000, undefined, null);
  assert.equal(cycle.nonRetryable, false);
});

test('a used-up billing-cycle quota (api_calls_cycle) is not retried', async () => {
  const failure = await failureOf('c', { status: 429, headers: { 'retry-after': '60', 'x-rate-limit-type': 'api_calls_cycle' } });
  assert.equal(failure.type, FailureType.quotaExhausted);
  assert.equal(failure.nonRetryable, true);
  assert.match(failure.message, /retrying cannot help/);
});

test('5xx is retried; 400 and 404 are final and carry the API error body; 401 says to check credentials', async () => {
  const server = await failureOf('d', { status: 503, headers: { 'retry-after': '2' } });
  assert.deepEqual([server.type, server.nonRetryable], [FailureType.serverError, false]);
  assert.ok(
    (server.nextRetryDelay as number) >= 2000 && (server.nextRetryDelay as number) <= 2200,
    `2 s plus jitter, got ${server.nextRetryDelay}`,
  );

  const invalid = await failureOf('e', {
    status: 400,
    body: '{"code":400,"key":"invalid_payload","message":"Invalid payload","details":"Property .name must be string"}',
  });
  assert.deepEqual([invalid.type, invalid.nonRetryable], [FailureType.rejected, true]);
  assert.match(invalid.message, /Property \.name must be string/);
  assert.deepEqual(invalid.details?.[0], {
    status: 400,
    body: '{"code":400,"key":"invalid_payload","message":"Invalid payload","details":"Property .name must be string"}',
  });

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

const target = (): TargetSettings => ({
  label: 'Voucherify',
  baseUrl,
  urlVariable: 'VOUCHERIFY_API_URL',
  timeoutVariable: 'VOUCHERIFY_TIMEOUT_MS',
});

test('Retry-After: 0, a retry time already past or no header is not "retry at once": the delay has a floor', async () => {
  const past = String(Math.floor(Date.now() / 1000) - 5);
  for (const [path, headers] of [
    ['i', { 'retry-after': '0' }],
    ['i2', { 'x-rate-limit-retry': past }],
    ['i3', {}],
  ] as const) {
    const failure = await failureOf(path, { status: 503, headers });
    assert.ok((failure.nextRetryDelay as number) >= RETRY_FLOOR_MS, `${path}: ${failure.nextRetryDelay}`);
  }
  const quota = await failureOf('i4', { status: 429, headers: { 'retry-after': '0' } });
  assert.ok((quota.nextRetryDelay as number) >= RETRY_FLOOR_MS, `429: ${quota.nextRetryDelay}`);
});

test('a refused connection is retried at first, and a misconfigured target once it persists for a few attempts', async () => {
  const deadUrl = await refusedUrl();
  const err = await errorOf('j', { status: 200 }, 5000, deadUrl);
  const settings = { ...target(), baseUrl: deadUrl };

  assert.equal(
    misconfiguration(err, settings, MISCONFIGURED_AFTER_ATTEMPTS - 1),
    undefined,
    'a target restarting for a second is still retried',
  );
  const blip = toFailure(err, 'Voucherify', settings) as ApplicationFailure;
  assert.deepEqual([blip.type, blip.nonRetryable], [FailureType.network, false], 'outside an activity it counts as attempt 1');

  const failure = misconfiguration(err, settings, MISCONFIGURED_AFTER_ATTEMPTS);
  assert.deepEqual([failure?.type, failure?.nonRetryable], [FailureType.misconfigured, true]);
  const expected = `Voucherify at ${deadUrl} refused the connection (ECONNREFUSED) on 3 attempts: check VOUCHERIFY_API_URL in the worker's environment`;
  assert.equal(failure?.message, expected);
});

test('404 or 405 from a bulk endpoint means a wrong base URL: misconfigured at once, naming the variable', async () => {
  for (const [path, status] of [
    ['k', 404],
    ['l', 405],
  ] as const) {
    const failure = await failureOf(path, { status, body: '<h1>Not Found</h1>' }, 5000, target());
    assert.deepEqual([failure.type, failure.nonRetryable], [FailureType.misconfigured, true]);
    const expected =
      `^Voucherify at ${baseUrl} answered ${status} to POST /${path}, an endpoint of its API: ` +
      "check VOUCHERIFY_API_URL in the worker's environment$";
    assert.match(failure.message, new RegExp(expected));
  }
  // Without settings (Voucherify's poll of an action it doesn't know), a 404 stays a rejection.
  assert.equal((await failureOf('k', { status: 404 })).type, FailureType.rejected);
});

test("an answer that is not the API's JSON (an HTML page answering 200) is a misconfigured target at once", async () => {
  const page = { status: 200, headers: { 'content-type': 'text/html' }, body: '<!doctype html><title>Welcome</title>' };
  const failure = await failureOf('m', page, 5000, target());
  assert.deepEqual([failure.type, failure.nonRetryable], [FailureType.misconfigured, true]);
  assert.match(failure.message, /answered POST \/m with something other than JSON \(text\/html\): check VOUCHERIFY_API_URL/);
});

test('no answer in time on every attempt names the timeout variable; before that it is an unknown outcome, retried', async () => {
  const err = await errorOf('n', { status: 200, body: '{}', hangMs: 1000 }, 100);
  assert.equal(misconfiguration(err, target(), 1), undefined);
  const failure = misconfiguration(err, target(), 3);
  assert.deepEqual([failure?.type, failure?.nonRetryable], [FailureType.misconfigured, true]);
  assert.match(
    failure?.message ?? '',
    /gave no answer to POST \/n in time on 3 attempts: check VOUCHERIFY_TIMEOUT_MS \(or VOUCHERIFY_API_URL\)/,
  );
});

test('missing settings are a misconfiguration no retry can fix, naming every missing variable', () => {
  assert.throws(
    () => requireEnv({ VOUCHERIFY_APP_ID: 'x' }, ['VOUCHERIFY_API_URL', 'VOUCHERIFY_APP_ID', 'VOUCHERIFY_APP_TOKEN'], 'Set them.'),
    (err: unknown) =>
      err instanceof ApplicationFailure &&
      err.type === FailureType.misconfigured &&
      err.nonRetryable &&
      err.message === "Missing VOUCHERIFY_API_URL, VOUCHERIFY_APP_TOKEN in the worker's environment. Set them.",
  );
});

test('a request body joined as bytes is the UTF-8 of the joined text, multi-byte characters and all', () => {
  const bodies = ['{"a":"é"}', '{"b":"\u2028 ü 😀"}', '{"c":1}'];
  for (const [head, list, tail] of [
    ['[', bodies, ']'],
    ['{"products":[', bodies.slice(0, 1), ']}'],
    ['[', [], ']'],
  ] as const) {
    const bytes = joinedBody(head, list, tail);
    const text = `${head}${list.join(',')}${tail}`;
    assert.ok(bytes.equals(Buffer.from(text)), `${bytes.toString()} is ${text}`);
  }
});
