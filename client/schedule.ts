/**
 * Recurring syncs on Temporal Schedules: each run is an ordinary import (`importCatalog`, found by the Web UI and
 * `bulkport list` like any), started with the same request less its id (each run takes its workflow and run ids as
 * import id), with delta sync on by default and never overlapping a run still going.
 */
import { type Client, type ScheduleDescription, type ScheduleHandle, ScheduleOverlapPolicy, type ScheduleSpec } from '@temporalio/client';
import { formatDuration, ImportInput } from '../common/import';
import { BulkImportStatus, BulkImportTarget } from '../common/search-attributes';
import type { importCatalog, ScheduledRequest } from '../workflows/import';
import { importTitle, sourceSlug, type StartImportRequest } from './index';

export interface SyncSchedule {
  scheduleId: string;
  request: Omit<StartImportRequest, 'importId'>;
  /** A cron expression (UTC), or an interval in milliseconds. */
  when: { cron: string } | { everyMs: number };
  taskQueue: string;
}

/** `sync-propeller-catalog`: readable, stable for a source, and the prefix of every run's workflow id. */
export function scheduleIdOf(target: string, location: string): string {
  return `sync-${target}-${sourceSlug(location)}`;
}

export async function createSyncSchedule(client: Client, s: SyncSchedule): Promise<void> {
  // Delta sync is the point of a recurring sync: on unless the request says otherwise.
  const request = { ...s.request, options: { skipUnchanged: true, ...s.request.options } } as ScheduledRequest;
  // Checked as the workflow will check it (with a stand-in id: each run has its own).
  const input = ImportInput.parse({ ...request, importId: s.scheduleId });
  const spec: ScheduleSpec = 'cron' in s.when ? { cronExpressions: [s.when.cron] } : { intervals: [{ every: s.when.everyMs }] };
  await client.schedule.create<typeof importCatalog>({
    scheduleId: s.scheduleId,
    spec,
    memo: { when: whenText(s.when) },
    action: {
      type: 'startWorkflow',
      workflowType: 'importCatalog',
      workflowId: s.scheduleId,
      taskQueue: s.taskQueue,
      args: [request],
      staticSummary: `Scheduled: ${importTitle(input.target, input.source.location)}`,
      typedSearchAttributes: [
        { key: BulkImportTarget, value: input.target },
        { key: BulkImportStatus, value: 'Staging' },
      ],
    },
    // A run still going when the next is due: the next is skipped, never run beside it (and never queued up).
    policies: { overlap: ScheduleOverlapPolicy.SKIP, catchupWindow: '10 minutes' },
  });
}

export const whenText = (when: SyncSchedule['when']) =>
  'cron' in when ? `cron "${when.cron}" (UTC)` : `every ${formatDuration(when.everyMs / 1000)}`;

/** A run now, unless one is still going (the schedule's no-overlap rule holds for it too). */
export async function triggerSync(schedule: ScheduleHandle): Promise<void> {
  await schedule.trigger(ScheduleOverlapPolicy.SKIP);
}

export interface SyncScheduleInfo {
  scheduleId: string;
  when: string;
  paused: boolean;
  note?: string;
  nextRuns: string[];
  running: string[];
  /** The latest runs' workflow ids, newest first. */
  recentRuns: string[];
  skippedOverlap: number;
}

export function scheduleInfo(scheduleId: string, d: ScheduleDescription): SyncScheduleInfo {
  return {
    scheduleId,
    // As the user gave it: the server keeps a cron expression only as calendar specs.
    when: typeof d.memo?.when === 'string' ? d.memo.when : 'a schedule made elsewhere',
    paused: d.state.paused,
    ...(d.state.note ? { note: d.state.note } : {}),
    nextRuns: d.info.nextActionTimes.slice(0, 3).map((t) => t.toISOString()),
    running: d.info.runningActions.map((a) => a.workflow.workflowId),
    recentRuns: d.info.recentActions
      .map((a) => a.action.workflow.workflowId)
      .reverse()
      .slice(0, 5),
    skippedOverlap: d.info.numActionsSkippedOverlap,
  };
}

/** bulkport's schedules: those whose action starts an import. */
export async function listSyncSchedules(client: Client): Promise<SyncScheduleInfo[]> {
  const found: SyncScheduleInfo[] = [];
  for await (const summary of client.schedule.list()) {
    if (summary.action?.type !== 'startWorkflow' || summary.action.workflowType !== 'importCatalog') continue;
    found.push(scheduleInfo(summary.scheduleId, await client.schedule.getHandle(summary.scheduleId).describe()));
  }
  return found;
}
