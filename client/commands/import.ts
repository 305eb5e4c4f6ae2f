/** `bulkport import`: the flags, the import request they describe, and starting (and with --wait following) the import. */
import { Command, InvalidArgumentError, Option } from 'commander';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { ImportInput, targetNames, type TargetName } from '../../common/import';
import {
  checkSource,
  importWorkflowId,
  startDryRun,
  startImport,
  startMultiImport,
  type StartedImport,
  type StartImportRequest,
} from '../index';
import { childImportId } from '../../workflows/multi';
import type { WorkflowHandle } from '@temporalio/client';
import type { ImportPlan } from '../../common/import';
import type { planCatalog } from '../../workflows';
import { planExitCode, planLines } from '../plan';
import { watchWorkers } from '../workers';
import { ExitCode, exitCodeHelp, rootCause, type ImportFailure } from '../outcome';
import { loadMapping, MappingFileError } from '../mapping';
import type { FieldMapping } from '../../common/mapping';
import { readFile } from 'node:fs/promises';
import { delimiterOption, encodingOption, formatOption, recordsPathOption, sourceRefOf, type SourceFlags } from '../source-flags';
import { CliError } from './errors';
import { followAndReport, followMultiAndReport, withTemporal, type Context } from './context';
import { warnWithoutWorker } from './steer';
import { printJson, say, workerTimeoutOption } from './output';
import { type OptionFlag, optionFlags, optionsFromFlags } from './target-flags';

// ---- import --------------------------------------------------------------------------------

/** `voucherify` or `voucherify,propeller`: each a known target, each once. */
function targetList(value: string): TargetName[] {
  const names = value.split(',').map((n) => n.trim());
  for (const name of names) {
    if (!(targetNames as readonly string[]).includes(name))
      throw new InvalidArgumentError(`Allowed choices are ${targetNames.join(', ')} (or several, comma-separated).`);
  }
  if (new Set(names).size !== names.length) throw new InvalidArgumentError('name each target once.');
  return names as TargetName[];
}

interface ImportFlags extends SourceFlags {
  target: TargetName[];
  id?: string;
  taskQueue?: string;
  wait?: boolean;
  json?: boolean;
  dryRun?: boolean;
  mapping: string[];
  workerTimeout: number;
  /** The option flags (`optionFlags`), by commander's attribute names. */
  [option: string]: unknown;
}

/** The import request the flags describe; a flag of the other target is an error rather than ignored. */
export function importRequestOf(
  file: string,
  flags: SourceFlags & { target: TargetName; [option: string]: unknown },
  known: readonly OptionFlag[] = optionFlags,
): StartImportRequest {
  const options = optionsFromFlags(flags.target, flags, known);
  const concurrency = options.concurrency as number | undefined;
  const maxConcurrency = (options.maxConcurrency as number | undefined) ?? 32;
  if (concurrency !== undefined && concurrency > maxConcurrency) {
    throw new CliError(`--concurrency ${concurrency} is above --max-concurrency ${maxConcurrency}: lower it, or raise --max-concurrency`);
  }
  return { target: flags.target, source: sourceRefOf(file, flags), options } as StartImportRequest;
}

/** Says what started (or prints it as JSON), then with --wait follows it to the end and sets the exit code. */
export async function announceAndFollow(
  ctx: Context,
  handle: StartedImport,
  flags: Pick<ImportFlags, 'json' | 'wait' | 'workerTimeout'>,
  taskQueue: string,
): Promise<void> {
  const id = handle.workflowId;
  if (flags.json && !flags.wait) return printJson({ workflowId: id, runId: handle.firstExecutionRunId, uiLink: ctx.link(id) });
  if (!flags.json) {
    say(`Started ${id}`);
    say(`  ${(await (await handle.describe()).staticSummary()) ?? ''}`);
    say(`Web UI: ${ctx.link(id)}`);
  }
  if (!flags.wait) {
    say(`Follow it: bulkport watch ${id}   (also: status, pause, resume, cancel, concurrency ${id} <n>)`);
    await warnWithoutWorker(ctx, taskQueue);
    return;
  }
  process.exitCode = await followAndReport(ctx, id, flags);
}

