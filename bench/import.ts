/**
 * End-to-end import throughput through a real Temporal dev server, a worker and a sandbox
 * target (the demo's local stack): products/s, the process's peak RSS, and the history size of each run.
 *
 *   node --import tsx bench/import.ts [count=200000] [voucherify|propeller] [chunk bytes or products]
 */
import path from 'node:path';
import { startImport } from '../client';
import type { TargetName } from '../common/import';
import { writeCatalog } from '../scripts/catalog';
import { devTarget } from '../targets/dev';
import { startLocalStack } from '../scripts/local-stack';

const count = Number(process.argv[2] ?? 200_000);
const target = (process.argv[3] ?? 'voucherify') as TargetName;
const chunk = process.argv[4] ? Number(process.argv[4]) : undefined;

// The Voucherify sandbox works its queue at a million products/s, so the figures measure bulkport.
const stack = await startLocalStack({ log: () => {}, sandboxOptions: { voucherify: { productsPerSecond: 1_000_000 } } });
const file = await writeCatalog(path.resolve('.bulkport/bench', `import-${target}-${count}.jsonl`), {
  target,
  count,
  format: 'jsonl',
  keyPrefix: 'bench',
});
const options = (await devTarget(target)).benchOptions(chunk);

const started = performance.now();
const handle = await startImport(stack.client, { target, source: { location: file }, options } as never, {
  workflowId: `bench-${target}-${Date.now()}`,
});
const summary = await handle.result();
const seconds = (performance.now() - started) / 1000;

// Every run of the chain: continue-as-new keeps each history short.
const runEvents: number[] = [];
for await (const execution of stack.client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) {
  const history = await stack.client.workflow.getHandle(handle.workflowId, execution.runId).fetchHistory();
  runEvents.push(history.events?.length ?? 0);
}
console.log(
  JSON.stringify({
    target,
    products: summary.counts.read,
    succeeded: summary.counts.succeeded,
    chunks: summary.counts.chunks,
    runs: summary.runs,
    maxEventsPerRun: Math.max(...runEvents),
    seconds: Number(seconds.toFixed(1)),
    productsPerSecond: Math.round(summary.counts.succeeded / seconds),
    peakRssMiB: Math.round((process.resourceUsage().maxRSS * 1024) / 2 ** 20),
  }),
);
await stack.shutdown();
