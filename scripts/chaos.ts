/**
 * `npm run chaos`: imports a generated catalog through real parts while breaking them, then checks the target's own
 * state against the catalog and the report. See bench/README.md ("Chaos") for what it does and a full run's numbers.
 *
 *   npm run chaos -- [--products 100000] [--kills 20] [--server-restarts 2] [--target voucherify|propeller]
 *                    [--seed 1] [--damage true|false] [--damage-products 2000] [--timeout-minutes 60] [--work-dir DIR]
 *
 * Phase 1 (main): a persistent Temporal dev server (restarted --server-restarts times), one worker process (SIGKILLed
 * --kills times at random moments and started again), a hostile sandbox. Phase 2 (--damage): a second import whose
 * staged chunk files are deleted, truncated and garbled while it is paused; it must fail naming each damaged chunk and
 * still leave a true report. Exit code 0 when every check holds, 1 otherwise.
 */
import { mkdir, readdir, readFile, rm, stat, truncate, writeFile } from 'node:fs/promises';
import { existsSync, type WriteStream } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Client, Connection, WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { startImport, type ImportSummary } from '../client';
import type { TargetName as AnyTarget } from '../common/import';

/** The targets whose sandboxes this run knows how to make hostile and to compare with the report. */
type TargetName = Extract<AnyTarget, 'voucherify' | 'propeller'>;
const records: Record<TargetName, (i: number, o: CatalogOptions) => Record<string, unknown>> = {
  voucherify: voucherifyRecord,
  propeller: propellerRecord,
};
import { pauseSignal, progressQuery, resumeSignal } from '../workflows/messages';
import {
  startPropellerSandbox,
  startVoucherifySandbox,
  type FaultOptions,
  type PropellerSandbox,
  type VoucherifySandbox,
} from '../sandbox';
import { unitInterval } from '../sandbox/rng';
import { propellerRecord, voucherifyRecord, writeCatalog, type CatalogOptions } from './catalog';
import { ensureTemporalCli } from './install-temporal';
import type { ResultRow } from '../activities/report';
import { decodeItem } from '../activities/staging/files';
import { freePort, logFile, PersistentDevServer, sleep, WorkerSupervisor } from './chaos-processes';
import { bundleWorkflows } from '../workers/worker';

export interface ChaosOptions {
  products: number;
  kills: number;
  serverRestarts: number;
  target: TargetName;
  seed: number;
  damage: boolean;
  damageProducts: number;
  timeoutMinutes: number;
  workDir?: string;
  log?: (line: string) => void;
}

export const fullRun: ChaosOptions = {
  products: 100_000,
  kills: 20,
  serverRestarts: 2,
  target: 'voucherify',
  seed: 1,
  damage: true,
  damageProducts: 2000,
  timeoutMinutes: 60,
};

export interface Check {
  phase: 'main' | 'damage';
  name: string;
  ok: boolean;
  detail: string;
}

export interface ChaosResult {
  ok: boolean;
  checks: Check[];
  numbers: Record<string, unknown>;
  workDir: string;
}

/** Faults that can all pass: every valid product must succeed in the end. */
const hostile: Record<TargetName, Partial<FaultOptions>> = {
  voucherify: {
    serverErrorRate: 0.04,
    rateLimitBurstRate: 0.03,
    rateLimitBurstLength: 3,
    rateLimitRetryAfterSeconds: 1,
    slowRate: 0.05,
    slowMs: 1500,
    dropAfterApplyRate: 0.03,
    productFailureRate: 0.01,
    productFailureAttempts: 1,
    actionFailureRate: 0.05,
  },
  propeller: {
    serverErrorRate: 0.04,
    rateLimitBurstRate: 0.03,
    rateLimitBurstLength: 3,
    rateLimitRetryAfterSeconds: 1,
    slowRate: 0.1,
    slowMs: 1500,
    dropAfterApplyRate: 0.03,
    productFailureRate: 0.01,
    productFailureAttempts: 1,
  },
};

