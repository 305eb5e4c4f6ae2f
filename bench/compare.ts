/**
 * bulkport next to a bare script (bench/bare.ts) that reads the same catalog and posts the same chunks to the same
 * target at the same concurrency: the ratio of their times is what bulkport's validation, durability and report cost.
 * Runs interleaved (bare first in one pair, bulkport first in the next), a fresh sandbox per run, medians printed.
 *
 *   node --import tsx bench/compare.ts [propeller|voucherify] [products=200000] [concurrency=4] [pairs=3] [chunk]
 *
 * chunk: products per request for Propeller (default 1000), bytes per request for Voucherify (default 10,000,000).
 * STAGE_THREAD=1 stages in a thread of its own (the worker's BULKPORT_STAGE_THREAD=1); BULKPORT_METRICS_ADDRESS serves
 * the worker's metrics, as `npm run worker` does; COMPARE_SPANS=1 prints each Voucherify run's async actions as [created, done]
 * seconds since its start (on stderr); COMPARE_EVENTS=1 prints each bulkport run's activity events (seconds
 * from the start, event type, activity) on stderr, to see where its time goes, and the events by type of every workflow
 * run on its task queue (the import's, the account's coordinator's). COMPARE_OPTIONS='{"shareQuota":false}'
 * adds import options to bulkport's (a JSON object), to measure what one costs. COMPARE_WARM=2000 warms each run first
 * with an import of 2,000 other products (see warmCount).
 * bulkport runs with a fixed window (no adaptive concurrency) so both send at the same concurrency. The sandbox runs in
 * a process of its own (a fresh one per run; Voucherify's works its queue at ten million products/s), as does
 * Temporal's dev server; this process holds the bare script, or the worker and the client: CPU is this process's
 * during the run (until the import's result, or the bare script's last answer, is in: stopping the sandbox is not
 * timed), RSS its peak, sampled every 100 ms, and the first bulk request's time comes from the sandbox's stats.
 * targetCpuSeconds is the sandbox process's CPU during the run: on two cores, the client's CPU and the target's share them.
 * For Voucherify, `actions` tells the run from the target's side, read from its async actions after the clock stopped:
 * when the first was created (its request read), when the last finished, how long the target had none to work on in
 * between (idleSeconds: waiting for the next chunk), and how long the run went on after the last (tailSeconds: the last
 * poll, the report, the result).
 * The worker ships with V8's heap limit set (the Dockerfile's NODE_OPTIONS): run `node --max-old-space-size=2000
 * --import tsx bench/compare.ts …` to measure it so (the bare script then runs under it too); heapLimitMb says which.
 */
import os from 'node:os';
import v8 from 'node:v8';
import path from 'node:path';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection } from '@temporalio/worker';
import proto from '@temporalio/proto';
import { LocalFolderStore } from '../activities/staging/store';
import { startImport } from '../client';
import type { TargetName } from '../common/import';
import { writeCatalog } from '../scripts/catalog';
import { startDevServer } from '../scripts/dev-server';
import { bundleWorkflows, createImportWorker, installRuntime } from '../workers/worker';
import { tracesExporterOf } from '../common/tracing';
import type { SandboxStats } from '../sandbox';
import { barePropeller, bareVoucherify, voucherifyHeaders } from './bare';
import { childPid, cpuSecondsOf, startSandboxProcess } from './sandbox-process';

const target = (process.argv[2] ?? 'propeller') as TargetName;
const count = Number(process.argv[3] ?? 200_000);
const concurrency = Number(process.argv[4] ?? 4);
const pairs = Number(process.argv[5] ?? 3);
const chunk = Number(process.argv[6] ?? (target === 'propeller' ? 1000 : 10_000_000));

