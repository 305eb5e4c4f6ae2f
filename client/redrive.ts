/**
 * Redrive (`bulkport retry`): a new import of exactly the records of an ended import that did not succeed, with the
 * same target and options, linked to it by the BulkImportRedriveOf search attribute and its summary's `redriveOf`.
 */
import type { Client } from '@temporalio/client';
import type { ImportRequest } from '../common/import';
import type { TemporalConfig } from '../common/temporal-config';
import { findImport, importStatus, stagedImportId } from './status';
import type { StartImportRequest } from './index';

/** Why an import cannot be retried: the CLI prints it as it is. */
export class NothingToRetry extends Error {
  constructor(
    message: string,
    /** All its records succeeded: nothing is wrong. */
    readonly done = false,
  ) {
    super(message);
  }
}

export interface RedrivePlan {
  request: StartImportRequest;
  /** Records the new import will read. */
  records: number;
}

/** The import request of a redrive of `importId`, from its status (it must have ended with a report) and its input. */
export async function redriveRequest(
  client: Client,
  config: Pick<TemporalConfig, 'uiUrl' | 'namespace'>,
  importId: string,
  includeInvalid: boolean,
  /** Options to change (from the command's flags, for the import's target); the rest stay as they were. */
  overrides: (target: ImportRequest['target']) => Record<string, unknown> = () => ({}),
): Promise<RedrivePlan> {
  // Before asking for its status: a running import's progress query waits for a worker.
  if ((await findImport(client, importId)).description.status.name === 'RUNNING') {
    throw new NothingToRetry(`${importId} is still running: retry it once it has ended (bulkport cancel ${importId} ends it early)`);
  }
  const status = await importStatus(client, config, importId);
  const report = status.summary ?? status.failure?.report;
  if (!report) {
    throw new NothingToRetry(
      `${importId} ended (${status.execution.toLowerCase()}) without a report, so which records did not succeed is not known: import the catalog again`,
    );
  }
  const c = report.counts as { failed?: number; notSubmitted?: number; invalid?: number };
  const again = (c.failed ?? 0) + (c.notSubmitted ?? 0);
  const invalid = c.invalid ?? 0;
  const records = again + (includeInvalid ? invalid : 0);
  if (records === 0) {
    if (invalid > 0) {
      throw new NothingToRetry(
        `${importId} has no failed or unsent records; its ${invalid} invalid ones go again only with --include-invalid, once fixed in ${report.files.failedRecords}`,
      );
    }
    throw new NothingToRetry(`Nothing to retry: every record of ${importId} succeeded`, true);
  }
  const input = await firstInput(client, importId);
  const failedRecords = report.files.failedRecords;
  return {
    records,
    request: {
      target: input.target,
      options: merged(input.options ?? {}, overrides(input.target)),
      // The failed records are the source's own: the same mapping makes them products again.
      ...(input.mapping ? { mapping: input.mapping } : {}),
      // The report writes failed records back as CSV for a CSV source, as JSON lines otherwise.
      source: {
        location: failedRecords,
        format: failedRecords.endsWith('.csv') ? 'csv' : 'jsonl',
        redriveOf: { importId: stagedImportId(status), includeInvalid },
      },
    } as StartImportRequest,
  };
}

/** The request an import was started with: the first event of its history (one event fetched, not the history). */
async function firstInput(client: Client, workflowId: string): Promise<ImportRequest> {
  const { history } = await client.workflowService.getWorkflowExecutionHistory({
    namespace: client.options.namespace,
    execution: { workflowId },
    maximumPageSize: 1,
  });
  const payload = history?.events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0];
  if (!payload) throw new Error(`the history of ${workflowId} has no input`);
  return client.options.loadedDataConverter.payloadConverter.fromPayload<ImportRequest>(payload);
}

/** `over` on `base`, nested objects (Propeller's directives) merged key by key. */
function merged(base: object, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const prior = out[key];
    const bothObjects = [prior, value].every((v) => typeof v === 'object' && v !== null && !Array.isArray(v));
    out[key] = bothObjects ? merged(prior as object, value as Record<string, unknown>) : value;
  }
  return out;
}
