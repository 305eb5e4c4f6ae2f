/**
 * Staging in a worker thread of its own: reading, validating and cutting the source is most of an import's CPU, and on
 * the activity's thread it competes with the chunks being sent (staging and sending overlap). The thread runs the very
 * same staging (stage.ts) and talks to the activity in messages: heartbeats and logs up, a cancel down (the thread is
 * terminated: its files are written whole or not at all), the result or the error at the end.
 */
import { Worker } from 'node:worker_threads';
import { ApplicationFailure } from '@temporalio/common';
import type { ImportInput, StageResult } from '../common/import';
import type { StageContext, StageThread } from './stage';
import { SourceError } from './sources';

/** What the thread is given: the import, its attempt, and where its store and settings are. */
export interface StageThreadData extends StageThread {
  input: ImportInput;
  attempt: number;
  heartbeatDetails: unknown;
  workflowExecution?: { workflowId: string; runId: string };
}

/** A failure as it crosses threads: the kinds the activity treats differently keep what it needs of them. */
export type ThreadError =
  | { kind: 'source'; message: string; retryable: boolean; maxAttempts?: number }
  | { kind: 'application'; message: string; type?: string | null; nonRetryable: boolean; details?: unknown[] }
  | { kind: 'other'; name: string; message: string; stack?: string };

export type ThreadMessage =
  | { type: 'heartbeat'; details: unknown }
  | { type: 'log'; level: 'info' | 'warn'; message: string; attrs?: Record<string, unknown> }
  | { type: 'done'; result: StageResult }
  | { type: 'failed'; error: ThreadError };

export function toThreadError(err: unknown): ThreadError {
  if (err instanceof SourceError) {
    return {
      kind: 'source',
      message: err.message,
      retryable: err.retryable,
      ...(err.maxAttempts !== undefined ? { maxAttempts: err.maxAttempts } : {}),
    };
  }
  if (err instanceof ApplicationFailure) {
    return {
      kind: 'application',
      message: err.message,
      type: err.type,
      nonRetryable: err.nonRetryable === true,
      details: err.details ?? [],
    };
  }
  const e = err instanceof Error ? err : new Error(String(err));
  return { kind: 'other', name: e.name, message: e.message, ...(e.stack ? { stack: e.stack } : {}) };
}

function fromThreadError(error: ThreadError): Error {
  switch (error.kind) {
    case 'source':
      return new SourceError(error.message, error.retryable, error.maxAttempts);
    case 'application':
      return ApplicationFailure.create({
        message: error.message,
        type: error.type ?? undefined,
        nonRetryable: error.nonRetryable,
        details: error.details,
      });
    default:
      return Object.assign(new Error(error.message), { name: error.name, stack: error.stack });
  }
}

const entry = new URL('./stage-thread.ts', import.meta.url);

/** Under tsx (as the worker runs) a thread must register it before it imports TypeScript; compiled code needs nothing. */
function startThread(workerData: StageThreadData): Worker {
  if (!import.meta.url.endsWith('.ts')) return new Worker(new URL('./stage-thread.js', import.meta.url), { workerData });
  const boot = `import('tsx/esm/api').then(({ register }) => { register(); return import(${JSON.stringify(entry.href)}); })`;
  return new Worker(boot, { eval: true, workerData });
}

export function stageInThread(input: ImportInput, ctx: StageContext, thread: StageThread): Promise<StageResult> {
  return new Promise((resolve, reject) => {
    const worker = startThread({
      ...thread,
      input,
      attempt: ctx.attempt,
      heartbeatDetails: ctx.heartbeatDetails,
      ...(ctx.workflowExecution ? { workflowExecution: ctx.workflowExecution } : {}),
    });
    let settled = false;
    const settle = (end: () => void) => {
      if (settled) return;
      settled = true;
      ctx.signal.removeEventListener('abort', cancelled);
      end();
      void worker.terminate();
    };
    const cancelled = () => settle(() => reject(ctx.signal.reason ?? new Error('staging was cancelled')));
    ctx.signal.addEventListener('abort', cancelled, { once: true });
    worker.on('message', (message: ThreadMessage) => {
      if (message.type === 'heartbeat') ctx.heartbeat(message.details);
      else if (message.type === 'log') ctx.log(message.level, message.message, message.attrs);
      else if (message.type === 'done') settle(() => resolve(message.result));
      else settle(() => reject(fromThreadError(message.error)));
    });
    worker.on('error', (err) => settle(() => reject(err)));
    worker.on('exit', (code) => settle(() => reject(new Error(`the staging thread ended (exit code ${code}) without a result`))));
  });
}
