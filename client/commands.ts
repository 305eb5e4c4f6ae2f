/**
 * The `bulkport` command line: start imports, see where they stand, steer them, find them, get
 * their reports. Built here and run by client/cli.ts, so tests can inspect every command's help.
 * Every command that names a run prints its Web UI link; read commands take --json.
 */
import { copyFile, mkdir } from 'node:fs/promises';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  isGrpcServiceError,
  NamespaceNotFoundError,
  WorkflowExecutionAlreadyStartedError,
  WorkflowUpdateFailedError,
  type Client,
} from '@temporalio/client';
import { ZodError } from 'zod';
import { sandboxCommand } from '../sandbox/command';
import { ImportInput, targetNames, type ImportProgress, type ReportFiles, type TargetName } from '../common/import';
import { BulkImportFailed, BulkImportStatus, BulkImportSucceeded, BulkImportTarget, BulkImportTotal } from '../common/search-attributes';
import { temporalConfigFromEnv, workflowUiLink, type TemporalConfig } from '../common/temporal-config';
import {
  cancelSignal,
  checkSource,
  connectClient,
  importWorkflowId,
  pauseSignal,
  resumeSignal,
  setConcurrencyUpdate,
  SourceNotFoundError,
  startImport,
  type ImportHandle,
  type StartImportRequest,
} from './index';
import { cleanStaging, parseAge } from './clean';
import { exitCodeHelp, exitCodeOf } from './outcome';
import { followImport, problemLine, progressLines, summaryLines } from './progress';
import { delimiterOption, encodingOption, formatOption, recordsPathOption, sourceRefOf, type SourceFlags } from './source-flags';
import { registerSearchAttributes } from './setup';
import { findImport, ImportNotFoundError, importStatus, type ImportStatus } from './status';
import { NoWorkerError, noWorkerMessage, pollerCount, requireWorker } from './workers';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

