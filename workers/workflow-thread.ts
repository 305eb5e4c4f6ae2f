/**
 * The SDK's workflow thread, started with a small young generation.
 *
 * The SDK starts its workflow threads with Node's defaults and has no option for their heap, so V8 lets a thread's
 * young generation grow to two semi-spaces of 16 MB, which stay committed. In a 1M-product import that thread
 * allocates a few MB a second (mostly the SDK's stack traces of workflow promises) and its heap was 58 MB committed for
 * 25 MB used. Started with `resourceLimits.maxYoungGenerationSizeMb` of 6, its semi-spaces stay at 2 MB: 32 MB
 * committed, a scavenge of 1–5 ms every few hundred milliseconds on that thread, and the worker's high-water 25–30 MB
 * lower (bench/README.md, "The worker's memory").
 *
 * The SDK reads `Worker` from Node's `worker_threads` when it starts a thread, so the class is wrapped there; any other
 * thread (the staging thread among them) starts with its options as given.
 */
import workerThreads, { type Worker, type WorkerOptions } from 'node:worker_threads';

export const WORKFLOW_THREAD_YOUNG_GENERATION_MB = 6;

const SDK_THREAD_SCRIPT = /[\\/]workflow-worker-thread(\.js)?$/;
const started = new Set<Worker>();
let installed = false;

/** Makes the SDK's workflow threads start with a small young generation; once per process, before `Worker.create`. */
export function limitWorkflowThreads(): void {
  if (installed) return;
  installed = true;
  const NodeWorker = workerThreads.Worker;
  class WorkflowThreadWorker extends NodeWorker {
    constructor(script: string | URL, options?: WorkerOptions) {
      const sdkThread = SDK_THREAD_SCRIPT.test(String(script));
      const resourceLimits = { maxYoungGenerationSizeMb: WORKFLOW_THREAD_YOUNG_GENERATION_MB, ...options?.resourceLimits };
      super(script, sdkThread ? { ...options, resourceLimits } : options);
      if (!sdkThread) return;
      started.add(this);
      this.once('exit', () => started.delete(this));
    }
  }
  (workerThreads as { Worker: typeof NodeWorker }).Worker = WorkflowThreadWorker;
}

/** The SDK's workflow threads this process started and that still run: what a test checks the limit on. */
export function workflowThreads(): readonly Worker[] {
  return [...started];
}
