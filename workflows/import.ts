/**
 * An import, as the process it models: stage the source, submit chunks through a sliding
 * window, follow each to its outcome, retry what may pass in later rounds, write the report.
 * The workflow holds counts, cursors and ids only; product data stays in the staging store.
 */
import * as wf from '@temporalio/workflow';
import type { ImportActivities, SubmitResult } from '../activities';
import {
  chunkIdOf,
  productsIn,
  formatDuration,
  ImportInput,
  type ImportPhase,
  type ImportProgress,
  type ImportRequest,
  type ImportSummary,
  type OutcomeCounts,
  type StageResult,
} from '../common/import';
import { BulkImportFailed, BulkImportStatus, BulkImportSucceeded, BulkImportTarget, BulkImportTotal } from '../common/search-attributes';
import { cancelSignal, pauseSignal, progressQuery, resumeSignal, setConcurrencyUpdate } from './messages';

/** Failures after which no other chunk can succeed either: stop submitting, report, fail. */
const FATAL_FAILURES = new Set(['Unauthorized', 'QuotaExhausted']);

/** What one run hands to the next when it continues as new: counters and cursors, nothing else. */
export interface CarriedState {
  startedAt: number;
  runNumber: number;
  stage?: StageResult;
  round: number;
  roundChunks: number;
  nextChunk: number;
  /** Halves of split chunks waiting to be submitted. */
  pendingParts: string[];
  counters: Counters;
  concurrency: number;
  paused: boolean;
  /** Recent (time, finished products) samples for the last minute's throughput. */
  samples: [number, number][];
}

/** The product counts of `progress`, plus the chunk counts that `progress` nests. */
type Counters = Pick<ImportProgress, 'submitted' | 'succeeded' | 'failed' | 'rejected' | 'awaitingRetry' | 'inFlight' | 'unknownOutcomeRetries'> & {
  chunksTotal: number;
  chunksDone: number;
};

const activityDefaults = { heartbeatTimeout: '30 seconds' } as const;

function activities(summary?: string) {
  const common = { ...activityDefaults, ...(summary ? { summary } : {}) };
  return {
    stage: wf.proxyActivities<ImportActivities>({
      ...common,
      startToCloseTimeout: '24 hours',
      retry: { maximumAttempts: 5, initialInterval: '2 seconds' },
    }).stage,
    chunk: wf.proxyActivities<ImportActivities>({
      ...common,
      startToCloseTimeout: '15 minutes',
      retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '2 minutes', maximumAttempts: 8 },
    }),
    poll: wf.proxyActivities<ImportActivities>({
      ...common,
      startToCloseTimeout: '24 hours',
      retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 20 },
    }).awaitAction,
    bookkeeping: wf.proxyActivities<ImportActivities>({
      ...common,
      startToCloseTimeout: '2 hours',
      retry: { maximumAttempts: 10, initialInterval: '1 second' },
    }),
  };
}