/** Every 97th record breaks the target's schema, and one malformed line ends the file. */
const INVALID_EVERY = 97;
/** Set explicitly on every import checked here: a product failing on every attempt is reported failed after 1 + RETRY_ROUNDS. */
export const RETRY_ROUNDS = 3;
const BROKEN_LINE = '{"this line": is not JSON\n';

/** A generated catalog as checkRows expects it: every 97th record invalid, a malformed line at the end. */
export async function writeCheckedCatalog(
  file: string,
  target: TargetName,
  count: number,
  keyPrefix: string,
): Promise<{ catalog: CatalogOptions; file: string }> {
  const catalog: CatalogOptions = { target, count, format: 'jsonl', invalidEvery: INVALID_EVERY, keyPrefix };
  await writeCatalog(file, catalog);
  await writeFile(file, BROKEN_LINE, { flag: 'a' });
  return { catalog, file };
}

export type Sandbox = VoucherifySandbox | PropellerSandbox;

async function startSandbox(target: TargetName, seed: number, faults: Partial<FaultOptions>, productsPerSecond?: number): Promise<Sandbox> {
  return target === 'voucherify'
    ? startVoucherifySandbox({ seed, faults, ...(productsPerSecond ? { productsPerSecond } : {}) })
    : startPropellerSandbox({ seed, faults });
}

/** The fields of a catalog record the target must hold, read back from the sandbox's own store. */
function storedMismatch(target: TargetName, sandbox: Sandbox, record: Record<string, unknown>): string | undefined {
  const pick = (o: Record<string, unknown>, fields: string[]) => JSON.stringify(fields.map((f) => o[f]));
  if (target === 'voucherify') {
    const stored = (sandbox as VoucherifySandbox).getProduct(record.source_id as string) as unknown as Record<string, unknown> | undefined;
    if (!stored) return 'not in the target';
    const fields = ['name', 'price', 'attributes', 'metadata'];
    return pick(stored, fields) === pick(record, fields) ? undefined : `stored ${pick(stored, fields)}, sent ${pick(record, fields)}`;
  }
  const stored = (sandbox as PropellerSandbox).getProduct('sourceId', record.sourceId as string, record.source as string) as unknown as
    | Record<string, unknown>
    | undefined;
  if (!stored) return 'not in the target';
  const fields = ['sku', 'status', 'price', 'taxCode', 'names', 'descriptions'];
  return pick(stored, fields) === pick(record, fields) ? undefined : `stored ${pick(stored, fields)}, sent ${pick(record, fields)}`;
}

async function readRows(file: string): Promise<ResultRow[]> {
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ResultRow);
}

/** Where the worker's report for an import lives (the staging layout of activities/staging/files.ts). */
const reportFile = (stagingDir: string, importId: string) => path.join(stagingDir, 'imports', importId, 'report', 'results.jsonl');

/** The import's end: its summary, or the failure's message chain. Rides over server restarts (bounded by deadline). */
async function outcome(handle: WorkflowHandle, deadline: number): Promise<{ summary?: ImportSummary; failure?: string }> {
  for (;;) {
    try {
      return { summary: (await handle.result()) as ImportSummary };
    } catch (err) {
      if (err instanceof WorkflowFailedError) {
        const messages: string[] = [];
        for (let e: unknown = err; e instanceof Error && messages.length < 10; e = (e as Error & { cause?: unknown }).cause)
          messages.push(e.message);
        return { failure: messages.join(' <- ') };
      }
      if (Date.now() > deadline) throw new Error(`the import did not end before the deadline: ${(err as Error).message}`);
      await sleep(2000);
    }
  }
}

async function isRunning(handle: WorkflowHandle): Promise<boolean> {
  try {
    return (await handle.describe()).status.name === 'RUNNING';
  } catch {
    return true; // the server is down or restarting: the import has not ended as far as we know
  }
}

