/**
 * One catalog into both targets: `bulkport import --target voucherify,propeller`, each child import with its own
 * mapping (the Shopify examples), steered together (pause and cancel reach both), one combined summary and exit code.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { progressQuery } from '../client';
import type { MultiImportSummary } from '../workflows/multi';
import { ExitCode, useCliHarness } from './cli-harness';
import { eventually } from './helpers';

const h = useCliHarness('multi');
const examples = path.resolve(import.meta.dirname, '..', 'examples');
const mappings = [
  '--mapping',
  `voucherify=${path.join(examples, 'mappings', 'shopify-to-voucherify.json')}`,
  // This one names its target itself.
  '--mapping',
  path.join(examples, 'mappings', 'shopify-to-propeller.json'),
];

/** The Shopify sample `copies` times over, each copy's handles and SKUs made its own. */
async function shopifyCopies(copies: number): Promise<string> {
  const [header, ...rows] = (await readFile(path.join(examples, 'shopify-products.csv'), 'utf8')).trimEnd().split('\n');
  const out = [header!];
  for (let i = 0; i < copies; i++)
    out.push(...rows.map((r) => r.replace(/^([a-z-]+),/, `$1-${i},`).replace(/,([A-Z]+-[A-Z]+-[A-Z0-9]+),/, `,$1-${i},`)));
  return h.file(`shopify-${copies}.csv`, `${out.join('\n')}\n`);
}

const lastJson = (stdout: string) => JSON.parse(stdout.slice(stdout.lastIndexOf('\n{') + 1)) as MultiImportSummary;

describe('an import into several targets', () => {
  test('the Shopify sample into Voucherify and Propeller, each through its mapping: one summary, a report each', async () => {
    h.voucherify.resetStats();
    h.propeller.resetStats();
    const run = await h.bulkport([
      'import',
      path.join(examples, 'shopify-products.csv'),
      '--target',
      'voucherify,propeller',
      ...mappings,
      '--poll-interval-ms',
      '100',
      '--wait',
      '--json',
    ]);
    assert.equal(run.code, ExitCode.partial, `the image-only row is invalid in both: ${run.stderr}`);
    const summary = lastJson(run.stdout);
    assert.equal(summary.status, 'completed');
    assert.deepEqual(
      summary.imports.map((c) => [c.target, c.summary?.counts.read, c.summary?.counts.succeeded, c.summary?.counts.invalid]),
      [
        ['voucherify', 12, 11, 1],
        ['propeller', 12, 11, 1],
      ],
    );
    assert.notEqual(summary.imports[0]!.summary!.files.resultsJsonl, summary.imports[1]!.summary!.files.resultsJsonl, 'a report each');
    assert.equal(h.voucherify.stats().productsReceived, 11);
    assert.equal(h.propeller.stats().productsReceived, 11);
    assert.equal(h.propeller.getProduct('sourceId', 'TEE-CLS-S', 'shopify')?.price, 19.99, 'mapped by its own mapping');
  });

  test('pause reaches both children, cancel --wait ends both with their reports; status of the parent shows them', async () => {
    // Slow answers, two chunks in flight: minutes of work, steered within seconds.
    const file = await shopifyCopies(300);
    h.propeller.setFaults({ slowRate: 1, slowMs: 1500 });
    h.voucherify.setFaults({ slowRate: 1, slowMs: 1500 });
    const id = `multi-steer-${Date.now()}`;
    const started = await h.bulkport([
      'import',
      file,
      '-t',
      'voucherify,propeller',
      ...mappings,
      '--id',
      id,
      '--chunk-size',
      '50',
      '--chunk-bytes',
      '8000',
      '--concurrency',
      '2',
      '--fixed-concurrency',
    ]);
    assert.equal(started.code, 0, started.stderr);
    const child = (target: string) => h.t.client.workflow.getHandle(`${id}-${target}`);
    await eventually('both children sending', async () => {
      const ps = await Promise.all(
        ['voucherify', 'propeller'].map((t) =>
          child(t)
            .query(progressQuery)
            .catch(() => undefined),
        ),
      );
      return ps.every((p) => p && p.chunks.done > 0) ? true : undefined;
    });
    assert.equal((await h.bulkport(['pause', id])).code, 0);
    await eventually('both paused', async () => {
      const ps = await Promise.all(['voucherify', 'propeller'].map((t) => child(t).query(progressQuery)));
      return ps.every((p) => p.paused) ? true : undefined;
    });
    const status = await h.bulkport(['status', id]);
    assert.match(status.stdout, new RegExp(`${id}-voucherify\\s+Paused`));
    assert.match(status.stdout, new RegExp(`${id}-propeller\\s+Paused`));

    const cancelled = await h.bulkport(['cancel', id, '--reason', 'test', '--wait']);
    h.propeller.setFaults({});
    h.voucherify.setFaults({});
    assert.equal(cancelled.code, ExitCode.partial, cancelled.stderr);
    assert.match(cancelled.stdout, /Import into voucherify and propeller cancelled/);
    const summary = (await h.t.client.workflow.getHandle(id).result()) as MultiImportSummary;
    for (const c of summary.imports) {
      assert.equal(c.summary?.status, 'cancelled', c.target);
      assert.equal(c.summary?.cancelReason, 'test');
      const counts = c.summary!.counts;
      assert.ok(counts.notSubmitted > 0, `${c.target} left products unsent`);
      assert.equal(counts.succeeded + counts.failed + counts.invalid + counts.notSubmitted, counts.read, `${c.target}: a row each`);
    }
  });
});
