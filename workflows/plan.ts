/**
 * A dry run: stage the source exactly as an import would (validation, duplicate keys, chunks within the target's
 * limits), then plan the sending from the staged counts. No activity of it talks to the target.
 */
import * as wf from '@temporalio/workflow';
import type { ImportPlan, ImportRequest } from '../common/import';
import { BulkImportStatus, BulkImportTarget } from '../common/search-attributes';
import { activities, importFailure, parseImportRequest } from './import';

export async function planCatalog(request: ImportRequest): Promise<ImportPlan> {
  const input = parseImportRequest(request);
  wf.upsertSearchAttributes([
    { key: BulkImportTarget, value: input.target },
    { key: BulkImportStatus, value: 'Planning' },
  ]);
  try {
    const stage = await activities(`stage ${input.source.location} (dry run)`).stage(input);
    const plan = await activities('plan the import').bookkeeping.planImport({ input, stage });
    wf.upsertSearchAttributes([{ key: BulkImportStatus, value: 'Planned' }]);
    return plan;
  } catch (err) {
    wf.upsertSearchAttributes([{ key: BulkImportStatus, value: 'Failed' }]);
    throw wf.isCancellation(err) ? err : importFailure('The dry run failed', err);
  }
}
