/**
 * The built worker (`npm run build`, what the Dockerfile runs): dist/worker.js in a process of its own, without tsx,
 * runs the workflow bundle built beside it (the one without the tracing interceptors; a worker that traces takes the
 * other) and stages in its own compiled thread (dist/stage-thread.js), and imports every product of a Voucherify catalog.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startImport } from '../client';
import { writeCatalog } from '../scripts/catalog';
import { buildDist } from '../scripts/build';
import { BUNDLE_FILES } from '../workers/worker';
import { eventually, spawnWorkerProcess, tempDir, uniqueTaskQueue, useTemporal } from './helpers';
import { onEnd, sandboxFor } from './harness';

const t = useTemporal();
const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

test('the built worker imports a catalog without a TypeScript loader, with its own workflow bundle and staging thread', async (ctx) => {
  // Inside the repository, so that the build's imports of packages find node_modules as dist/ does.
  const dist = path.join(root, '.test-output', `dist-${process.pid}`);
  await buildDist(dist);
  onEnd(ctx, () => rm(dist, { recursive: true, force: true }));
  const sandbox = await sandboxFor(ctx, 'voucherify', { seed: 5 });
  const dir = await tempDir('dist-worker');
  const file = await writeCatalog(path.join(dir, 'catalog.jsonl'), {
    target: 'voucherify',
    count: 3000,
    format: 'jsonl',
    invalidEvery: 500,
    keyPrefix: 'dist',
  });
  const taskQueue = uniqueTaskQueue('dist');
  const worker = spawnWorkerProcess({
    args: [path.join(dist, 'worker.js')],
    targetEnv: sandbox.env,
    taskQueue,
    stagingDir: path.join(dir, 'staging'),
    // The test run's own bundle is not this worker's: it must find the one built beside it.
    extraEnv: { BULKPORT_WORKFLOW_BUNDLE: '', BULKPORT_STAGE_THREAD: '1' },
  });
  onEnd(ctx, () => worker.kill());

  const handle = await startImport(
    t.client,
    { target: 'voucherify', source: { location: file }, options: { chunkBytes: 100_000, pollIntervalMs: 100 } },
    { taskQueue, workflowId: `dist-${Date.now()}` },
  );
  const summary = await handle.result();
  assert.deepEqual(
    { succeeded: summary.counts.succeeded, invalid: summary.counts.invalid, failed: summary.counts.failed },
    { succeeded: 2994, invalid: 6, failed: 0 },
  );
  assert.equal(sandbox.stats().productsStored, 2994, 'the target holds every valid product');
  assert.ok(summary.counts.chunks > 1, `several chunks: ${summary.counts.chunks}`);
  // Tracing is off here, so it runs the bundle without the tracing interceptors; the other one has them.
  assert.match(worker.stderr(), new RegExp(`workflows from ${escapeRegExp(path.join(dist, BUNDLE_FILES.untraced))}`));
  // One that traces runs the bundle with them.
  const traced = spawnWorkerProcess({
    args: [path.join(dist, 'worker.js')],
    targetEnv: sandbox.env,
    taskQueue: uniqueTaskQueue('dist-traced'),
    stagingDir: path.join(dir, 'staging-traced'),
    extraEnv: { BULKPORT_WORKFLOW_BUNDLE: '', OTEL_TRACES_EXPORTER: 'console' },
  });
  onEnd(ctx, () => traced.kill());
  await eventually('the traced worker to start', () => traced.stderr().includes('workflows from') || undefined, 30_000);
  assert.match(traced.stderr(), new RegExp(`workflows from ${escapeRegExp(path.join(dist, BUNDLE_FILES.traced))}`));
  await traced.kill();
  const bundle = await readFile(path.join(dist, BUNDLE_FILES.traced), 'utf8');
  const untraced = await readFile(path.join(dist, BUNDLE_FILES.untraced), 'utf8');
  const code = (text: string) => text.slice(0, text.lastIndexOf('//# sourceMappingURL='));
  const interceptor = 'OpenTelemetryInboundInterceptor';
  assert.ok(code(bundle).includes(interceptor), 'the traced bundle has the interceptors');
  assert.ok(!code(untraced).includes(interceptor), 'the other has none');
  // Its source map maps to our files, without their sources (the SDK sends them only with showStackTraceSources).
  const map = JSON.parse(Buffer.from(bundle.slice(bundle.lastIndexOf('base64,') + 7), 'base64').toString()) as {
    sources: string[];
    mappings: string;
    sourcesContent?: unknown[];
  };
  assert.ok(map.sources.some((source) => source.endsWith('workflows/import.ts')) && map.mappings.length > 1000);
  assert.ok(!('sourcesContent' in map), 'the map holds no sources');
});
