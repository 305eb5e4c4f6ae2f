/**
 * Live progress of an import, for people: bars with counts, rate and ETA in a terminal, a plain
 * line every few seconds otherwise (CI logs, pipes). Used by `bulkport import --wait`,
 * `bulkport watch` and the demo, so all three look the same.
 */
import cliProgress from 'cli-progress';
import type { Client } from '@temporalio/client';
import { concurrencyText, formatDuration, type ImportProgress } from '../common/import';
import type { ImportHandle } from './index';
import { importOutcome, queryProgress, stagingProgress, type ImportStatus } from './status';
import { watchWorkers } from './workers';

const n = (x: number) => x.toLocaleString('en-US');

/** Products with a final outcome (not in flight, not waiting for a retry round). */
export const finished = (p: ImportProgress) => p.succeeded + p.failed + p.rejected;

/** Invalid as the summary counts it: rejected by our validation while staging, or by the target's own. */
export const invalidOf = (p: ImportProgress) => p.invalid + p.rejected;

function bar(value: number, total: number, width = 28): string {
  const filled = total > 0 ? Math.min(width, Math.round((value / total) * width)) : 0;
  return '█'.repeat(filled) + '░'.repeat(width - filled);
}

function stateOf(p: ImportProgress, stagingRead?: number): string {
  const ended = p.phase === 'completed' || p.phase === 'cancelled';
  const flags = ended ? '' : [p.paused && 'PAUSED', p.cancelRequested && 'CANCELLING'].filter(Boolean).join(' ');
  // Staging's own count before the first chunk; then the workflow's, while chunks go out as they are staged.
  const staging =
    p.phase === 'staging' && stagingRead !== undefined
      ? ` (${n(stagingRead)} records read)`
      : p.staging
        ? ` (still reading the source: ${n(p.read)} records so far)`
        : '';
  return `${p.phase}${staging}${flags ? ` ${flags}` : ''} · round ${p.retryRound} · ${concurrencyText(p)}${waitingText(p)}`;
}

/** " · waiting for Voucherify's bulk quota until 14:00:05" (local time), or nothing. */
export function waitingText(p: Pick<ImportProgress, 'waitingFor' | 'phase'>): string {
  if (!p.waitingFor || p.phase === 'completed' || p.phase === 'cancelled') return '';
  const until = new Date(p.waitingFor.until);
  const time = localTime(p.waitingFor.until);
  const day = until.toDateString() === new Date().toDateString() ? '' : ` on ${until.toDateString()}`;
  return ` · waiting for ${p.waitingFor.what} until ${time}${day}`;
}

function rateAndEta(p: ImportProgress): string {
  return `${n(p.throughputPerSecond)}/s · ETA ${p.etaSeconds === null ? '–' : formatDuration(p.etaSeconds)}`;
}

/** The lines a terminal shows: state, products (bar, then the breakdown), chunks. */
export function progressLines(p: ImportProgress, stagingRead?: number, barWidth = 28): string[] {
  const done = finished(p);
  const pct = p.valid > 0 ? Math.floor((done / p.valid) * 100) : 0;
  return [
    `${p.importId} · ${stateOf(p, stagingRead)}`,
    `products |${bar(done, p.valid, barWidth)}| ${n(done)}/${n(p.valid)} ${pct}% · ${rateAndEta(p)}`,
    `         ${n(p.succeeded)} ok · ${n(p.failed)} failed · ${n(p.awaitingRetry)} to retry · ${n(p.inFlight)} in flight · ${n(invalidOf(p))} invalid`,
    `chunks   |${bar(p.chunks.done, p.chunks.total, barWidth)}| ${n(p.chunks.done)}/${n(p.chunks.total)} · ${p.chunks.inFlight} in flight`,
    ...(p.lastIssue ? [`last issue ${localTime(p.lastIssue.at)}: ${p.lastIssue.message}`] : []),
  ];
}

const localTime = (iso: string) => new Date(iso).toTimeString().slice(0, 8);

/** One line for logs. */
export function progressLine(p: ImportProgress, stagingRead?: number): string {
  return (
    `${stateOf(p, stagingRead)}: ${n(finished(p))}/${n(p.valid)} products done (${n(p.succeeded)} ok, ${n(p.failed)} failed, ` +
    `${n(p.awaitingRetry)} to retry, ${n(p.inFlight)} in flight, ${n(invalidOf(p))} invalid), chunks ${n(p.chunks.done)}/${n(p.chunks.total)}, ${rateAndEta(p)}` +
    (p.lastIssue ? `; last issue ${localTime(p.lastIssue.at)}: ${p.lastIssue.message}` : '')
  );
}

export interface ProgressView {
  update(p: ImportProgress, stagingRead?: number): void;
  stop(): void;
}

