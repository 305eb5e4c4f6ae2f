/**
 * Following an import into several targets (workflows/multi.ts) from the CLI: its children's progress as plain lines,
 * then each child's summary and one exit code for all.
 */
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { ImportProgress } from '../common/import';
import { childImportsQuery, type ChildImport, type importIntoTargets, type MultiImportSummary } from '../workflows/multi';
import { type ExitCode, exitCodeOf, rootCause } from './outcome';
import { followImport, progressLine, summaryLines } from './progress';
import { getImport } from './index';
import { watchWorkers } from './workers';

export type MultiHandle = WorkflowHandle<typeof importIntoTargets>;

/** The children, once the parent has answered (it needs a worker to). */
export async function childImports(client: Client, handle: MultiHandle, workerTimeoutMs: number): Promise<ChildImport[]> {
  const { taskQueue } = await handle.describe();
  const workers = watchWorkers(client, taskQueue, { timeoutMs: workerTimeoutMs, warn: (m) => void process.stderr.write(`${m}\n`) });
  for (;;) {
    if (await workers.check()) {
      const children = await client.connection
        .withDeadline(Date.now() + 5000, () => handle.query(childImportsQuery))
        .catch(() => undefined);
      // Followed once all are started: a child not started yet is not found.
      if (children?.every((c) => c.started !== false)) return children;
    }
    await new Promise((r) => setTimeout(r, 1000));
  }
}

/** 0 when every child's import exited 0, 1 when every one exited 1, else 2. */
export function multiExitCode(codes: ExitCode[]): ExitCode {
  if (codes.every((c) => c === 0)) return 0;
  return codes.every((c) => c === 1) ? 1 : 2;
}

/** The combined summary as lines, a block per target, and its exit code. */
export function multiSummary(summary: MultiImportSummary, link: (workflowId: string) => string): { lines: string[]; code: ExitCode } {
  const lines = [`Import into ${summary.imports.map((c) => c.target).join(' and ')} ${summary.status}`];
  const codes: ExitCode[] = [];
  for (const child of summary.imports) {
    const end = child.summary ? { summary: child.summary } : { failure: { message: child.failure ?? 'unknown' } };
    codes.push(exitCodeOf(end));
    lines.push(`── ${child.target} (${child.workflowId})`, ...summaryLines(end, link(child.workflowId)).map((l) => `   ${l}`));
  }
  return { lines, code: multiExitCode(codes) };
}

/** Follows every child to its end with a plain line each every few seconds; resolves with the parent's summary. */
export async function followMulti(
  client: Client,
  handle: MultiHandle,
  options: { workerTimeoutMs: number; signal?: AbortSignal; print: (line: string) => void },
): Promise<MultiImportSummary | { failure: string }> {
  // An ended one has its summary; a running one needs a worker to name its children.
  if ((await handle.describe()).status.name !== 'RUNNING') return handle.result().catch((err) => ({ failure: rootCause(err).message }));
  const children = await childImports(client, handle, options.workerTimeoutMs);
  const latest = new Map<string, ImportProgress>();
  const timer = setInterval(() => {
    for (const { target } of children) {
      const p = latest.get(target);
      if (p) options.print(`${target.padEnd(11)} ${progressLine(p)}`);
    }
  }, 5000);
  try {
    await Promise.all(
      children.map(({ target, workflowId }) =>
        followImport(client, getImport(client, workflowId), {
          workerTimeoutMs: options.workerTimeoutMs,
          ...(options.signal ? { signal: options.signal } : {}),
          onProgress: (p) => latest.set(target, p),
        }),
      ),
    );
    if (options.signal?.aborted) return { failure: 'detached' };
    return await handle.result();
  } catch (err) {
    return { failure: rootCause(err).message };
  } finally {
    clearInterval(timer);
  }
}