// BULKPORT_METRICS_ADDRESS serves the worker's metrics, as in a worker process (their cost is in bench/README.md).
installRuntime({ logger: new DefaultLogger('WARN') });
const server = await startDevServer();
const connection = await NativeConnection.connect({ address: server.address });
const client = new Client({ connection: await Connection.connect({ address: server.address }) });
const serverPid = await childPid('start-dev');
const serverCpu = async () => (serverPid === undefined ? Number.NaN : cpuSecondsOf(serverPid));
const work = await mkdtemp(path.join(os.tmpdir(), 'bulkport-compare-'));
const bundlePath = path.join(work, 'workflow-bundle.js');
// The bundle a built worker runs: without the tracing interceptors unless OTEL_* turns tracing on (workers/main.ts).
const traced = tracesExporterOf(process.env) !== undefined;
const quiet = { log() {}, trace() {}, debug() {}, info() {}, warn() {}, error: console.error };
await writeFile(bundlePath, await bundleWorkflows(quiet, { traced }));
const file = await writeCatalog(path.resolve('.bulkport/bench', `compare-${target}-${count}.jsonl`), {
  target,
  count,
  format: 'jsonl',
  keyPrefix: 'cmp',
});
/**
 * COMPARE_WARM=2000: before the clock, each run imports a catalog of 2,000 other products into its fresh sandbox the
 * same way (bare script or bulkport), so that bulkport's worker has run an import before, as a long-lived one has. By
 * default each run's worker is fresh: its first import also pays for its workflow thread's first workflow and starts the
 * account's quota coordinator. The activities run in this process, warm after the first run either way.
 */
const warmCount = Number(process.env.COMPARE_WARM ?? 0);
const warmFile =
  warmCount > 0
    ? await writeCatalog(path.resolve('.bulkport/bench', `compare-${target}-warm-${warmCount}.jsonl`), {
        target,
        count: warmCount,
        format: 'jsonl',
        keyPrefix: 'warm',
      })
    : undefined;

interface Run {
  seconds: number;
  cpuSeconds: number;
  /** The sandbox's CPU over the same time: on a 2-core machine the target's work competes with the client's. */
  targetCpuSeconds: number;
  /** Temporal's dev server's CPU over the same time (idle for the bare script): it shares the two cores too. */
  serverCpuSeconds: number;
  peakRssMb: number;
  /** Seconds from the start to the first bulk request the sandbox saw. */
  firstRequestSeconds?: number;
  /** bulkport: when staging, the chunks' submissions and the report started and ended, in seconds from the start (history). */
  phases?: Record<'staging' | 'submitting' | 'polling' | 'reporting', [number, number]>;
  /** bulkport: events in the first run's history (of which following staging's progress), and runs in all. */
  history?: { firstRunEvents: number; followingStaging: number; runs: number };
  /** bulkport: how long each chunk's action was awaited (awaitAction, scheduled to completed), in seconds. */
  awaited?: { chunks: number; median: number; p90: number; max: number; sum: number };
  /**
   * Voucherify: the target's async actions, in seconds from the start: when the first was created (its request read),
   * when the last finished, how long the target had no action to work on in between, and from then to the run's end.
   */
  actions?: { count: number; firstSeconds: number; lastDoneSeconds: number; idleSeconds: number; tailSeconds: number };
}

/**
 * What the import's history tells: the phases' spans, from its first run (staging) to its last (the report), and the
 * first run's size. Each run's history is fetched once, and event ids are matched within their run (each starts at 1).
 */
