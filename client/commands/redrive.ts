/** `bulkport retry <id>`: a redrive of an ended import's records that did not succeed (client/redrive.ts). */
import { Command } from 'commander';
import { importIdOf } from '../../common/import';
import { exitCodeHelp } from '../outcome';
import { NothingToRetry, redriveRequest } from '../redrive';
import { startImport } from '../index';
import { CliError } from './errors';
import { withTemporal, workflowIdOf } from './context';
import { announceAndFollow, explainReusedId } from './import';
import { say, workerTimeoutOption } from './output';
import { optionFlags, optionsFromFlags } from './target-flags';

interface RetryFlags {
  /** The option flags (`optionFlags`), by commander's attribute names. */
  [option: string]: unknown;
  includeInvalid?: boolean;
  id?: string;
  taskQueue?: string;
  wait?: boolean;
  json?: boolean;
  workerTimeout: number;
}

/**
 * `<id>-retry-20261203T141500Z`: the redrive's default id, next to its import's in a sorted list; a scheduled run's
 * workflow id has ":" in its time, which an import id may not have.
 */
const retryId = (id: string, now = new Date()) =>
  `${importIdOf(id).slice(0, 100)}-retry-${now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z')}`;

export function retryCommand(): Command {
  const command = new Command('retry')
    .description(
      'Start a new import of the records of an ended import that did not succeed (failed or not submitted), with its target and options',
    )
    .argument('<id>', 'the ended import: its workflow id, or the import id its report is named by')
    .option(
      '--include-invalid',
      'send its invalid records too: fix them first in its failed-records file (`bulkport report <id>` names it), in place, adding or removing none',
    )
    .option('--id <workflow-id>', "the new import's id (default: <id>-retry-<UTC timestamp>)");
  // The import's options stay as they were, but for those given here (a flag of the other target is an error).
  for (const flag of optionFlags) command.addOption(flag.option);
  return command
    .option('--task-queue <queue>', "the workers' task queue (default TEMPORAL_TASK_QUEUE or bulkport-imports)")
    .option('-w, --wait', 'show live progress bars until the end, then the summary')
    .option('--json', 'print JSON: the started run, or with --wait the final status')
    .addOption(workerTimeoutOption())
    .addHelpText(
      'after',
      `\nThe new import reads the records from the ended one's report in the staging store, so its workers must share that store.\n` +
        `\`bulkport status <id>\` lists an import's retries.\n\nExample:\n  bulkport retry import-voucherify-catalog-20261123T101500Z --wait\n\n${exitCodeHelp}`,
    )
    .action(async (given: string, flags: RetryFlags, command: Command) => {
      await withTemporal(command, async (ctx) => {
        const id = await workflowIdOf(ctx, given);
        let plan;
        try {
          plan = await redriveRequest(ctx.client, ctx.config, id, flags.includeInvalid ?? false, (target) =>
            optionsFromFlags(target, flags),
          );
        } catch (err) {
          if (!(err instanceof NothingToRetry)) throw err;
          if (!err.done) throw new CliError(err.message);
          say(err.message);
          return;
        }
        const taskQueue = flags.taskQueue ?? ctx.config.taskQueue;
        const handle = await explainReusedId(
          ctx,
          startImport(ctx.client, plan.request, { workflowId: flags.id ?? retryId(id), taskQueue, records: plan.records }),
        );
        await announceAndFollow(ctx, handle, flags, taskQueue);
      });
    });
}
