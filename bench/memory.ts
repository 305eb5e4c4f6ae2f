/**
 * The worker's memory, as a user runs it: `workers/main.ts` in a process of its own (as the Dockerfile starts it),
 * one or more imports in a row with default options, the worker's RSS sampled from /proc every 100 ms. Prints a JSON
 * line per import (its time, the worker's CPU seconds, its peak RSS during it, its RSS after it) and the process's
 * high-water mark. The first import starts once the worker polls its task queue (workerStartSeconds after its spawn):
 * before 2026-12-07 it started at the spawn, and its time and CPU held the worker's start too.
 *
 *   node --import tsx bench/memory.ts [voucherify|propeller] [products=1000000] [imports=1]
 *
 * The worker gets the image's environment (its Dockerfile's ENV lines: bench/image-env.ts): MALLOC_ARENA_MAX and
 * NODE_OPTIONS as it sets them, unless MALLOC_ARENA_MAX or WORKER_NODE_OPTIONS is set (empty: glibc's and Node's
 * defaults). WORKER_NODE_OPTIONS is the worker's NODE_OPTIONS alone (e.g. --max-old-space-size=384);
 * WORKER_NODE_ARGS are flags before its script, for those NODE_OPTIONS refuses (--optimize-for-size, --cpu-prof).
 * BENCH_WORKER_STDOUT=1 shows the worker's stdout (--trace-gc writes there); its stderr is always shown.
 * BENCH_STAGING=s3 stages in a bucket of a MinIO server the bench starts (scripts/minio-server.ts, built on first use)
 * instead of a local folder; MinIO's own peak RSS is printed too.
 * BENCH_TIMELINE=1 prints the worker's RSS every half second of each import on stderr: when its peak comes.
 * BENCH_WORKER=source runs `workers/main.ts` through tsx (`npm run worker`) instead of the built dist/worker.js.
 * Issue 11's memory goals: ≤ 300 MB peak for a 1M import, RSS flat across 10 imports in one worker.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { startImport } from '../client';
import { pollerCount } from '../client/workers';
import type { TargetName } from '../common/import';
import { writeCatalog } from '../scripts/catalog';
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { buildDist, distDir } from '../scripts/build';
import { startDevServer } from '../scripts/dev-server';
import { startMinio } from '../scripts/minio-server';
import { imageEnv } from './image-env';
import { cpuSecondsOf, startSandboxProcess } from './sandbox-process';

const target = (process.argv[2] ?? 'voucherify') as TargetName;
const count = Number(process.argv[3] ?? 1_000_000);
const imports = Number(process.argv[4] ?? 1);

/** RSS and its high-water mark of a process, in MiB (Linux /proc). */
async function memoryOf(pid: number): Promise<{ rssMb: number; hwmMb: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return { rssMb: Math.round(kb('VmRSS') / 1024), hwmMb: Math.round(kb('VmHWM') / 1024) };
}

const server = await startDevServer();
const client = new Client({ connection: await Connection.connect({ address: server.address }) });
const sandbox = await startSandboxProcess(target as 'voucherify' | 'propeller');
const work = await mkdtemp(path.join(os.tmpdir(), 'bulkport-memory-'));
const minio = process.env.BENCH_STAGING === 's3' ? await startMinio() : undefined;
if (minio) {
  const s3 = new S3Client({ endpoint: minio.endpoint, region: minio.region, forcePathStyle: true, credentials: minio });
  await s3.send(new CreateBucketCommand({ Bucket: 'bench' }));
  s3.destroy();
}
const staging = minio
  ? { ...minio.awsEnv, BULKPORT_STAGING_URL: 's3://bench/staging' }
  : { BULKPORT_STAGING_DIR: path.join(work, 'staging') };
