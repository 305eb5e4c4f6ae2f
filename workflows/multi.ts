/**
 * One catalog into several targets: a parent workflow with one child import per target (`importCatalog`, each with its
 * own options and mapping, found in the Web UI like any import), steered together (pause, resume and cancel reach every
 * child) and ending with one combined summary that holds each child's summary and report.
 */
import * as wf from '@temporalio/workflow';
import { type ImportRequest, type ImportSummary, importIdOf, type TargetName } from '../common/import';
import { BulkImportStatus, BulkImportTarget } from '../common/search-attributes';
import { failureMessage } from './failures';
import { importCatalog } from './import';
import { cancelSignal, pauseSignal, resumeSignal } from './messages';

/** The source once, and per target what an import into it takes besides the source. */
export interface MultiImportRequest {
  importId?: string;
  source: ImportRequest['source'];
  targets: Omit<ImportRequest, 'importId' | 'source'>[];
}

export interface ChildImport {
  target: TargetName;
  workflowId: string;
  /** Started yet (the parent starts them one after the other). */
  started?: boolean;
}

export interface MultiImportSummary {
  importId: string;
  source: string;
  /** Failed when a child failed; cancelled when none failed and one was cancelled; else completed. */
  status: 'completed' | 'cancelled' | 'failed';
  imports: (ChildImport & { summary?: ImportSummary; failure?: string })[];
}

/** The child imports, for the CLI to follow and steer one by one. */
export const childImportsQuery = wf.defineQuery<ChildImport[]>('childImports');

/** The child of `target`: its workflow id is also its import id (its staging folder and report). */
export const childImportId = (parentId: string, target: string) => `${parentId}-${target}`;

export async function importIntoTargets(request: MultiImportRequest): Promise<MultiImportSummary> {
  const id = request.importId ?? importIdOf(wf.workflowInfo().workflowId);
  const names = request.targets.map((t) => t.target);
  if (names.length < 2 || new Set(names).size !== names.length) {
    wf.upsertSearchAttributes([{ key: BulkImportStatus, value: 'Failed' }]);
    throw wf.ApplicationFailure.nonRetryable(`name two targets or more, each once; got ${names.join(', ') || 'none'}`, 'InvalidInput');
  }
  const children = request.targets.map((t) => ({
    target: t.target,
    workflowId: childImportId(id, t.target),
    request: { ...t, importId: childImportId(id, t.target), source: request.source } as ImportRequest,
  }));
  const started: wf.ChildWorkflowHandle<typeof importCatalog>[] = [];
  wf.setHandler(childImportsQuery, () =>
    children.map(({ target, workflowId }, i) => ({ target, workflowId, started: i < started.length })),
  );

  // Steering reaches every child started; a child started later gets what was asked before it.
  let paused = false;
  let cancelReason: string | undefined;
  const toAll = (send: (child: wf.ChildWorkflowHandle<typeof importCatalog>) => Promise<void>) => {
    for (const child of started)
      void send(child).catch((err) => wf.log.warn('A child import was not told', { error: failureMessage(err) }));
  };
  wf.setHandler(pauseSignal, () => {
    paused = true;
    toAll((c) => c.signal(pauseSignal));
  });
  wf.setHandler(resumeSignal, () => {
    paused = false;
    toAll((c) => c.signal(resumeSignal));
  });
  const cancel = (reason: string) => {
    cancelReason ??= reason;
    toAll((c) => c.signal(cancelSignal, reason));
  };
  wf.setHandler(cancelSignal, (reason) => cancel(reason || 'cancelled by signal'));
  // Temporal's cancellation takes the children's graceful path too: each finishes its chunks in flight and its report.
  wf.CancellationScope.current().cancelRequested.catch(() => cancel('cancelled through Temporal'));

  wf.upsertSearchAttributes([
    { key: BulkImportTarget, value: names.join(',') },
    { key: BulkImportStatus, value: 'Running' },
  ]);
  const results = await wf.CancellationScope.nonCancellable(async () => {
    for (const c of children) {
      const child = await wf.startChild(importCatalog, {
        workflowId: c.workflowId,
        args: [c.request],
        // The parent steers its children; a parent that ends another way (terminated) asks them to stop.
        cancellationType: wf.ChildWorkflowCancellationType.ABANDON,
        parentClosePolicy: wf.ParentClosePolicy.REQUEST_CANCEL,
        typedSearchAttributes: [
          { key: BulkImportTarget, value: c.target },
          { key: BulkImportStatus, value: 'Staging' },
        ],
        staticSummary: `Import into ${c.target}, part of ${wf.workflowInfo().workflowId}`,
      });
      started.push(child);
      if (paused) await child.signal(pauseSignal);
      if (cancelReason !== undefined) await child.signal(cancelSignal, cancelReason);
    }
    return Promise.allSettled(started.map((child) => child.result()));
  });
  const imports = children.map(({ target, workflowId }, i) => {
    const r = results[i]!;
    return r.status === 'fulfilled' ? { target, workflowId, summary: r.value } : { target, workflowId, failure: failureMessage(r.reason) };
  });
  const status = imports.some((c) => c.failure)
    ? 'failed'
    : imports.some((c) => c.summary?.status === 'cancelled')
      ? 'cancelled'
      : 'completed';
  wf.upsertSearchAttributes([
    { key: BulkImportStatus, value: { failed: 'Failed', cancelled: 'Cancelled', completed: 'Completed' }[status] },
  ]);
  return { importId: id, source: request.source.location, status, imports };
}
