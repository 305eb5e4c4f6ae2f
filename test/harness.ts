/**
 * The one harness of tests that run imports: a test asks for a sandbox, a worker bound to it and an import runner,
 * and all it got is closed when the test ends, passed or failed, newest first: teardown is registered once, here, on
 * the test's context, so no test writes try/finally for it.
 */
import type { TestContext } from 'node:test';
import type { WorkflowHandle } from '@temporalio/client';
import { startImport, type ImportSummary, type StartImportRequest } from '../client';
import type { PropellerSandbox, VoucherifySandbox } from '../sandbox';
import { devTarget } from '../targets/dev';
import { startWorker, type RunningWorker, type TemporalHarness } from './helpers';

/** The sandbox each target's tests get, with its own inspection methods. */
interface Sandboxes {
  voucherify: VoucherifySandbox;
  propeller: PropellerSandbox;
}
export type SandboxTarget = keyof Sandboxes;

const teardowns = new WeakMap<TestContext, (() => Promise<unknown> | unknown)[]>();

/** Runs `close` when the test ends, after everything registered later (a worker stops before its sandbox closes). */
export function onEnd(ctx: TestContext, close: () => Promise<unknown> | unknown): void {
  let stack = teardowns.get(ctx);
  if (!stack) {
    const fresh: (() => Promise<unknown> | unknown)[] = [];
    teardowns.set(ctx, fresh);
    stack = fresh;
    ctx.after(async () => {
      const errors: unknown[] = [];
      for (const fn of fresh.reverse())
        await Promise.resolve()
          .then(fn)
          .catch((err: unknown) => errors.push(err));
      if (errors.length) throw errors[0];
    });
  }
  stack.push(close);
}

/** A target's sandbox for this test (options as the simulator takes them: seed, faults, quotas …). */
export async function sandboxFor<T extends SandboxTarget>(
  ctx: TestContext,
  target: T,
  options: Record<string, unknown> = {},
): Promise<Sandboxes[T]> {
  const sandbox = (await (await devTarget(target)).startSandbox(options)) as Sandboxes[T];
  onEnd(ctx, () => sandbox.close());
  return sandbox;
}

/** A worker for this test on a fresh task queue, with the target environment given. */
export async function workerFor(
  ctx: TestContext,
  t: TemporalHarness,
  env: NodeJS.ProcessEnv,
  name: string,
  stagingDir?: string,
): Promise<RunningWorker> {
  const worker = await startWorker(t, env, name, stagingDir);
  onEnd(ctx, () => worker.stop());
  return worker;
}

export interface ImportRunner {
  worker: RunningWorker;
  /** Starts an import on the worker's queue; its workflow id is `<name>-<time>`. */
  start(request: StartImportRequest, name: string): Promise<WorkflowHandle>;
  /** Starts one and waits for its summary. */
  run(request: StartImportRequest, name: string): Promise<{ summary: ImportSummary; handle: WorkflowHandle }>;
}

/** Imports for this test, through one worker bound to `env` (a sandbox's, plus any extra settings). */
export async function importsFor(ctx: TestContext, t: TemporalHarness, env: NodeJS.ProcessEnv, name: string): Promise<ImportRunner> {
  const worker = await workerFor(ctx, t, env, name);
  const start = (request: StartImportRequest, id: string) =>
    startImport(t.client, request, { taskQueue: worker.taskQueue, workflowId: `${id}-${Date.now()}` }) as Promise<WorkflowHandle>;
  return {
    worker,
    start,
    async run(request, id) {
      const handle = await start(request, id);
      return { summary: await handle.result(), handle };
    },
  };
}

/** One import on a worker of its own bound to `env`, to its summary. */
export async function runImport(ctx: TestContext, t: TemporalHarness, env: NodeJS.ProcessEnv, request: StartImportRequest, name: string) {
  return (await importsFor(ctx, t, env, name)).run(request, name);
}
