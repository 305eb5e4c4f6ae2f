/**
 * The typed client: start an import and get its handle, or reach a running one.
 * Used by the CLI and by any service that triggers imports.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Client, Connection, type WorkflowHandle } from '@temporalio/client';
import { ImportInput, type ImportRequest } from '../common/import';
import { BulkImportStatus, BulkImportTarget } from '../common/search-attributes';
import { temporalConfigFromEnv, type TemporalConfig } from '../common/temporal-config';
import type { importCatalog } from '../workflows';

export { cancelSignal, pauseSignal, progressQuery, resumeSignal, setConcurrencyUpdate } from '../workflows/messages';
export type { ImportProgress, ImportRequest, ImportSummary } from '../common/import';

export type ImportHandle = WorkflowHandle<typeof importCatalog>;

/** What a caller gives: the import id defaults to the workflow id. */
export type StartImportRequest = Omit<ImportRequest, 'importId'> & { importId?: string };

export interface StartImportOptions {
  /** Defaults to `import-<target>-<source name>-<timestamp>`. */
  workflowId?: string;
  taskQueue?: string;
  now?: Date;
}

export async function connectClient(config: TemporalConfig = temporalConfigFromEnv()): Promise<Client> {
  const connection = await Connection.connect({ address: config.address, tls: config.tls, apiKey: config.apiKey });
  return new Client({ connection, namespace: config.namespace });
}

/** A workflow id a person can read and sort: import-voucherify-catalog-20261123T101500Z. */
export function importWorkflowId(target: string, location: string, now = new Date()): string {
  const name = path.basename(location.split('?')[0] ?? location).replace(/\.[^.]+$/, '');
  const slug = name.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 40) || 'source';
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  return `import-${target}-${slug}-${stamp}`;
}

function describeSource(location: string): string {
  return /^https?:\/\//.test(location) ? new URL(location).pathname.split('/').pop() || location : path.basename(location);
}

const targetTitle = (name: string) => name[0]!.toUpperCase() + name.slice(1);

/**
 * Validates the request as the workflow will, makes a local source path absolute and checks
 * that it exists, then starts the import.
 */
export async function startImport(client: Client, request: StartImportRequest, options: StartImportOptions = {}): Promise<ImportHandle> {
  const location = /^https?:\/\//.test(request.source.location) ? request.source.location : path.resolve(request.source.location);
  if (!location.startsWith('http')) {
    const info = await stat(location).catch(() => undefined);
    if (!info?.isFile()) throw new Error(`source file not found: ${location}`);
  }
  const workflowId = options.workflowId ?? importWorkflowId(request.target, location, options.now);
  const input = ImportInput.parse({ ...request, importId: request.importId ?? workflowId, source: { ...request.source, location } });
  return client.workflow.start<typeof importCatalog>('importCatalog', {
    taskQueue: options.taskQueue ?? temporalConfigFromEnv().taskQueue,
    workflowId,
    args: [input],
    staticSummary: `Import ${describeSource(location)} into ${targetTitle(input.target)}`,
    staticDetails: `Source: ${location}\nOptions: ${JSON.stringify(input.options)}`,
    typedSearchAttributes: [
      { key: BulkImportTarget, value: input.target },
      { key: BulkImportStatus, value: 'Staging' },
    ],
  });
}

export function getImport(client: Client, workflowId: string): ImportHandle {
  return client.workflow.getHandle<typeof importCatalog>(workflowId);
}