/** An error meant for the user: printed without a stack, with this exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const NOT_FOUND = 5; // gRPC status
const UNAVAILABLE = 14;

function unreachable(config: TemporalConfig, detail: string): CliError {
  return new CliError(
    `Cannot reach Temporal at ${config.address} (${detail}).\n` +
      'Start one locally with `npm start` (the demo: dev server, Web UI, sandboxes and a worker) or `temporal server start-dev`,\n' +
      'or point TEMPORAL_ADDRESS (or --address) at your cluster.',
  );
}

/** The message a user sees for any error a command ends with. */
export function describeError(err: unknown): { message: string; exitCode: number } {
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof ZodError) {
    const issues = err.issues.map((i) => `${i.path.length ? flagOf(String(i.path.at(-1))) : 'input'}: ${issueText(i)}`);
    return { message: `invalid import: ${issues.join('; ')} (see bulkport import --help)`, exitCode: 1 };
  }
  if (err instanceof ImportNotFoundError || err instanceof NoWorkerError || err instanceof SourceNotFoundError)
    return { message: err.message, exitCode: 1 };
  if (isGrpcServiceError(err) && err.code === UNAVAILABLE)
    return { message: unreachable(temporalConfigFromEnv(), err.details || err.message).message, exitCode: 1 };
  const cause = err instanceof Error && (isGrpcServiceError(err.cause) || err.cause instanceof NamespaceNotFoundError) ? err.cause : err;
  const unknownNamespace = isGrpcServiceError(cause) && cause.code === NOT_FOUND && /namespace/i.test(cause.details || cause.message);
  if (unknownNamespace || cause instanceof NamespaceNotFoundError) {
    const { namespace, address } = temporalConfigFromEnv();
    return {
      message:
        `Namespace ${namespace} does not exist on Temporal at ${address}: create it (\`temporal operator namespace create ${namespace}\`), ` +
        'or check --namespace / TEMPORAL_NAMESPACE.',
      exitCode: 1,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { message: process.env.BULKPORT_DEBUG && err instanceof Error ? (err.stack ?? message) : message, exitCode: 1 };
}

/** Zod's bounds in words ("must be at most 2000"); its other messages as they are. */
function issueText(issue: ZodError['issues'][number]): string {
  if (issue.code === 'too_small' && typeof issue.minimum === 'number') return `must be at least ${issue.minimum}`;
  if (issue.code === 'too_big' && typeof issue.maximum === 'number') return `must be at most ${issue.maximum.toLocaleString('en-US')}`;
  return issue.message;
}

const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
/** The flag that sets a field of the import request. */
const flagOf = (field: string) => ({ importId: '--id', location: '<file>' })[field] ?? `--${kebab(field)}`;

interface GlobalOptions {
  address?: string;
  namespace?: string;
  uiUrl?: string;
}

interface Context {
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
async function withTemporal(command: Command, run: (ctx: Context) => Promise<void>): Promise<void> {
  const config = configOf(command);
  // Make later errors (describeError) speak of the same cluster.
  process.env.TEMPORAL_ADDRESS = config.address;
  let client: Client;
  try {
    client = await connectClient(config, { connectTimeout: '5 seconds' });
  } catch (err) {
    throw unreachable(config, err instanceof Error ? err.message : String(err));
  }
  try {
    await run({ client, config, link: (id, runId) => workflowUiLink(config, id, runId) });
  } finally {
    await client.connection.close();
  }
}

const say = (line = ''): void => void process.stdout.write(`${line}\n`);
const printJson = (value: unknown) => say(JSON.stringify(value, null, 2));

function integer(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected a whole number');
  return n;
}

function commaList(value: string): string[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** Ctrl-C stops following, not the import. */
function interruptSignal(): AbortSignal {
  const controller = new AbortController();
  process.once('SIGINT', () => controller.abort());
  return controller.signal;
}

/** Follows an import to its end, then prints its summary; returns its exit code (see ExitCode). */
async function followAndReport(ctx: Context, workflowId: string, flags: WaitFlags): Promise<number> {
  const { handle } = await findImport(ctx.client, workflowId);
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

/** With --json, stdout stays JSON; why the import exits 1 goes to stderr. */
function warnProblem(end: Parameters<typeof problemLine>[0]): void {
  const problem = problemLine(end);
  if (problem) process.stderr.write(`${problem}\n`);
}

interface WaitFlags {
  json?: boolean;
  /** Seconds without a worker on the import's task queue before giving up; 0: wait. */
  workerTimeout: number;
}

function seconds(value: string): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected seconds, 0 or more');
  return n;
}

/** --worker-timeout, for every command that waits on an import. */
const workerTimeoutOption = () =>
  new Option('--worker-timeout <seconds>', "give up (exit 1) when no worker polls the import's task queue for this long; 0: keep waiting")
    .argParser(seconds)
    .default(60);

// ---- import --------------------------------------------------------------------------------

interface ImportFlags extends SourceFlags {
  target: TargetName;
  id?: string;
  concurrency?: number;
  maxConcurrency?: number;
  maxItemsPerChunk?: number;
  retryRounds?: number;
  retryBackoffMs?: number;
  pollIntervalMs?: number;
  chunksPerRun?: number;
  maxSubmitsPerMinute?: number;
  chunkBytes?: number;
  isolatedQuota?: boolean;
  chunkSize?: number;
  lookupKey?: 'sourceId' | 'id';
  skipIfNotEmpty?: string[];
  skipMoveOnUpdate?: boolean;
  mergeTranslationsOnUpdate?: boolean;
  taskQueue?: string;
  wait?: boolean;
  json?: boolean;
  workerTimeout: number;
}

const commonOptionKeys = [
  'concurrency',
  'maxConcurrency',
  'maxItemsPerChunk',
  'retryRounds',
  'retryBackoffMs',
  'pollIntervalMs',
  'chunksPerRun',
  'maxSubmitsPerMinute',
] as const;
const targetOptionKeys: Record<TargetName, readonly (keyof ImportFlags)[]> = {
  voucherify: ['chunkBytes', 'isolatedQuota'],
  propeller: ['chunkSize', 'lookupKey', 'skipIfNotEmpty', 'skipMoveOnUpdate', 'mergeTranslationsOnUpdate'],
};

/** The import request the flags describe; a flag of the other target is an error rather than ignored. */
export function importRequestOf(file: string, flags: ImportFlags): StartImportRequest {
  for (const [target, keys] of Object.entries(targetOptionKeys)) {
    const misplaced = target !== flags.target && keys.find((k) => flags[k] !== undefined);
    if (misplaced) throw new CliError(`--${kebab(misplaced)} applies to --target ${target} only: drop it, or use --target ${target}`);
  }
  const maxConcurrency = flags.maxConcurrency ?? 32;
  if (flags.concurrency !== undefined && flags.concurrency > maxConcurrency) {
    throw new CliError(
      `--concurrency ${flags.concurrency} is above --max-concurrency ${maxConcurrency}: lower it, or raise --max-concurrency`,
    );
  }
  const pick = (keys: readonly (keyof ImportFlags)[]) =>
    Object.fromEntries(keys.filter((k) => flags[k] !== undefined).map((k) => [k, flags[k]]));
  const options: Record<string, unknown> = pick(commonOptionKeys);
  if (flags.target === 'voucherify') Object.assign(options, pick(['chunkBytes']), flags.isolatedQuota ? { shareQuota: false } : {});
  else {
    Object.assign(options, pick(['chunkSize', 'lookupKey']));
    const directives = pick(['skipIfNotEmpty', 'skipMoveOnUpdate', 'mergeTranslationsOnUpdate']);
    if (Object.keys(directives).length) options.directives = directives;
  }
  return { target: flags.target, source: sourceRefOf(file, flags), options } as StartImportRequest;
}

function importCommand(): Command {
  return new Command('import')
    .description('Start importing a catalog into a target; with --wait, follow it with live progress bars to the end')
    .argument('<file>', 'the catalog: a local path or an http(s) URL (JSONL, CSV with a header row, or a JSON array)')
    .addOption(new Option('-t, --target <target>', 'where the products go').choices(targetNames).makeOptionMandatory())
    .addOption(formatOption())
    .addOption(encodingOption())
    .addOption(delimiterOption())
    .addOption(recordsPathOption())
    .option(
      '--id <workflow-id>',
      'the workflow id, never reused: one id names one import (default: import-<target>-<file name>-<timestamp>)',
    )
    .option('--concurrency <n>', 'chunks in flight at once (default 4; change it while running with `bulkport concurrency`)', integer)
    .option('--max-concurrency <n>', 'the most `bulkport concurrency` may set (default 32)', integer)
    .option('--max-items-per-chunk <n>', "products per chunk at most, on top of the target's own limit", integer)
    .option('--retry-rounds <n>', 'rounds that resubmit products whose failure may pass (default 3; 0: none)', integer)
    .option('--retry-backoff-ms <n>', 'pause before retry round n: this times 2^(n-1) (default 5000)', integer)
    .option('--poll-interval-ms <n>', 'first delay between polls of a Voucherify async action (default 2000)', integer)
    .option('--chunks-per-run <n>', 'chunks per workflow run before it continues as new (default 500)', integer)
    .option(
      '--max-submits-per-minute <n>',
      "chunk submissions per minute at most, below the plan's quota, to leave room for your shop",
      integer,
    )
    .option('--chunk-bytes <n>', 'Voucherify: request body bytes per chunk (default 10,000,000; at most 10,485,760)', integer)
    .option(
      '--isolated-quota',
      "Voucherify: pace by this import's own answers, not with the other imports into the account (default: shared)",
    )
    .option('--chunk-size <n>', 'Propeller: products per request (default 500; at most 2000)', integer)
    .addOption(
      new Option('--lookup-key <key>', 'Propeller: how existing products are matched (default sourceId)').choices(['sourceId', 'id']),
    )
    .option(
      '--skip-if-not-empty <fields>',
      'Propeller directive: comma-separated fields kept on update when they already have a value',
      commaList,
    )
    .option('--skip-move-on-update', "Propeller directive: don't move an updated product to the parent category given")
    .option('--merge-translations-on-update', "Propeller directive: delete translations the payload doesn't carry")
    .option('--task-queue <queue>', "the workers' task queue (default TEMPORAL_TASK_QUEUE or bulkport-imports)")
    .option('-w, --wait', "show live progress bars (counts, rate, ETA) until the end, then the summary and the report's path")
    .option('--json', 'print JSON: the started run, or with --wait the final status')
    .addOption(workerTimeoutOption())
    .addHelpText('after', `\nExample:\n  bulkport import catalog.jsonl --target voucherify --concurrency 8 --wait\n\n${exitCodeHelp}`)
    .action(async (file: string, flags: ImportFlags, command: Command) => {
      // A wrong path is named before anything connects or starts.
      const request = importRequestOf(await checkSource(file), flags);
      // And the options too, as the workflow will check them (startImport does again, for other callers).
      ImportInput.parse({ ...request, importId: flags.id ?? importWorkflowId(request.target, request.source.location) });
      await withTemporal(command, async (ctx) => {
        let handle;
        try {
          handle = await startImport(ctx.client, request, {
            ...(flags.id ? { workflowId: flags.id } : {}),
            taskQueue: flags.taskQueue ?? ctx.config.taskQueue,
          });
        } catch (err) {
          if (err instanceof WorkflowExecutionAlreadyStartedError) {
            // Ids are never reused (REJECT_DUPLICATE): say how the earlier import stands, running or ended.
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
          throw err;
        }
        const id = handle.workflowId;
        if (flags.json && !flags.wait) return printJson({ workflowId: id, runId: handle.firstExecutionRunId, uiLink: ctx.link(id) });
        if (!flags.json) {
          say(`Started ${id}`);
          say(`  ${(await (await handle.describe()).staticSummary()) ?? ''}`);
          say(`Web UI: ${ctx.link(id)}`);
        }
        if (!flags.wait) {
          say(`Follow it: bulkport watch ${id}   (also: status, pause, resume, cancel, concurrency ${id} <n>)`);
          await warnWithoutWorker(ctx, flags.taskQueue ?? ctx.config.taskQueue);
          return;
        }
        process.exitCode = await followAndReport(ctx, id, flags);
      });
    });
}

// ---- status and watch ----------------------------------------------------------------------

function statusLines(s: ImportStatus): string[] {
  const lines = [`${s.workflowId}  ${s.status ?? '?'} (${s.execution.toLowerCase()})`];
  if (s.title) lines.push(`  ${s.title}`);
  lines.push(`  started ${s.startTime}${s.closeTime ? `, closed ${s.closeTime}` : ''}`);
  if (s.progress) lines.push(...progressLines(s.progress, s.stagingRead).map((l) => `  ${l}`));
  if (s.progressError) lines.push(`  ${s.progressError}`);
  if (s.summary || s.failure) return [...lines, ...summaryLines(s, s.uiLink)];
  return [...lines, `Web UI: ${s.uiLink}`];
}

/** A command about one import: `<name> <id> [more args]`, connected to Temporal when it runs. */
function idCommand<F extends object>(
  name: string,
  description: string,
  run: (ctx: Context, id: string, flags: F, args: unknown[]) => Promise<void>,
): Command {
  return new Command(name)
    .description(description)
    .argument('<id>', 'the workflow id')
    .action(async (...params: unknown[]) => {
      const command = params.at(-1) as Command;
      const [id, ...args] = command.processedArgs as [string, ...unknown[]];
      await withTemporal(command, (ctx) => run(ctx, id, command.opts<F>(), args));
    });
}

const printStatus = (status: ImportStatus, json?: boolean) => {
  if (json) printJson(status);
  else for (const line of statusLines(status)) say(line);
};

function statusCommand(): Command {
  return idCommand<{ json?: boolean }>(
    'status',
    'Where an import stands: progress while it runs, its summary once it has ended',
    async (ctx, id, flags) => printStatus(await importStatus(ctx.client, ctx.config, id), flags.json),
  ).option('--json', 'print the status as JSON ({ progress } while running, { summary } when completed)');
}

function watchCommand(): Command {
  const description = 'Follow an import with live progress bars until it ends (Ctrl-C stops watching, not the import)';
  return idCommand<WaitFlags>('watch', description, async (ctx, id, flags) => {
    const { handle, description } = await findImport(ctx.client, id);
    if (description.status.name !== 'RUNNING') {
      // An ended import: its status, and the exit code it ended with.
      const status = await importStatus(ctx.client, ctx.config, id);
      printStatus(status, flags.json);
      if (flags.json) warnProblem(status);
      process.exitCode = exitCodeOf(status);
      return;
    }
    if (!flags.json) {
      say(`Web UI: ${ctx.link(id)}`);
      process.exitCode = await followAndReport(ctx, id, flags);
      return;
    }
    // One JSON document a line: each progress answer, then the final status.
    const result = await followImport(ctx.client, handle, {
      signal: interruptSignal(),
      workerTimeoutMs: flags.workerTimeout * 1000,
      onProgress: (p: ImportProgress) => say(JSON.stringify(p)),
    });
    if (result.detached) {
      process.exitCode = 130;
      return;
    }
    say(JSON.stringify(await importStatus(ctx.client, ctx.config, id)));
    warnProblem(result);
    process.exitCode = exitCodeOf(result);
  })
    .option('--json', 'print each progress answer as a JSON line, then the final status')
    .addOption(workerTimeoutOption())
    .addHelpText('after', `\n${exitCodeHelp}\nAn import that has already ended: its status, and the exit code it ended with.`);
}

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
async function warnWithoutWorker(ctx: Context, taskQueue: string): Promise<void> {
  if ((await pollerCount(ctx.client, taskQueue)) === 0) process.stderr.write(`Warning: ${noWorkerMessage(ctx.client, taskQueue)}\n`);
}

/** Sends a signal to a running import, warning when no worker will act on it yet (unless the caller follows it and says so itself). */
async function signalImport(ctx: Context, id: string, send: (handle: ImportHandle) => Promise<void>, warn = true): Promise<void> {
  const { handle, taskQueue } = await runningImport(ctx, id);
  await send(handle);
  if (warn) await warnWithoutWorker(ctx, taskQueue);
}

function pauseCommand(): Command {
  return idCommand(
    'pause',
    'Pause an import: nothing new is submitted; chunks in flight finish (Voucherify actions keep being polled)',
    async (ctx, id) => {
      await signalImport(ctx, id, (handle) => handle.signal(pauseSignal));
      say(`Paused ${id}: nothing new is submitted; chunks in flight finish. Resume with: bulkport resume ${id}`);
      say(`Web UI: ${ctx.link(id)}`);
    },
  );
}

function resumeCommand(): Command {
  return idCommand('resume', 'Resume a paused import', async (ctx, id) => {
    await signalImport(ctx, id, (handle) => handle.signal(resumeSignal));
    say(`Resumed ${id}`);
    say(`Web UI: ${ctx.link(id)}`);
  });
}

function cancelCommand(): Command {
  return idCommand<{ reason?: string; wait?: boolean } & WaitFlags>(
    'cancel',
    'Stop an import cleanly: nothing new is submitted, chunks in flight finish, the report is written',
    async (ctx, id, flags) => {
      await signalImport(ctx, id, (handle) => handle.signal(cancelSignal, flags.reason), !flags.wait);
      say(`Cancelling ${id}: chunks in flight finish, then the report is written.`);
      if (flags.wait) process.exitCode = await followAndReport(ctx, id, { ...flags, json: false });
      else say(`Web UI: ${ctx.link(id)}`);
    },
  )
    .option('--reason <text>', 'why, kept in the summary')
    .option('-w, --wait', 'follow it to the end and print the summary')
    .addOption(workerTimeoutOption())
    .addHelpText(
      'after',
      `\nWith --wait, the exit code says what the cancelled import imported, as for any import (2 when some products were left unsent):\n${exitCodeHelp}`,
    );
}

function concurrencyCommand(): Command {
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

// ---- list ------------------------------------------------------------------------------------

interface ListFlags {
  limit: number;
  status?: string;
  target?: string;
  query?: string;
  json?: boolean;
}

const quoteValue = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function listQuery(flags: Pick<ListFlags, 'status' | 'target' | 'query'>): string {
  const parts = [`WorkflowType = 'importCatalog'`];
  if (flags.status) parts.push(`${BulkImportStatus.name} = ${quoteValue(flags.status)}`);
  if (flags.target) parts.push(`${BulkImportTarget.name} = ${quoteValue(flags.target)}`);
  if (flags.query) parts.push(`(${flags.query})`);
  return parts.join(' AND ');
}

function listCommand(): Command {
  return new Command('list')
    .description('Recent imports, from Temporal visibility: status, target and counts')
    .option('-n, --limit <n>', 'how many', integer, 20)
    .option('--status <status>', 'only these: Staging, Running, Paused, Cancelling, Reporting, Completed, Cancelled, Failed')
    .addOption(new Option('--target <target>', 'only imports into this target').choices(targetNames))
    .option('--query <visibility-query>', 'and this visibility query, e.g. "BulkImportFailed > 0"')
    .option('--json', 'print the list as JSON')
    .action(async (flags: ListFlags, command: Command) =>
      withTemporal(command, async (ctx) => {
        const query = listQuery(flags);
        const rows: Record<string, string | number | undefined>[] = [];
        const seen = new Set<string>();
        // Every run of a continued-as-new import is listed; the newest comes first.
        for await (const run of ctx.client.workflow.list({ query })) {
          if (seen.has(run.workflowId)) continue;
          seen.add(run.workflowId);
          const attr = run.typedSearchAttributes;
          rows.push({
            workflowId: run.workflowId,
            status: attr.get(BulkImportStatus) ?? run.status.name,
            execution: run.status.name,
            target: attr.get(BulkImportTarget),
            total: attr.get(BulkImportTotal),
            succeeded: attr.get(BulkImportSucceeded),
            failed: attr.get(BulkImportFailed),
            startTime: run.startTime.toISOString(),
            closeTime: run.closeTime?.toISOString(),
            uiLink: ctx.link(run.workflowId),
          });
          if (rows.length >= flags.limit) break;
        }
        const listLink = `${ctx.config.uiUrl}/namespaces/${encodeURIComponent(ctx.config.namespace)}/workflows?query=${encodeURIComponent(query)}`;
        if (flags.json) return printJson(rows);
        if (!rows.length) say('No imports found.');
        else printTable(rows, ['workflowId', 'status', 'target', 'total', 'succeeded', 'failed', 'startTime']);
        say(`Web UI: ${listLink}`);
      }),
    );
}

function printTable(rows: Record<string, unknown>[], columns: string[]): void {
  const cell = (v: unknown) => (typeof v === 'number' ? v.toLocaleString('en-US') : v === undefined ? '' : String(v));
  const widths = columns.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => v.padEnd(widths[i]!))
      .join('  ')
      .trimEnd();
  say(line(columns.map((c) => c.toUpperCase())));
  for (const row of rows) say(line(columns.map((c) => cell(row[c]))));
}

// ---- report ----------------------------------------------------------------------------------

const reportFileChoices: Record<string, keyof ReportFiles> = {
  results: 'resultsCsv',
  'results-jsonl': 'resultsJsonl',
  failed: 'failedRecords',
  invalid: 'invalidRows',
};

function reportCommand(): Command {
  return idCommand<{ file: string; out?: string; json?: boolean }>(
    'report',
    'The result files of an ended import: prints one (the results CSV by default) or copies them all with --out',
    async (ctx, id, flags) => {
      const status = await importStatus(ctx.client, ctx.config, id);
      const report = status.summary ? { files: status.summary.files, counts: status.summary.counts } : status.failure?.report;
      if (!report) {
        const why =
          status.execution === 'RUNNING'
            ? 'is still running; its report is written when it ends'
            : `ended without a report (${status.failure?.message})`;
        throw new CliError(`Import ${id} ${why}.\nWeb UI: ${status.uiLink}`);
      }
      const files = Object.entries(report.files) as [keyof ReportFiles, string][];
      const missing = files.filter(([, file]) => !existsSync(file)).map(([, file]) => file);
      if (flags.json) return printJson({ workflowId: id, ...report, uiLink: status.uiLink });
      if (missing.length === files.length) {
        throw new CliError(
          `The report is in the worker's staging store (${path.dirname(files[0]![1])}), which is not reachable from here: run this where BULKPORT_STAGING_DIR is.`,
        );
      }
      if (flags.out) {
        await mkdir(flags.out, { recursive: true });
        for (const [, file] of files.filter(([, f]) => existsSync(f))) {
          await copyFile(file, path.join(flags.out, path.basename(file)));
          say(path.join(flags.out, path.basename(file)));
        }
        say(`Web UI: ${status.uiLink}`);
        return;
      }
      // Stdout carries the file alone, ready to pipe; the link goes to stderr.
      const file = report.files[reportFileChoices[flags.file]!];
      if (!existsSync(file)) throw new CliError(`${file} does not exist`);
      await pipeline(createReadStream(file), process.stdout, { end: false });
      process.stderr.write(`Web UI: ${status.uiLink}\n`);
    },
  )
    .addOption(new Option('--file <which>', 'which file to print').choices(Object.keys(reportFileChoices)).default('results'))
    .option('--out <dir>', 'copy every report file into this folder instead')
    .option('--json', 'print the file paths and counts as JSON');
}

// ---- setup -----------------------------------------------------------------------------------

function setupCommand(): Command {
  return new Command('setup')
    .description("Register bulkport's search attributes (BulkImportTarget, BulkImportStatus, counts) on the namespace; safe to run again")
    .option('--json', 'print what was added as JSON')
    .action(async (flags: { json?: boolean }, command: Command) =>
      withTemporal(command, async (ctx) => {
        const result = await registerSearchAttributes(ctx.client, ctx.config.namespace);
        if (flags.json) return printJson(result);
        say(
          `Namespace ${result.namespace}: ${result.added.length ? `added ${result.added.join(', ')}` : 'nothing to add'}${result.alreadyPresent.length ? `; already there: ${result.alreadyPresent.join(', ')}` : ''}`,
        );
        say(`Web UI: ${ctx.config.uiUrl}/namespaces/${encodeURIComponent(ctx.config.namespace)}/workflows`);
      }),
    );
}

function cleanCommand(): Command {
  const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;
  return new Command('clean')
    .description('Remove what ended imports left in the staging folder: chunks and outcomes go, reports stay (never a running import)')
    .argument('[ids...]', 'only these imports (default: every import in the folder that Temporal says has ended)')
    .option('--older-than <age>', 'only imports that ended at least this long ago: 30m, 12h, 7d')
    .option('--reports', 'remove the reports (results, failed records) too')
    .option('--staging-dir <dir>', "the workers' staging folder (default: BULKPORT_STAGING_DIR or .bulkport/staging)")
    .option('--dry-run', 'say what would go, remove nothing')
    .option('--json', 'print JSON')
    .action(
      async (
        ids: string[],
        flags: { olderThan?: string; reports?: boolean; stagingDir?: string; dryRun?: boolean; json?: boolean },
        command: Command,
      ) => {
        const olderThanMs = flags.olderThan === undefined ? undefined : parseAge(flags.olderThan);
        if (flags.olderThan !== undefined && olderThanMs === undefined)
          throw new CliError(`--older-than ${flags.olderThan}: give a number and m, h or d, e.g. 7d`);
        const dir = path.resolve(flags.stagingDir ?? process.env.BULKPORT_STAGING_DIR ?? '.bulkport/staging');
        await withTemporal(command, async (ctx) => {
          const results = await cleanStaging({
            dir,
            client: ctx.client,
            reports: !!flags.reports,
            dryRun: !!flags.dryRun,
            ...(ids.length ? { ids } : {}),
            ...(olderThanMs !== undefined ? { olderThanMs } : {}),
          });
          if (flags.json) return printJson({ dir, dryRun: !!flags.dryRun, imports: results });
          const verb = flags.dryRun ? 'would remove' : 'removed';
          for (const r of results)
            say(
              r.skipped
                ? `${r.id}: kept (${r.skipped})`
                : `${r.id} (${r.status.toLowerCase()}): ${verb} ${r.removed.join(', ') || 'nothing'} (${mib(r.bytes)})`,
            );
          const freed = results.reduce((sum, r) => sum + r.bytes, 0);
          say(`${results.length ? '' : `No imports in ${dir}. `}${flags.dryRun ? 'Would free' : 'Freed'} ${mib(freed)} in ${dir}.`);
        });
      },
    );
}

// ---- the program -----------------------------------------------------------------------------

export function buildProgram(): Command {
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('bulkport')
    .description('Durable bulk imports of product catalogs into Voucherify and Propeller, orchestrated by Temporal')
    .version(version)
    .option('--address <host:port>', 'the Temporal frontend (default: TEMPORAL_ADDRESS or localhost:7233)')
    .option('--namespace <namespace>', 'the Temporal namespace (default: TEMPORAL_NAMESPACE or default)')
    .option('--ui-url <url>', 'the Web UI, for links (default: TEMPORAL_UI_URL or http://localhost:8233)')
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nConnection: as the Temporal CLI reads it (profile file TEMPORAL_CONFIG_FILE/TEMPORAL_PROFILE, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE).\n' +
        'Temporal Cloud: set TEMPORAL_API_KEY, or TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (PEM paths).\n' +
        'Every command has --help. Start a local Temporal with `npm start` (demo) or `temporal server start-dev`.\n\n' +
        exitCodeHelp,
    );
  const commands = [
    importCommand(),
    statusCommand(),
    watchCommand(),
    pauseCommand(),
    resumeCommand(),
    cancelCommand(),
    concurrencyCommand(),
    listCommand(),
    reportCommand(),
    cleanCommand(),
    setupCommand(),
    sandboxCommand(),
  ];
  for (const command of commands) program.addCommand(command);
  return program;
}
