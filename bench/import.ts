/**
 * End-to-end import throughput through a real Temporal dev server, a worker and a sandbox
 * target: products/s, the worker process's peak RSS, and the history size of each run.
 *
 *   node --import tsx bench/import.ts [count=200000] [voucherify|propeller] [chunk bytes or products]
 */
import path from 'node:path';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { Client } from '@temporalio/client';
import { startImport } from '../client';
import type { TargetName } from '../common/import';
import { startPropellerSandbox, startVoucherifySandbox } from '../sandbox';
import { writeCatalog } from '../scripts/catalog';
import { startDevServer } from '../scripts/dev-server';
import { createImportWorker } from '../workers/worker';
import { LocalFolderStore } from '../activities/staging/store';

const count = Number(process.argv[2] ?? 200_000);
const target = (process.argv[3] ?? 'voucherify') as TargetName;
Runtime.install({ logger: new DefaultLogger('WARN') });

const server = await startDevServer();
const sandbox = target === 'voucherify' ? await startVoucherifySandbox({ productsPerSecond: 1_000_000 }) : await startPropellerSandbox();
const dir = path.resolve('.bulkport/bench');
const file = await writeCatalog(path.join(dir, `import-${target}-${count}.jsonl`), { target, count, format: 'jsonl', keyPrefix: 'bench' });
const worker = await createImportWorker({
  connection: server.nativeConnection,
  namespace: 'default',
  taskQueue: 'bench',
  env: sandbox.env,
  store: new LocalFolderStore(path.join(dir, 'staging')),
});
const running = worker.run();
const client = new Client({ connection: server.connection });
const chunk = process.argv[4] ? Number(process.argv[4]) : undefined;
const options = target === 'voucherify'
  ? { pollIntervalMs: 200, chunksPerRun: 50, chunkBytes: chunk }
  : { chunkSize: chunk ?? 1000, chunksPerRun: 50 };

const started = performance.now();
const handle = await startImport(client, { target, source: { location: file }, options } as never, { taskQueue: 'bench', workflowId: `bench-${target}-${Date.now()}` });
const summary = await handle.result();
const seconds = (performance.now() - started) / 1000;

// Every run of the chain: continue-as-new keeps each history short.
const runEvents: number[] = [];
for await (const execution of client.workflow.list({ query: `WorkflowId = '${handle.workflowId}'` })) {
  const history = await client.workflow.getHandle(handle.workflowId, execution.runId).fetchHistory();
  runEvents.push(history.events?.length ?? 0);
}
console.log(JSON.stringify({
  target,
  products: summary.counts.read,
  succeeded: summary.counts.succeeded,
  chunks: summary.counts.chunks,
  runs: summary.runs,
  maxEventsPerRun: Math.max(...runEvents),
  seconds: Number(seconds.toFixed(1)),
  productsPerSecond: Math.round(summary.counts.succeeded / seconds),
  peakRssMiB: Math.round((process.resourceUsage().maxRSS * 1024) / 2 ** 20),
}));
worker.shutdown();
await running;
await sandbox.close();
await server.teardown();