async function fromHistory(workflowId: string, firstRunId: string): Promise<Pick<Run, 'phases' | 'history' | 'awaited'>> {
  const events = async (runId?: string) => (await client.workflow.getHandle(workflowId, runId).fetchHistory()).events ?? [];
  const first = await events(firstRunId);
  // Every run: a continue-as-new run's awaits count too.
  const runIds: string[] = [];
  for await (const w of client.workflow.list({ query: `WorkflowId = "${workflowId}"` })) runIds.push(w.runId);
  const runs = [first, ...(await Promise.all(runIds.filter((id) => id !== firstRunId).map((id) => events(id))))];
  type Event = (typeof first)[number];
  const ms = (e: Event | undefined) => Number(e?.eventTime?.seconds ?? 0) * 1000 + (e?.eventTime?.nanos ?? 0) / 1e6;
  const start = ms(first[0]);
  // Scheduled events name the activity; their completions point back to them.
  /** The activity an event of `run` is about (scheduled, started or completed), if any. */
  const activityNames = (run: Event[]) => {
    const type = new Map(run.map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes?.activityType?.name]));
    return (e: Event) =>
      type.get(String(e.eventId)) ??
      type.get(String(e.activityTaskStartedEventAttributes?.scheduledEventId ?? e.activityTaskCompletedEventAttributes?.scheduledEventId));
  };
  const activityEvents = runs.flatMap((run) => {
    const nameOf = activityNames(run);
    return run.flatMap((e) => {
      const name = e.activityTaskStartedEventAttributes ? undefined : nameOf(e);
      return name ? [{ name, at: Number(((ms(e) - start) / 1000).toFixed(2)) }] : [];
    });
  });
  // COMPARE_EVENTS=1 (see the header): every event of the first run, with the activity it is about.
  if (process.env.COMPARE_EVENTS) {
    const nameOf = activityNames(first);
    for (const e of first) console.error(((ms(e) - start) / 1000).toFixed(3), e.eventType, nameOf(e) ?? '');
  }
  const span = (name: string): [number, number] => {
    const times = activityEvents.filter((e) => e.name === name).map((e) => e.at);
    return [Math.min(...times), Math.max(...times)];
  };
  const runCount = runIds.length;
  // Each awaitAction's span: from its scheduling to its completion, within its run.
  const awaitedSeconds = runs.flatMap((run) => {
    const scheduledAt = new Map(
      run
        .filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'awaitAction')
        .map((e) => [String(e.eventId), ms(e)]),
    );
    return run.flatMap((e) => {
      const from = scheduledAt.get(String(e.activityTaskCompletedEventAttributes?.scheduledEventId));
      return from === undefined ? [] : [(ms(e) - from) / 1000];
    });
  });
  const sorted = awaitedSeconds.sort((a, b) => a - b);
  const at = (q: number) => Number((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0).toFixed(2));
  // Each call: scheduled, started, completed (or cancelled), and a workflow task's three events.
  const calls = first.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'awaitStaged').length;
  return {
    phases: { staging: span('stage'), submitting: span('submitChunk'), polling: span('awaitAction'), reporting: span('writeReport') },
    history: { firstRunEvents: first.length, followingStaging: calls * 6, runs: runCount },
    ...(sorted.length
      ? {
          awaited: {
            chunks: sorted.length,
            median: at(0.5),
            p90: at(0.9),
            max: at(1),
            sum: Number(sorted.reduce((a, b) => a + b, 0).toFixed(1)),
          },
        }
      : {}),
  };
}

/**
 * Times `body` against a fresh sandbox, with the process's CPU, its peak RSS and the first bulk request's time;
 * `prepare` (a worker's start, which a user does once) is not timed.
 */
async function measured(
  body: (env: Record<string, string>) => Promise<void>,
  prepare?: (env: Record<string, string>) => Promise<void>,
): Promise<Run> {
  const sandbox = await startSandboxProcess(target as 'voucherify' | 'propeller');
  await prepare?.(sandbox.env);
  const statsUrl = `${sandbox.env.VOUCHERIFY_API_URL ?? sandbox.env.PROPELLER_API_URL}/_sandbox/stats`;
  const bulkRequests = async () => {
    const stats = (await (await fetch(statsUrl)).json()) as SandboxStats;
    return Object.entries(stats.requests)
      .filter(([endpoint]) => endpoint.startsWith('POST') && endpoint.includes('/bulk'))
      .reduce((n, [, byStatus]) => n + Object.values(byStatus).reduce((a, b) => a + b, 0), 0);
  };
  // The warm-up's requests came before the clock.
  const requestsBefore = await bulkRequests();
  let peak = process.memoryUsage().rss;
  let firstRequestSeconds: number | undefined;
  const targetCpu = await cpuSecondsOf(sandbox.pid);
  const serverCpuBefore = await serverCpu();
  const started = performance.now();
  const cpu = process.cpuUsage();
  const sampler = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
    if (firstRequestSeconds === undefined) {
      const at = (performance.now() - started) / 1000;
      void bulkRequests().then(
        (n) => {
          if (n > requestsBefore) firstRequestSeconds ??= at;
        },
        () => {},
      );
    }
  }, 100);
  let targetCpuSeconds = 0;
  let serverCpuSeconds = 0;
  let bodyEnded = 0;
  let used = { user: 0, system: 0 };
  let actions: Run['actions'];
  try {
    await body(sandbox.env);
    bodyEnded = performance.now();
    used = process.cpuUsage(cpu);
    targetCpuSeconds = (await cpuSecondsOf(sandbox.pid)) - targetCpu;
    serverCpuSeconds = (await serverCpu()) - serverCpuBefore;
    if (target === 'voucherify') {
      // Off the clock and off the CPU count: read after the run, from the sandbox that is about to stop.
      actions = actionsOf(await listActions(sandbox.env), Date.now() - (performance.now() - started), (bodyEnded - started) / 1000);
    }
  } finally {
    clearInterval(sampler);
    await sandbox.stop();
  }
  return {
    // Until the body ended: reading the target's actions and stopping the sandbox (30-45 ms) are off the clock.
    seconds: (bodyEnded - started) / 1000,
    cpuSeconds: (used.user + used.system) / 1e6,
    targetCpuSeconds,
    serverCpuSeconds,
    peakRssMb: Math.round(Math.max(peak, process.memoryUsage().rss) / 2 ** 20),
    ...(firstRequestSeconds !== undefined ? { firstRequestSeconds } : {}),
    ...(actions ? { actions } : {}),
  };
}

