/**
 * `bulkport clean`: removes what ended imports left in the staging store (a folder or a bucket). Chunks, outcomes and
 * round plans go; the report (results and failed records) stays unless asked, and `owner.json` always stays, so the
 * import id is never taken by another import's data. Temporal says which imports have ended: a running one is never touched.
 */
import path from 'node:path';
import { WorkflowNotFoundError, type Client } from '@temporalio/client';
import { readImportOwner } from '../activities/staging/files';
import type { StagingStore } from '../activities/staging/store';

export interface CleanOptions {
  /** The staging store (BULKPORT_STAGING_URL or BULKPORT_STAGING_DIR). */
  store: StagingStore;
  client: Client;
  /** Only these imports; all in the store otherwise. */
  ids?: string[];
  /** Only imports that ended at least this long ago. */
  olderThanMs?: number;
  /** Remove the report too. */
  reports: boolean;
  dryRun: boolean;
  now?: number;
}

export interface CleanedImport {
  id: string;
  /** Temporal's status of the import (RUNNING, COMPLETED, …), or `UNKNOWN` when Temporal no longer knows it. */
  status: string;
  removed: string[];
  bytes: number;
  /** Why nothing was removed. */
  skipped?: string;
}

/** Always kept: it claims the id for this import's data (activities/staging/files.ts `ownerKey`). */
const OWNER_FILE = 'owner.json';
const REPORT_DIR = 'report';

/** `7d`, `12h`, `30m` → milliseconds; undefined when it isn't one. */
export function parseAge(text: string): number | undefined {
  const match = /^(\d+)\s*(m|h|d)$/.exec(text.trim());
  if (!match) return undefined;
  return Number(match[1]) * { m: 60_000, h: 3_600_000, d: 86_400_000 }[match[2] as 'm' | 'h' | 'd'];
}

export async function cleanStaging(options: CleanOptions): Promise<CleanedImport[]> {
  const { store } = options;
  const present = (await store.list('imports/')).map((key) => path.posix.basename(key));
  const now = options.now ?? Date.now();
  const results: CleanedImport[] = [];
  for (const id of options.ids ?? present) {
    const result: CleanedImport = { id, status: 'UNKNOWN', removed: [], bytes: 0 };
    results.push(result);
    const importDir = `imports/${id}`;
    if (!present.includes(id)) {
      result.skipped = `no staging data in ${store.locate(importDir)}`;
      continue;
    }
    let closeTime: Date | undefined;
    try {
      // The workflow that staged it: a scheduled run's import id is not its workflow id (the owner file names it).
      const workflowId = (await readImportOwner(store, id))?.workflowId ?? id;
      const description = await options.client.workflow.getHandle(workflowId).describe();
      result.status = description.status.name;
      closeTime = description.closeTime;
    } catch (err) {
      if (!(err instanceof WorkflowNotFoundError)) throw err;
    }
    if (result.status === 'RUNNING') {
      result.skipped = 'still running';
      continue;
    }
    // Unknown to Temporal: ended before the namespace's retention, or started in another namespace. Only by name.
    if (result.status === 'UNKNOWN' && !options.ids) {
      result.skipped = 'unknown to this Temporal namespace: name it to remove it';
      continue;
    }
    const ended = closeTime?.getTime() ?? (await store.usage(importDir))?.modifiedMs ?? now;
    if (options.olderThanMs !== undefined && now - ended < options.olderThanMs) {
      result.skipped = `ended ${Math.round((now - ended) / 60_000)} min ago`;
      continue;
    }
    for (const key of await store.list(`${importDir}/`)) {
      const entry = path.posix.basename(key);
      if (entry === OWNER_FILE || (entry === REPORT_DIR && !options.reports)) continue;
      result.bytes += (await store.usage(key))?.bytes ?? 0;
      result.removed.push(entry);
      if (!options.dryRun) await store.remove(key);
    }
  }
  return results;
}
