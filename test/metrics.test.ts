/**
 * The worker's Prometheus endpoint (BULKPORT_METRICS_ADDRESS): `npm run worker` in a process of its own imports into
 * the Propeller sandbox, which answers some requests 429 and fails some products for longer than the import retries;
 * the scrape's counters must equal the import's summary and the sandbox's own count of the requests it answered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { startImport, type ImportSummary } from '../client';
import { METRIC } from '../common/metrics';
import { freePort } from '../scripts/chaos-processes';
import { writeCatalog } from '../scripts/catalog';
import { eventually, spawnWorkerProcess, tempDir, uniqueTaskQueue, useTemporal } from './helpers';
import { onEnd, sandboxFor } from './harness';

const t = useTemporal();

interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** The Prometheus text format's samples (comments dropped). */
function parseSamples(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)/.exec(line);
    if (!m) continue;
    const labels = Object.fromEntries([...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k!, v!]));
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The sum over every series of `name` whose labels include `where` (the SDK adds its own, activity_type and others). */
const sum = (samples: Sample[], name: string, where: Record<string, string>) =>
  samples
    .filter((s) => s.name === name && Object.entries(where).every(([k, v]) => s.labels[k] === v))
    .reduce((total, s) => total + s.value, 0);

test('the worker serves per-target metrics that agree with the import summary and with the target', async (ctx) => {
  const sandbox = await sandboxFor(ctx, 'propeller', {
    seed: 11,
    // Products failing 5 times outlast the one retry round: some end failed. 429 bursts make rate-limit answers.
    faults: { productFailureRate: 0.03, productFailureAttempts: 5, rateLimitBurstRate: 0.15, rateLimitBurstLength: 2 },
  });
  const dir = await tempDir('metrics');
  const catalog = { target: 'propeller', count: 3000, format: 'jsonl', invalidEvery: 100, keyPrefix: 'metrics' } as const;
  const file = await writeCatalog(path.join(dir, 'catalog.jsonl'), catalog);
  const address = `127.0.0.1:${await freePort()}`;
  const taskQueue = uniqueTaskQueue('metrics');
  const worker = spawnWorkerProcess({
    targetEnv: sandbox.env,
    taskQueue,
    stagingDir: path.join(dir, 'staging'),
    extraEnv: { BULKPORT_METRICS_ADDRESS: address },
  });
  onEnd(ctx, () => worker.kill());

  const handle = await startImport(
    t.client,
    { target: 'propeller', source: { location: file }, options: { chunkSize: 200, retryRounds: 1, retryBackoffMs: 100 } },
    { taskQueue, workflowId: `metrics-${Date.now()}` },
  );
  const summary: ImportSummary = await handle.result();
  const { succeeded, failed, invalid } = summary.counts;
  assert.ok(succeeded > 0 && failed > 0 && invalid > 0, `every outcome occurs: ${JSON.stringify(summary.counts)}`);

  const scrape = async () => parseSamples(await (await fetch(`http://${address}/metrics`)).text());
  const products = (samples: Sample[], outcome: string) => sum(samples, METRIC.products, { target: 'propeller', outcome });
  // The final counts are recorded with the workflow's last task; the exporter may see them a moment after the result.
  const samples = await eventually(
    'the product counters',
    async () => {
      const s = await scrape();
      return products(s, 'succeeded') > 0 ? s : undefined;
    },
    10_000,
  );
  assert.equal(products(samples, 'succeeded'), succeeded);
  assert.equal(products(samples, 'failed'), failed);
  assert.equal(products(samples, 'invalid'), invalid);
  assert.equal(products(samples, 'not-submitted'), 0);

  // Every answer the sandbox gave, by status, is one request in the metrics (the token request included).
  const answered = new Map<string, number>();
  for (const byStatus of Object.values(sandbox.stats().requests))
    for (const [status, n] of Object.entries(byStatus)) answered.set(status, (answered.get(status) ?? 0) + n);
  assert.ok((answered.get('429') ?? 0) > 0, 'the sandbox answered some requests 429');
  for (const [status, n] of answered)
    assert.equal(sum(samples, METRIC.requests, { target: 'propeller', status }), n, `requests answered ${status}`);
  assert.equal(sum(samples, METRIC.rateLimited, { target: 'propeller' }), answered.get('429'));

  // The latency histogram: one observation per answer, each within the test's own duration.
  const requests = [...answered.values()].reduce((a, b) => a + b, 0);
  const latencyCount = sum(samples, `${METRIC.requestSeconds}_count`, { target: 'propeller' });
  const latencySum = sum(samples, `${METRIC.requestSeconds}_sum`, { target: 'propeller' });
  assert.equal(latencyCount, requests);
  const elapsedSeconds = summary.timings.durationMs / 1000;
  assert.ok(latencySum > 0 && latencySum / latencyCount < elapsedSeconds, `mean latency ${latencySum / latencyCount} s`);
  assert.ok(
    sum(samples, `${METRIC.requestSeconds}_bucket`, { target: 'propeller', le: '+Inf' }) === requests,
    'the +Inf bucket holds every answer',
  );
  // A 429 closes the quota gate until its Retry-After: the chunk sent again waited for it, and so did any sent meanwhile.
  const waits = sum(samples, `${METRIC.quotaWaitSeconds}_count`, { target: 'propeller' });
  assert.ok(waits >= 1 && waits <= summary.counts.chunks + answered.get('429')!, `quota waits: ${waits}`);
  assert.ok(sum(samples, `${METRIC.quotaWaitSeconds}_sum`, { target: 'propeller' }) > 0, 'the waits took time');
  // The SDK's own metrics are served beside ours.
  assert.ok(
    samples.some((s) => s.name.startsWith('temporal_')),
    'the SDK metrics are served too',
  );
});
