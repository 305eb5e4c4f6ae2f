/**
 * The processes the chaos script breaks: a Temporal dev server on a persistent database that it restarts, and a worker
 * process that it SIGKILLs and starts again. Every wait is bounded; `stop()` ends whatever is still running.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, type WriteStream } from 'node:fs';
import net from 'node:net';
import { Connection } from '@temporalio/client';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { allSearchAttributes } from '../common/search-attributes';
import { npmWorkerArgs } from './npm-worker';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A free loopback port, picked by the OS. */
export async function freePort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** Resolves when the child has exited, or after timeoutMs (then false). */
function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** SIGTERM (or the signal given), then SIGKILL if the child is still there after graceMs. */
async function end(child: ChildProcess, signal: NodeJS.Signals, graceMs: number): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  if (!(await exited(child, graceMs))) {
    child.kill('SIGKILL');
    await exited(child, 10_000);
  }
}

/** `temporal server start-dev` on a SQLite file, loopback only, headless; restartable on the same port and file. */
export class PersistentDevServer {
  private child?: ChildProcess;
  readonly address: string;
  restarts = 0;

  constructor(
    private readonly binary: string,
    private readonly dbFile: string,
    private readonly port: number,
    private readonly log: WriteStream,
  ) {
    this.address = `127.0.0.1:${port}`;
  }

  async start(): Promise<void> {
    const attributes = allSearchAttributes.flatMap((a) => ['--search-attribute', `${a.name}=${a.type === 'INT' ? 'Int' : 'Keyword'}`]);
    const args = [
      'server',
      'start-dev',
      '--headless',
      '--ip',
      '127.0.0.1',
      '--port',
      String(this.port),
      '--db-filename',
      this.dbFile,
      '--log-level',
      'error',
    ];
    this.child = spawn(this.binary, [...args, ...attributes], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.child.stdout!.pipe(this.log, { end: false });
    this.child.stderr!.pipe(this.log, { end: false });
    await this.ready(90_000);
  }

  /** Waits until the frontend answers; a loaded machine takes several seconds. */
  private async ready(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      if (this.child && (this.child.exitCode !== null || this.child.signalCode !== null)) break;
      try {
        const connection = await Connection.connect({ address: this.address, connectTimeout: 2000 });
        try {
          await connection.workflowService.getSystemInfo({});
          return;
        } finally {
          await connection.close();
        }
      } catch (err) {
        last = err;
        await sleep(500);
      }
    }
    throw new Error(`the Temporal dev server on ${this.address} did not come up: ${(last as Error | undefined)?.message ?? 'it exited'}`);
  }

  /** Stops the server (SIGTERM: the SQLite file must survive) and starts it again on the same port and database. */
  async restart(downMs: number): Promise<void> {
    if (this.child) await end(this.child, 'SIGTERM', 15_000);
    await sleep(downMs);
    await this.start();
    this.restarts++;
  }

  async stop(): Promise<void> {
    if (this.child) await end(this.child, 'SIGTERM', 10_000);
  }
}

export interface WorkerSpec {
  address: string;
  taskQueue: string;
  stagingDir: string;
  bundlePath: string;
  targetEnv: Record<string, string>;
  log: WriteStream;
}

/**
 * One `npm run worker` process at a time. kill() SIGKILLs it and starts the next; a worker that dies by itself (for
 * example while the server is down) is started again too, and counted.
 */
export class WorkerSupervisor {
  private child?: ChildProcess;
  private stopped = false;
  kills = 0;
  unexpectedExits = 0;

  constructor(private readonly spec: WorkerSpec) {}

  /** Starts a worker and waits (bounded) until it says it polls. */
  async start(): Promise<void> {
    const child = spawn(process.execPath, npmWorkerArgs(), {
      cwd: root,
      env: {
        ...process.env,
        ...this.spec.targetEnv,
        TEMPORAL_ADDRESS: this.spec.address,
        TEMPORAL_NAMESPACE: 'default',
        TEMPORAL_TASK_QUEUE: this.spec.taskQueue,
        BULKPORT_STAGING_DIR: this.spec.stagingDir,
        BULKPORT_WORKFLOW_BUNDLE: this.spec.bundlePath,
      },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    this.child = child;
    const up = new Promise<void>((resolve) => {
      const onData = (data: Buffer) => {
        if (data.toString().includes('bulkport worker on')) resolve();
      };
      child.stderr!.on('data', onData);
      child.once('exit', () => resolve());
    });
    child.stderr!.pipe(this.spec.log, { end: false });
    child.once('exit', (code, signal) => {
      if (this.child !== child || this.stopped || signal === 'SIGKILL') return;
      this.unexpectedExits++;
      this.spec.log.write(`\n[chaos] worker exited by itself (code ${code}, signal ${signal}); starting another\n`);
      void sleep(1000).then(() => (this.stopped || this.child !== child ? undefined : this.start()));
    });
    await Promise.race([up, sleep(60_000)]);
  }

  /** SIGKILL, the way a crash or an OOM kill ends a worker, then a new worker. */
  async kill(): Promise<void> {
    const child = this.child;
    if (child) {
      child.kill('SIGKILL');
      await exited(child, 10_000);
    }
    this.kills++;
    await this.start();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.child) await end(this.child, 'SIGKILL', 5000);
  }
}

export function logFile(file: string): WriteStream {
  return createWriteStream(file, { flags: 'a' });
}
