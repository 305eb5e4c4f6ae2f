/**
 * Adaptive concurrency against a Propeller sandbox whose latency grows with load: products/s of the same import at
 * fixed concurrencies and with adaptive concurrency (ceiling 32), in one run, next to a bare script that posts the
 * same chunks straight to the sandbox at its capacity.
 *
 *   node --import tsx bench/adaptive.ts [products=24000] [fixed concurrencies=1,2,4,8,16,32]
 */
import path from 'node:path';
import { startImport } from '../client';
import { writeCatalog } from '../scripts/catalog';
import { startLocalStack } from '../scripts/local-stack';
import type { PropellerLoad } from '../sandbox/propeller';
import { barePropeller } from './bare';

const count = Number(process.argv[2] ?? 24_000);
const fixed = (process.argv[3] ?? '1,2,4,8,16,32').split(',').map(Number);
const chunkSize = 200;
// 0.5 s per 200-product request up to 6 in flight; each one beyond adds half of that to every request.
const load: PropellerLoad = { capacity: 6, msPerProduct: 2.5, slowdown: 0.5 };

const stack = await startLocalStack({ log: () => {}, sandboxOptions: { propeller: { load } } });
const catalog = { target: 'propeller', count, format: 'jsonl', keyPrefix: 'adaptive' } as const;
const file = await writeCatalog(path.resolve('.bulkport/bench', `adaptive-${count}.jsonl`), catalog);

async function runImport(label: string, options: Record<string, unknown>) {
  const started = performance.now();
  const request = { target: 'propeller', source: { location: file }, options: { chunkSize, chunksPerRun: 100, ...options } };
  const handle = await startImport(stack.client, request as never, {
    workflowId: `bench-adaptive-${label.replace(/[^A-Za-z0-9]+/g, '-')}-${Date.now()}`,
  });
  // The adaptive limit over time, sampled twice a second: where the search spends its seconds.
  const trace: string[] = [];
  const sampler = setInterval(() => {
    handle
      .query<{ adaptiveLimit?: number }>('progress')
      .then((p) => p.adaptiveLimit !== undefined && trace.push(`${((performance.now() - started) / 1000).toFixed(1)}s:${p.adaptiveLimit}`))
      .catch(() => {});
  }, 500);
  const summary = await handle.result().finally(() => clearInterval(sampler));
  const seconds = (performance.now() - started) / 1000;
  const progress = await handle.query<{ adaptiveLimit?: number }>('progress');
  return {
    label,
    succeeded: summary.counts.succeeded,
    seconds: Number(seconds.toFixed(1)),
    productsPerSecond: Math.round(summary.counts.succeeded / seconds),
    ...(progress.adaptiveLimit !== undefined ? { finalLimit: progress.adaptiveLimit, trace: trace.join(' ') } : {}),
  };
}

/** The bare script (bench/bare.ts): the same catalog posted straight to the sandbox by `capacity` loops. */
async function bare(concurrency: number) {
  const started = performance.now();
  await barePropeller(stack.propeller.env, file, chunkSize, concurrency);
  const seconds = (performance.now() - started) / 1000;
  return {
    label: `bare script, concurrency ${concurrency}`,
    seconds: Number(seconds.toFixed(1)),
    productsPerSecond: Math.round(count / seconds),
  };
}

const results = [];
try {
  results.push(await bare(load.capacity));
  console.log(JSON.stringify(results.at(-1)));
  for (const n of fixed) {
    results.push(await runImport(`fixed ${n}`, { adaptiveConcurrency: false, concurrency: n, maxConcurrency: 32 }));
    console.log(JSON.stringify(results.at(-1)));
  }
  results.push(await runImport('adaptive, ceiling 32', { adaptiveConcurrency: true, concurrency: 32, maxConcurrency: 32 }));
  console.log(JSON.stringify(results.at(-1)));
  const best = Math.max(...results.filter((r) => r.label.startsWith('fixed')).map((r) => r.productsPerSecond));
  const adaptive = results.at(-1)!.productsPerSecond;
  console.log(
    JSON.stringify({
      load,
      products: count,
      chunkSize,
      bestFixed: best,
      adaptive,
      adaptiveOfBest: `${Math.round((adaptive / best) * 100)}%`,
    }),
  );
} finally {
  await stack.shutdown();
}
