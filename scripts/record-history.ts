/**
 * Records the histories test/replay.test.ts replays, from real imports on this version's code: a Temporal dev server,
 * the import worker with a staging folder, and the targets' sandboxes with seeded faults. One command:
 *
 *   npm run record-histories [-- <folder> [<suffix>]]        (folder: test/fixtures/histories)
 *
 * writes `<scenario>[-suffix].<run>.binpb` for every run of each import's continue-as-new chain (and the account
 * coordinator's run), replacing that name's earlier files. Before a workflow change that needs patched(), record on the
 * code before it with a suffix naming that code (`-- test/fixtures/histories before-<change>`): those files stay
 * beside the unsuffixed ones, which show the newest code (docs/versioning.md).
 * The scenarios (small catalogs, so each file stays a few tens of kB):
 * - voucherify-split-retry: a 413 splits chunks in halves in the workflow (the sandbox's body limit is under a chunk's
 *   size; Propeller halves a chunk inside its activity, which history does not see), flaky products go to retry round
 *   1, 3 chunks per run make a chain of runs; the account's quota coordinator alongside.
 * - propeller-pause-cancel: a slowed Propeller is paused after 2 chunks, resumed, its concurrency raised (an Update),
 *   then cancelled after 5 of 9 chunks; 4 chunks per run make it continue as new before the cancel.
 * Timing differs between recordings (signals land between other events), so files differ; what they cover does not:
 * test/replay.test.ts checks that too.
 */
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Client, WorkflowHandle } from '@temporalio/client';
import proto from '@temporalio/proto';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { startImport, type StartImportRequest } from '../client';
import { LocalFolderStore } from '../activities/staging/store';
import type { ImportProgress } from '../common/import';
import { cancelSignal, pauseSignal, progressQuery, resumeSignal, setConcurrencyUpdate } from '../workflows/messages';
import { devTarget } from '../targets/dev';
import { createImportWorker } from '../workers/worker';
import { writeCatalog } from './catalog';
import { startDevServer } from './dev-server';

const folder = path.resolve(process.argv[2] ?? 'test/fixtures/histories');
const suffix = process.argv[3] ? `-${process.argv[3]}` : '';
const taskQueue = 'record-histories';
const { History } = proto.temporal.api.history.v1;

/** Writes every run of a workflow's chain, oldest first, as `<name>.<n>.binpb`, after removing the scenario's old files. */
async function saveChain(client: Client, workflowId: string, scenario: string): Promise<void> {
  const name = `${scenario}${suffix}`;
  for (const file of await readdir(folder)) if (file.startsWith(`${name}.`)) await rm(path.join(folder, file));
  const runs: string[] = [];
  for await (const run of client.workflow.list({ query: `WorkflowId = '${workflowId}'` })) runs.push(run.runId);
  // The visibility list is newest first; a run's position in the chain is its start.
  const histories = await Promise.all(runs.map((runId) => client.workflow.getHandle(workflowId, runId).fetchHistory()));
  histories.sort((a, b) => Number(a.events?.[0]?.eventTime?.seconds ?? 0) - Number(b.events?.[0]?.eventTime?.seconds ?? 0));
  for (const [i, history] of histories.entries()) {
    const file = path.join(folder, `${name}.${i + 1}.binpb`);
    await writeFile(file, History.encode(history).finish());
    console.log(`${path.relative(process.cwd(), file)}: ${history.events?.length} events`);
  }
}

/** Waits until the import's progress satisfies `ready`. */
async function progressWhen(handle: WorkflowHandle, ready: (p: ImportProgress) => boolean): Promise<void> {
  for (const deadline = Date.now() + 120_000; Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
    if (ready(await handle.query(progressQuery))) return;
  }
  throw new Error('the import did not get there within 2 minutes');
}

Runtime.install({ logger: new DefaultLogger('WARN') });
await mkdir(folder, { recursive: true });
const work = await mkdtemp(path.join(os.tmpdir(), 'bulkport-record-'));
const env = await startDevServer();
const voucherify = await (await devTarget('voucherify')).startSandbox({
  seed: 7,
  // A 6-product chunk of this catalog is about 900 bytes: it gets a 413, its 3-product halves pass.
  maxBodyBytes: 700,
  faults: { productFailureRate: 0.2 },
});
const propeller = await (await devTarget('propeller')).startSandbox({
  seed: 7,
  // 30 ms per product: a 4-product chunk takes 120 ms, so the signals land while chunks are still to send.
  load: { capacity: 8, msPerProduct: 30, slowdown: 0 },
});
try {
  const worker = await createImportWorker({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue,
    env: { ...voucherify.env, ...propeller.env },
    store: new LocalFolderStore(path.join(work, 'staging')),
  });
  await worker.runUntil(async () => {
    const start = async (request: StartImportRequest, workflowId: string, count: number) => {
      const location = await writeCatalog(path.join(work, `${workflowId}.jsonl`), {
        target: request.target,
        format: 'jsonl',
        count,
        invalidEvery: 10,
        keyPrefix: workflowId,
      });
      return startImport(env.client, { ...request, source: { location } }, { taskQueue, workflowId, countRecords: false });
    };

    const split = await start(
      {
        target: 'voucherify',
        source: { location: '' },
        options: { maxItemsPerChunk: 6, chunksPerRun: 3, concurrency: 2, pollIntervalMs: 100, retryBackoffMs: 200 },
      },
      'voucherify-split-retry',
      24,
    );
    const summary = await split.result();
    console.log(`voucherify-split-retry: ${JSON.stringify(summary.counts)}, ${summary.runs} runs`);
    await saveChain(env.client, split.workflowId, 'voucherify-split-retry');
    for await (const coordinator of env.client.workflow.list({ query: `WorkflowType = 'accountQuota'` })) {
      await saveChain(env.client, coordinator.workflowId, 'voucherify-account-quota');
    }

    const steered = await start(
      {
        target: 'propeller',
        source: { location: '' },
        options: { chunkSize: 4, chunksPerRun: 4, concurrency: 1, adaptiveConcurrency: false },
      },
      'propeller-pause-cancel',
      40,
    );
    await progressWhen(steered, (p) => p.succeeded >= 8);
    await steered.signal(pauseSignal);
    await progressWhen(steered, (p) => p.paused && p.inFlight === 0);
    await steered.signal(resumeSignal);
    await steered.executeUpdate(setConcurrencyUpdate, { args: [2] });
    await progressWhen(steered, (p) => p.succeeded >= 20);
    await steered.signal(cancelSignal, 'recording a cancel');
    const cancelled = await steered.result();
    console.log(`propeller-pause-cancel: ${cancelled.status}, ${JSON.stringify(cancelled.counts)}, ${cancelled.runs} runs`);
    await saveChain(env.client, steered.workflowId, 'propeller-pause-cancel');
  });
} finally {
  await Promise.all([voucherify.close(), propeller.close()]);
  await env.teardown();
  await rm(work, { recursive: true, force: true });
}
