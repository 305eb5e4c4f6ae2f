import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  startPropellerSandbox,
  startVoucherifySandbox,
  type FaultOptions,
  type PropellerSandbox,
  type VoucherifySandbox,
} from '../sandbox/index';
import { httpRequest, jsonRequest, pollUntil } from '../sandbox/test-support';
import { sandboxFor } from './harness';

const appKeys = { 'x-app-id': 'sandbox-app-id', 'x-app-token': 'sandbox-app-token' };
const noisyProfile: Partial<FaultOptions> = { serverErrorRate: 0.25, rateLimitBurstRate: 0.08, rateLimitBurstLength: 3 };

async function statusSequence(url: string, headers: Record<string, string>, count: number): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) statuses.push((await httpRequest(url, { headers })).status);
  return statuses;
}

async function propellerToken(sandbox: PropellerSandbox): Promise<string> {
  const { clientId, clientSecret, tokenUrl } = sandbox.credentials;
  const body = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret }).toString();
  const answer = await pollUntil(
    () => httpRequest(tokenUrl, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body }),
    (a) => a.status === 200,
  );
  return answer.json.access_token;
}

const propellerProduct = (sourceId: string) => ({ sourceId, source: 'ERP', language: 'EN', names: [{ language: 'EN', value: sourceId }] });

async function voucherifyAction(sandbox: VoucherifySandbox, products: unknown[]) {
  const accepted = await httpRequest(`${sandbox.url}/v1/products/bulk/async`, jsonRequest('POST', products, appKeys));
  assert.equal(accepted.status, 202);
  const answer = await pollUntil(
    () => httpRequest(`${sandbox.url}/v1/async-actions/${accepted.json.async_action_id}`, { headers: appKeys }),
    (a) => a.json?.status === 'DONE' || a.json?.status === 'FAILED',
  );
  return answer.json;
}

/** Lengths of the runs of 429s, leaving out a run cut short by the end of the sequence. */
function burstLengths(statuses: number[]): number[] {
  const runs: number[] = [];
  let run = 0;
  for (const status of statuses) {
    if (status === 429) run++;
    else if (run > 0) {
      runs.push(run);
      run = 0;
    }
  }
  return runs;
}

const failedSourceIds = (action: { result: { errors: Array<{ source_id: string; key: string }> } }) =>
  action.result.errors.filter((e) => e.key === 'product_update_failed').map((e) => e.source_id);

