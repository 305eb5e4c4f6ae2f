/**
 * What import tests share: the run's Temporal server (started once by scripts/test.ts, or here
 * when a file runs on its own), a worker on a fresh task queue, and small waiting helpers.
 */
import { spawn } from 'node:child_process';
import { after, before } from 'node:test';
import { mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import path from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import type { TestWorkflowEnvironment } from '@temporalio/testing';
import { LocalFolderStore } from '../activities/staging/store';
import { createImportWorker, workflowCode } from '../workers/worker';
import { workerTracing } from '../common/tracing';
import { startDevServer } from '../scripts/dev-server';
import { npmWorkerArgs } from '../scripts/npm-worker';

export interface TemporalHarness {
  client: Client;
  connection: NativeConnection;
  namespace: string;
  close(): Promise<void>;
}

let ownServer: TestWorkflowEnvironment | undefined;

// Workers' state changes are noise in test output; warnings and errors still show.
Runtime.install({ logger: new DefaultLogger('WARN') });

/** Connects to the run's dev server; a test file run alone starts its own. */
export async function temporal(): Promise<TemporalHarness> {
  let address = process.env.TEMPORAL_ADDRESS;
  if (!address) {
    ownServer ??= await startDevServer();
    address = ownServer.address;
  }
  const namespace = process.env.TEMPORAL_NAMESPACE ?? 'default';
  const clientConnection = await Connection.connect({ address });
  const connection = await NativeConnection.connect({ address });
  return {
    client: new Client({ connection: clientConnection, namespace }),
    connection,
    namespace,
    async close() {
      await clientConnection.close();
      await connection.close();
      await ownServer?.teardown();
      ownServer = undefined;
    },
  };
}

/** The file's Temporal harness, connected before its tests and closed after them. */
export function useTemporal(): TemporalHarness {
  const harness = {} as TemporalHarness;
  before(async () => void Object.assign(harness, await temporal()));
  after(() => harness.close());
  return harness;
}

export const tempDir = (name: string) => mkdtemp(path.join(os.tmpdir(), `bulkport-${name}-`));

let queueCounter = 0;
export const uniqueTaskQueue = (name: string) => `test-${name}-${process.pid}-${++queueCounter}`;

/** Staging's progress as a stub stage shows it unless a test says otherwise: nothing yet (its chunks come with its result). */
async function nothingStagedYet() {
  await sleep(100);
  return { chunks: 0, read: 0, valid: 0, invalid: 0, done: false };
}

/** A worker of the real workflow (the run's bundle) with stub activities: workflow tests in seconds. */
export function stubWorker(t: TemporalHarness, taskQueue: string, stubs: object): Promise<Worker> {
  const bundle = process.env.BULKPORT_WORKFLOW_BUNDLE;
  return Worker.create({
    connection: t.connection,
    namespace: t.namespace,
    taskQueue,
    ...workflowCode(bundle),
    sinks: workerTracing().sinks,
    activities: { awaitStaged: nothingStagedYet, ...stubs } as Record<string, (...args: unknown[]) => unknown>,
  });
}

export interface RunningWorker {
  worker: Worker;
  taskQueue: string;
  store: LocalFolderStore;
  stop(): Promise<void>;
}

/** A worker on its own task queue, with the given target environment and a fresh staging folder. */
export async function startWorker(t: TemporalHarness, env: NodeJS.ProcessEnv, name: string, stagingDir?: string): Promise<RunningWorker> {
  const taskQueue = uniqueTaskQueue(name);
  const store = new LocalFolderStore(stagingDir ?? (await tempDir(`${name}-staging`)));
  const worker = await createImportWorker({
    connection: t.connection,
    namespace: t.namespace,
    taskQueue,
    env,
    store,
    workflowBundlePath: process.env.BULKPORT_WORKFLOW_BUNDLE,
  });
  const running = worker.run();
  return {
    worker,
    taskQueue,
    store,
    async stop() {
      worker.shutdown();
      await running;
    },
  };
}

export async function readJsonl<T = Record<string, unknown>>(file: string): Promise<T[]> {
  return (await readFile(file, 'utf8'))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as T);
}

/** Polls `check` until it returns a value, or fails with `what` after `timeoutMs`. */
export async function eventually<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export interface WorkerProcess {
  /** SIGKILL: no graceful shutdown, the way a crash or an OOM kill ends a worker. */
  kill(): Promise<void>;
  /** What the worker logged so far. */
  stderr(): string;
}

/** `npm run worker` in a process of its own, on the run's Temporal server, so a test can kill it. */
export function spawnWorkerProcess(env: {
  targetEnv: Record<string, string>;
  taskQueue: string;
  stagingDir: string;
  /** More of the worker's settings (BULKPORT_METRICS_ADDRESS …). */
  extraEnv?: Record<string, string>;
  /** Node's arguments: `npm run worker`'s by default; a built worker's entry (dist/worker.js) instead. */
  args?: string[];
}): WorkerProcess {
  const child = spawn(process.execPath, env.args ?? npmWorkerArgs(), {
    env: {
      ...process.env,
      ...env.targetEnv,
      TEMPORAL_ADDRESS: process.env.TEMPORAL_ADDRESS ?? '',
      TEMPORAL_TASK_QUEUE: env.taskQueue,
      BULKPORT_STAGING_DIR: env.stagingDir,
      ...env.extraEnv,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  child.stderr.on('data', (data: Buffer) => (log += data.toString()));
  const exited = new Promise((resolve) => child.once('exit', resolve));
  return {
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stderr: () => log,
  };
}
