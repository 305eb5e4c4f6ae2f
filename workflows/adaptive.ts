/**
 * Adaptive concurrency for a synchronous target (Propeller): how many chunks to keep in flight,
 * found from the answers themselves. Pure and deterministic (no Temporal, no clock), so the
 * workflow can run it and carry its small state through continue-as-new.
 *
 * AIMD with a latency signal (TCP Vegas style):
 * - slow start: +1 per good chunk (doubles per round trip) until the first sign of congestion;
 * - then +1/limit per good chunk (+1 per round trip);
 * - a chunk that met 429/5xx (a failed attempt) halves the limit;
 * - latency per product above LATENCY_TOLERANCE × the baseline (the lowest seen,
 *   followed upward only at 1 chunk) means the target queues our requests: the limit shrinks by the latency's excess
 *   (a gradient, as in Netflix's concurrency-limits), between 10 % and half, so an overshoot
 *   of slow start is undone in one step instead of many.
 * After a decrease, further decreases wait one round trip (as many samples as the limit), as
 * chunks sent under the old limit still answer with the old congestion.
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
  /** Samples still to ignore for a decrease after the last one. */
  cooldown: number;
}

export interface ChunkSample {
  /** Time the target took to answer the chunk, divided by its products. */
  latencyMsPerProduct: number;
  /** Earlier attempts of the chunk that failed on 429, 5xx or a timeout. */
  failedAttempts: number;
}

/** Latency above baseline × this counts as the target queueing our requests. */
export const LATENCY_TOLERANCE = 1.5;
/** Bounds of the latency gradient's decrease factor. */
const LATENCY_DECREASE = { least: 0.9, most: 0.5 };
/** Weight of the newest sample in the recent latency. */
const RECENT_WEIGHT = 0.3;
/** How fast the baseline follows latencies above it at 1 chunk in flight (a target that became slower for good). */
const BASELINE_DRIFT = 0.05;

export class AdaptiveLimit {
  readonly state: AdaptiveState;

  constructor(state?: AdaptiveState, initial = 1) {
    this.state = state ? { ...state } : { limit: Math.max(1, initial), slowStart: true, cooldown: 0 };
  }

  /** The whole number of chunks to keep in flight, in [1, ceiling]. */
  limit(ceiling: number): number {
    return Math.max(1, Math.min(ceiling, Math.floor(this.state.limit)));
  }

  /** Learns from one finished chunk; the ceiling keeps the limit from growing past what may be used. */
  onChunk(sample: ChunkSample, ceiling: number): void {
    const s = this.state;
    if (sample.failedAttempts > 0) {
      this.decrease(0.5, ceiling);
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
    const baseline = s.baselineMs;
    if (recent > baseline * LATENCY_TOLERANCE) {
      const gradient = (baseline * LATENCY_TOLERANCE) / recent;
      this.decrease(Math.min(LATENCY_DECREASE.least, Math.max(LATENCY_DECREASE.most, gradient)), ceiling);
      return;
    }
    if (s.cooldown > 0) s.cooldown--;
    // Never grow far past the ceiling, so that a raised ceiling is approached again, not jumped to.
    s.limit = Math.min(ceiling + 1, s.limit + (s.slowStart ? 1 : 1 / s.limit));
  }

  /** A chunk that failed for good on congestion (throttled, server errors) halves the limit too. */
  onCongestion(ceiling: number): void {
    this.decrease(0.5, ceiling);
  }

  private decrease(factor: number, ceiling: number): void {
    const s = this.state;
    s.slowStart = false;
    if (s.cooldown > 0) {
      s.cooldown--;
      return;
    }
    // Decrease from what was in use: a limit above the ceiling was never in effect.
    s.limit = Math.max(1, Math.min(s.limit, ceiling) * factor);
    s.cooldown = Math.ceil(s.limit);
  }
}
