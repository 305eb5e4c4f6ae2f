/**
 * The import's books: product and chunk counts, the samples the rate and ETA come from, and the latest chunk-wide
 * issue. Pure (no Temporal import): the workflow tells it what happened, with the time; its state is part of what
 * the workflow carries through continue-as-new. The invariants it keeps:
 *   submitted = succeeded + failed + rejected + awaitingRetry + inFlight   (products handed to the target)
 *   read = valid + invalid                                                 (the stage's counts, kept beside it)
 */
import type { ImportInput, ImportProgress, ImportSummary, OutcomeCounts, ReportFiles, StageResult } from '../common/import';
import { productsIn } from '../common/import';

export type Counters = Pick<
  ImportProgress,
  'submitted' | 'succeeded' | 'failed' | 'rejected' | 'awaitingRetry' | 'inFlight' | 'unknownOutcomeRetries'
> & {
  chunksTotal: number;
  chunksDone: number;
};

export interface LedgerState {
  counters: Counters;
  /** Recent (time, finished products) samples for the last minute's throughput. */
  samples: [number, number][];
  lastIssue?: ImportProgress['lastIssue'];
}

const RATE_WINDOW_MS = 60_000;
const MAX_SAMPLES = 200;

export const emptyCounters = (): Counters => ({
  submitted: 0,
  succeeded: 0,
  failed: 0,
  rejected: 0,
  awaitingRetry: 0,
  inFlight: 0,
  unknownOutcomeRetries: 0,
  chunksTotal: 0,
  chunksDone: 0,
});

export class ImportLedger {
  constructor(readonly state: LedgerState) {}

  get counters(): Counters {
    return this.state.counters;
  }

  /** Products with a final outcome: succeeded, failed, or rejected by the target. */
  get finished(): number {
    const c = this.state.counters;
    return c.succeeded + c.failed + c.rejected;
  }

  /** Products go to the target: for the first time in round 0, again (out of awaitingRetry) in a retry round. */
  beginSubmission(products: number, round: number): void {
    if (round === 0) this.counters.submitted += products;
    else this.counters.awaitingRetry -= products;
  }

  /** An accepted asynchronous action: its products are in flight until its outcome comes. */
  inFlightStarted(products: number, resends = 0): void {
    this.counters.inFlight += products;
    this.counters.unknownOutcomeRetries += resends;
  }

  /** Products in flight whose chunk's outcome could not even be recorded: no longer in flight, reported unknown. */
  inFlightLost(products: number): void {
    this.counters.inFlight -= products;
  }

  /** A finished chunk's outcome counts. */
  settle(counts: OutcomeCounts, products: number, wasInFlight: boolean, now: number): void {
    const c = this.counters;
    if (wasInFlight) c.inFlight -= products;
    c.succeeded += counts.succeeded;
    c.failed += counts.failed;
    c.rejected += counts.invalid;
    c.awaitingRetry += counts.retryable;
    c.unknownOutcomeRetries += counts.unknownOutcomeRetries;
    c.chunksDone++;
    if (counts.issue) this.state.lastIssue = { message: counts.issue, at: new Date(now).toISOString() };
    this.recordSample(now);
  }

  /** A chunk whose outcome came with its submission (a synchronous answer, or a failure recorded for it). */
  settleAnswered(counts: OutcomeCounts, round: number, now: number): void {
    const products = productsIn(counts);
    this.beginSubmission(products, round);
    this.settle(counts, products, false, now);
  }

  /** A chunk that ended without an outcome of its own (its failure could not be recorded). */
  chunkWithoutOutcome(): void {
    this.counters.chunksDone++;
  }

  /** Chunks added: staged, planned for a retry round, or the extra half of a split. */
  addChunks(n: number): void {
    this.counters.chunksTotal += n;
  }

  /** The end: products still waiting for a retry round that will not come have failed. */
  closeRetries(): void {
    this.counters.failed += this.counters.awaitingRetry;
    this.counters.awaitingRetry = 0;
  }

  /** Keeps the last minute of (time, finished) samples plus the newest one before it, as the rate's baseline. */
  recordSample(now: number): void {
    const older = this.state.samples.filter(([t]) => t <= now - RATE_WINDOW_MS).at(-1);
    const recent = this.state.samples.filter(([t]) => t > now - RATE_WINDOW_MS);
    this.state.samples = [...(older ? [older] : []), ...recent, [now, this.finished] as [number, number]].slice(-MAX_SAMPLES);
  }

  /**
   * Products finished per second since the newest sample at least a minute old (or the oldest sample, early on),
   * so chunks that finish minutes apart still give a rate.
   */
  throughput(now: number): number {
    let base = this.state.samples[0];
    for (const sample of this.state.samples) {
      if (sample[0] > now - RATE_WINDOW_MS) break;
      base = sample;
    }
    return base && now > base[0] ? ((this.finished - base[1]) * 1000) / (now - base[0]) : 0;
  }

  /** Seconds left for `valid` products at the current rate; null when there is no rate. */
  etaSeconds(valid: number, now: number): number | null {
    const rate = this.throughput(now);
    return rate > 0 ? Math.ceil((valid - this.finished) / rate) : null;
  }

  /** The first invariant that does not hold, in words; undefined when the books balance. */
  imbalance(): string | undefined {
    const c = this.counters;
    const accounted = c.succeeded + c.failed + c.rejected + c.awaitingRetry + c.inFlight;
    if (accounted !== c.submitted)
      return `submitted ${c.submitted} ≠ succeeded + failed + rejected + awaitingRetry + inFlight = ${accounted}`;
    if (c.chunksDone > c.chunksTotal) return `chunks done ${c.chunksDone} > chunks ${c.chunksTotal}`;
    return undefined;
  }

  /** The import's summary: the report's counts are the truth for products; chunks, resends and rounds are the books'. */
  summary(end: {
    input: ImportInput;
    stage?: StageResult;
    report: {
      files: ReportFiles;
      counts: { invalid: number; succeeded: number; failed: number; notSubmitted: number; unchanged?: number };
    };
    round: number;
    runs: number;
    stopped: boolean;
    cancelReason?: string;
    startedAt: number;
    finishedAt: number;
  }): ImportSummary {
    const { input, stage, report } = end;
    return {
      importId: input.importId,
      target: input.target,
      status: end.stopped ? 'cancelled' : 'completed',
      ...(end.cancelReason ? { cancelReason: end.cancelReason } : {}),
      source: input.source.location,
      ...(input.source.redriveOf ? { redriveOf: input.source.redriveOf.importId } : {}),
      counts: {
        read: stage?.read ?? 0,
        valid: stage?.valid ?? 0,
        invalid: report.counts.invalid,
        succeeded: report.counts.succeeded,
        failed: report.counts.failed,
        notSubmitted: report.counts.notSubmitted,
        ...(report.counts.unchanged !== undefined ? { unchanged: report.counts.unchanged } : {}),
        unknownOutcomeRetries: this.counters.unknownOutcomeRetries,
        chunks: this.counters.chunksTotal,
        retryRounds: end.round,
      },
      timings: {
        startedAt: new Date(end.startedAt).toISOString(),
        finishedAt: new Date(end.finishedAt).toISOString(),
        durationMs: end.finishedAt - end.startedAt,
      },
      files: report.files,
      runs: end.runs,
    };
  }
}
