/**
 * Staging throughput and memory: streams a generated catalog through the stage activity
 * (validation, duplicate check, chunk files) and reports records/s and peak RSS.
 *
 *   node --import tsx bench/stage.ts [count=1000000] [voucherify|propeller] [jsonl|csv|json] [chunk bytes or products] [mapping file]
 *
 * With a mapping file (bench/mappings/), every record goes through its JSONata expressions before validation.
 * BENCH_STAGING=s3 stages into a bucket on a MinIO server started for the run (scripts/minio-server.ts), as the
 * docker-compose deployment does; MinIO's memory is its own process's, not counted here.
 */
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createStageActivity } from '../activities/stage';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { S3Store } from '../activities/staging/s3-store';
import { LocalFolderStore, type StagingStore } from '../activities/staging/store';
import { createTargetRegistry } from '../activities/targets';
import { loadTargets } from '../targets';
import { devTarget } from '../targets/dev';
import { ImportInput, type StageResult, type TargetName } from '../common/import';
import { loadMapping } from '../client/mapping';
import { writeCatalog } from '../scripts/catalog';
import { startMinio } from '../scripts/minio-server';

const count = Number(process.argv[2] ?? 1_000_000);
const target = (process.argv[3] ?? 'voucherify') as TargetName;
const format = (process.argv[4] ?? 'jsonl') as 'jsonl' | 'csv' | 'json';
const chunk = process.argv[5] ? Number(process.argv[5]) : undefined;
const mappingFile = process.argv[6];
const dir = path.resolve('.bulkport/bench');
const file = path.join(dir, `stage-${target}-${count}.${format}`);

await writeCatalog(file, { target, count, format, invalidEvery: 1000, keyPrefix: 'bench' });
await rm(path.join(dir, 'staging'), { recursive: true, force: true });
const minio = process.env.BENCH_STAGING === 's3' ? await startMinio() : undefined;
let store: StagingStore = new LocalFolderStore(path.join(dir, 'staging'));
if (minio) {
  Object.assign(process.env, minio.awsEnv);
  const s3 = S3Store.fromUrl('s3://bench/staging');
  await s3.client.send(new CreateBucketCommand({ Bucket: 'bench' }));
  store = s3;
}
const stage = createStageActivity(store, createTargetRegistry(await loadTargets(), {}));
// The target's default chunks unless a size is given (it decides how much the chunks being written hold).
const options = chunk ? (await devTarget(target)).benchOptions(chunk) : {};
const mapping = mappingFile ? await loadMapping(mappingFile, target) : undefined;
const input = ImportInput.parse({ importId: 'bench-stage', target, source: { location: file }, options, mapping });

const baselineRss = process.memoryUsage().rss;
// maxRSS also counts the catalog generator that ran first: staging's own peak is sampled while it runs.
let stagePeakRss = baselineRss;
let atPeak = process.memoryUsage();
let peakAt = 0;
const started = performance.now();
const sampler = setInterval(() => {
  const usage = process.memoryUsage();
  if (usage.rss > stagePeakRss) [stagePeakRss, atPeak, peakAt] = [usage.rss, usage, performance.now() - started];
}, 100);
// CPU time too: on a shared machine the wall clock says more about the neighbours than about staging.
const cpuBefore = process.cpuUsage();
const result = (await new MockActivityEnvironment().run(stage, input)) as StageResult;
const seconds = (performance.now() - started) / 1000;
const cpu = process.cpuUsage(cpuBefore);
clearInterval(sampler);
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
const peakRss = process.resourceUsage().maxRSS * 1024;
console.log(
  JSON.stringify({
    target,
    format,
    staging: minio ? 's3' : 'folder',
    ...(mappingFile ? { mapping: mappingFile } : {}),
    records: result.read,
    valid: result.valid,
    invalid: result.invalid,
    chunks: result.chunks,
    seconds: Number(seconds.toFixed(1)),
    recordsPerSecond: Math.round(result.read / seconds),
    cpuSeconds: Number(((cpu.user + cpu.system) / 1e6).toFixed(1)),
    baselineRssMiB: mib(baselineRss),
    peakRssMiB: mib(peakRss),
    stagePeakRssMiB: mib(stagePeakRss),
    stagePeakAtSeconds: Number((peakAt / 1000).toFixed(1)),
    atStagePeakMiB: { heapUsed: mib(atPeak.heapUsed), heapTotal: mib(atPeak.heapTotal), external: mib(atPeak.external) },
  }),
);
await rm(path.join(dir, 'staging'), { recursive: true, force: true });
await minio?.stop();