export async function importCatalog(request: ImportRequest, carried?: CarriedState): Promise<ImportSummary> {
  const input = ImportInput.parse(request);
  const { options } = input;
  const state: CarriedState = carried ?? {
    startedAt: Date.now(),
    runNumber: 1,
    round: 0,
    roundChunks: 0,
    nextChunk: 0,
    pendingParts: [],
    counters: { submitted: 0, succeeded: 0, failed: 0, rejected: 0, awaitingRetry: 0, inFlight: 0, unknownOutcomeRetries: 0, chunksTotal: 0, chunksDone: 0 },
    concurrency: options.concurrency,
    paused: false,
    samples: [],
  };
  const c = state.counters;
  const inFlight = new Set<string>();
  let phase: ImportPhase = state.stage ? 'submitting' : 'staging';
  let cancelRequested = false;
  let cancelReason: string | undefined;
  let fatalError: string | undefined;
  let chunksThisRun = 0;

  // ---- messages -------------------------------------------------------------------------
  // Handlers publish at once: while paused nothing else happens that would.
  const requestCancel = (reason: string) => {
    // Once the report is being written there is nothing left to stop.
    if (cancelRequested || phase === 'reporting') return;
    cancelRequested = true;
    cancelReason = reason;
    publish();
  };
  wf.setHandler(progressQuery, () => progress());
  wf.setHandler(pauseSignal, () => {
    state.paused = true;
    publish();
  });
  wf.setHandler(resumeSignal, () => {
    state.paused = false;
    publish();
  });
  wf.setHandler(cancelSignal, (reason) => requestCancel(reason || 'cancelled by signal'));
  // Temporal's own cancellation request takes the same graceful path as the signal: the body
  // below runs non-cancellable and watches `cancelRequested`, so in-flight chunks and the report finish.
  wf.CancellationScope.current().cancelRequested.catch(() => requestCancel('cancelled through Temporal'));
  wf.setHandler(
    setConcurrencyUpdate,
    (n) => {
      const previous = state.concurrency;
      state.concurrency = n;
      publish();
      return previous;
    },
    {
      validator: (n) => {
        if (!Number.isInteger(n) || n < 1 || n > options.maxConcurrency) {
          throw new Error(`concurrency must be a whole number from 1 to ${options.maxConcurrency}; got ${n}`);
        }
      },
    },
  );

  function finishedProducts(): number {
    return c.succeeded + c.failed + c.rejected;
  }

  /**
   * Products finished per second since the newest sample at least a minute old (or the oldest
   * sample, early on), so chunks that finish minutes apart still give a rate.
   */
  function throughput(now: number): number {
    let base = state.samples[0];
    for (const sample of state.samples) {
      if (sample[0] > now - 60_000) break;
      base = sample;
    }
    return base && now > base[0] ? ((finishedProducts() - base[1]) * 1000) / (now - base[0]) : 0;
  }

  function progress(): ImportProgress {
    // Workflow time: in a query handler it is the time of the last event, reported as `asOf`.
    const now = Date.now();
    const rate = throughput(now);
    const left = (state.stage?.valid ?? 0) - finishedProducts();
    return {
      importId: input.importId,
      target: input.target,
      phase,
      paused: state.paused,
      cancelRequested,
      ...(cancelReason ? { cancelReason } : {}),
      startedAt: new Date(state.startedAt).toISOString(),
      asOf: new Date(now).toISOString(),
      read: state.stage?.read ?? 0,
      valid: state.stage?.valid ?? 0,
      invalid: state.stage?.invalid ?? 0,
      submitted: c.submitted,
      succeeded: c.succeeded,
      failed: c.failed,
      rejected: c.rejected,
      awaitingRetry: c.awaitingRetry,
      inFlight: c.inFlight,
      unknownOutcomeRetries: c.unknownOutcomeRetries,
      chunks: { total: c.chunksTotal, inFlight: inFlight.size, done: c.chunksDone },
      retryRound: state.round,
      concurrency: state.concurrency,
      throughputPerSecond: Math.round(rate * 10) / 10,
      etaSeconds: rate > 0 && phase === 'submitting' && !state.paused && !cancelRequested ? Math.ceil(left / rate) : null,
      runNumber: state.runNumber,
    };
  }

  /** The search attributes as last upserted: each upsert is a history event, so only changes are sent. */
  let published = '';
  function publish(status?: string): void {
    const p = progress();
    const values = {
      status: status ?? (cancelRequested ? 'Cancelling' : state.paused ? 'Paused' : phaseStatus[phase]),
      total: p.read,
      succeeded: p.succeeded,
      failed: p.failed + p.rejected + p.invalid,
    };
    if (JSON.stringify(values) !== published) {
      published = JSON.stringify(values);
      wf.upsertSearchAttributes([
        { key: BulkImportTarget, value: input.target },
        { key: BulkImportStatus, value: values.status },
        { key: BulkImportTotal, value: values.total },
        { key: BulkImportSucceeded, value: values.succeeded },
        { key: BulkImportFailed, value: values.failed },
      ]);
    }
    wf.setCurrentDetails(progressMarkdown(p));
  }

  /** Keeps the last minute of (time, finished) samples plus the newest one before it, as the rate's baseline. */
  function recordSample(): void {
    const now = Date.now();
    const older = state.samples.filter(([t]) => t <= now - 60_000).at(-1);
    const recent = state.samples.filter(([t]) => t > now - 60_000);
    state.samples = [...(older ? [older] : []), ...recent, [now, finishedProducts()] as [number, number]].slice(-200);
  }

  /** Applies a finished chunk's outcome counts to the progress counters. */
  function settle(counts: OutcomeCounts, products: number, wasInFlight: boolean): void {
    if (wasInFlight) c.inFlight -= products;
    c.succeeded += counts.succeeded;
    c.failed += counts.failed;
    c.rejected += counts.invalid;
    c.awaitingRetry += counts.retryable;
    c.unknownOutcomeRetries += counts.unknownOutcomeRetries;
    c.chunksDone++;
    recordSample();
    publish();
  }

  function beginSubmission(products: number): void {
    if (state.round === 0) c.submitted += products;
    else c.awaitingRetry -= products;
  }

  /** A chunk whose outcome came with its submission (a synchronous answer, or a failure recorded for it). */
  function settleAnswered(counts: OutcomeCounts): void {
    const products = productsIn(counts);
    beginSubmission(products);
    settle(counts, products, false);
  }

  // ---- one chunk, start to end ------------------------------------------------------------
  async function processChunk(chunkId: string): Promise<void> {
    const act = activities(`${input.target} chunk ${chunkId} (round ${state.round})`);
    let result: SubmitResult;
    try {
      result = await act.chunk.submitChunk({ input, chunkId });
    } catch (err) {
      await recordChunkFailure(chunkId, err);
      return;
    }
    if (result.kind === 'split') {
      state.pendingParts.unshift(...result.parts);
      c.chunksTotal += result.parts.length - 1;
      return;
    }
    if (result.kind === 'completed') {
      settleAnswered(result.counts);
      return;
    }
    beginSubmission(result.products);
    c.inFlight += result.products;
    publish();
    let counts: OutcomeCounts;
    try {
      counts = await act.poll({ input, chunkId, actionId: result.actionId });
    } catch (err) {
      counts = await act.bookkeeping.failChunk({ input, chunkId, error: failureMessage(err), retryable: true });
    }
    settle(counts, result.products, true);
  }

  async function recordChunkFailure(chunkId: string, err: unknown): Promise<void> {
    const type = failureType(err);
    if (type && FATAL_FAILURES.has(type)) {
      fatalError ??= failureMessage(err);
      state.pendingParts.unshift(chunkId);
      return;
    }
    // Final rejections (4xx) are not retried; exhausted transient failures get another round.
    const retryable = !(err instanceof wf.ActivityFailure && err.cause instanceof wf.ApplicationFailure && err.cause.nonRetryable);
    settleAnswered(await activities().bookkeeping.failChunk({ input, chunkId, error: failureMessage(err), retryable }));
  }

  // ---- the sliding window over one round's chunks ----------------------------------------
  const hasNext = () => state.pendingParts.length > 0 || state.nextChunk < state.roundChunks;
  const stopping = () => cancelRequested || fatalError !== undefined;
  const takeNext = () => state.pendingParts.shift() ?? chunkIdOf(state.round, state.nextChunk++);

  /** Returns false when the run should continue as new before the round is over. */
  async function submitRound(): Promise<boolean> {
    for (;;) {
      await wf.condition(
        () => stopping() || (inFlight.size === 0 && !hasNext()) || (!state.paused && inFlight.size < state.concurrency && hasNext()),
      );
      if (stopping() || !hasNext()) break;
      if (chunksThisRun >= options.chunksPerRun || wf.workflowInfo().continueAsNewSuggested) {
        await wf.condition(() => inFlight.size === 0);
        // A cancel that came in while the window drained must not be lost to continue-as-new.
        return stopping();
      }
      const id = takeNext();
      chunksThisRun++;
      inFlight.add(id);
      // In-flight chunks finish even when the import is cancelled: their outcome must be known.
      void wf.CancellationScope.nonCancellable(() => processChunk(id)).finally(() => inFlight.delete(id));
    }
    await wf.CancellationScope.nonCancellable(() => wf.condition(() => inFlight.size === 0));
    return true;
  }

  // ---- the import -------------------------------------------------------------------------
  // Non-cancellable as a whole: a cancellation request only sets `cancelRequested` (see above).
  // Staging is not interrupted: it only reads the source and writes chunk files, and the report needs its result.
  await wf.CancellationScope.nonCancellable(async () => {
    publish();
    if (!state.stage) {
      state.stage = await activities(`stage ${input.source.location}`).stage(input);
      state.roundChunks = state.stage.chunks;
      c.chunksTotal = state.stage.chunks;
    }
    phase = 'submitting';
    recordSample();
    publish();
    for (;;) {
      if (!(await submitRound())) {
        await wf.continueAsNew<typeof importCatalog>(request, { ...state, runNumber: state.runNumber + 1 });
      }
      if (stopping() || c.awaitingRetry === 0 || state.round >= options.retryRounds) break;
      phase = 'waiting-to-retry';
      publish();
      await wf.condition(() => stopping(), options.retryBackoffMs * 2 ** state.round);
      if (stopping()) break;
      const round = state.round + 1;
      const planned = await activities(`plan retry round ${round}`).bookkeeping.planRetryRound({ input, round });
      state.round = round;
      state.roundChunks = planned.chunks;
      state.nextChunk = 0;
      c.chunksTotal += planned.chunks;
      phase = 'submitting';
      publish();
    }
  });

  // Products still waiting for a retry round that will not come have failed.
  c.failed += c.awaitingRetry;
  c.awaitingRetry = 0;
  phase = 'reporting';
  publish();
  const report = await wf.CancellationScope.nonCancellable(() =>
    activities('write the report').bookkeeping.writeReport({ input, lastRound: state.round }),
  );
  const finishedAt = Date.now();
  const stopped = cancelRequested || fatalError !== undefined;
  phase = stopped ? 'cancelled' : 'completed';
  publish(fatalError ? 'Failed' : stopped ? 'Cancelled' : 'Completed');
  if (fatalError) {
    throw wf.ApplicationFailure.nonRetryable(`${fatalError} (import stopped; report: ${report.files.resultsJsonl})`, 'ImportStopped', report);
  }
  return {
    importId: input.importId,
    target: input.target,
    status: stopped ? 'cancelled' : 'completed',
    ...(cancelRequested && cancelReason ? { cancelReason } : {}),
    source: input.source.location,
    counts: {
      read: state.stage?.read ?? 0,
      valid: state.stage?.valid ?? 0,
      invalid: report.counts.invalid,
      succeeded: report.counts.succeeded,
      failed: report.counts.failed,
      notSubmitted: report.counts.notSubmitted,
      unknownOutcomeRetries: c.unknownOutcomeRetries,
      chunks: c.chunksTotal,
      retryRounds: state.round,
    },
    timings: { startedAt: new Date(state.startedAt).toISOString(), finishedAt: new Date(finishedAt).toISOString(), durationMs: finishedAt - state.startedAt },
    files: report.files,
    runs: state.runNumber,
  };
}

