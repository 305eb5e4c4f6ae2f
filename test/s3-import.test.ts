/**
 * Imports staged in a bucket on a real MinIO server: the import's report is true line by line; `bulkport report` reads
 * it from the bucket and hands out presigned links that download it; retention puts tag-filtered lifecycle rules that
 * MinIO reads back; `bulkport clean` empties an ended import's chunks from the bucket and keeps its report.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { GetBucketLifecycleConfigurationCommand } from '@aws-sdk/client-s3';
import { importPrefix, reportKey } from '../activities/staging/files';
import { startImport, type ImportSummary } from '../client';
import { RETRY_ROUNDS, writeCheckedCatalog } from '../scripts/chaos';
import { createImportWorker } from '../workers/worker';
import { tempDir, uniqueTaskQueue, useTemporal } from './helpers';
import { onEnd, sandboxFor } from './harness';
import { assertReportTrue, type TestBucket, testBucket } from './s3';

const t = useTemporal();

/** `bulkport …` as a user runs it, with the environment given over this process's (the AWS variables included). */
function cli(args: string[], env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'client/cli.ts', ...args], {
    encoding: 'utf8',
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', ...env },
  });
}

let imported: { bucket: TestBucket; summary: ImportSummary; id: string } | undefined;

test('an import staged in a bucket: every report row is true, and the report lives in the bucket', async (ctx) => {
  const bucket = await testBucket('import');
  const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 5, faults: { productFailureRate: 0.02 } });
  const taskQueue = uniqueTaskQueue('s3-import');
  const worker = await createImportWorker({
    connection: t.connection,
    namespace: t.namespace,
    taskQueue,
    env: sandbox.env,
    store: bucket.store,
    // Staging in its own thread, which rebuilds the store from the bucket's URL (the two-worker test stages inline).
    stageInThread: true,
    workflowBundlePath: process.env.BULKPORT_WORKFLOW_BUNDLE,
  });
  const running = worker.run();
  onEnd(ctx, async () => {
    worker.shutdown();
    await running;
  });
  const { catalog, file } = await writeCheckedCatalog(path.join(await tempDir('s3-import'), 'catalog.jsonl'), 'voucherify', 2000, 's3imp');
  const id = `s3-import-${Date.now()}`;
  const handle = await startImport(
    t.client,
    {
      target: 'voucherify',
      source: { location: file },
      options: { chunkBytes: 30_000, pollIntervalMs: 100, retryBackoffMs: 100, retryRounds: RETRY_ROUNDS },
    },
    { taskQueue, workflowId: id },
  );
  const summary = (await handle.result()) as ImportSummary;
  assert.equal(summary.status, 'completed');
  assert.ok(summary.counts.chunks > 5, `several chunks (${summary.counts.chunks})`);
  assert.ok(summary.counts.retryRounds >= 1, 'a retry round read its products back from the bucket');
  assert.equal(summary.files.resultsJsonl, `s3://${bucket.bucket}/staging/${reportKey(id, 'results.jsonl')}`);

  await assertReportTrue({ bucket, id, sandbox, catalog, summary });
  assert.ok((await bucket.store.list(`${importPrefix(id)}/chunks/r`)).length >= summary.counts.chunks, 'the chunks are in the bucket');
  imported = { bucket, summary, id };
});

