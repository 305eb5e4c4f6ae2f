/** Steering a running import: `pause`, `resume`, `cancel` (one factory for the three signals) and `concurrency` (an Update). */
import { type Command, InvalidArgumentError } from 'commander';
import { WorkflowUpdateFailedError } from '@temporalio/client';
import { cancelSignal, pauseSignal, resumeSignal, setConcurrencyUpdate, type ImportHandle } from '../index';
import { exitCodeHelp } from '../outcome';
import { findImport } from '../status';
import { noWorkerMessage, pollerCount, requireWorker } from '../workers';
import { CliError } from './errors';
import { followAndReport, idCommand, type Context, type WaitFlags } from './context';
import { say, workerTimeoutOption } from './output';

// ---- pause, resume, cancel, concurrency ---------------------------------------------------

/** The import's handle, if it exists and still runs. */
async function runningImport(ctx: Context, id: string) {
  const { handle, description } = await findImport(ctx.client, id);
  if (description.status.name !== 'RUNNING') {
    throw new CliError(
      `Import ${id} is not running (${description.status.name.toLowerCase()}); see bulkport status ${id}\nWeb UI: ${ctx.link(id)}`,
    );
  }
  return { handle, taskQueue: description.taskQueue };
}

/** A signal is accepted without a worker, but nothing happens until one runs: say so. */
export async function warnWithoutWorker(ctx: Context, taskQueue: string): Promise<void> {
  if ((await pollerCount(ctx.client, taskQueue)) === 0) process.stderr.write(`Warning: ${noWorkerMessage(ctx.client, taskQueue)}\n`);
}

/** One steering signal: what it does, how it is sent, what it says once sent. */
interface Steer<F> {
  name: string;
  description: string;
  send(handle: ImportHandle, flags: F): Promise<void>;
  done(id: string): string;
  /** Follows the import to its end (cancel --wait): it says itself when no worker runs it. */
  follows?(flags: F): boolean;
}

/**
 * pause, resume and cancel: a signal to a running import, a warning when no worker will act on it yet, a line saying
 * what happens now, and the Web UI link (or, when following, the summary and the import's exit code).
 */
function steerCommand<F extends object = object>(steer: Steer<F>): Command {
  return idCommand<F>(steer.name, steer.description, async (ctx, id, flags) => {
    const following = steer.follows?.(flags) ?? false;
    const { handle, taskQueue } = await runningImport(ctx, id);
    await steer.send(handle, flags);
    if (!following) await warnWithoutWorker(ctx, taskQueue);
    say(steer.done(id));
    if (following) process.exitCode = await followAndReport(ctx, id, { ...(flags as WaitFlags), json: false });
    else say(`Web UI: ${ctx.link(id)}`);
  });
}

export const pauseCommand = () =>
  steerCommand({
    name: 'pause',
    description: 'Pause an import: nothing new is submitted; chunks in flight finish (Voucherify actions keep being polled)',
    send: (handle) => handle.signal(pauseSignal),
    done: (id) => `Paused ${id}: nothing new is submitted; chunks in flight finish. Resume with: bulkport resume ${id}`,
  });

export const resumeCommand = () =>
  steerCommand({
    name: 'resume',
    description: 'Resume a paused import',
    send: (handle) => handle.signal(resumeSignal),
    done: (id) => `Resumed ${id}`,
  });

export const cancelCommand = () =>
  steerCommand<{ reason?: string; wait?: boolean } & WaitFlags>({
    name: 'cancel',
    description: 'Stop an import cleanly: nothing new is submitted, chunks in flight finish, the report is written',
    send: (handle, flags) => handle.signal(cancelSignal, flags.reason),
    done: (id) => `Cancelling ${id}: chunks in flight finish, then the report is written.`,
    follows: (flags) => !!flags.wait,
  })
    .option('--reason <text>', 'why, kept in the summary')
    .option('-w, --wait', 'follow it to the end and print the summary')
    .addOption(workerTimeoutOption())
    .addHelpText(
      'after',
      `\nWith --wait, the exit code says what the cancelled import imported, as for any import (2 when some products were left unsent):\n${exitCodeHelp}`,
    );

export function concurrencyCommand(): Command {
  return idCommand(
    'concurrency',
    'Set how many chunks an import keeps in flight (takes effect as chunks finish); prints the previous value',
    async (ctx, id, _flags, [n]) => {
      const { handle, taskQueue } = await runningImport(ctx, id);
      // An Update needs a worker to answer; without one it would wait forever.
      await requireWorker(ctx.client, taskQueue, 'The concurrency can only change while a worker runs the import.');
      let previous: number;
      try {
        previous = await ctx.client.connection.withDeadline(Date.now() + 30_000, () =>
          handle.executeUpdate(setConcurrencyUpdate, { args: [n as number] }),
        );
      } catch (err) {
        // The workflow's validator has the last word (it knows the import's maximum).
        if (err instanceof WorkflowUpdateFailedError) throw new CliError(`Rejected: ${err.cause?.message ?? err.message}`);
        throw err;
      }
      say(`Concurrency of ${id}: ${previous} → ${n}`);
      say(`Web UI: ${ctx.link(id)}`);
    },
  ).argument('<n>', "chunks in flight, from 1 to the import's --max-concurrency", (value: string) => {
    const n = Number(value);
    if (value.trim() === '' || Number.isNaN(n)) throw new InvalidArgumentError('expected a number');
    return n;
  });
}
