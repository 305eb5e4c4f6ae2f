/**
 * A per-target cap on requests per second in one worker process: a token bucket that every request of the target's
 * HTTP client (submissions, polls, token requests) waits for. Pacing across workers and imports is the quota's business;
 * this only makes sure that no loop in this process, however wrong, can send a target more than `ratePerSecond`.
 */
import { ApplicationFailure } from '@temporalio/common';

export class RequestLimiter {
  private tokens: number;
  private last: number;
  /** Callers wait in arrival order, so a busy poller cannot starve a submission. */
  private queue: Promise<void> = Promise.resolve();

  constructor(
    readonly ratePerSecond: number,
    private readonly burst = Math.max(1, ratePerSecond),
    private readonly now: () => number = Date.now,
  ) {
    if (!(ratePerSecond > 0)) throw new RangeError('a request limiter needs a rate above 0');
    this.tokens = burst;
    this.last = now();
  }

  /** Resolves when a request may go; rejects if `signal` aborts while waiting. */
  take(signal?: AbortSignal): Promise<void> {
    const turn = this.queue.then(() => this.acquire(signal));
    // A caller that gave up must not block the ones behind it.
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  private async acquire(signal?: AbortSignal): Promise<void> {
    for (;;) {
      signal?.throwIfAborted();
      const now = this.now();
      this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.ratePerSecond);
      this.last = now;
      if (this.tokens >= 1) {
        this.tokens -= 1;
        return;
      }
      await abortableSleep(Math.ceil(((1 - this.tokens) / this.ratePerSecond) * 1000), signal);
    }
  }
}

function abortableSleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * Default caps that stop storms without limiting a healthy import: Voucherify polls and bulk calls are few (the plan's
 * quota is pacing's business across workers); 50 Propeller bulk requests per second is more than adaptive concurrency needs.
 */
export const DEFAULT_MAX_RPS = { voucherify: 10, propeller: 50 } as const;

/** The limiter for a target from `<PREFIX>_MAX_RPS` (a positive number), else the default. */
export function limiterFromEnv(env: NodeJS.ProcessEnv, variable: string, fallback: number): RequestLimiter {
  return new RequestLimiter(rateFromEnv(env, variable, fallback));
}

/** `<PREFIX>_MAX_RPS` as a number of requests per second, else the default; a bad value fails naming the variable. */
export function rateFromEnv(env: NodeJS.ProcessEnv, variable: string, fallback: number): number {
  const raw = env[variable];
  const rate = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isFinite(rate) || rate <= 0) {
    // No retry makes a bad setting good: fail as a misconfiguration naming the variable.
    throw ApplicationFailure.nonRetryable(
      `${variable} must be a number of requests per second above 0, got "${raw}"`,
      'TargetMisconfigured',
    );
  }
  return rate;
}
