/**
 * When to poll an asynchronous action: pure, so the schedule is unit-tested without a target.
 *
 * - The first poll comes when the action could plausibly be done: the chunk's products times the time per product that
 *   earlier actions of this worker took, never sooner than the import's `pollIntervalMs`.
 * - After that an unfinished action is polled again when the wait has grown by a quarter (POLL_GROWTH), or sooner when
 *   IN_PROGRESS with a progress % says the time left is shorter.
 * - Whatever is wanted, poll n (1-based) never comes before first × POLL_GROWTH^(n-1) after the wait began. So an action
 *   found finished after a wait W took at most 1 + log_1.25(W ÷ first) polls, and is found at most a quarter of its
 *   wait after it finished.
 *
 * Why a quarter and not a doubling: the window holds a chunk until its action is found finished, so a late poll leaves
 * the target idle. With doublings, 10M Voucherify products (140 actions, each queued behind the window's others) had
 * the sandbox and the worker idle for 20 s at a time; polls are one GET each, and the wait's log bounds them.
 */
export const MAX_POLL_INTERVAL_MS = 5 * 60_000;
/** Each poll of an unfinished action comes when the wait has grown by this factor (see above). */
export const POLL_GROWTH = 1.25;
/** The first poll waits at most this long on an estimate: a wrong estimate costs at most a minute. */
export const MAX_FIRST_POLL_MS = 60_000;

export function firstPollDelay(products: number, msPerProduct: number | undefined, floorMs: number): number {
  if (msPerProduct === undefined || !(msPerProduct > 0)) return floorMs;
  return Math.round(Math.max(floorMs, Math.min(MAX_FIRST_POLL_MS, products * msPerProduct)));
}

export interface PollState {
  firstMs: number;
  floorMs: number;
  /** Successful polls so far (the next one is number polls + 1). */
  polls: number;
  /** Since the wait began. */
  elapsedMs: number;
  status: string;
  progress: number;
  /** How long the action has been running, at most (since the last poll that saw it ENQUEUED, or the wait's start). */
  runningForMs: number;
}

export function nextPollDelay(s: PollState): number {
  const earliest = s.firstMs * POLL_GROWTH ** s.polls - s.elapsedMs;
  let wanted = s.elapsedMs * (POLL_GROWTH - 1);
  // Progress only ever brings a poll sooner: 1 % after a short run says little (10M products: an action that took 2.4 s
  // was seen at 1 % and not polled again for over a minute).
  if (s.status === 'IN_PROGRESS' && s.progress > 0 && s.progress < 100)
    wanted = Math.min(wanted, (s.runningForMs * (100 - s.progress)) / s.progress);
  wanted = Math.max(s.floorMs, Math.min(MAX_POLL_INTERVAL_MS, wanted));
  return Math.round(Math.max(wanted, earliest));
}

/** Time per product of finished actions in this worker, per target, smoothed; what the next first poll is based on. */
export class ActionPace {
  private readonly msPerProduct = new Map<string, number>();

  estimate(target: string): number | undefined {
    return this.msPerProduct.get(target);
  }

  /**
   * An action of `products` products was found finished after a wait that `waitedMs` bounds: from below (the last poll
   * that found it unfinished, so that first polls come early rather than late: an early one costs a GET, a late one
   * leaves the target idle), or from above when it was found at the first poll. Found at the first poll, it may have
   * finished long before: the wait is only a bound. It never sets an estimate (a small chunk found done at the poll
   * interval would make a large one wait products × interval ÷ small for its first poll), and it halves one, so that the
   * next first poll comes sooner until one finds an action still running (then a measured wait sets the pace). Kept as
   * is, an estimate raised by one slow action would never come down: each first poll waits that long, and finds done.
   */
  observe(target: string, products: number, waitedMs: number, atFirstPoll = false): void {
    if (products <= 0 || waitedMs <= 0) return;
    const sample = waitedMs / products;
    const before = this.msPerProduct.get(target);
    if (atFirstPoll) {
      if (before !== undefined) this.msPerProduct.set(target, Math.min(sample, before) / 2);
      return;
    }
    this.msPerProduct.set(target, before === undefined ? sample : before * 0.5 + sample * 0.5);
  }
}

/** "10m 00s", "45s": how long polls kept failing, for messages. */
export function formatDuration(ms: number): string {
  const seconds = Math.round(ms / 1000);
  const minutes = Math.floor(seconds / 60);
  return minutes > 0 ? `${minutes}m ${String(seconds % 60).padStart(2, '0')}s` : `${seconds}s`;
}