/** Bars on a terminal; elsewhere a line when something changed, at most every `plainEveryMs`. */
export function createProgressView(stream: NodeJS.WriteStream = process.stdout, plainEveryMs = 5000): ProgressView {
  if (!stream.isTTY) {
    let printed = '';
    let latest = '';
    let printedAt = 0;
    const print = () => {
      printed = latest;
      printedAt = Date.now();
      stream.write(`${new Date().toISOString().slice(11, 19)} ${latest}\n`);
    };
    return {
      update(p, stagingRead) {
        latest = progressLine(p, stagingRead);
        if (latest !== printed && Date.now() - printedAt >= plainEveryMs) print();
      },
      // The final state is always shown.
      stop() {
        if (latest && latest !== printed) print();
      },
    };
  }
  // cli-progress redraws the lines in place; each "bar" prints the text we give it.
  const multibar = new cliProgress.MultiBar({
    stream,
    hideCursor: true,
    clearOnComplete: false,
    stopOnComplete: false,
    linewrap: false,
    format: (_options, _params, payload: { text: string }) => payload.text,
  });
  const lines = [0, 1, 2, 3].map(() => multibar.create(1, 0, { text: '' }));
  return {
    update(p, stagingRead) {
      // Room for the counts after the bar on the terminal's width.
      const width = Math.max(10, Math.min(40, (stream.columns || 80) - 50));
      for (const [i, text] of progressLines(p, stagingRead, width).entries()) lines[i]!.update(0, { text });
    },
    stop() {
      multibar.stop();
    },
  };
}

export interface FollowOptions {
  stream?: NodeJS.WriteStream;
  /** How often to ask for progress. */
  intervalMs?: number;
  /** Stops following (the import goes on); `followImport` then resolves with `detached`. */
  signal?: AbortSignal;
  /** Every progress answer, e.g. for `watch --json`; replaces the view when given. */
  onProgress?: (p: ImportProgress) => void;
  /** Without a worker on the import's task queue, give up (NoWorkerError) after this long; 0: wait, warning once. Default 60 s. */
  workerTimeoutMs?: number;
  /** Where the no-worker warning goes (default stderr). */
  warn?: (message: string) => void;
}

export type FollowResult = Pick<ImportStatus, 'summary' | 'failure'> & { detached?: true };

/** Shows live progress until the import ends; resolves with its summary (or failure). */
export async function followImport(client: Client, handle: ImportHandle, options: FollowOptions = {}): Promise<FollowResult> {
  const { taskQueue } = await handle.describe();
  const workers = watchWorkers(client, taskQueue, {
    timeoutMs: options.workerTimeoutMs ?? 60_000,
    warn: options.warn ?? ((message) => void process.stderr.write(`${message}\n`)),
  });
  const view = options.onProgress ? undefined : createProgressView(options.stream);
  let ended: FollowResult | undefined;
  const outcome = importOutcome(handle).then((o) => (ended = o));
  const stopped = new Promise<void>((resolve) => options.signal?.addEventListener('abort', () => resolve(), { once: true }));
  const show = async () => {
    const { progress } = await queryProgress(client, handle, 3000);
    if (!progress) return;
    const read = progress.phase === 'staging' ? await stagingProgress(handle).catch(() => undefined) : undefined;
    if (options.onProgress) options.onProgress(progress);
    else view?.update(progress, read);
  };
  try {
    while (!ended && !options.signal?.aborted) {
      // Without a worker the import never moves: say so, and don't wait forever.
      if (!(await workers.check())) {
        await Promise.race([outcome, stopped, new Promise((r) => setTimeout(r, options.intervalMs ?? 1000))]);
        continue;
      }
      await show();
      await Promise.race([outcome, stopped, new Promise((r) => setTimeout(r, options.intervalMs ?? 1000))]);
    }
    // The final numbers, while a worker can still answer.
    if (ended) await show();
  } finally {
    view?.stop();
  }
  return ended ?? { detached: true };
}

/** Why an ended import exits 1, in words: its root cause, or why nothing was imported. */
export function problemLine({ summary, failure }: Pick<ImportStatus, 'summary' | 'failure'>): string | undefined {
  if (failure) return `Import failed: ${failure.message}${failure.type ? ` [${failure.type}]` : ''}`;
  if (!summary) return undefined;
  const c = summary.counts;
  if (c.read === 0) return 'Nothing was imported: the source holds no records (check the file, and --format if its extension misleads).';
  if (c.succeeded === 0) {
    return `Nothing was imported: see why each record was refused in ${c.invalid ? summary.files.invalidRows : summary.files.failedRecords}`;
  }
  return undefined;
}

/** The end of an import in a few lines: counts, the report's files, the Web UI link. */
export function summaryLines(outcome: Pick<ImportStatus, 'summary' | 'failure'>, uiLink: string): string[] {
  const { summary, failure } = outcome;
  const lines: string[] = [];
  if (summary) {
    const c = summary.counts;
    const retries = c.retryRounds ? `, ${c.retryRounds} retry round${c.retryRounds > 1 ? 's' : ''}` : '';
    lines.push(
      `Import ${summary.status}${summary.cancelReason ? ` (${summary.cancelReason})` : ''}: ${n(c.succeeded)} succeeded, ${n(c.failed)} failed, ` +
        `${n(c.invalid)} invalid${c.notSubmitted ? `, ${n(c.notSubmitted)} not submitted` : ''}${c.unchanged !== undefined ? `, ${n(c.unchanged)} unchanged` : ''} of ${n(c.read)} read, ` +
        `in ${n(c.chunks)} chunks${retries} and ${formatDuration(summary.timings.durationMs / 1000)}`,
      `Results:        ${summary.files.resultsCsv}`,
      `Failed records: ${summary.files.failedRecords}`,
    );
    const problem = problemLine(outcome);
    if (problem) lines.push(problem);
  } else if (failure) {
    lines.push(problemLine(outcome)!);
    if (failure.report)
      lines.push(`Results:        ${failure.report.files.resultsCsv}`, `Failed records: ${failure.report.files.failedRecords}`);
  }
  lines.push(`Web UI:         ${uiLink}`);
  return lines;
}