interface ListedAction {
  id: string;
  created_at: string;
  updated_at: string;
}

/** Every async action the Voucherify sandbox holds, newest first, a page of 100 at a time. */
async function listActions(env: Record<string, string>): Promise<ListedAction[]> {
  const headers = voucherifyHeaders(env);
  const all = new Map<string, ListedAction>();
  for (let end: string | undefined; ; ) {
    const url = new URL('/v1/async-actions', env.VOUCHERIFY_API_URL);
    url.searchParams.set('limit', '100');
    if (end) url.searchParams.set('end_date', end);
    const page = (await (await fetch(url, { headers })).json()) as { async_actions: ListedAction[]; has_more: boolean };
    const fresh = page.async_actions.filter((a) => !all.has(a.id));
    for (const a of fresh) all.set(a.id, a);
    if (!page.has_more || fresh.length === 0) return [...all.values()];
    // Created in the same millisecond as the oldest of this page: read again, not skipped.
    end = new Date(Date.parse(fresh.at(-1)!.created_at) + 1).toISOString();
  }
}

/**
 * Where a Voucherify run's time went, from the target's side. An action is created once its request has been read, and
 * updated last when it finishes; the sandbox works one action at a time. `startedAtMs` is the run's start in epoch ms.
 */
function actionsOf(listed: ListedAction[], startedAtMs: number, endSeconds: number): Run['actions'] {
  const spans = listed
    .map((a) => [(Date.parse(a.created_at) - startedAtMs) / 1000, (Date.parse(a.updated_at) - startedAtMs) / 1000] as const)
    .filter(([created]) => created >= 0) // the warm-up's came before the clock
    .sort((a, b) => a[0] - b[0]);
  if (spans.length === 0) return undefined;
  if (process.env.COMPARE_SPANS) console.error('SPANS', JSON.stringify(spans.map(([a, b]) => [+a.toFixed(2), +b.toFixed(2)])));
  let idle = 0;
  let busyUntil = spans[0]![0];
  for (const [created, done] of spans) {
    idle += Math.max(0, created - busyUntil);
    busyUntil = Math.max(busyUntil, done);
  }
  const round = (s: number) => Number(s.toFixed(2));
  return {
    count: spans.length,
    firstSeconds: round(spans[0]![0]),
    lastDoneSeconds: round(busyUntil),
    idleSeconds: round(idle),
    tailSeconds: round(endSeconds - busyUntil),
  };
}

const bareImport = (env: Record<string, string>, catalog: string) =>
  target === 'propeller' ? barePropeller(env, catalog, chunk, concurrency) : bareVoucherify(env, catalog, chunk, concurrency);
const bare = () =>
  measured(
    (env) => bareImport(env, file),
    async (env) => {
      if (warmFile) await bareImport(env, warmFile);
    },
  );

let runNumber = 0;
async function bulkport(): Promise<Run> {
  const taskQueue = `compare-${process.pid}-${++runNumber}`;
  const staging = await mkdtemp(path.join(work, 'staging-'));
  let worker: Awaited<ReturnType<typeof createImportWorker>> | undefined;
  let running: Promise<void> | undefined;
  let firstRunId = '';
  const options =
    target === 'propeller'
      ? { concurrency, chunkSize: chunk, adaptiveConcurrency: false }
      : { concurrency, chunkBytes: chunk, pollIntervalMs: 200 };
  Object.assign(options, JSON.parse(process.env.COMPARE_OPTIONS ?? '{}'));
  try {
    const run = await measured(
      async () => {
        const request = { target, source: { location: file }, options } as never;
        const handle = await startImport(client, request, { taskQueue, workflowId: taskQueue });
        const summary = await handle.result();
        if (summary.counts.succeeded !== count) throw new Error(`bulkport: ${summary.counts.succeeded} of ${count} succeeded`);
        firstRunId = handle.firstExecutionRunId;
      },
      async (env) => {
        const store = new LocalFolderStore(staging);
        worker = await createImportWorker({
          connection,
          namespace: 'default',
          taskQueue,
          env,
          store,
          workflowBundlePath: bundlePath,
          stageInThread: process.env.STAGE_THREAD === '1',
        });
        running = worker.run();
        if (warmFile) {
          const warm = await startImport(client, { target, source: { location: warmFile }, options } as never, {
            taskQueue,
            workflowId: `${taskQueue}-warm`,
          });
          await warm.result();
        }
      },
    );
    // Read after the clock stopped.
    if (process.env.COMPARE_EVENTS) await printHistorySizes(taskQueue);
    return { ...run, ...(await fromHistory(taskQueue, firstRunId)) };
  } finally {
    worker?.shutdown();
    await running;
    await rm(staging, { recursive: true, force: true });
  }
}

