/**
 * Where an import stands, from every source Temporal has: the execution's description and search
 * attributes, the progress query while it runs, its result (the summary) once it has finished,
 * or the report carried by its failure. The CLI's read commands all start here.
 */
import { WorkflowFailedError, WorkflowNotFoundError, type Client } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import type { ImportProgress, ImportSummary } from '../common/import';
import { BulkImportRedriveOf, BulkImportStatus, BulkImportTarget } from '../common/search-attributes';
import { workflowUiLink, type TemporalConfig } from '../common/temporal-config';
import { getImport, type ImportHandle } from './index';
import { progressQuery } from '../workflows/messages';
import { rootCause, type ImportFailure } from './outcome';
import { noWorkerMessage, pollerCount } from './workers';

export interface ImportStatus {
  workflowId: string;
  runId: string;
  /** Temporal's execution status: RUNNING, COMPLETED, FAILED, TERMINATED, … */
  execution: string;
  /** BulkImportStatus as the import last published it: Staging, Running, Paused, Completed, … */
  status?: string;
  target?: string;
  /** The Web UI's static summary: "Import 120,000 products from catalog.jsonl into Voucherify". */
  title?: string;
  startTime: string;
  closeTime?: string;
  uiLink: string;
  /** While it runs and a worker answers the progress query. */
  progress?: ImportProgress;
  /** Why `progress` is missing while it runs. */
  progressError?: string;
  /** While staging: records read so far, from the stage activity's last heartbeat. */
  stagingRead?: number;
  /** The workflow result, once it has completed. */
  summary?: ImportSummary;
  /** Why it ended without a summary (the root cause and its type); a stopped import still carries its report. */
  failure?: ImportFailure;
  /** Imports that sent its records that did not succeed again (`bulkport retry`), newest first. */
  redrives?: { workflowId: string; status?: string }[];
}

/** Thrown for an id that names no workflow; the CLI turns it into its message and exit code. */
export class ImportNotFoundError extends Error {
  constructor(
    readonly workflowId: string,
    readonly namespace: string,
  ) {
    super(`No import with id ${workflowId} in namespace ${namespace}`);
  }
}

/** The import's handle, after checking that it exists. */
export async function findImport(
  client: Client,
  workflowId: string,
): Promise<{ handle: ImportHandle; description: Awaited<ReturnType<ImportHandle['describe']>> }> {
  const handle = getImport(client, workflowId);
  try {
    return { handle, description: await handle.describe() };
  } catch (err) {
    if (err instanceof WorkflowNotFoundError) throw new ImportNotFoundError(workflowId, client.options.namespace);
    throw err;
  }
}

const QUERY_DEADLINE_MS = 5000;

export async function importStatus(
  client: Client,
  config: Pick<TemporalConfig, 'uiUrl' | 'namespace'>,
  workflowId: string,
): Promise<ImportStatus> {
  const { handle, description: d } = await findImport(client, workflowId);
  const status: ImportStatus = {
    workflowId,
    runId: d.runId,
    execution: d.status.name,
    status: d.typedSearchAttributes.get(BulkImportStatus),
    target: d.typedSearchAttributes.get(BulkImportTarget),
    title: await d.staticSummary().catch(() => undefined),
    startTime: d.startTime.toISOString(),
    ...(d.closeTime ? { closeTime: d.closeTime.toISOString() } : {}),
    uiLink: workflowUiLink(config, workflowId),
  };
  if (d.status.name === 'RUNNING') {
    Object.assign(status, await queryProgress(client, handle, QUERY_DEADLINE_MS, d.taskQueue));
    const read = stagingRead(d.raw.pendingActivities);
    if (read !== undefined) status.stagingRead = read;
  } else {
    Object.assign(status, await importOutcome(handle));
    const redrives = await redrivesOf(client, stagedImportId(status));
    if (redrives.length) status.redrives = redrives;
  }
  return status;
}

/** The progress query, or why it went unanswered. */
export async function queryProgress(
  client: Client,
  handle: ImportHandle,
  deadlineMs = QUERY_DEADLINE_MS,
  taskQueue?: string,
): Promise<Pick<ImportStatus, 'progress' | 'progressError'>> {
  try {
    // Without a worker a query waits for one; don't hang the caller for it.
    return { progress: await client.connection.withDeadline(Date.now() + deadlineMs, () => handle.query(progressQuery)) };
  } catch (err) {
    const noWorker = taskQueue !== undefined && (await pollerCount(client, taskQueue).catch(() => undefined)) === 0;
    if (noWorker) return { progressError: `no progress: ${noWorkerMessage(client, taskQueue)}` };
    return { progressError: `no progress: ${(err as Error).message} (is a worker running on the import's task queue?)` };
  }
}

/** Records read so far while staging (a describe call: only worth it in that phase). */
export async function stagingProgress(handle: ImportHandle): Promise<number | undefined> {
  return stagingRead((await handle.describe()).raw.pendingActivities);
}

type PendingActivities = Awaited<ReturnType<ImportHandle['describe']>>['raw']['pendingActivities'];

/** The `read` count the stage activity heartbeats (the server keeps the latest, throttled to every ~24 s). */
function stagingRead(pending: PendingActivities): number | undefined {
  const stage = pending?.find((a) => a.activityType?.name === 'stage');
  const payload = stage?.heartbeatDetails?.payloads?.[0];
  if (!payload) return undefined;
  try {
    const details = defaultPayloadConverter.fromPayload<{ read?: unknown }>(payload);
    return typeof details?.read === 'number' ? details.read : undefined;
  } catch {
    return undefined;
  }
}

/** Waits for the end: the summary, or why there is none (a stopped import's failure carries its report). */
export async function importOutcome(handle: ImportHandle): Promise<Pick<ImportStatus, 'summary' | 'failure'>> {
  try {
    return { summary: await handle.result() };
  } catch (err) {
    if (!(err instanceof WorkflowFailedError)) throw err;
    return { failure: rootCause(err) };
  }
}

/**
 * The id an ended import's staging data and report are under. It is the workflow id for an import started with one,
 * not for a scheduled run (workflows/import.ts `scheduledImportId`): there the summary, or the report's path, tells.
 */
export function stagedImportId(status: Pick<ImportStatus, 'workflowId' | 'summary' | 'failure'>): string {
  const reportPath = status.failure?.report?.files.resultsJsonl ?? '';
  return status.summary?.importId ?? /\/imports\/([^/]+)\/report\/[^/]+$/.exec(reportPath)?.[1] ?? status.workflowId;
}

/** The redrives of an import (by its staged id, which they name), newest first, as visibility finds them. */
export async function redrivesOf(client: Client, importId: string): Promise<{ workflowId: string; status?: string }[]> {
  const found: { workflowId: string; status?: string }[] = [];
  const query = `${BulkImportRedriveOf.name} = ${JSON.stringify(importId)}`;
  for await (const run of client.workflow.list({ query })) {
    found.push({ workflowId: run.workflowId, status: run.typedSearchAttributes.get(BulkImportStatus) ?? run.status.name });
    if (found.length === 20) break;
  }
  return found;
}