test('bulkport report reads the report from the bucket, and its presigned links download it', async () => {
  assert.ok(imported, 'the import above ran');
  const { bucket, id } = imported;
  const csv = await bucket.store.readText(reportKey(id, 'results.csv'));
  const printed = cli(['report', id]);
  assert.equal(printed.status, 0, printed.stderr);
  assert.equal(printed.stdout, csv);

  const out = await tempDir('s3-report-out');
  const copied = cli(['report', id, '--out', out]);
  assert.equal(copied.status, 0, copied.stderr);
  assert.deepEqual((await readdir(out)).sort(), ['failed-records.jsonl', 'invalid-rows.jsonl', 'results.csv', 'results.jsonl']);
  assert.equal(await readFile(path.join(out, 'results.jsonl'), 'utf8'), await bucket.store.readText(reportKey(id, 'results.jsonl')));

  const linked = cli(['report', id, '--links', '--expires-in', '30m', '--json']);
  assert.equal(linked.status, 0, linked.stderr);
  const { links } = JSON.parse(linked.stdout) as { links: Record<string, string> };
  assert.deepEqual(Object.keys(links).sort(), ['failedRecords', 'invalidRows', 'resultsCsv', 'resultsJsonl']);
  // A link carries its own signature: fetched without any credentials, it gives the file.
  const answer = await fetch(links.resultsCsv!);
  assert.equal(answer.status, 200);
  assert.equal(await answer.text(), csv);
  assert.match(links.resultsCsv!, /X-Amz-Expires=1800/);
  const tampered = await fetch(links.resultsCsv!.replace('results.csv', 'results.jsonl'));
  assert.equal(tampered.status, 403, 'a link opens only its own file');

  // Without credentials, the message names the variables to set (no instance metadata or profile to fall back on).
  const noCredentials = cli(['report', id], {
    AWS_ACCESS_KEY_ID: '',
    AWS_SECRET_ACCESS_KEY: '',
    AWS_EC2_METADATA_DISABLED: 'true',
    AWS_CONFIG_FILE: '/nonexistent',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent',
  });
  assert.equal(noCredentials.status, 1);
  assert.match(noCredentials.stderr, /No credentials for the staging bucket .*: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  const wrongSecret = cli(['report', id], { AWS_SECRET_ACCESS_KEY: 'not-the-secret' });
  assert.equal(wrongSecret.status, 1);
  assert.match(wrongSecret.stderr, /refused the credentials .*check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY/);
  const missingBucket = cli(['retention', 'show', '--staging-url', `s3://no-such-${bucket.bucket}/staging`]);
  assert.equal(missingBucket.status, 1);
  assert.match(missingBucket.stderr, /Bucket no-such-.* does not exist at http:\/\/127\.0\.0\.1:\d+: check BULKPORT_STAGING_URL/);
  // A worker checks its bucket before it polls, and stops naming the fix.
  const worker = spawnSync(process.execPath, ['--import', 'tsx', 'workers/main.ts'], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, BULKPORT_STAGING_URL: `s3://no-such-${bucket.bucket}/staging`, TEMPORAL_TASK_QUEUE: 'never-polled' },
  });
  assert.equal(worker.status, 1, worker.stderr);
  assert.match(worker.stderr, /bulkport worker: Bucket no-such-.* does not exist at .*: check BULKPORT_STAGING_URL/);
});

test('retention puts lifecycle rules by kind; clean empties an ended import from the bucket and keeps its report', async () => {
  assert.ok(imported, 'the import above ran');
  const { bucket, id } = imported;
  const url = bucket.url;
  assert.match(
    cli(['retention', 'apply', '--chunks', '7d', '--reports', '3d', '--staging-url', url]).stderr,
    /at least as long as the chunks/,
  );
  assert.match(cli(['retention', 'apply', '--chunks', '12h', '--reports', '3d', '--staging-url', url]).stderr, /whole days/);
  const applied = cli(['retention', 'apply', '--chunks', '7d', '--reports', '30d', '--staging-url', url]);
  assert.equal(applied.status, 0, applied.stderr);
  // Read back from MinIO itself, not from what the command printed.
  const { Rules } = await bucket.store.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: bucket.bucket }));
  const byKind = Object.fromEntries(
    (Rules ?? []).map((r) => [
      r.Filter?.And?.Tags?.[0]?.Value,
      { days: r.Expiration?.Days, prefix: r.Filter?.And?.Prefix, status: r.Status },
    ]),
  );
  assert.deepEqual(byKind, {
    data: { days: 7, prefix: 'staging/imports/', status: 'Enabled' },
    report: { days: 30, prefix: 'staging/imports/', status: 'Enabled' },
  });
  const again = cli(['retention', 'apply', '--chunks', '2d', '--reports', '9d', '--staging-url', url, '--json']);
  assert.equal(again.status, 0, again.stderr);
  const shown = JSON.parse(cli(['retention', 'show', '--staging-url', url, '--json']).stdout) as {
    rules: { Expiration: { Days: number } }[];
  };
  assert.deepEqual(
    shown.rules.map((r) => r.Expiration.Days),
    [2, 9],
    'applied again, the rules are replaced, not added',
  );

  const young = JSON.parse(cli(['clean', '--staging-url', url, '--older-than', '1d', '--json']).stdout) as {
    imports: { skipped?: string }[];
  };
  assert.match(young.imports[0]?.skipped ?? '', /ended \d+ min ago/);
  assert.ok((await bucket.store.list(`${importPrefix(id)}/chunks/r`)).length > 0, 'nothing removed too early');
  const cleaned = cli(['clean', '--staging-url', url, '--json']);
  assert.equal(cleaned.status, 0, cleaned.stderr);
  const [result] = (JSON.parse(cleaned.stdout) as { imports: { id: string; status: string; removed: string[]; bytes: number }[] }).imports;
  assert.equal(result?.id, id);
  assert.equal(result?.status, 'COMPLETED');
  assert.deepEqual(result?.removed, ['chunks', 'heads', 'invalid.jsonl', 'meta.json', 'outcomes', 'rounds', 'staged.json']);
  assert.ok(result.bytes > 100_000, `${result.bytes} bytes`);
  assert.deepEqual(await bucket.store.list(`${importPrefix(id)}/`), [`${importPrefix(id)}/owner.json`, `${importPrefix(id)}/report`]);
  assert.equal(cli(['report', id]).stdout, await bucket.store.readText(reportKey(id, 'results.csv')), 'the report still reads');
});
