/**
 * A storm: every answer of the Voucherify sandbox is a 5xx for a window (3 minutes by default) while 4 chunks are in
 * flight, through a real Temporal dev server and worker. Counts the requests the sandbox saw in the window (by endpoint
 * and per 30 s), then lets the import finish.
 *
 *   node --import tsx bench/storm.ts [--window-seconds 180]
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startImport } from '../client';
import type { SandboxStats } from '../sandbox';
import { writeCatalog } from '../scripts/catalog';
import { startLocalStack } from '../scripts/local-stack';

const { values } = parseArgs({ options: { 'window-seconds': { type: 'string', default: '180' } } });
const windowMs = Number(values['window-seconds']) * 1000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const total = (stats: SandboxStats, prefix = '') =>
  Object.entries(stats.requests)
    .filter(([endpoint]) => endpoint.startsWith(prefix))
    .flatMap(([, byStatus]) => Object.values(byStatus))
    .reduce((a, b) => a + b, 0);

// 8 chunks of 1000 products, 4 in flight; the sandbox works 500 products/s, so all 4 are still being polled when the storm starts.
const stack = await startLocalStack({ log: () => {}, sandboxOptions: { voucherify: { productsPerSecond: 500 } } });
try {
  const catalog = { target: 'voucherify', count: 8000, format: 'jsonl', keyPrefix: 'storm' } as const;
  const file = await writeCatalog(path.resolve('.bulkport/bench', 'storm-8000.jsonl'), catalog);
  const options = { maxItemsPerChunk: 1000, concurrency: 4, pollIntervalMs: 500, retryBackoffMs: 1000 };
  const started = performance.now();
  const request = { target: 'voucherify', source: { location: file }, options } as never;
  const handle = await startImport(stack.client, request, { workflowId: `bench-storm-${Date.now()}` });
  const sandbox = stack.voucherify;
  while (total(sandbox.stats(), 'POST /v1/products/bulk/async') < 4) await sleep(50);

  sandbox.setFaults({ serverErrorRate: 1 });
  const before = sandbox.stats();
  const slices: number[] = [];
  let last = total(before);
  for (let t = 0; t < windowMs; t += 30_000) {
    await sleep(Math.min(30_000, windowMs - t));
    const now = total(sandbox.stats());
    slices.push(now - last);
    last = now;
  }
  const during = sandbox.stats();
  sandbox.setFaults({});
  const counted = Object.keys(during.requests).map((endpoint) => [endpoint, total(during, endpoint) - total(before, endpoint)] as const);
  const byEndpoint = Object.fromEntries(counted.filter(([, n]) => n));

  const summary = await handle.result();
  console.log(
    JSON.stringify({
      windowSeconds: windowMs / 1000,
      chunksInFlight: 4,
      requestsInWindow: total(during) - total(before),
      requestsPer30s: slices,
      byEndpoint,
      status: summary.status,
      succeeded: summary.counts.succeeded,
      failed: summary.counts.failed,
      retryRounds: summary.counts.retryRounds,
      seconds: Number(((performance.now() - started) / 1000).toFixed(1)),
    }),
  );
} finally {
  await stack.shutdown();
}
