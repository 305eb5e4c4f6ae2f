/** `bulkport import`: the flags, the import request they describe, and starting (and with --wait following) the import. */
import { Command, Option } from 'commander';
import { WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import { ImportInput, targetNames, type TargetName } from '../../common/import';
import { checkSource, importWorkflowId, startImport, type StartImportRequest } from '../index';
import { exitCodeHelp } from '../outcome';
import { delimiterOption, encodingOption, formatOption, recordsPathOption, sourceRefOf, type SourceFlags } from '../source-flags';
import { CliError, kebab } from './errors';
import { followAndReport, withTemporal } from './context';
import { warnWithoutWorker } from './steer';
import { commaList, integer, printJson, say, workerTimeoutOption } from './output';

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
  fixedConcurrency?: boolean;
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
  propeller: ['chunkSize', 'fixedConcurrency', 'lookupKey', 'skipIfNotEmpty', 'skipMoveOnUpdate', 'mergeTranslationsOnUpdate'],
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
    Object.assign(options, pick(['chunkSize', 'lookupKey']), flags.fixedConcurrency ? { adaptiveConcurrency: false } : {});
    const directives = pick(['skipIfNotEmpty', 'skipMoveOnUpdate', 'mergeTranslationsOnUpdate']);
    if (Object.keys(directives).length) options.directives = directives;
  }
  return { target: flags.target, source: sourceRefOf(file, flags), options } as StartImportRequest;
}

export function importCommand(): Command {
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
    .option(
      '--concurrency <n>',
      'chunks in flight at once (Voucherify: default 4; Propeller: the ceiling its adaptive window stays under, default 16); change it while running with `bulkport concurrency`',
      integer,
    )
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
    .option(
      '--fixed-concurrency',
      "Propeller: keep exactly --concurrency chunks in flight rather than adapting to the target's latency and errors under it",
    )
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