describe('fault injection', () => {
  describe('request faults are reproducible from the seed', () => {
    const targets = [
      {
        name: 'Voucherify',
        start: (seed: number) => startVoucherifySandbox({ seed, faults: noisyProfile }),
        path: '/v1/async-actions',
        headers: appKeys,
        ok: 200,
      },
      {
        name: 'Propeller',
        start: (seed: number) => startPropellerSandbox({ seed, faults: noisyProfile }),
        path: '/v2/products/id/1',
        headers: {},
        ok: 401,
      },
    ];
    for (const target of targets) {
      test(`${target.name}: same seed, same sequence of 5xx and 429 bursts; another seed, another sequence`, async () => {
        const sandboxes = await Promise.all([target.start(42), target.start(42), target.start(43)]);
        try {
          const [a, b, c] = await Promise.all(sandboxes.map((s) => statusSequence(`${s.url}${target.path}`, target.headers, 60)));
          assert.deepEqual(a, b);
          assert.notDeepEqual(a, c);
          assert.ok(a?.includes(target.ok) && a.some((s) => s >= 500) && a.includes(429), `mixed statuses: ${a?.join(',')}`);
          for (const run of burstLengths(a ?? [])) assert.ok(run >= 3, `a 429 burst lasts 3 requests: ${a?.join(',')}`);
          const stats = sandboxes[0]?.stats();
          assert.equal(stats?.faultsInjected.serverError, a?.filter((s) => s >= 500).length);
          assert.equal(stats?.faultsInjected.rateLimitBurst, a?.filter((s) => s === 429).length);
        } finally {
          await Promise.all(sandboxes.map((s) => s.close()));
        }
      });
    }
  });

  test('injected errors come in each API’s shape; 502/504 come as gateway HTML; 429 has Retry-After', async (ctx) => {
    const vf = await sandboxFor(ctx, 'voucherify', { seed: 5, faults: { serverErrorRate: 1, rateLimitRetryAfterSeconds: 7 } });
    const answers = await Promise.all(Array.from({ length: 16 }, () => httpRequest(`${vf.url}/v1/async-actions`, { headers: appKeys })));
    const byStatus = new Map(answers.map((a) => [a.status, a]));
    assert.deepEqual([...byStatus.keys()].sort(), [500, 502, 503, 504]);
    assert.equal(byStatus.get(500)?.json.code, 500);
    assert.equal(byStatus.get(503)?.json.key, 'service_unavailable');
    assert.match(byStatus.get(502)?.headers.get('content-type') ?? '', /text\/html/);
    assert.equal(byStatus.get(502)?.json, undefined);
    assert.ok(byStatus.get(500)?.headers.has('x-rate-limit-remaining'), 'rate-limit headers on every answer');
    assert.equal(vf.productCount(), 0);

    vf.setFaults({ rateLimitBurstRate: 1, rateLimitRetryAfterSeconds: 7 });
    const limited = await httpRequest(`${vf.url}/v1/async-actions`, { headers: appKeys });
    assert.equal(limited.status, 429);
    assert.equal(limited.headers.get('retry-after'), '7');
    assert.equal(limited.headers.get('x-rate-limit-type'), 'api_calls');

    vf.setFaults({});
    assert.equal((await httpRequest(`${vf.url}/v1/async-actions`, { headers: appKeys })).status, 200, 'setFaults({}) switches faults off');
    assert.equal((await httpRequest(`${vf.url}/_sandbox/stats`)).status, 200);
  });

  test('a slow answer past the client timeout still applies the request', async (ctx) => {
    const pp = await sandboxFor(ctx, 'propeller');
    const token = await propellerToken(pp);
    pp.setFaults({ slowRate: 1, slowMs: 400 });
    const started = Date.now();
    await assert.rejects(
      fetch(`${pp.url}/v2/products/bulk/sourceId`, {
        ...jsonRequest('POST', { products: [propellerProduct('slow-1')] }, { authorization: `Bearer ${token}` }),
        signal: AbortSignal.timeout(100),
      }),
      /TimeoutError|aborted/,
    );
    assert.ok(Date.now() - started < 350);
    assert.equal(pp.getProduct('sourceId', 'slow-1', 'ERP')?.sourceId, 'slow-1', 'applied although the client gave up');
    const patient = await httpRequest(`${pp.url}/v2/products/sourceId/slow-1?source=ERP`, {
      headers: { authorization: `Bearer ${token}` },
    });
    assert.equal(patient.status, 200);
    assert.ok(Date.now() - started >= 400, 'a patient client gets the answer late');
    assert.ok((pp.stats().faultsInjected.slow ?? 0) >= 2);
  });

  test('a dropped connection after apply leaves the client blind but the change made', async () => {
    const [pp, vf] = await Promise.all([startPropellerSandbox(), startVoucherifySandbox()]);
    try {
      const token = await propellerToken(pp);
      pp.setFaults({ dropAfterApplyRate: 1 });
      await assert.rejects(
        fetch(
          `${pp.url}/v2/products/bulk/sourceId`,
          jsonRequest('POST', { products: [propellerProduct('dropped-1')] }, { authorization: `Bearer ${token}` }),
        ),
      );
      assert.equal(pp.getProduct('sourceId', 'dropped-1', 'ERP')?.sourceId, 'dropped-1');
      assert.equal(pp.stats().requests['POST /v2/products/bulk/sourceId']?.dropped, 1);

      vf.setFaults({ dropAfterApplyRate: 1 });
      await assert.rejects(fetch(`${vf.url}/v1/products/bulk/async`, jsonRequest('POST', [{ source_id: 'dropped-vf' }], appKeys)));
      vf.setFaults({});
      await pollUntil(
        async () => vf.getProduct('dropped-vf'),
        (p) => p !== undefined,
      );
      const listed = await httpRequest(`${vf.url}/v1/async-actions`, { headers: appKeys });
      assert.equal(listed.json.async_actions.length, 1, 'the action exists although the client never saw its id');
      assert.equal(vf.stats().faultsInjected.dropAfterApply, 1);
    } finally {
      await Promise.all([pp.close(), vf.close()]);
    }
  });

  test('Voucherify actions can end FAILED part-way; resubmitting succeeds', async (ctx) => {
    const vf = await sandboxFor(ctx, 'voucherify', { seed: 3, faults: { actionFailureRate: 1 } });
    const products = Array.from({ length: 200 }, (_, i) => ({ source_id: `af-${i}` }));
    const failed = await voucherifyAction(vf, products);
    assert.equal(failed.status, 'FAILED');
    assert.equal(failed.operation_status, 'FAILED');
    assert.ok(failed.progress < 100);
    assert.equal(failed.result.done_count + failed.result.failed_count, 200);
    assert.equal(vf.productCount(), failed.result.done_count, 'products before the failure point were applied');
    vf.setFaults({});
    const retried = await voucherifyAction(vf, products);
    assert.equal(retried.status, 'DONE');
    assert.equal(vf.productCount(), 200);
    assert.equal(vf.stats().faultsInjected.actionFailure, 1);
  });

  test('Voucherify per-product failures are transient and independent of order and chunking', async () => {
    const faults = { productFailureRate: 0.3 };
    const products = Array.from({ length: 100 }, (_, i) => ({ source_id: `pf-${i}`, price: i }));
    const [whole, chunked] = await Promise.all([
      startVoucherifySandbox({ seed: 11, faults }),
      startVoucherifySandbox({ seed: 11, faults }),
    ]);
    try {
      const first = await voucherifyAction(whole, products);
      assert.equal(first.status, 'DONE');
      const failed = failedSourceIds(first).sort();
      assert.ok(failed.length > 10 && failed.length < 50, `about 30% fail: ${failed.length}`);
      assert.equal(first.result.failed_count, failed.length);

      const reversed = [...products].reverse();
      const chunkFailures: string[] = [];
      for (let i = 0; i < 4; i++)
        chunkFailures.push(...failedSourceIds(await voucherifyAction(chunked, reversed.slice(i * 25, (i + 1) * 25))));
      assert.deepEqual(chunkFailures.sort(), failed, 'the same products fail whatever the chunking');

      const retry = await voucherifyAction(
        whole,
        products.filter((p) => failed.includes(p.source_id)),
      );
      assert.equal(retry.result.failed_count, 0, 'a retried product is accepted');
      assert.equal(whole.productCount(), 100);
      assert.equal(whole.stats().faultsInjected.productFailure, failed.length);
    } finally {
      await Promise.all([whole.close(), chunked.close()]);
    }
  });

  test('productFailureAttempts sets how many submissions fail before one succeeds', async (ctx) => {
    const vf = await sandboxFor(ctx, 'voucherify', { seed: 2, faults: { productFailureRate: 1, productFailureAttempts: 2 } });
    const outcomes = [];
    for (let i = 0; i < 3; i++) outcomes.push((await voucherifyAction(vf, [{ source_id: 'stubborn' }])).result.failed_count);
    assert.deepEqual(outcomes, [1, 1, 0]);
  });

  test('Propeller answers success:false items, the same ones for the same seed, and accepts them on retry', async () => {
    const faults = { productFailureRate: 0.3 };
    const [a, b] = await Promise.all([startPropellerSandbox({ seed: 9, faults }), startPropellerSandbox({ seed: 9, faults })]);
    try {
      const post = async (sandbox: PropellerSandbox, products: unknown[]) => {
        const answer = await httpRequest(
          `${sandbox.url}/v2/products/bulk/sourceId`,
          jsonRequest('POST', { products }, { authorization: `Bearer ${await propellerToken(sandbox)}` }),
        );
        assert.equal(answer.status, 200);
        return answer.json.data as Array<{ key: string; success: boolean; error?: string; id?: number; action: string }>;
      };
      const products = Array.from({ length: 100 }, (_, i) => propellerProduct(`ppf-${i}`));
      const items = await post(a, products);
      const failed = items.filter((item) => !item.success);
      assert.ok(failed.length > 10 && failed.length < 50, `about 30% fail: ${failed.length}`);
      for (const item of failed) {
        assert.equal(typeof item.error, 'string');
        assert.equal('id' in item, false);
      }
      const failedKeys = failed.map((item) => item.key).sort();
      const inHalves = [...(await post(b, products.slice(50))), ...(await post(b, products.slice(0, 50)))];
      assert.deepEqual(
        inHalves
          .filter((item) => !item.success)
          .map((item) => item.key)
          .sort(),
        failedKeys,
      );

      const retried = await post(
        a,
        products.filter((p) => failedKeys.includes(p.sourceId)),
      );
      assert.ok(retried.every((item) => item.success && item.action === 'create'));
      assert.equal(a.productCount(), 100);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  });
});
