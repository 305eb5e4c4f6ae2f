/**
 * Delta sync and dry run on a large catalog: `node --import tsx bench/delta.ts [propeller|voucherify] [products] [changed %]`
 * (defaults: propeller, 1,000,000, 1). Imports the catalog with --skip-unchanged (an empty ledger: all is sent), then
 * a copy in which the given share changed (delta), the same in full, and dry runs with and without delta sync; prints
 * each run's time, the products the sandbox received and the process's peak RSS. The sandbox runs in its own process.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { once } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { LocalFolderStore } from '../activities/staging/store';
import { connectClient, startDryRun, startImport } from '../client';
import type { TargetName } from '../common/import';
import { writeCatalog } from '../scripts/catalog';
import { startDevServer } from '../scripts/dev-server';
import { bundleWorkflows, createImportWorker, installRuntime } from '../workers/worker';
import { startSandboxProcess } from './sandbox-process';

const target = (process.argv[2] ?? 'propeller') as TargetName;
const count = Number(process.argv[3] ?? 1_000_000);
const changedPercent = Number(process.argv[4] ?? 1);
const every = Math.round(100 / changedPercent);

installRuntime();
const work = await mkdtemp(path.join(os.tmpdir(), 'bulkport-bench-delta-'));
const server = await startDevServer();
const sandbox = await startSandboxProcess(target);
const client = await connectClient({ address: server.address, namespace: 'default', taskQueue: 'x', uiUrl: '' } as never);
const bundlePath = path.join(work, 'bundle.js');
await writeFile(bundlePath, await bundleWorkflows());
const taskQueue = `bench-delta-${process.pid}`;
const worker = await createImportWorker({
  connection: server.nativeConnection,
  namespace: 'default',
  taskQueue,
  env: sandbox.env,
  store: new LocalFolderStore(path.join(work, 'staging')),
  workflowBundlePath: bundlePath,
});
const running = worker.run();

let peak = 0;
const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 100);
const statsUrl = `${sandbox.env.VOUCHERIFY_API_URL ?? sandbox.env.PROPELLER_API_URL}/_sandbox/stats`;
const received = async () => ((await (await fetch(statsUrl)).json()) as { productsReceived: number }).productsReceived;

/** v2: every `every`-th record's price changed (the text of its number, so the catalog's shape stays the same). */
async function changedCopy(from: string, to: string): Promise<void> {
  const out = createWriteStream(to);
  let i = 0;
  for await (const line of readline.createInterface({ input: createReadStream(from), crlfDelay: Infinity })) {
    const text = i++ % every === 7 % every ? line.replace(/"price":(\d+(\.\d+)?)/, (_, p) => `"price":${Number(p) + 1}`) : line;
    if (!out.write(`${text}\n`)) await once(out, 'drain');
  }
  out.end();
  await once(out, 'finish');
}

const v1 = await writeCatalog(path.join(work, 'v1.jsonl'), { target, count, format: 'jsonl', keyPrefix: 'bench' });
const v2 = path.join(work, 'v2.jsonl');
await changedCopy(v1, v2);
const base = target === 'propeller' ? { adaptiveConcurrency: false, concurrency: 4 } : { pollIntervalMs: 200 };

const rows: Record<string, string | number>[] = [];
async function timed(name: string, run: () => Promise<Record<string, number | undefined>>): Promise<void> {
  const before = await received();
  peak = 0;
  const started = Date.now();
  const counts = await run();
  rows.push({
    run: name,
    seconds: (Date.now() - started) / 1000,
    sent: (await received()) - before,
    ...Object.fromEntries(Object.entries(counts).map(([k, v]) => [k, v ?? '-'])),
    peakRssMb: Math.round(peak / 2 ** 20),
  });
  console.error(JSON.stringify(rows.at(-1)));
}
let n = 0;
const importOf = (file: string, options: object) => async () => {
  const request = { target, source: { location: file }, options: { ...base, ...options } } as never;
  const { counts } = await (await startImport(client, request, { taskQueue, workflowId: `${taskQueue}-${++n}` })).result();
  return { succeeded: counts.succeeded, unchanged: counts.unchanged };
};
const dryRunOf = (file: string, options: object) => async () => {
  const request = { target, source: { location: file }, options: { ...base, ...options } } as never;
  const plan = await (await startDryRun(client, request, { taskQueue, workflowId: `${taskQueue}-${++n}` })).result();
  return { valid: plan.counts.valid, unchanged: plan.counts.unchanged };
};

try {
  await timed('import v1, --skip-unchanged (empty ledger)', importOf(v1, { skipUnchanged: true }));
  await timed(`dry run v2 (${changedPercent}% changed), --skip-unchanged`, dryRunOf(v2, { skipUnchanged: true }));
  await timed('dry run v2, no delta', dryRunOf(v2, {}));
  await timed(`import v2 (${changedPercent}% changed), --skip-unchanged`, importOf(v2, { skipUnchanged: true }));
  await timed('import v2 again, --full', importOf(v2, { skipUnchanged: true, full: true }));
  console.log(
    `${target}, ${count.toLocaleString('en-US')} products, load average ${os
      .loadavg()
      .map((l) => l.toFixed(1))
      .join(' ')}`,
  );
  console.table(rows);
} finally {
  clearInterval(sampler);
  worker.shutdown();
  await running;
  await sandbox.stop();
  await client.connection.close();
  await server.teardown();
  await rm(work, { recursive: true, force: true });
}