/** `--mapping` values by target: `[<target>=]<file>`; without a prefix, the only target, or the one the file names. */
async function mappingsOf(values: string[], targets: TargetName[]): Promise<Map<TargetName, FieldMapping>> {
  const byTarget = new Map<TargetName, FieldMapping>();
  for (const value of values) {
    const prefixed = /^([a-z]+)=(.+)$/.exec(value);
    let target = prefixed?.[1] as TargetName | undefined;
    const file = prefixed?.[2] ?? value;
    if (target !== undefined && !targets.includes(target))
      throw new CliError(`--mapping ${value}: ${target} is not a target of this import (${targets.join(', ')})`);
    if (target === undefined && targets.length === 1) target = targets[0];
    target ??= (JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as { target?: TargetName }).target;
    if (target === undefined || !targets.includes(target))
      throw new CliError(`--mapping ${value}: with several targets, say whose it is: --mapping ${targets[0]}=${file}`);
    if (byTarget.has(target)) throw new CliError(`--mapping: two mappings for ${target}; give one a target`);
    byTarget.set(
      target,
      await loadMapping(file, target).catch((err: unknown) => {
        throw err instanceof MappingFileError ? new CliError(err.message) : err;
      }),
    );
  }
  return byTarget;
}

/** Ids are never reused (REJECT_DUPLICATE): a start refused for its id says how the earlier import stands, running or ended. */
export async function explainReusedId<T>(ctx: Context, starting: Promise<T>): Promise<T> {
  try {
    return await starting;
  } catch (err) {
    if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
    const earlier = await ctx.client.workflow
      .getHandle(err.workflowId)
      .describe()
      .then(
        (d) => d.status.name,
        () => undefined,
      );
    const ended = earlier && `${earlier[0]}${earlier.slice(1).toLowerCase().replace(/_/g, ' ')}`; // COMPLETED → Completed
    const how = !earlier ? 'already exists' : earlier === 'RUNNING' ? 'is already running' : `already exists (it ended ${ended})`;
    throw new CliError(
      `An import with id ${err.workflowId} ${how}. One import id names one import's data and report: choose another --id.`,
    );
  }
}

/** Waits for a dry run's plan (saying so when no worker runs it), prints it, and returns its exit code. */
async function dryRun(ctx: Context, handle: WorkflowHandle<typeof planCatalog>, flags: ImportFlags): Promise<number> {
  const { taskQueue } = await handle.describe();
  if (!flags.json) say(`Dry run ${handle.workflowId}: validating the catalog; nothing is sent to the target.`);
  const workers = watchWorkers(ctx.client, taskQueue, {
    timeoutMs: flags.workerTimeout * 1000,
    warn: (message) => void process.stderr.write(`${message}\n`),
  });
  let end: { plan: ImportPlan } | { failure: ImportFailure } | undefined;
  const result = handle.result().then(
    (plan) => (end = { plan }),
    (err: unknown) => (end = { failure: rootCause(err) }),
  );
  while (!end) {
    await workers.check();
    await Promise.race([result, new Promise((r) => setTimeout(r, 1000))]);
  }
  if ('failure' in end) {
    process.stderr.write(`The dry run failed: ${end.failure.message}\nWeb UI: ${ctx.link(handle.workflowId)}\n`);
    return ExitCode.failed;
  }
  if (flags.json) printJson(end.plan);
  else for (const line of planLines(end.plan)) say(line);
  return planExitCode(end.plan);
}

/**
 * One catalog into several targets: a parent import with a child per target. An option flag goes to every target
 * that takes it (a common one to all).
 */
