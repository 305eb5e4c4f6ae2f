/**
 * Is a worker polling the import's task queue? Without one, a query, an Update or the wait for a
 * result blocks forever; the CLI asks the server instead and says so within seconds.
 */
import type { Client } from '@temporalio/client';

/** Thrown when no worker polled the task queue for the whole of the wait allowed; exit code 1. */
export class NoWorkerError extends Error {}

/** The server reports a poller for a while after its last poll; a live worker re-polls at least every ~70 s. */
const POLLER_FRESH_MS = 90_000;

/** Workers polling the queue for workflow tasks (they run its activities on the same queue). */
export async function pollerCount(client: Client, taskQueue: string): Promise<number> {
  const { pollers } = await client.workflowService.describeTaskQueue({
    namespace: client.options.namespace,
    // TASK_QUEUE_KIND_NORMAL, TASK_QUEUE_TYPE_WORKFLOW (the proto enums, without depending on @temporalio/proto).
    taskQueue: { name: taskQueue, kind: 1 },
    taskQueueType: 1,
  });
  const now = Date.now();
  const fresh = (p: (typeof pollers)[number]) => {
    const seconds = p.lastAccessTime?.seconds;
    return seconds === undefined || seconds === null || now - Number(seconds) * 1000 < POLLER_FRESH_MS;
  };
  return (pollers ?? []).filter(fresh).length;
}

export function noWorkerMessage(client: Client, taskQueue: string): string {
  return (
    `No worker is polling task queue ${taskQueue} in namespace ${client.options.namespace}: the import waits until one starts. ` +
    "Start one with `npm run worker` (with the target's settings), or check --task-queue / TEMPORAL_TASK_QUEUE."
  );
}

export interface WorkerWatchOptions {
  /** Give up after this long without a worker (0: wait forever, warning once). */
  timeoutMs: number;
  /** A worker restarting is not missing: first say so after this long. */
  graceMs?: number;
  /** Where the warning goes. */
  warn?: (message: string) => void;
}

/**
 * Watches a task queue while a command waits on it: `check()` warns once when no worker has polled
 * for the grace period, and throws NoWorkerError once none has for `timeoutMs`.
 */
export function watchWorkers(client: Client, taskQueue: string, options: WorkerWatchOptions) {
  const grace = options.graceMs ?? 3000;
  let missingSince: number | undefined;
  let warned = false;
  return {
    async check(): Promise<boolean> {
      // A server that doesn't answer (restarting) says nothing about workers; following goes on as before.
      const present = (await pollerCount(client, taskQueue).catch(() => 1)) > 0;
      if (present) {
        missingSince = undefined;
        return true;
      }
      missingSince ??= Date.now();
      const missing = Date.now() - missingSince;
      if (missing >= grace && !warned) {
        warned = true;
        options.warn?.(noWorkerMessage(client, taskQueue));
      }
      if (options.timeoutMs > 0 && missing >= Math.max(grace, options.timeoutMs)) {
        throw new NoWorkerError(
          `${noWorkerMessage(client, taskQueue)}\nGave up after ${Math.round(missing / 1000)}s (--worker-timeout); the import is still there: ` +
            'once a worker runs, follow it with `bulkport watch <id>`.',
        );
      }
      return false;
    },
  };
}

/** For commands that need a worker now (an Update): fails within `graceMs` when none polls. */
export async function requireWorker(client: Client, taskQueue: string, why: string, graceMs = 3000): Promise<void> {
  const deadline = Date.now() + graceMs;
  for (;;) {
    if ((await pollerCount(client, taskQueue)) > 0) return;
    if (Date.now() >= deadline) throw new NoWorkerError(`${noWorkerMessage(client, taskQueue)}\n${why}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}