/** Checks one report's rows line by line against the catalog, and the target's store against the rows. */
export function checkRows(o: {
  phase: Check['phase'];
  target: TargetName;
  sandbox: Sandbox;
  catalog: CatalogOptions;
  rows: ResultRow[];
  /** Keys whose products a damaged chunk held: they may be missing from the target and reported as not succeeded. */
  damagedKeys?: Set<string>;
  summary?: ImportSummary;
}): Check[] {
  const checks: Check[] = [];
  const add = (name: string, problems: string[], okDetail: string) =>
    checks.push({
      phase: o.phase,
      name,
      ok: problems.length === 0,
      detail: problems.length ? `${problems.length} problems, e.g. ${problems.slice(0, 5).join('; ')}` : okDetail,
    });
  const lines = o.catalog.count + 1; // the broken line at the end
  const byLine = new Map<number, ResultRow>();
  const duplicates: string[] = [];
  for (const row of o.rows) {
    if (byLine.has(row.line)) duplicates.push(`line ${row.line} has more than one row`);
    byLine.set(row.line, row);
  }
  // A damaged chunk's products cannot be listed from it: the import fails naming that gap (checked by the caller),
  // so their lines, and only theirs, may lack a row. Record i of the catalog is on line i + 1.
  const damagedLines = new Set([...(o.damagedKeys ?? [])].map((key) => Number(key.slice(key.lastIndexOf('-') + 1)) + 1));
  const missing: string[] = [];
  let missingDamaged = 0;
  for (let line = 1; line <= lines; line++) {
    if (byLine.has(line)) continue;
    if (damagedLines.has(line)) missingDamaged++;
    else missing.push(`line ${line} has no row`);
  }
  const outside = o.rows
    .filter((r) => r.line < 1 || r.line > lines)
    .map((r) => `row for line ${r.line}, past the catalog's ${lines} lines`);
  add(
    o.damagedKeys
      ? 'one report row per catalog line, except products of the damaged chunks named by the failure'
      : 'exactly one report row per catalog line',
    [...duplicates, ...missing, ...outside],
    `${o.rows.length} rows for ${lines} lines${missingDamaged ? `; ${missingDamaged} products of damaged chunks have none` : ''}`,
  );

  const wrongOutcome: string[] = [];
  const wrongContent: string[] = [];
  const exhausted: string[] = [];
  let succeeded = 0;
  for (let i = 0; i < o.catalog.count; i++) {
    const record = records[o.target](i, o.catalog);
    const key = (o.target === 'voucherify' ? record.source_id : record.sourceId) as string;
    const row = byLine.get(i + 1);
    if (!row) continue;
    const invalid = i % INVALID_EVERY === INVALID_EVERY - 1;
    const damaged = o.damagedKeys?.has(key) ?? false;
    if (invalid) {
      if (row.outcome !== 'invalid') wrongOutcome.push(`line ${i + 1} (${key}) breaks the schema but is reported ${row.outcome}`);
      continue;
    }
    if (row.outcome === 'succeeded') {
      succeeded++;
      const mismatch = storedMismatch(o.target, o.sandbox, record);
      if (mismatch) wrongContent.push(`line ${i + 1} (${key}) reported succeeded but ${mismatch}`);
    } else if (
      !o.damagedKeys &&
      row.outcome === 'failed' &&
      row.attempts >= RETRY_ROUNDS + 1 &&
      storedMismatch(o.target, o.sandbox, record)
    ) {
      // Independent faults can hit one product on every attempt: failed after its last retry round and not in the
      // target is a true row, counted apart.
      exhausted.push(`${key} (${row.attempts} attempts, last: ${row.error.slice(0, 80)})`);
    } else if (!damaged && !o.damagedKeys) {
      wrongOutcome.push(`line ${i + 1} (${key}) is valid but reported ${row.outcome}${row.error ? `: ${row.error}` : ''}`);
    } else if (!damaged && storedMismatch(o.target, o.sandbox, record) === undefined) {
      // Outside the damaged chunks a product the target holds, as sent, must not be reported as not imported.
      wrongOutcome.push(`line ${i + 1} (${key}) is in the target but reported ${row.outcome}`);
    }
  }
  const lastRow = byLine.get(lines);
  if (lastRow && lastRow.outcome !== 'invalid') wrongOutcome.push(`line ${lines} (malformed JSON) is reported ${lastRow.outcome}`);
  add(
    o.damagedKeys ? 'every row outside the damaged chunks is true' : 'every valid record succeeded, every invalid one is reported invalid',
    wrongOutcome,
    `${succeeded} succeeded, ${o.rows.filter((r) => r.outcome === 'invalid').length} invalid` +
      (exhausted.length
        ? `, ${exhausted.length} failed after every retry round (true: not in the target): ${exhausted.slice(0, 5).join('; ')}`
        : ''),
  );
  add('each succeeded product is in the target with the content sent', wrongContent, `${succeeded} products compared field by field`);

  // The target holds no product the report does not account for: it holds exactly the succeeded ones, plus (damage
  // phase) any product of a damaged chunk. Every key is distinct, so counting is enough once each succeeded one is there.
  let damagedStored = 0;
  for (const key of o.damagedKeys ?? []) {
    const i = Number(key.slice(key.lastIndexOf('-') + 1));
    if (storedMismatch(o.target, o.sandbox, records[o.target](i, o.catalog)) === undefined) damagedStored++;
  }
  const stored = o.sandbox.productCount();
  const extra = stored - succeeded - damagedStored;
  add(
    'no product in the target that the report does not account for',
    extra === 0 ? [] : [`the target holds ${stored} products, the report accounts for ${succeeded + damagedStored}`],
    `the target holds ${stored} products = ${succeeded} succeeded${o.damagedKeys ? ` + ${damagedStored} of damaged chunks` : ''}`,
  );

  if (o.summary) {
    const count = (outcome: string) => o.rows.filter((r) => r.outcome === outcome).length;
    const c = o.summary.counts;
    const pairs: Array<[string, number, number]> = [
      ['read', c.read, o.rows.length],
      ['succeeded', c.succeeded, count('succeeded')],
      ['invalid', c.invalid, count('invalid')],
      ['failed', c.failed, count('failed')],
      ['notSubmitted', c.notSubmitted, count('not-submitted')],
    ];
    add(
      'the summary counts equal the report counts',
      pairs.filter(([, a, b]) => a !== b).map(([name, a, b]) => `summary ${name} ${a}, report ${b}`),
      pairs.map(([name, a]) => `${name} ${a}`).join(', '),
    );
  }
  return checks;
}

