/**
 * The report pass alone: stages a generated catalog through the stage activity, writes an outcome file for every
 * chunk as submission would (every `failedEvery`-th product failed or retryable, the rest succeeded), then times
 * `writeReport` and prints seconds, products/s, CPU seconds, peak RSS and a SHA-256 of the report files.
 *
 *   node --import tsx bench/report.ts [count=200000] [propeller|voucherify] [failedEvery=100] [jsonl|csv]
 *
 * The staged data is kept under .bulkport/bench/report-* and reused by the next run with the same arguments; it is
 * staged in a child process so that the peak RSS printed is the report's own.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { MockActivityEnvironment } from '@temporalio/testing';
import { createReportActivities } from '../activities/report';
import { createStageActivity } from '../activities/stage';
import { readChunk } from '../activities/staging/files';
import { recordOutcomes } from '../activities/staging/rows';
import { LocalFolderStore } from '../activities/staging/store';
import { createTargetRegistry } from '../activities/targets';
import { loadTargets } from '../targets';
import { chunkIdOf, ImportInput, type StageResult, type TargetName } from '../common/import';
import type { ItemOutcome } from '../common/outcome';
import { writeCatalog } from '../scripts/catalog';

const count = Number(process.argv[2] ?? 200_000);
const target = (process.argv[3] ?? 'propeller') as TargetName;
const failedEvery = Number(process.argv[4] ?? 100);
const format = (process.argv[5] ?? 'jsonl') as 'jsonl' | 'csv';
const dir = path.resolve('.bulkport/bench', `report-${target}-${count}-${failedEvery}-${format}`);
const store = new LocalFolderStore(path.join(dir, 'staging'));
const input = ImportInput.parse({ importId: 'bench-report', target, source: { location: path.join(dir, `catalog.${format}`) } });
const ready = path.join(dir, 'staged.json');

/** Stage the catalog, then answer every chunk; errors hold a quote and a comma so the CSV quoting is exercised. */
async function stageAndAnswer(): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  await writeCatalog(input.source.location, { target, count, format, invalidEvery: 1000, keyPrefix: 'bench' });
  const stage = createStageActivity(store, createTargetRegistry(await loadTargets(), {}));
  const staged = (await new MockActivityEnvironment().run(stage, input)) as StageResult;
  let n = 0;
  for (let i = 0; i < staged.chunks; i++) {
    const id = chunkIdOf(0, i);
    const items = await readChunk(store, input.importId, id);
    const outcomes = items.map((): ItemOutcome => {
      n++;
      if (!failedEvery || n % failedEvery) return { kind: 'succeeded' };
      return { kind: n % (2 * failedEvery) ? 'failed' : 'retryable', error: `HTTP 503: "busy", product ${n}` };
    });
    await recordOutcomes(store, input.importId, id, items, outcomes);
  }
  await writeFile(ready, JSON.stringify(staged));
}

if (process.env.BENCH_REPORT_STAGE_ONLY) {
  await stageAndAnswer();
  process.exit(0);
}
const staged = await readFile(ready, 'utf8').then(
  (text) => JSON.parse(text) as StageResult,
  () => undefined,
);
if (!staged) {
  const self = fileURLToPath(import.meta.url);
  const child = spawnSync(process.execPath, ['--import', 'tsx', self, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, BENCH_REPORT_STAGE_ONLY: '1' },
  });
  if (child.status !== 0) process.exit(child.status ?? 1);
}

const { writeReport } = createReportActivities(store);
const baselineRss = process.memoryUsage().rss;
const cpu = process.cpuUsage();
const started = performance.now();
const report = (await new MockActivityEnvironment().run(writeReport, { input, lastRound: 0 })) as Awaited<ReturnType<typeof writeReport>>;
const seconds = (performance.now() - started) / 1000;
const used = process.cpuUsage(cpu);
const peakRss = process.resourceUsage().maxRSS * 1024;
const hash = createHash('sha256');
for (const file of Object.values(report.files)) hash.update(await readFile(file));
const products = Object.values(report.counts).reduce((a, b) => a + b, 0);
console.log(
  JSON.stringify({
    target,
    format,
    products,
    counts: report.counts,
    seconds: Number(seconds.toFixed(2)),
    productsPerSecond: Math.round(products / seconds),
    cpuSeconds: Number(((used.user + used.system) / 1e6).toFixed(2)),
    baselineRssMiB: Math.round(baselineRss / 2 ** 20),
    peakRssMiB: Math.round(peakRss / 2 ** 20),
    sha256: hash.digest('hex').slice(0, 16),
  }),
);
