/**
 * Duplicate submissions: every Voucherify answer (bulk POSTs and polls) comes 45 s late, after the async action
 * was created, i.e. later than the 30 s heartbeat timeout. Counts async actions created against chunks, for
 * bulkport (local stack: Temporal dev server, worker, sandbox) and for a bare script that posts each chunk once.
 *
 *   node --import tsx bench/duplicates.ts [chunks=7] [slow answer ms=45000]
 */
import path from 'node:path';
import { startImport } from '../client';
import { writeCatalog } from '../scripts/catalog';
import { startLocalStack } from '../scripts/local-stack';
import { httpRequest, jsonRequest } from '../sandbox/test-support';

const chunks = Number(process.argv[2] ?? 7);
const slowMs = Number(process.argv[3] ?? 45_000);
const perChunk = 10;

const stack = await startLocalStack({ log: () => {}, sandboxOptions: { voucherify: { productsPerSecond: 1_000_000 } } });
const sandbox = stack.voucherify;
const posts = () => sandbox.stats().requests['POST /v1/products/bulk/async'] ?? {};
const accepted = () => posts()['202'] ?? 0;
sandbox.setFaults({ slowRate: 1, slowMs });

// The bare script: each chunk posted once, in parallel, waiting as long as the answer takes.
sandbox.resetStats();
const keys = { 'x-app-id': sandbox.env.VOUCHERIFY_APP_ID ?? '', 'x-app-token': sandbox.env.VOUCHERIFY_APP_TOKEN ?? '' };
let started = performance.now();
await Promise.all(
  Array.from({ length: chunks }, (_, c) =>
    httpRequest(
      `${sandbox.url}/v1/products/bulk/async`,
      jsonRequest(
        'POST',
        Array.from({ length: perChunk }, (_, i) => ({ source_id: `bare-${c}-${i}` })),
        keys,
      ),
    ),
  ),
);
const bare = { actions: accepted(), posts: posts(), seconds: (performance.now() - started) / 1000 };

sandbox.resetStats();
const catalog = { target: 'voucherify', count: chunks * perChunk, format: 'jsonl', keyPrefix: 'dup' } as const;
const file = await writeCatalog(path.resolve('.bulkport/bench', `duplicates-${chunks}.jsonl`), catalog);
started = performance.now();
const handle = await startImport(
  stack.client,
  {
    target: 'voucherify',
    source: { location: file },
    options: { maxItemsPerChunk: perChunk, concurrency: chunks + 1, pollIntervalMs: 1000 },
  } as never,
  { workflowId: `bench-duplicates-${Date.now()}` },
);
const summary = await handle.result();
const bulkport = {
  chunks: summary.counts.chunks,
  actions: accepted(),
  posts: posts(),
  succeeded: summary.counts.succeeded,
  unknownOutcomeRetries: summary.counts.unknownOutcomeRetries,
  seconds: (performance.now() - started) / 1000,
};
console.log(JSON.stringify({ slowMs, chunks, bare, bulkport, duplicates: bulkport.actions - bulkport.chunks }, null, 1));
await stack.shutdown();