/** Where the damage phase's worker staged the chunks, once staging is done and the import is paused. */
async function chunkFiles(stagingDir: string, importId: string): Promise<string[]> {
  const dir = path.join(stagingDir, 'imports', importId, 'chunks');
  return existsSync(dir) ? (await readdir(dir)).filter((f) => f.endsWith('.jsonl')).sort() : [];
}

export async function runChaos(options: ChaosOptions): Promise<ChaosResult> {
  const log = options.log ?? ((line: string) => console.error(`[chaos ${new Date().toISOString().slice(11, 19)}] ${line}`));
  const started = Date.now();
  const deadline = started + options.timeoutMinutes * 60_000;
  const workDir = options.workDir ?? path.join(os.tmpdir(), `bulkport-chaos-${process.pid}-${Date.now()}`);
  await mkdir(workDir, { recursive: true });
  const logs: WriteStream[] = [];
  const open = (name: string) => {
    const stream = logFile(path.join(workDir, name));
    logs.push(stream);
    return stream;
  };
  const checks: Check[] = [];
  const numbers: Record<string, unknown> = { products: options.products, target: options.target, seed: options.seed, workDir };
  const cleanups: Array<() => Promise<unknown>> = [];
  const stopOnSignal = () => void Promise.allSettled(cleanups.map((c) => c())).then(() => process.exit(130));
  process.once('SIGINT', stopOnSignal);
  process.once('SIGTERM', stopOnSignal);

  try {
    const binary = await ensureTemporalCli(log);
    const server = new PersistentDevServer(binary, path.join(workDir, 'temporal.db'), await freePort(), open('temporal.log'));
    cleanups.push(() => server.stop());
    log(`Temporal dev server on ${server.address}, database ${path.join(workDir, 'temporal.db')}`);
    await server.start();
    const bundlePath = path.join(workDir, 'workflow-bundle.js');
    await writeFile(bundlePath, await bundleWorkflows());
    const connection = await Connection.connect({ address: server.address });
    cleanups.push(() => connection.close());
    const client = new Client({ connection, namespace: 'default' });

    // ---- Phase 1: kills, restarts and a hostile target while a large import runs.
    const { catalog, file } = await writeCheckedCatalog(path.join(workDir, 'catalog.jsonl'), options.target, options.products, 'chaos');
    // Slow enough that every kill and restart lands while the import runs: about 13 s per kill, 25 s per restart.
    const plannedSeconds = 20 + options.kills * 13 + options.serverRestarts * 25;
    const productsPerSecond = Math.max(100, Math.round(options.products / plannedSeconds));
    const sandbox = await startSandbox(options.target, options.seed, hostile[options.target], productsPerSecond);
    cleanups.push(() => sandbox.close());
    const stagingDir = path.join(workDir, 'staging');
    const workerLog = open('worker.log');
    const workers = new WorkerSupervisor({
      address: server.address,
      taskQueue: 'chaos-main',
      stagingDir,
      bundlePath,
      targetEnv: sandbox.env,
      log: workerLog,
    });
    cleanups.push(() => workers.stop());
    await workers.start();

    const common = { pollIntervalMs: 250, retryBackoffMs: 1000, chunksPerRun: 40, retryRounds: RETRY_ROUNDS };
    const importOptions =
      options.target === 'voucherify'
        ? { ...common, chunkBytes: Math.max(10_000, Math.min(100_000, Math.round(options.products * 4))) }
        : { ...common, chunkSize: Math.max(50, Math.min(500, Math.round(options.products / 100))) };
    const importId = `chaos-main-${options.seed}-${Date.now()}`;
    const handle = await startImport(
      client,
      { target: options.target, importId, source: { location: file }, options: importOptions } as Parameters<typeof startImport>[1],
      { taskQueue: 'chaos-main', workflowId: importId },
    );
    log(`Main import ${importId}: ${options.products} products (+1 malformed line), sandbox at ${productsPerSecond} products/s`);
    log(`options ${JSON.stringify(importOptions)}`);

    // The events in a seeded order: restarts fall between kills, never first.
    const events: Array<'kill' | 'restart'> = Array.from({ length: options.kills }, () => 'kill' as const);
    for (let r = 0; r < options.serverRestarts; r++) {
      const at = 1 + Math.floor(unitInterval(options.seed, 'restart-at', r) * events.length);
      events.splice(at, 0, 'restart');
    }
    let endedEarly = false;
    for (let n = 0; n < events.length; n++) {
      // A random moment: 3 to 12 s after the previous worker came up (each kill costs the in-flight activities up to
      // their 30 s heartbeat timeout, so spacing them closer would mostly pile up timeouts).
      await sleep(3000 + unitInterval(options.seed, 'gap', n) * 9000);
      if (!(await isRunning(handle))) {
        endedEarly = true;
        break;
      }
      if (events[n] === 'kill') {
        await workers.kill();
        log(`SIGKILLed the worker (${workers.kills}/${options.kills}); a new one polls`);
      } else {
        await server.restart(2000);
        log(`restarted the Temporal dev server (${server.restarts}/${options.serverRestarts}) on the same database`);
      }
      if (Date.now() > deadline) break;
    }
    const end = await outcome(handle, deadline);
    const mainSeconds = (Date.now() - started) / 1000;
    log(`Main import ended after ${mainSeconds.toFixed(0)} s: ${end.summary ? end.summary.status : `failed: ${end.failure}`}`);
    numbers.kills = workers.kills;
    numbers.serverRestarts = server.restarts;
    numbers.unexpectedWorkerExits = workers.unexpectedExits;
    numbers.mainSeconds = Math.round(mainSeconds);
    numbers.faultsInjected = sandbox.stats().faultsInjected;
    numbers.requests = sandbox.stats().requests;
    numbers.summary = end.summary?.counts;
    numbers.runs = end.summary?.runs;
    // Files a killed worker left half written and no later attempt removed (only the short writes can be: see removeLeftovers).
    numbers.halfWrittenFilesLeft = (await readdir(path.join(stagingDir, 'imports', importId), { recursive: true })).filter((f) =>
      f.endsWith('.tmp'),
    );
    checks.push({
      phase: 'main',
      name: 'every kill and restart happened while the import ran',
      ok: !endedEarly && workers.kills === options.kills && server.restarts === options.serverRestarts,
      detail: `${workers.kills}/${options.kills} kills, ${server.restarts}/${options.serverRestarts} restarts${endedEarly ? ' (the import ended first)' : ''}`,
    });
    const injected = Object.values(sandbox.stats().faultsInjected).reduce((a, b) => a + b, 0);
    checks.push({
      phase: 'main',
      name: 'the sandbox injected faults',
      ok: injected > 0,
      detail: JSON.stringify(sandbox.stats().faultsInjected),
    });
    const status = end.summary?.status ?? `failed: ${end.failure}`;
    checks.push({ phase: 'main', name: 'the import completed', ok: status === 'completed', detail: status });
    if (end.summary) {
      const rows = await readRows(end.summary.files.resultsJsonl);
      checks.push(...checkRows({ phase: 'main', target: options.target, sandbox, catalog, rows, summary: end.summary }));
    }
    await workers.stop();

    // ---- Phase 2: staged chunk files damaged before they are submitted.
    if (options.damage) {
      checks.push(
        ...(await damagePhase({ options, client, bundlePath, address: server.address, workDir, open, cleanups, deadline, log, numbers })),
      );
    }
    numbers.totalSeconds = Math.round((Date.now() - started) / 1000);
  } catch (err) {
    checks.push({ phase: 'main', name: 'the chaos run itself', ok: false, detail: (err as Error).stack ?? String(err) });
  } finally {
    process.removeListener('SIGINT', stopOnSignal);
    process.removeListener('SIGTERM', stopOnSignal);
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => undefined);
    for (const stream of logs) stream.end();
  }
  return { ok: checks.length > 0 && checks.every((c) => c.ok), checks, numbers, workDir };
}

