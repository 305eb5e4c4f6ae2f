/**
 * Adaptive concurrency for a synchronous target (Propeller): how many chunks to keep in flight,
 * found from the answers themselves. Pure and deterministic (no Temporal, no clock), so the
 * workflow can run it and carry its small state through continue-as-new.
 *
 * AIMD with a latency signal (TCP Vegas style):
 * - slow start: +1 per good chunk (doubles per round trip) until the first sign of congestion, or of latency rising
 *   past SLOW_START_EXIT × the baseline (HyStart), which takes the limit back to the one that answer was sent under;
 * - then +1/limit per good chunk (+1 per round trip);
 * - a chunk that met 429/5xx (a failed attempt) halves the limit;
 * - latency per product above LATENCY_TOLERANCE × the baseline (the lowest seen,
 *   followed upward only at 1 chunk) means the target queues our requests: the limit shrinks by the latency's excess
 *   (a gradient, as in Netflix's concurrency-limits), between 10 % and half, so an overshoot
 *   of slow start is undone in one step instead of many.
 * Every decrease starts from the limit the congested chunk was sent under (slow start has grown past it meanwhile),
 * and answers to chunks sent before a decrease are not heeded (TCP's one decrease per window): they tell of the load
 * the old limit made, and heeding them took the limit from 18 to 1 in four steps in bench/adaptive.ts.
 */

export interface AdaptiveState {
  /** The limit, fractional: additive increase moves it in steps of 1/limit. */
  limit: number;
  /** Latency per product when the target is not loaded, in ms; undefined before the first sample. */
  baselineMs?: number;
  /** Recent latency per product, smoothed: one slow answer (a busy worker, a GC pause) is noise, not load. */
  recentMs?: number;
  /** False once congestion was seen: growth turns from slow start to +1 per round trip. */
  slowStart: boolean;
  /** Chunks sent so far; each answer names the send it answers. Absent in a state carried from before it existed. */
  sent?: number;
  /** Answers to sends numbered below this came under a limit since decreased: not heeded. */
  heedFrom?: number;
}

/** One send of a chunk, as the controller saw it: its number and the limit in effect. */
export interface Send {
  seq: number;
  limit: number;
}

export interface ChunkSample {
  /** Time the target took to answer the chunk, divided by its products. */
  latencyMsPerProduct: number;
  /** Earlier attempts of the chunk that failed on 429, 5xx or a timeout. */
  failedAttempts: number;
}

/** Latency above baseline × this counts as the target queueing our requests. */
export const LATENCY_TOLERANCE = 1.5;
/** In slow start, latency above baseline × this ends it (HyStart): the target begins to queue, so stop doubling. */
export const SLOW_START_EXIT = 1.25;
/** Bounds of the latency gradient's decrease factor. */
const LATENCY_DECREASE = { least: 0.9, most: 0.5 };
/** Weight of the newest sample in the recent latency. */
const RECENT_WEIGHT = 0.3;
/** How fast the baseline follows latencies above it at 1 chunk in flight (a target that became slower for good). */
const BASELINE_DRIFT = 0.05;

export class AdaptiveLimit {
  readonly state: AdaptiveState;

  constructor(state?: AdaptiveState, initial = 1) {
    this.state = state ? { ...state } : { limit: Math.max(1, initial), slowStart: true, sent: 0, heedFrom: 0 };
  }

  /** The whole number of chunks to keep in flight, in [1, ceiling]. */
  limit(ceiling: number): number {
    return Math.max(1, Math.min(ceiling, Math.floor(this.state.limit)));
  }

  /** Notes a chunk going out; pass what it returns to `onChunk` or `onCongestion` with the chunk's answer. */
  send(ceiling: number): Send {
    const seq = this.state.sent ?? 0;
    this.state.sent = seq + 1;
    return { seq, limit: this.limit(ceiling) };
  }

  /** Learns from one finished chunk; the ceiling keeps the limit from growing past what may be used. */
  onChunk(sample: ChunkSample, ceiling: number, sent?: Send): void {
    const s = this.state;
    if (sent && sent.seq < (s.heedFrom ?? 0)) return;
    if (sample.failedAttempts > 0) {
      this.decrease(0.5, ceiling, sent);
      return;
    }
    const latency = sample.latencyMsPerProduct;
    if (!(latency >= 0) || !Number.isFinite(latency)) return;
    const recent = s.recentMs === undefined ? latency : s.recentMs + (latency - s.recentMs) * RECENT_WEIGHT;
    s.recentMs = recent;
    // The baseline follows higher latencies only at 1 chunk in flight, where the load can't be ours: a target that
    // became slower for good. Drifting under load, however slowly, would take overload for the new normal.
    if (s.baselineMs === undefined || latency < s.baselineMs) s.baselineMs = latency;
    else if (s.limit < 2) s.baselineMs += (latency - s.baselineMs) * BASELINE_DRIFT;
    const congested = s.baselineMs * LATENCY_TOLERANCE;
    // Both the smoothed latency and this answer's: a slow answer among fast ones is noise, and a smoothed latency that
    // still remembers an earlier overload says nothing about this answer.
    if (recent > congested && latency > congested) {
      const gradient = congested / recent;
      this.decrease(Math.min(LATENCY_DECREASE.least, Math.max(LATENCY_DECREASE.most, gradient)), ceiling, sent);
      return;
    }
    // Slow start doubles the limit in the round trip its latency signal takes to come back: at the first sign of
    // queueing it ends, back at the limit that sign was sent under, not one doubling past it.
    if (s.slowStart && recent > s.baselineMs * SLOW_START_EXIT && latency > s.baselineMs * SLOW_START_EXIT) {
      this.decrease(1, ceiling, sent);
      return;
    }
    // Never grow far past the ceiling, so that a raised ceiling is approached again, not jumped to.
    s.limit = Math.min(ceiling + 1, s.limit + (s.slowStart ? 1 : 1 / s.limit));
  }

  /** A chunk that failed for good on congestion (throttled, server errors) halves the limit too. */
  onCongestion(ceiling: number, sent?: Send): void {
    if (sent && sent.seq < (this.state.heedFrom ?? 0)) return;
    this.decrease(0.5, ceiling, sent);
  }

  private decrease(factor: number, ceiling: number, sent?: Send): void {
    const s = this.state;
    s.slowStart = false;
    // Decrease from what was in use when the congested chunk went out: a limit above the ceiling was never in effect,
    // and slow start may have doubled the limit since.
    s.limit = Math.max(1, Math.min(s.limit, ceiling, sent?.limit ?? Number.POSITIVE_INFINITY) * factor);
    s.heedFrom = s.sent ?? 0;
    // The smoothed latency remembers the load of the old limit; the next heeded answers start it afresh.
    s.recentMs = undefined;
  }
}
