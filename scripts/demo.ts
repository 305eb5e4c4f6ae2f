/**
 * `npm start`: the whole of bulkport on one machine, no credentials needed. Starts the Temporal
 * dev server with its Web UI, both sandbox targets and a worker, imports a generated catalog,
 * and prints the summary. In a terminal it keeps everything up until Ctrl-C so the run can be
 * explored in the Web UI; otherwise (CI, pipes) it exits after the summary.
 *
 *   npm start -- --target propeller --count 50000
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Runtime, DefaultLogger } from '@temporalio/worker';
import { connectClient, startImport, type ImportSummary } from '../client';
import type { TargetName } from '../common/import';
import { temporalConfigFromEnv, workflowUiLink } from '../common/temporal-config';
import { startPropellerSandbox, startVoucherifySandbox } from '../sandbox';
import { connectWorker, createImportWorker } from '../workers/worker';
import { progressQuery } from '../workflows/messages';
import { writeCatalog } from './catalog';
import { startDevServer } from './dev-server';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: 'voucherify' },
    count: { type: 'string', default: '20000' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log('Usage: npm start -- [--target voucherify|propeller] [--count 20000]\nImports a generated catalog into a local sandbox through a local Temporal dev server.');
  process.exit(0);
}
const target = args.target as TargetName;
const count = Number(args.count);
if (!['voucherify', 'propeller'].includes(target) || !Number.isInteger(count) || count < 1) {
  console.error('--target must be voucherify or propeller, and --count a positive whole number');
  process.exit(2);
}

Runtime.install({ logger: new DefaultLogger('WARN') });
const say = (line: string) => console.log(line);

say('Starting the Temporal dev server and Web UI …');
const server = await startDevServer({ ui: true, log: say });
const uiPort = Number(server.address.split(':').pop()) + 1000;
process.env.TEMPORAL_ADDRESS = server.address;
process.env.TEMPORAL_UI_URL = `http://localhost:${uiPort}`;
const config = temporalConfigFromEnv();

// A few transient product failures, so the demo shows a retry round.
const voucherify = await startVoucherifySandbox({ seed: 42, faults: { productFailureRate: 0.01 } });
const propeller = await startPropellerSandbox({ seed: 42, faults: { productFailureRate: 0.01 } });
say(`Sandboxes: Voucherify ${voucherify.url}, Propeller ${propeller.url}`);

const catalog = await writeCatalog(path.resolve('.bulkport/demo', `catalog-${target}.jsonl`), { target, count, format: 'jsonl', invalidEvery: 1000, keyPrefix: 'demo' });
say(`Catalog: ${count.toLocaleString('en-US')} generated products (every 1000th invalid on purpose) in ${catalog}`);

const connection = await connectWorker(config);
const worker = await createImportWorker({
  connection,
  namespace: config.namespace,
  taskQueue: config.taskQueue,
  env: { ...process.env, ...voucherify.env, ...propeller.env },
});
const workerRun = worker.run();

const client = await connectClient(config);
const options = target === 'voucherify' ? { chunkBytes: 1_000_000, pollIntervalMs: 250, retryBackoffMs: 1000 } : { chunkSize: 1000, retryBackoffMs: 1000 };
const handle = await startImport(client, { target, source: { location: catalog }, options } as never);
say(`Import started: ${workflowUiLink(config, handle.workflowId)}`);

let finished = false;
const ticker = setInterval(async () => {
  const p = await handle.query(progressQuery).catch(() => undefined);
  if (p && !finished) say(`  ${p.phase}: ${p.succeeded + p.failed + p.rejected}/${p.valid || '?'} done, ${p.inFlight} in flight, ${p.throughputPerSecond}/s`);
}, 2000);
let summary: ImportSummary;
try {
  summary = await handle.result();
} finally {
  finished = true;
  clearInterval(ticker);
}
say('');
say(`Import ${summary.status}: ${summary.counts.succeeded.toLocaleString('en-US')} succeeded, ${summary.counts.failed} failed, ${summary.counts.invalid} invalid of ${summary.counts.read.toLocaleString('en-US')} read, in ${summary.counts.chunks} chunks and ${(summary.timings.durationMs / 1000).toFixed(1)} s`);
say(`Results:        ${summary.files.resultsCsv}`);
say(`Failed records: ${summary.files.failedRecords}`);
say(`Web UI:         ${workflowUiLink(config, handle.workflowId)}`);

async function shutdown(): Promise<void> {
  worker.shutdown();
  await workerRun;
  await connection.close();
  await client.connection.close();
  await Promise.all([voucherify.close(), propeller.close()]);
  await server.teardown();
}

if (process.stdout.isTTY && !process.env.CI) {
  say('\nThe dev server, its Web UI and the sandboxes stay up; press Ctrl-C to stop.');
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
}
await shutdown();
process.exit(summary.status === 'completed' ? 0 : 1);