async function damagePhase(o: {
  options: ChaosOptions;
  client: Client;
  bundlePath: string;
  address: string;
  workDir: string;
  open: (name: string) => WriteStream;
  cleanups: Array<() => Promise<unknown>>;
  deadline: number;
  log: (line: string) => void;
  numbers: Record<string, unknown>;
}): Promise<Check[]> {
  const { options, log } = o;
  const checks: Check[] = [];
  const { catalog, file } = await writeCheckedCatalog(
    path.join(o.workDir, 'damage.jsonl'),
    options.target,
    options.damageProducts,
    'damage',
  );
  const sandbox = await startSandbox(options.target, options.seed, {});
  o.cleanups.push(() => sandbox.close());
  const stagingDir = path.join(o.workDir, 'staging-damage');
  const workerLog = o.open('worker-damage.log');
  const taskQueue = 'chaos-damage';
  const workers = new WorkerSupervisor({
    address: o.address,
    taskQueue,
    stagingDir,
    bundlePath: o.bundlePath,
    targetEnv: sandbox.env,
    log: workerLog,
  });
  o.cleanups.push(() => workers.stop());
  await workers.start();
  const importId = `chaos-damage-${options.seed}-${Date.now()}`;
  const common = { concurrency: 1, pollIntervalMs: 200, retryBackoffMs: 200, retryRounds: RETRY_ROUNDS };
  const importOptions = options.target === 'voucherify' ? { ...common, chunkBytes: 10_000 } : { ...common, chunkSize: 60 };
  const handle = await startImport(
    o.client,
    { target: options.target, importId, source: { location: file }, options: importOptions } as Parameters<typeof startImport>[1],
    { taskQueue: 'chaos-damage', workflowId: importId },
  );
  // Paused as soon as the workflow answers (a signal that comes with its first task fails it on main: see the report),
  // so nothing more is submitted after staging; then wait until staging is done.
  const limit = Date.now() + 120_000;
  while (!(await handle.query(progressQuery).catch(() => undefined))) {
    if (Date.now() > limit) throw new Error('the damage phase import never answered a progress query within 2 minutes');
    await sleep(200);
  }
  await handle.signal(pauseSignal);
  for (let last: unknown; ; ) {
    const progress = await handle.query(progressQuery).catch((err: Error) => {
      last = err.message;
      return undefined;
    });
    if (progress && progress.phase !== 'staging' && progress.chunks.total > 0) break;
    last = progress ?? last;
    if (Date.now() > limit)
      throw new Error(`the damage phase import did not finish staging within 2 minutes; last: ${JSON.stringify(last)}`);
    await sleep(300);
  }
  // The last three chunks: submitted last, so not submitted even if the pause came late.
  const chunkDir = path.join(stagingDir, 'imports', importId, 'chunks');
  const outcomesDir = path.join(stagingDir, 'imports', importId, 'outcomes');
  const files = (await chunkFiles(stagingDir, importId)).filter((f) => !existsSync(path.join(outcomesDir, f)));
  if (files.length < 3) throw new Error(`the damage phase needs 3 unsubmitted chunks, found ${files.length} in ${chunkDir}`);
  const victims = files.slice(-3);
  const damagedKeys = new Set<string>();
  for (const victim of victims) {
    const lines = (await readFile(path.join(chunkDir, victim), 'utf8')).split('\n').filter(Boolean);
    // The last line is the file's seal (line count and checksum), which has no key.
    for (const line of lines) if (!line.startsWith('{"#seal"')) damagedKeys.add(decodeItem(line).key);
  }
  const [deleted, truncated, garbled] = victims.map((f) => path.join(chunkDir, f)) as [string, string, string];
  await rm(deleted);
  await truncate(truncated, Math.floor((await stat(truncated)).size / 2));
  const bytes = await readFile(garbled);
  for (let i = Math.floor(bytes.length / 3); i < Math.floor(bytes.length / 3) + 64 && i < bytes.length; i++) bytes[i] = 0x41 + (i % 26);
  await writeFile(garbled, bytes);
  const ids = victims.map((f) => f.replace(/\.jsonl$/, ''));
  log(`Damage import ${importId}: deleted ${ids[0]}, truncated ${ids[1]}, garbled ${ids[2]} (${damagedKeys.size} products); resuming`);
  await handle.signal(resumeSignal);
  // Bounded: on an import that hangs on a damaged chunk, say so and terminate it rather than wait forever.
  const waitMs = Math.max(0, Math.min(o.deadline - Date.now(), 4 * 60_000));
  const ended = outcome(handle, Date.now() + waitMs);
  // The timer is cleared once the import ends: a pending one would keep the process (and the CI test) alive for minutes.
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), waitMs)));
  const hung = await Promise.race([ended.then(() => false), timedOut]).finally(() => clearTimeout(timer));
  if (hung) {
    checks.push({
      phase: 'damage',
      name: 'the import with damaged chunks ended',
      ok: false,
      detail: `still running after ${waitMs / 1000} s; terminated`,
    });
    await handle.terminate('chaos: still running long after its chunks were damaged').catch(() => undefined);
  }
  const end = await ended;
  o.numbers.damage = { importId, chunks: ids, products: options.damageProducts, result: end.summary ? end.summary.status : end.failure };
  checks.push({
    phase: 'damage',
    name: 'the import with damaged chunks failed instead of completing',
    ok: end.failure !== undefined && !hung,
    detail: hung ? 'it never ended by itself' : (end.failure ?? `it ended ${end.summary?.status} (${JSON.stringify(end.summary?.counts)})`),
  });
  const unnamed = ids.filter((id) => !end.failure?.includes(id));
  checks.push({
    phase: 'damage',
    name: 'the failure names each damaged chunk',
    ok: end.failure !== undefined && !hung && unnamed.length === 0,
    detail: unnamed.length ? `not named: ${unnamed.join(', ')}` : `names ${ids.join(', ')}`,
  });
  const report = end.summary?.files.resultsJsonl ?? reportFile(stagingDir, importId);
  if (!existsSync(report)) {
    checks.push({ phase: 'damage', name: 'a report of what is known was written', ok: false, detail: `no ${report}` });
  } else {
    checks.push({ phase: 'damage', name: 'a report of what is known was written', ok: true, detail: report });
    checks.push(...checkRows({ phase: 'damage', target: options.target, sandbox, catalog, rows: await readRows(report), damagedKeys }));
  }
  await workers.stop();
  return checks;
}

