import { hash32, unitInterval } from './rng';
import type { StatsRecorder } from './stats';

export interface FaultOptions {
  /** Share of requests answered 500/502/503/504 without being applied. */
  serverErrorRate: number;
  /** Chance that a request starts a burst of 429s... */
  rateLimitBurstRate: number;
  /** ...that many requests long (the first included). */
  rateLimitBurstLength: number;
  /** Retry-After sent with injected 429s. */
  rateLimitRetryAfterSeconds: number;
  /** Share of requests whose answer is held back slowMs (the request is applied meanwhile). */
  slowRate: number;
  slowMs: number;
  /** Share of requests applied and then answered by closing the connection. */
  dropAfterApplyRate: number;
  /** Share of product keys that fail their first productFailureAttempts submissions. */
  productFailureRate: number;
  productFailureAttempts: number;
  /** Voucherify: share of async actions that end FAILED part-way. */
  actionFailureRate: number;
}

export type FaultKind = 'serverError' | 'rateLimitBurst' | 'slow' | 'dropAfterApply' | 'productFailure' | 'actionFailure';

export const defaultFaults: FaultOptions = {
  serverErrorRate: 0,
  rateLimitBurstRate: 0,
  rateLimitBurstLength: 3,
  rateLimitRetryAfterSeconds: 1,
  slowRate: 0,
  slowMs: 2000,
  dropAfterApplyRate: 0,
  productFailureRate: 0,
  productFailureAttempts: 1,
  actionFailureRate: 0,
};

export interface RequestFaults {
  /** Answer 429 before doing anything. */
  rateLimited: boolean;
  /** Answer this 5xx before doing anything. */
  serverErrorStatus?: 500 | 502 | 503 | 504;
  /** Hold the answer back this long. */
  delayMs: number;
  /** Apply the request, then close the connection without answering. */
  dropAfterApply: boolean;
}

const serverErrorStatuses = [500, 502, 503, 504] as const;

/**
 * Decides every injected fault from the seed. Request-level faults depend on the
 * request's arrival index, so a sequential client sees the same sequence on each
 * run; product-level faults depend only on (seed, product key, attempt), so they do
 * not change with request order or chunking.
 */
export class FaultInjector {
  private options: FaultOptions;
  private requestIndex = 0;
  private burstLeft = 0;
  /** Submissions seen per flaky product key; only flaky keys are tracked. */
  private readonly productAttempts = new Map<string, number>();

  constructor(
    private readonly seed: number,
    faults: Partial<FaultOptions>,
    private readonly stats: StatsRecorder,
  ) {
    this.options = withDefaults(faults);
  }

  /** Replaces the whole fault profile: anything not given goes back to its default (off). */
  set(faults: Partial<FaultOptions>): void {
    this.options = withDefaults(faults);
    this.burstLeft = 0;
  }

  get current(): Readonly<FaultOptions> {
    return this.options;
  }

  decideRequest(): RequestFaults {
    const n = this.requestIndex++;
    const o = this.options;
    const decision: RequestFaults = { rateLimited: false, delayMs: 0, dropAfterApply: false };
    if (this.burstLeft > 0) {
      this.burstLeft--;
      decision.rateLimited = true;
    } else if (unitInterval(this.seed, 'burst', n) < o.rateLimitBurstRate) {
      this.burstLeft = Math.max(0, o.rateLimitBurstLength - 1);
      decision.rateLimited = true;
    }
    if (!decision.rateLimited && unitInterval(this.seed, 'server-error', n) < o.serverErrorRate) {
      decision.serverErrorStatus = serverErrorStatuses[hash32(this.seed, 'status', n) % serverErrorStatuses.length];
    }
    const answered = decision.rateLimited || decision.serverErrorStatus !== undefined;
    if (!answered && unitInterval(this.seed, 'drop', n) < o.dropAfterApplyRate) decision.dropAfterApply = true;
    if (unitInterval(this.seed, 'slow', n) < o.slowRate) decision.delayMs = o.slowMs;

    if (decision.rateLimited) this.stats.countFault('rateLimitBurst');
    if (decision.serverErrorStatus) this.stats.countFault('serverError');
    if (decision.dropAfterApply) this.stats.countFault('dropAfterApply');
    if (decision.delayMs > 0) this.stats.countFault('slow');
    return decision;
  }

  /** Counts one submission of the product and tells whether it fails this time. */
  productFails(productKey: string): boolean {
    const o = this.options;
    if (o.productFailureRate <= 0 || unitInterval(this.seed, 'product', productKey) >= o.productFailureRate) {
      return false;
    }
    const attempt = (this.productAttempts.get(productKey) ?? 0) + 1;
    this.productAttempts.set(productKey, attempt);
    const fails = attempt <= o.productFailureAttempts;
    if (fails) this.stats.countFault('productFailure');
    return fails;
  }

  /** Whether the n-th async action fails, and after what share of its products. */
  actionFailure(actionIndex: number): { fails: boolean; afterShare: number } {
    const fails = unitInterval(this.seed, 'action', actionIndex) < this.options.actionFailureRate;
    if (fails) this.stats.countFault('actionFailure');
    return { fails, afterShare: unitInterval(this.seed, 'action-share', actionIndex) };
  }
}

function withDefaults(faults: Partial<FaultOptions>): FaultOptions {
  const merged = { ...defaultFaults };
  for (const [key, value] of Object.entries(faults) as Array<[keyof FaultOptions, number | undefined]>) {
    if (value === undefined) continue;
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`fault option ${key} must be a number >= 0`);
    if (key.endsWith('Rate') && value > 1) throw new RangeError(`fault option ${key} is a rate between 0 and 1`);
    merged[key] = value;
  }
  return merged;
}
