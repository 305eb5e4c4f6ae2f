/**
 * Delta sync (--skip-unchanged): a re-import sends exactly the products whose content changed since the target last
 * confirmed them, counted in the sandbox; --full sends all; a product that failed is sent again next time; a
 * duplicate of an unchanged product is still a duplicate; and a dry run says what delta sync would skip.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { ResultRow } from '../activities/report';
import { DeltaLedger } from '../activities/staging/delta';
import { startDryRun, type StartImportRequest } from '../client';
import { propellerRecord, type CatalogOptions } from '../scripts/catalog';
import { readJsonl, tempDir, useTemporal } from './helpers';
import { importsFor, sandboxFor } from './harness';

const t = useTemporal();

describe('DeltaLedger', () => {
  test('confirms, forgets, grows and survives its own file format', () => {
    const ledger = new DeltaLedger(4);
    for (let i = 0; i < 5000; i++) ledger.confirm(`k${i}`, `body ${i}`);
    ledger.forget('k7');
    ledger.confirm('k8', 'body 8 changed');
    const copy = new DeltaLedger();
    for (const line of ledger.lines()) copy.addLine(line);
    for (const l of [ledger, copy]) {
      assert.equal(l.size, 4999);
      assert.ok(l.unchanged('k1', 'body 1'));
      assert.ok(!l.unchanged('k1', 'body 1 '), 'one more character is a change');
      assert.ok(!l.unchanged('k7', 'body 7'), 'a forgotten key is sent again');
      assert.ok(!l.unchanged('k8', 'body 8') && l.unchanged('k8', 'body 8 changed'));
      assert.ok(!l.unchanged('k5000', 'body 5000'), 'a key never confirmed');
    }
  });
});

describe('delta sync', () => {
  test('Propeller: sends only what changed, --full sends all, a failure goes again, duplicates stay duplicates', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'propeller', { seed: 11 });
    const imports = await importsFor(ctx, t, sandbox.env, 'delta');
    const dir = await tempDir('delta');
    const o: CatalogOptions = { target: 'propeller', count: 3000, format: 'jsonl', keyPrefix: 'delta' };
    /** Version `v` of the catalog: products i ≡ 7 (mod 100) get a new price in each version from `changedFrom`. */
    const catalog = async (name: string, v: number, extra: object[] = []) => {
      const records = Array.from({ length: o.count }, (_, i) => {
        const r = propellerRecord(i, o);
        return i % 100 === 7 ? { ...r, price: 1 + v + i / 1000 } : r;
      });
      const file = path.join(dir, `${name}.jsonl`);
      await writeFile(file, [...records, ...extra].map((r) => `${JSON.stringify(r)}\n`).join(''));
      return file;
    };
    const run = async (file: string, id: string, options: object = {}) => {
      sandbox.resetStats();
      const request = {
        target: 'propeller',
        source: { location: file },
        options: { skipUnchanged: true, retryBackoffMs: 100, ...options },
      };
      const { summary } = await imports.run(request as StartImportRequest, id);
      return { summary, received: sandbox.stats().productsReceived, rows: await readJsonl<ResultRow>(summary.files.resultsJsonl) };
    };

    const first = await run(await catalog('v1', 1), 'delta-1');
    assert.equal(first.received, 3000, 'an empty ledger: everything is sent');
    assert.equal(first.summary.counts.unchanged, 0);

    // 1 % changed, 10 new products, and a second record of an unchanged product (line 3011).
    const added = Array.from({ length: 10 }, (_, i) => propellerRecord(3000 + i, o));
    const v2 = await catalog('v2', 2, [...added, propellerRecord(5, o)]);
    const second = await run(v2, 'delta-2');
    assert.equal(second.received, 40, 'exactly the 30 changed and the 10 new products were sent');
    assert.deepEqual([second.summary.counts.succeeded, second.summary.counts.unchanged, second.summary.counts.invalid], [40, 2970, 1]);
    const changedKeys = new Set(second.rows.filter((r) => r.outcome === 'succeeded').map((r) => r.key));
    assert.ok(
      [...changedKeys].every((k) => /delta-\d*(07|30\d\d)$/.test(k.split(':')[1]!)),
      'the ones sent are the changed and new ones',
    );
    const duplicate = second.rows.find((r) => r.line === 3011);
    assert.equal(duplicate?.outcome, 'invalid');
    assert.match(duplicate!.error, /duplicate key .*: first seen at line 6$/);

    const full = await run(v2, 'delta-3', { full: true });
    assert.equal(full.received, 3010, '--full sends every valid product');
    assert.equal(full.summary.counts.unchanged, undefined);

    // Half the products fail, no retry round: only confirmed ones are remembered, the rest go again next time.
    sandbox.setFaults({ productFailureRate: 0.5 });
    const v3 = await catalog('v3', 3, added);
    const flaky = await run(v3, 'delta-4', { retryRounds: 0 });
    const failed = flaky.summary.counts.failed;
    assert.ok(failed > 5 && flaky.summary.counts.succeeded > 5, `some of the 30 changed failed (${failed})`);
    sandbox.setFaults({ productFailureRate: 0 });
    const after = await run(v3, 'delta-5');
    assert.equal(after.received, failed, 'exactly the products that failed were sent again');
    assert.equal(after.summary.counts.unchanged, 3010 - failed);

    sandbox.resetStats();
    const plan = await (
      await startDryRun(
        t.client,
        { target: 'propeller', source: { location: v3 }, options: { skipUnchanged: true } },
        {
          taskQueue: imports.worker.taskQueue,
          workflowId: `delta-plan-${Date.now()}`,
        },
      )
    ).result();
    assert.deepEqual(plan.counts, { read: 3010, valid: 0, invalid: 0, unchanged: 3010 }, 'the dry run knows all is in place');
    assert.equal(sandbox.stats().productsReceived, 0);
  });
});