const file = await writeCatalog(path.resolve('.bulkport/bench', `memory-${target}-${count}.jsonl`), {
  target,
  count,
  format: 'jsonl',
  keyPrefix: 'mem',
});
const taskQueue = `memory-${process.pid}`;
// The worker as the image runs it (dist/, built here), or BENCH_WORKER=source as `npm run worker` runs it (tsx).
const fromSource = process.env.BENCH_WORKER === 'source';
if (!fromSource) await buildDist();
// WORKER_NODE_ARGS: flags NODE_OPTIONS refuses, e.g. --cpu-prof --cpu-prof-dir=/tmp/prof (profiles written at exit).
const image = imageEnv();
const nodeArgs = process.env.WORKER_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
const script = fromSource ? ['--import', 'tsx', 'workers/main.ts'] : [path.join(distDir, 'worker.js')];
const worker = spawn(process.execPath, [...nodeArgs, ...script], {
  env: {
    ...process.env,
    ...sandbox.env,
    // glibc's arenas as the image sets them (Dockerfile); MALLOC_ARENA_MAX= (empty) measures glibc's default.
    MALLOC_ARENA_MAX: process.env.MALLOC_ARENA_MAX ?? image.MALLOC_ARENA_MAX ?? '',
    TEMPORAL_ADDRESS: server.address,
    TEMPORAL_TASK_QUEUE: taskQueue,
    BULKPORT_WORKFLOW_BUNDLE: '',
    ...staging,
    // V8's heap limit as the image sets it; WORKER_NODE_OPTIONS= (empty) measures Node's default.
    NODE_OPTIONS: process.env.WORKER_NODE_OPTIONS ?? image.NODE_OPTIONS ?? '',
  },
  stdio: ['ignore', process.env.BENCH_WORKER_STDOUT ? 'inherit' : 'ignore', 'inherit'],
});
const pid = worker.pid ?? Number.NaN;
// A worker that dies (a refused flag, a crash) fails the bench instead of leaving an import waiting forever.
const workerExit = once(worker, 'exit').then(([code, signal]) => {
  throw new Error(`the worker exited (${signal ?? code}) during the bench`);
});
workerExit.catch(() => {});

/**
 * Waits until the worker polls its task queue: the first import's time and CPU are its own, not the worker's start
 * (modules, the workflow bundle: about 1.5 s of CPU on the 2-core machine), which they held before.
 */
async function workerPolling(): Promise<number> {
  const started = performance.now();
  while ((await pollerCount(client, taskQueue)) === 0) {
    if (performance.now() - started > 120_000) throw new Error('the worker did not poll its task queue within 2 minutes');
    await Promise.race([new Promise((resolve) => setTimeout(resolve, 50)), workerExit]);
  }
  return (performance.now() - started) / 1000;
}

try {
  const stagingIn = minio ? 's3' : 'folder';
  const workerStartSeconds = Number((await workerPolling()).toFixed(1));
  console.error(
    JSON.stringify({
      target,
      products: count,
      imports,
      staging: stagingIn,
      worker: fromSource ? 'source' : 'dist',
      workerStartSeconds,
      ...(await memoryOf(pid)),
    }),
  );
  for (let i = 1; i <= imports; i++) {
    let peak = 0;
    let peakAt = 0;
    const started = performance.now();
    const cpuBefore = await cpuSecondsOf(pid);
    const timeline: string[] = [];
    const sampler = setInterval(() => {
      void memoryOf(pid).then(
        (m) => {
          const t = (performance.now() - started) / 1000;
          if (m.rssMb > peak) [peak, peakAt] = [m.rssMb, t];
          if (process.env.BENCH_TIMELINE && t >= timeline.length / 2) timeline.push(`${t.toFixed(1)}s ${m.rssMb}`);
        },
        () => {},
      );
    }, 100);
    // BENCH_OPTIONS: import options as JSON, e.g. '{"concurrency":1}', to see what a peak is made of.
    const options = process.env.BENCH_OPTIONS ? JSON.parse(process.env.BENCH_OPTIONS) : undefined;
    const handle = await startImport(client, { target, source: { location: file }, ...(options ? { options } : {}) } as never, {
      taskQueue,
      workflowId: `${taskQueue}-${i}`,
    });
    const summary = await Promise.race([handle.result(), workerExit]);
    clearInterval(sampler);
    if (timeline.length) console.error(`import ${i}, worker RSS (MB): ${timeline.join(', ')}`);
    if (summary.counts.succeeded !== count) throw new Error(`import ${i}: ${summary.counts.succeeded} of ${count} succeeded`);
    const after = await memoryOf(pid);
    const cpuSeconds = Number(((await cpuSecondsOf(pid)) - cpuBefore).toFixed(1));
    const seconds = Number(((performance.now() - started) / 1000).toFixed(1));
    console.log(
      JSON.stringify({
        import: i,
        seconds,
        cpuSeconds,
        peakRssMb: peak,
        peakAtSeconds: Number(peakAt.toFixed(1)),
        rssAfterMb: after.rssMb,
        highWaterMb: after.hwmMb,
      }),
    );
  }
  const minioMemory = minio ? { minioHighWaterMb: (await memoryOf(minio.pid)).hwmMb } : {};
  console.log(
    JSON.stringify({
      target,
      products: count,
      imports,
      staging: stagingIn,
      loadAverage: os.loadavg()[0]?.toFixed(1),
      ...(await memoryOf(pid)),
      ...minioMemory,
    }),
  );
} finally {
  // A worker already gone (a flag NODE_OPTIONS refuses) has no exit left to wait for.
  if (worker.exitCode === null && worker.signalCode === null) {
    worker.kill('SIGTERM');
    await once(worker, 'exit');
  }
  await sandbox.stop();
  await minio?.stop();
  await client.connection.close();
  await server.teardown();
  await rm(work, { recursive: true, force: true });
}