const phaseStatus: Record<ImportPhase, string> = {
  staging: 'Staging',
  submitting: 'Running',
  'waiting-to-retry': 'Running',
  reporting: 'Reporting',
  completed: 'Completed',
  cancelled: 'Cancelled',
};

function failureType(err: unknown): string | undefined {
  return err instanceof wf.ActivityFailure && err.cause instanceof wf.ApplicationFailure ? (err.cause.type ?? undefined) : undefined;
}

function failureMessage(err: unknown): string {
  if (err instanceof wf.ActivityFailure && err.cause) return err.cause.message;
  return err instanceof Error ? err.message : String(err);
}

/** The Web UI's "current details": a headline, then one count a row (the panel is narrow). */
function progressMarkdown(p: ImportProgress): string {
  const n = (x: number) => x.toLocaleString('en-US');
  const done = p.succeeded + p.failed + p.rejected;
  const flags = `${p.paused ? ' (paused)' : ''}${p.cancelRequested && p.phase !== 'cancelled' ? ` (cancelling: ${p.cancelReason ?? 'requested'})` : ''}`;
  const rate = `${n(p.throughputPerSecond)}/s${p.etaSeconds !== null ? ` · ETA ${formatDuration(p.etaSeconds)}` : ''}`;
  const rows: [string, number][] = [
    ['read', p.read],
    ['valid', p.valid],
    ['invalid', p.invalid],
    ['submitted', p.submitted],
    ['succeeded', p.succeeded],
    ['failed', p.failed],
    ['rejected by the target', p.rejected],
    ['awaiting retry', p.awaitingRetry],
    ['in flight', p.inFlight],
  ];
  return [
    `**${p.phase}**${flags} · ${n(done)} of ${n(p.valid)} products done${p.valid ? ` (${Math.floor((done / p.valid) * 100)}%)` : ''} · ${rate}`,
    '',
    `Round ${p.retryRound} · concurrency ${p.concurrency} · chunks ${n(p.chunks.done)} / ${n(p.chunks.total)} done, ${p.chunks.inFlight} in flight`,
    '',
    '| products | |',
    '|---|---:|',
    ...rows.map(([label, value]) => `| ${label} | ${n(value)} |`),
  ].join('\n');
}
