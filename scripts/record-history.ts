/**
 * Records the history of one stub import on this version's workflow code, for test/replay.test.ts of later versions:
 *
 *   node --import tsx scripts/record-history.ts test/fixtures/histories/<name>.binpb [workflow id]
 *
 * A 2-chunk Propeller import: staging (5 records, 1 invalid), two chunks answered, the report.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Worker } from '@temporalio/worker';
import proto from '@temporalio/proto';
import { startImport } from '../client';
import { startDevServer } from './dev-server';
import { workflowsPath } from '../workers/worker';

const { temporal } = proto;
// The client checks that the source exists; the stub activities never read it.
const source = path.join(mkdtempSync(path.join(os.tmpdir(), 'bulkport-record-')), 'catalog.jsonl');
writeFileSync(source, '{"sku":"a"}\n');

const counts = (succeeded: number) => ({ succeeded, failed: 0, retryable: 0, invalid: 0, unknownOutcomeRetries: 0 });
const env = await startDevServer();
try {
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: env.namespace ?? 'default',
    taskQueue: 'record',
    workflowsPath,
    activities: {
      stage: async () => ({ read: 5, valid: 4, invalid: 1, chunks: 2 }),
      awaitStaged: async () => ({ chunks: 0, read: 0, valid: 0, invalid: 0, done: false }),
      submitChunk: async () => ({ kind: 'completed', counts: counts(2) }),
      writeReport: async () => ({
        files: { resultsJsonl: '/tmp/r/results.jsonl', resultsCsv: '/tmp/r/results.csv', failedRecords: '/tmp/r/failed.jsonl' },
        counts: { succeeded: 4, failed: 0, invalid: 1, notSubmitted: 0 },
      }),
    },
  });
  await worker.runUntil(async () => {
    const handle = await startImport(
      env.client,
      { target: 'propeller', source: { location: source }, options: { concurrency: 1, adaptiveConcurrency: false } } as never,
      { taskQueue: 'record', workflowId: process.argv[3] ?? 'recorded', countRecords: false } as never,
    );
    console.log(JSON.stringify(await handle.result()).slice(0, 200));
    writeFileSync(process.argv[2]!, temporal.api.history.v1.History.encode(await handle.fetchHistory()).finish());
  });
} finally {
  await env.teardown();
}
