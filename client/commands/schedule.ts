/** `bulkport schedule create|list|pause|resume|trigger|delete`: recurring syncs on Temporal Schedules (client/schedule.ts). */
import { Command, InvalidArgumentError, Option } from 'commander';
import { ScheduleAlreadyRunning, type ScheduleHandle } from '@temporalio/client';
import { targetNames } from '../../common/import';
import { parseAge } from '../clean';
import { checkSource } from '../index';
import { createSyncSchedule, listSyncSchedules, scheduleIdOf, scheduleInfo, triggerSync, whenText } from '../schedule';
import { delimiterOption, encodingOption, formatOption, recordsPathOption } from '../source-flags';
import { CliError } from './errors';
import { withTemporal } from './context';
import { importRequestOf } from './import';
import { printJson, printTable, say } from './output';
import { optionFlags } from './target-flags';

const interval = (value: string) => {
  const ms = parseAge(value);
  if (ms === undefined || ms < 60_000) throw new InvalidArgumentError('expected minutes, hours or days, at least 1m: 30m, 6h, 1d');
  return ms;
};

function createCommand(): Command {
  const command = new Command('create')
    .description('Import a source on a cron or an interval: each run is an ordinary import, with delta sync on (--skip-unchanged)')
    .argument(
      '<source>',
      "an http(s) URL, s3://bucket/key (read with the workers' AWS_* settings) or a path on the workers' machines, read again at every run",
    )
    .addOption(new Option('-t, --target <target>', 'where the products go').choices(targetNames).makeOptionMandatory())
    .option('--cron <expression>', 'when to run, as cron in UTC: "0 2 * * *" is 02:00 every night')
    .addOption(new Option('--every <interval>', 'or how often: 30m, 6h, 1d').argParser(interval))
    .option('--id <schedule-id>', "the schedule's id, and its runs' workflow id prefix (default: sync-<target>-<source name>)")
    .addOption(formatOption())
    .addOption(encodingOption())
    .addOption(delimiterOption())
    .addOption(recordsPathOption());
  for (const flag of optionFlags) command.addOption(flag.option);
  return command
    .option('--task-queue <queue>', "the workers' task queue (default TEMPORAL_TASK_QUEUE or bulkport-imports)")
    .option('--json', 'print the schedule as JSON')
    .addHelpText(
      'after',
      '\nA run still going when the next is due makes that one skip: runs never overlap.\n' +
        'Runs are found like any import: bulkport list --query "TemporalScheduledById = \'<schedule-id>\'".\n\n' +
        'Example:\n  bulkport schedule create https://shop.example/export.jsonl --target voucherify --cron "0 2 * * *"',
    )
    .action(async (source: string, flags: Record<string, unknown>, cmd: Command) => {
      const { cron, every } = flags as { cron?: string; every?: number };
      if ((cron === undefined) === (every === undefined))
        throw new CliError('give exactly one of --cron "<expression>" and --every <interval>');
      const request = importRequestOf(await checkSource(source), flags as Parameters<typeof importRequestOf>[1]);
      const scheduleId = (flags.id as string | undefined) ?? scheduleIdOf(request.target, request.source.location);
      await withTemporal(cmd, async (ctx) => {
        const when = cron !== undefined ? { cron } : { everyMs: every! };
        try {
          const taskQueue = (flags.taskQueue as string | undefined) ?? ctx.config.taskQueue;
          await createSyncSchedule(ctx.client, { scheduleId, request, when, taskQueue });
        } catch (err) {
          if (err instanceof ScheduleAlreadyRunning)
            throw new CliError(`A schedule with id ${scheduleId} already exists: choose another --id, or delete it first`);
          throw err;
        }
        const info = scheduleInfo(scheduleId, await ctx.client.schedule.getHandle(scheduleId).describe());
        if (flags.json) return printJson(info);
        say(`Created schedule ${scheduleId}: ${whenText(when)}, next run ${info.nextRuns[0] ?? 'not planned'}`);
        say(`Run it now: bulkport schedule trigger ${scheduleId}   (also: schedule list, pause, resume, delete)`);
      });
    });
}

/** A command about one schedule by id. */
function scheduleIdCommand(name: string, description: string, run: (handle: ScheduleHandle, id: string) => Promise<string>) {
  return new Command(name)
    .description(description)
    .argument('<schedule-id>', 'the schedule')
    .action(async (id: string, _flags: object, cmd: Command) => {
      await withTemporal(cmd, async (ctx) => say(await run(ctx.client.schedule.getHandle(id), id)));
    });
}

export function scheduleCommand(): Command {
  return new Command('schedule')
    .description('Recurring syncs: import a source on a cron or an interval (Temporal Schedules)')
    .addCommand(createCommand())
    .addCommand(
      new Command('list')
        .description("bulkport's schedules: when, paused, next runs, latest runs")
        .option('--json', 'print JSON')
        .action(async (flags: { json?: boolean }, cmd: Command) => {
          await withTemporal(cmd, async (ctx) => {
            const schedules = await listSyncSchedules(ctx.client);
            if (flags.json) return printJson(schedules);
            if (schedules.length === 0)
              return say('No schedules. Create one: bulkport schedule create <url> --target <target> --cron "0 2 * * *"');
            printTable(
              schedules.map((s) => ({
                id: s.scheduleId,
                when: s.when,
                state: s.paused ? `paused${s.note ? ` (${s.note})` : ''}` : s.running.length ? 'running' : 'active',
                next: s.nextRuns[0] ?? '',
                latest: s.recentRuns[0] ?? '',
              })),
              ['id', 'when', 'state', 'next', 'latest'],
            );
          });
        }),
    )
    .addCommand(
      scheduleIdCommand('pause', 'Stop starting runs (a run going on goes on)', async (h, id) => {
        await h.pause('paused with bulkport schedule pause');
        return `Paused ${id}: no run starts until bulkport schedule resume ${id}`;
      }),
    )
    .addCommand(
      scheduleIdCommand('resume', 'Start runs again at the next time due', async (h, id) => {
        await h.unpause('resumed with bulkport schedule resume');
        return `Resumed ${id}`;
      }),
    )
    .addCommand(
      scheduleIdCommand('trigger', 'Run now, unless a run is still going', async (h, id) => {
        await triggerSync(h);
        return `Asked ${id} to run now (skipped if a run is still going): bulkport schedule list shows it`;
      }),
    )
    .addCommand(
      scheduleIdCommand('delete', 'Delete the schedule (its runs and their reports stay)', async (h, id) => {
        await h.delete();
        return `Deleted schedule ${id}`;
      }),
    );
}
