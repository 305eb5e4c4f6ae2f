/**
 * What a command that talks to Temporal shares: the connection settings (flags, then the environment), a connected
 * client for the command's run, commands about one import by id, and following an import to its end.
 */
import { Command } from 'commander';
import { type Client, WorkflowNotFoundError } from '@temporalio/client';
import { readImportOwner } from '../../activities/staging/files';
import { storeFromEnv } from '../../activities/staging/store';
import { ImportId } from '../../common/import';
import { temporalConfigFromEnv, workflowUiLink, type TemporalConfig } from '../../common/temporal-config';
import { connectClient } from '../index';
import { ExitCode, exitCodeOf } from '../outcome';
import { followMulti, multiSummary } from '../multi';
import type { importIntoTargets } from '../../workflows/multi';
import { followImport, problemLine, summaryLines } from '../progress';
import { findImport, importStatus } from '../status';
import { InCluster, unreachable } from './errors';
import { interruptSignal, printJson, say } from './output';

interface GlobalOptions {
  address?: string;
  namespace?: string;
  uiUrl?: string;
}

export interface Context {
  client: Client;
  config: TemporalConfig;
  link(workflowId: string, runId?: string): string;
}

/** Flags first, then the environment, then the defaults. */
function configOf(command: Command): TemporalConfig {
  const g = command.optsWithGlobals<GlobalOptions>();
  return temporalConfigFromEnv({
    ...process.env,
    ...(g.address ? { TEMPORAL_ADDRESS: g.address } : {}),
    ...(g.namespace ? { TEMPORAL_NAMESPACE: g.namespace } : {}),
    ...(g.uiUrl ? { TEMPORAL_UI_URL: g.uiUrl } : {}),
  });
}

/** Connects, runs the command, closes the connection. */
export async function withTemporal(command: Command, run: (ctx: Context) => Promise<void>): Promise<void> {
  const config = configOf(command);
  let client: Client;
  try {
    client = await connectClient(config, { connectTimeout: '5 seconds' });
  } catch (err) {
    throw unreachable(config, err instanceof Error ? err.message : String(err));
  }
  try {
    await run({ client, config, link: (id, runId) => workflowUiLink(config, id, runId) });
  } catch (err) {
    // The error's message speaks of this cluster (describeError), whatever the environment says.
    throw new InCluster(err, config);
  } finally {
    await client.connection.close();
  }
}

/**
 * The workflow an `<id>` argument names: the one with that id; else the one whose staged data has that import id (a
 * scheduled run's import id, shown in its report's path, is not its workflow id), from the owner file in the staging
 * store the workers share (BULKPORT_STAGING_DIR or BULKPORT_STAGING_URL), as `clean` finds it. Said on stderr, so that
 * a script sees which import it got.
 */
export async function workflowIdOf(ctx: Context, id: string): Promise<string> {
  try {
    await ctx.client.workflow.getHandle(id).describe();
    return id;
  } catch (err) {
    if (!(err instanceof WorkflowNotFoundError)) throw err;
  }
  // Only a name an import id can be is looked up (no path leaves the staging folder); without an owner, the command
  // says the id names no import, as it did.
  if (!ImportId.safeParse(id).success) return id;
  // An unreachable or misconfigured store (storeFromEnv throws on a bad URL) finds no owner either.
  const owner = await Promise.resolve()
    .then(() => readImportOwner(storeFromEnv(), id))
    .catch(() => undefined);
  if (!owner || owner.workflowId === id) return id;
  process.stderr.write(`${id} is the import id of workflow ${owner.workflowId}: that is the import shown\n`);
  return owner.workflowId;
}

/** A command about one import: `<name> <id> [more args]`, connected to Temporal when it runs; `id` is a workflow's (workflowIdOf). */
export function idCommand<F extends object>(
  name: string,
  description: string,
  run: (ctx: Context, id: string, flags: F, args: unknown[]) => Promise<void>,
): Command {
  return new Command(name)
    .description(description)
    .argument('<id>', 'the workflow id (or the import id its staging folder and report are named by)')
    .action(async (...params: unknown[]) => {
      const command = params.at(-1) as Command;
      const [id, ...args] = command.processedArgs as [string, ...unknown[]];
      await withTemporal(command, async (ctx) => run(ctx, await workflowIdOf(ctx, id), command.opts<F>(), args));
    });
}

/** Follows an import to its end, then prints its summary; returns its exit code (see ExitCode). */
export async function followAndReport(ctx: Context, workflowId: string, flags: WaitFlags): Promise<number> {
  const { handle, description } = await findImport(ctx.client, workflowId);
  if (description.type === 'importIntoTargets') return followMultiAndReport(ctx, workflowId, flags);
  const result = await followImport(ctx.client, handle, {
    signal: interruptSignal(),
    workerTimeoutMs: flags.workerTimeout * 1000,
    ...(flags.json ? { onProgress: () => {} } : {}),
  });
  if (result.detached) {
    say(`\nStopped watching; the import goes on. Watch again: bulkport watch ${workflowId}`);
    say(`Web UI: ${ctx.link(workflowId)}`);
    return 130;
  }
  if (flags.json) {
    printJson(await importStatus(ctx.client, ctx.config, workflowId));
    warnProblem(result);
  } else for (const line of summaryLines(result, ctx.link(workflowId))) say(line);
  return exitCodeOf(result);
}

/** Follows an import into several targets (its children) to its end, then prints each child's summary; its exit code. */
export async function followMultiAndReport(ctx: Context, workflowId: string, flags: WaitFlags): Promise<number> {
  const handle = ctx.client.workflow.getHandle<typeof importIntoTargets>(workflowId);
  const end = await followMulti(ctx.client, handle, {
    workerTimeoutMs: flags.workerTimeout * 1000,
    signal: interruptSignal(),
    print: flags.json ? () => {} : say,
  });
  if ('failure' in end) {
    if (end.failure === 'detached') {
      say(`\nStopped watching; the imports go on. Watch again: bulkport watch ${workflowId}`);
      return 130;
    }
    process.stderr.write(`Import failed: ${end.failure}\n`);
    return ExitCode.failed;
  }
  const { lines, code } = multiSummary(end, (child) => ctx.link(child));
  if (flags.json) printJson(end);
  else for (const line of lines) say(line);
  return code;
}

/** With --json, stdout stays JSON; why the import exits 1 goes to stderr. */
export function warnProblem(end: Parameters<typeof problemLine>[0]): void {
  const problem = problemLine(end);
  if (problem) process.stderr.write(`${problem}\n`);
}

export interface WaitFlags {
  json?: boolean;
  /** Seconds without a worker on the import's task queue before giving up; 0: wait. */
  workerTimeout: number;
}