async function importIntoTargets(file: string, flags: ImportFlags, command: Command): Promise<void> {
  if (flags.dryRun) throw new CliError('--dry-run plans one target at a time: run it once per target');
  const mappings = await mappingsOf(flags.mapping, flags.target);
  const requests = flags.target.map((target) => {
    const request = importRequestOf(
      file,
      { ...flags, target },
      optionFlags.filter((f) => f.targets.includes(target)),
    );
    const mapping = mappings.get(target);
    return mapping ? { ...request, mapping } : request;
  });
  await withTemporal(command, async (ctx) => {
    const taskQueue = flags.taskQueue ?? ctx.config.taskQueue;
    const handle = await explainReusedId(
      ctx,
      startMultiImport(
        ctx.client,
        { source: requests[0]!.source, targets: requests.map(({ source: _, ...rest }) => rest) },
        { ...(flags.id ? { workflowId: flags.id } : {}), taskQueue },
      ),
    );
    const id = handle.workflowId;
    if (flags.json && !flags.wait) return printJson({ workflowId: id, runId: handle.firstExecutionRunId, uiLink: ctx.link(id) });
    if (!flags.json)
      say(`Started ${id}: one import per target (${flags.target.map((t) => childImportId(id, t)).join(', ')})\nWeb UI: ${ctx.link(id)}`);
    if (!flags.wait) {
      say(`Steer them all: bulkport pause|resume|cancel ${id}; each: bulkport status <child id>`);
      await warnWithoutWorker(ctx, taskQueue);
      return;
    }
    process.exitCode = await followMultiAndReport(ctx, id, flags);
  });
}

export function importCommand(): Command {
  const command = new Command('import')
    .description('Start importing a catalog into a target; with --wait, follow it with live progress bars to the end')
    .argument('<file>', 'the catalog: a local path, an http(s) URL or s3://bucket/key (JSONL, CSV with a header row, or a JSON array)')
    .addOption(
      new Option(
        '-t, --target <target>',
        `where the products go: ${targetNames.join(', ')}, or several, comma-separated (one child import each)`,
      )
        .argParser(targetList)
        .makeOptionMandatory(),
    )
    .addOption(formatOption())
    .addOption(encodingOption())
    .addOption(delimiterOption())
    .addOption(recordsPathOption())
    .option(
      '--mapping <[target=]file>',
      "a field mapping (JSON: a JSONata expression per product field) that turns each source record into the target's product; checked before the import starts; with several targets, one each (voucherify=v.json, or a file that names its target)",
      (value: string, all: string[]) => [...all, value],
      [] as string[],
    )
    .option(
      '--id <workflow-id>',
      'the workflow id, never reused: one id names one import (default: import-<target>-<file name>-<timestamp>)',
    );
  for (const flag of optionFlags) command.addOption(flag.option);
  return command
    .option('--task-queue <queue>', "the workers' task queue (default TEMPORAL_TASK_QUEUE or bulkport-imports)")
    .option('-w, --wait', "show live progress bars (counts, rate, ETA) until the end, then the summary and the report's path")
    .option('--json', 'print JSON: the started run, or with --wait the final status')
    .option(
      '--dry-run',
      'validate the whole catalog and print a plan (counts, first errors, chunks, requests, a time estimate) without sending anything; waits for it',
    )
    .addOption(workerTimeoutOption())
    .addHelpText('after', `\nExample:\n  bulkport import catalog.jsonl --target voucherify --concurrency 8 --wait\n\n${exitCodeHelp}`)
    .action(async (file: string, flags: ImportFlags, command: Command) => {
      const file_ = await checkSource(file);
      if (flags.target.length > 1) return importIntoTargets(file_, flags, command);
      // A wrong path is named before anything connects or starts.
      const request = importRequestOf(file_, { ...flags, target: flags.target[0]! });
      const mapping = (await mappingsOf(flags.mapping, flags.target)).get(request.target);
      if (mapping) request.mapping = mapping;
      // And the options too, as the workflow will check them (startImport does again, for other callers).
      ImportInput.parse({ ...request, importId: flags.id ?? importWorkflowId(request.target, request.source.location) });
      await withTemporal(command, async (ctx) => {
        const taskQueue = flags.taskQueue ?? ctx.config.taskQueue;
        const start = { ...(flags.id ? { workflowId: flags.id } : {}), taskQueue };
        if (flags.dryRun) {
          process.exitCode = await dryRun(ctx, await explainReusedId(ctx, startDryRun(ctx.client, request, start)), flags);
          return;
        }
        const handle = await explainReusedId(ctx, startImport(ctx.client, request, start));
        await announceAndFollow(ctx, handle, flags, taskQueue);
      });
    });
}