/**
 * COMPARE_EVENTS=1: each workflow run on the run's task queue (the import's, the account's coordinator's) with its
 * events by type, on stderr: where Temporal's server and the workflow thread spend their work.
 */
async function printHistorySizes(taskQueue: string): Promise<void> {
  const { EventType } = proto.temporal.api.enums.v1;
  for await (const w of client.workflow.list({ query: `TaskQueue = "${taskQueue}"` })) {
    const events = (await client.workflow.getHandle(w.workflowId, w.runId).fetchHistory()).events ?? [];
    const byType: Record<string, number> = {};
    for (const e of events) {
      const type = (EventType[e.eventType ?? 0] ?? String(e.eventType)).replace(/^EVENT_TYPE_/, '');
      byType[type] = (byType[type] ?? 0) + 1;
    }
    console.error(JSON.stringify({ workflow: w.type, workflowId: w.workflowId, events: events.length, byType }));
  }
}

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
};

const runs: { bare: Run[]; bulkport: Run[] } = { bare: [], bulkport: [] };
const loads: number[] = [];
try {
  for (let pair = 0; pair < pairs; pair++) {
    const order = pair % 2 ? (['bulkport', 'bare'] as const) : (['bare', 'bulkport'] as const);
    for (const who of order) {
      const run = who === 'bare' ? await bare() : await bulkport();
      runs[who].push(run);
      loads.push(os.loadavg()[0]!);
      console.error(JSON.stringify({ pair, who, ...run }));
    }
  }
  const summary = (list: Run[]) => ({
    seconds: Number(median(list.map((r) => r.seconds)).toFixed(1)),
    range: `${Math.min(...list.map((r) => r.seconds)).toFixed(1)}–${Math.max(...list.map((r) => r.seconds)).toFixed(1)} s`,
    cpuSeconds: Number(median(list.map((r) => r.cpuSeconds)).toFixed(1)),
    targetCpuSeconds: Number(median(list.map((r) => r.targetCpuSeconds)).toFixed(1)),
    serverCpuSeconds: Number(median(list.map((r) => r.serverCpuSeconds)).toFixed(1)),
    peakRssMb: Math.max(...list.map((r) => r.peakRssMb)),
    firstRequestSeconds: Number(median(list.map((r) => r.firstRequestSeconds ?? Number.NaN)).toFixed(2)),
    ...(list.every((r) => r.actions)
      ? {
          actions: Object.fromEntries(
            (['firstSeconds', 'lastDoneSeconds', 'idleSeconds', 'tailSeconds'] as const).map((k) => [
              k,
              Number(median(list.map((r) => r.actions![k])).toFixed(2)),
            ]),
          ),
        }
      : {}),
  });
  const b = summary(runs.bare);
  const p = summary(runs.bulkport);
  console.log(
    JSON.stringify({
      target,
      products: count,
      concurrency,
      chunk,
      pairs,
      loadAverage: `${Math.min(...loads).toFixed(1)}–${Math.max(...loads).toFixed(1)}`,
      // The image gives the worker V8's heap limit of 2 GB (Dockerfile): run this bench with it to measure that worker.
      heapLimitMb: Math.round(v8.getHeapStatistics().heap_size_limit / 2 ** 20),
      bare: b,
      bulkport: p,
      ratio: Number((p.seconds / b.seconds).toFixed(2)),
      cpuRatio: Number((p.cpuSeconds / b.cpuSeconds).toFixed(1)),
    }),
  );
} finally {
  await connection.close();
  await client.connection.close();
  await server.teardown();
  await rm(work, { recursive: true, force: true });
}
