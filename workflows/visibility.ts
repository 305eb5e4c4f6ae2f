/**
 * What the Web UI and visibility show of an import: its search attributes (upserted only when they change, as each
 * upsert is a history event) and the Markdown of its "current details". Workflow code: it calls the workflow API.
 */
import * as wf from '@temporalio/workflow';
import { concurrencyText, formatDuration, type ImportPhase, type ImportProgress, type TargetName } from '../common/import';
import { BulkImportFailed, BulkImportStatus, BulkImportSucceeded, BulkImportTarget, BulkImportTotal } from '../common/search-attributes';

export const phaseStatus: Record<ImportPhase, string> = {
  staging: 'Staging',
  submitting: 'Running',
  'waiting-to-retry': 'Running',
  reporting: 'Reporting',
  completed: 'Completed',
  cancelled: 'Cancelled',
};

/** The Web UI's "current details": a headline, then one count a row (the panel is narrow). */
export function progressMarkdown(p: ImportProgress, status?: string): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const done = p.succeeded + p.failed + p.rejected;
  const flags = `${p.paused ? ' (paused)' : ''}${p.cancelRequested && p.phase !== 'cancelled' ? ` (cancelling: ${p.cancelReason ?? 'requested'})` : ''}`;
  const rate = `${n(p.throughputPerSecond)}/s${p.etaSeconds !== null ? ` · ETA ${formatDuration(p.etaSeconds)}` : ''}`;
  const rows: [string, number][] = [
    ['read', p.read],
    ['valid', p.valid],
    // Invalid as the summary counts it: before submission, or rejected by the target.
    ['invalid', p.invalid + p.rejected],
    ['… of which rejected by the target', p.rejected],
    ['submitted', p.submitted],
    ['succeeded', p.succeeded],
    ['failed', p.failed],
    ['awaiting retry', p.awaitingRetry],
    ['in flight', p.inFlight],
  ];
  const headline = status === 'Failed' ? 'failed' : p.phase;
  return [
    `**${headline}**${flags} · ${n(done)} of ${n(p.valid)} products done${p.valid ? ` (${Math.floor((done / p.valid) * 100)}%)` : ''} · ${rate}`,
    '',
    `Round ${p.retryRound} · ${concurrencyText(p)} · chunks ${n(p.chunks.done)} / ${n(p.chunks.total)} done, ${p.chunks.inFlight} in flight`,
    '',
    // Workflow code has no time zone of its own: the Web UI shows UTC.
    ...(p.waitingFor
      ? [`Waiting for ${p.waitingFor.what} until ${p.waitingFor.until.slice(11, 19)} UTC (${p.waitingFor.until.slice(0, 10)})`, '']
      : []),
    ...(p.lastIssue ? [`Last issue (${p.lastIssue.at.slice(11, 19)} UTC): ${p.lastIssue.message}`, ''] : []),
    '| products | |',
    '|---|---:|',
    ...rows.map(([label, value]) => `| ${label} | ${n(value)} |`),
  ].join('\n');
}

/** Counts in the search attributes are refreshed at most this often (workflow time); a new status goes out at once. */
export const SEARCH_ATTRIBUTES_EVERY_MS = 5_000;

/**
 * Publishes progress to visibility: the details every time; the search attributes when the status changes, and their
 * counts at a steady rhythm rather than on every chunk (each upsert is a history event). Imports started before the
 * rhythm (no patch marker in their history) keep upserting on every change, so they replay as they ran.
 */
export class VisibilityPublisher {
  private published = '';
  private publishedStatus = '';
  private publishedAt = Number.NEGATIVE_INFINITY;

  constructor(private readonly target: TargetName) {}

  publish(p: ImportProgress, status: string): void {
    const values = { status, total: p.read, succeeded: p.succeeded, failed: p.failed + p.rejected + p.invalid };
    const key = JSON.stringify(values);
    const now = Date.now();
    const due = status !== this.publishedStatus || now - this.publishedAt >= SEARCH_ATTRIBUTES_EVERY_MS;
    if (key !== this.published && (due || !wf.patched('search-attributes-rhythm'))) {
      this.published = key;
      this.publishedStatus = status;
      this.publishedAt = now;
      wf.upsertSearchAttributes([
        { key: BulkImportTarget, value: this.target },
        { key: BulkImportStatus, value: values.status },
        { key: BulkImportTotal, value: values.total },
        { key: BulkImportSucceeded, value: values.succeeded },
        { key: BulkImportFailed, value: values.failed },
      ]);
    }
    wf.setCurrentDetails(progressMarkdown(p, values.status));
  }
}