function printResult(result: ChaosResult): void {
  for (const check of result.checks) console.log(`${check.ok ? 'PASS' : 'FAIL'}  [${check.phase}] ${check.name}: ${check.detail}`);
  console.log(`numbers: ${JSON.stringify(result.numbers)}`);
  console.log(result.ok ? 'VERDICT: PASS, the target, the catalog and the report agree' : 'VERDICT: FAIL, see the FAIL lines above');
  console.log(`logs of the server and workers: ${result.workDir}`);
}

export function parseChaosArgs(argv: string[]): ChaosOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      products: { type: 'string' },
      kills: { type: 'string' },
      'server-restarts': { type: 'string' },
      target: { type: 'string' },
      seed: { type: 'string' },
      damage: { type: 'string' },
      'damage-products': { type: 'string' },
      'timeout-minutes': { type: 'string' },
      'work-dir': { type: 'string' },
    },
  });
  const int = (name: string, value: string | undefined, fallback: number, min: number) => {
    if (value === undefined) return fallback;
    const n = Number(value);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be a whole number >= ${min}, got "${value}"`);
    return n;
  };
  const target = values.target ?? fullRun.target;
  if (target !== 'voucherify' && target !== 'propeller') throw new Error(`--target must be voucherify or propeller, got "${target}"`);
  if (values.damage !== undefined && !['true', 'false'].includes(values.damage))
    throw new Error(`--damage must be true or false, got "${values.damage}"`);
  return {
    products: int('products', values.products, fullRun.products, 200),
    kills: int('kills', values.kills, fullRun.kills, 0),
    serverRestarts: int('server-restarts', values['server-restarts'], fullRun.serverRestarts, 0),
    target,
    seed: int('seed', values.seed, fullRun.seed, 0),
    damage: values.damage === undefined ? fullRun.damage : values.damage === 'true',
    damageProducts: int('damage-products', values['damage-products'], fullRun.damageProducts, 500),
    timeoutMinutes: int('timeout-minutes', values['timeout-minutes'], fullRun.timeoutMinutes, 1),
    workDir: values['work-dir'],
  };
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  let options: ChaosOptions;
  try {
    options = parseChaosArgs(process.argv.slice(2));
  } catch (err) {
    const usage =
      'npm run chaos -- [--products N] [--kills N] [--server-restarts N] [--target voucherify|propeller] [--seed N] [--damage true|false]';
    console.error(`${(err as Error).message}\nusage: ${usage}`);
    process.exit(1);
  }
  runChaos(options).then(
    (result) => {
      printResult(result);
      process.exit(result.ok ? 0 : 1);
    },
    (err: Error) => {
      console.error(err.stack ?? err.message);
      process.exit(1);
    },
  );
}
