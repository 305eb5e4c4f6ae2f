/**
 * The account's quota as a resource the import plans with, instead of an error it retries.
 * Pure (no Temporal import): the import workflow asks it before every submission and tells it
 * every answer, and its state travels with continue-as-new.
 *
 * The rule: while the target's headers say calls remain, send at most that many; when a bucket is
 * empty (the headers say so, or a 429 did) nothing is sent until the time it names; after that,
 * one submission probes the new window and its answer says how many more may follow. So a closed
 * window gets at most one request, and the first send of an import is that probe as well.
 */
import type { QuotaSeen } from '../targets/http';
import { manifests } from '../targets/manifests';

/** Large enough to mean "no limit known", and plain JSON (unlike Infinity) for continue-as-new. */
const UNMETERED = Number.MAX_SAFE_INTEGER;
const MINUTE_MS = 60_000;
/** A 429 or an empty bucket without a usable time still waits this long. */
const MIN_WAIT_MS = 500;

export interface QuotaGateState {
  /** Sends allowed before another answer is needed. */
  budget: number;
  /** Epoch ms until which the bucket is empty, and which bucket. */
  closedUntil?: number;
  bucket?: string;
  /** Epoch ms of the sends of the last minute, when a ceiling is set. */
  recentSends: number[];
  /** When the current window's first call was sent (its answer said limit - 1 remain). */
  windowStart?: number;
  /**
   * The window's length as learnt: the least (retry time − window start) seen. X-Rate-Limit-Retry comes in whole
   * seconds, up to 1 s after the true end; the learnt length finds the end closer. Dropped for good (0) once a
   * window was probed early and found closed (windows that don't start at their first call).
   */
  windowMs?: number;
  /** Sends whose answer hasn't come yet (carried: an account's coordinator continues as new with permits out). */
  outstanding?: number;
}

export interface QuotaGateOptions {
  /** Probe before sending more than one request (targets whose answers carry quota headers). */
  probeFirst: boolean;
  /** The user's ceiling on submissions per minute, below the plan's quota (a coordinator changes it as imports come and go). */
  maxPerMinute?: number;
}

export type QuotaDecision =
  /** `notBefore`: the window opens this soon that the submission is scheduled now and sent at that time. */
  | { send: true; notBefore?: number }
  /** Nothing may be sent before `until`; `ceiling` when it is the user's own limit, not the target's. */
  | { send: false; until: number; bucket: string; ceiling: boolean }
  /** Requests are out whose answers will say how much of the window is left. */
  | { send: false; until?: undefined };

export class QuotaGate {
  /** Changes whenever a decision may have changed; waiters watch it. */
  version = 0;
  readonly state: QuotaGateState;

  constructor(
    readonly options: QuotaGateOptions,
    carried?: QuotaGateState,
  ) {
    this.state = carried ?? { budget: options.probeFirst ? 0 : UNMETERED, recentSends: [] };
  }

  private get outstanding(): number {
    return this.state.outstanding ?? 0;
  }

  private set outstanding(n: number) {
    this.state.outstanding = n;
  }

  /** `leadMs`: how early a submission may be scheduled to go out the moment the window opens. */
  decide(now: number, leadMs = 0): QuotaDecision {
    const { closedUntil, bucket } = this.state;
    if (closedUntil !== undefined && closedUntil > now + leadMs)
      return { send: false, until: closedUntil, bucket: bucket ?? 'requests', ceiling: false };
    const max = this.options.maxPerMinute;
    if (max !== undefined) {
      const recent = this.state.recentSends.filter((t) => t > now - MINUTE_MS);
      if (recent.length >= max) return { send: false, until: recent[recent.length - max]! + MINUTE_MS, bucket: 'ceiling', ceiling: true };
    }
    if (this.state.budget > 0 || this.outstanding === 0) {
      return closedUntil !== undefined && closedUntil > now ? { send: true, notBefore: closedUntil } : { send: true };
    }
    return { send: false };
  }

  /** Call right before sending, after decide() said so. */
  take(now: number): void {
    this.state.budget = Math.max(0, this.state.budget - 1);
    this.outstanding++;
    if (this.options.maxPerMinute !== undefined)
      this.state.recentSends = [...this.state.recentSends.filter((t) => t > now - MINUTE_MS), now];
  }

  /**
   * An answer came (`quota` from its headers, or from a 429), or the request failed otherwise
   * (`quota` undefined and `failed`): nothing learnt, but the request is no longer out.
   */
  answered(now: number, quota?: QuotaSeen, failed = false): void {
    this.outstanding = Math.max(0, this.outstanding - 1);
    this.version++;
    if (failed && quota?.remaining === 0 && this.state.closedUntil !== undefined && this.state.closedUntil > now - MIN_WAIT_MS) {
      // A probe at the learnt window end found it closed: this account's windows don't start at their first call.
      if (this.state.windowMs) this.state.windowMs = 0;
    }
    if (!failed && quota?.sentAtMs !== undefined && quota.limit !== undefined && quota.remaining === quota.limit - 1)
      this.state.windowStart = quota.sentAtMs;
    if (quota?.remaining === 0) {
      let retryAt = quota.retryAtMs ?? 0;
      const start = this.state.windowStart;
      if (!failed && start !== undefined && this.state.windowMs !== 0 && retryAt - start <= (this.state.windowMs ?? Infinity) + 1000) {
        this.state.windowMs = Math.min(this.state.windowMs ?? Infinity, retryAt - start);
        retryAt = Math.min(retryAt, start + this.state.windowMs);
      }
      this.state.closedUntil = Math.max(this.state.closedUntil ?? 0, retryAt, now + MIN_WAIT_MS);
      this.state.bucket = quota.bucket;
      this.state.budget = 0;
    } else if (quota?.remaining !== undefined) {
      // Answers of a closed window's stragglers must not reopen it; requests still out may not be counted yet.
      if (!(this.state.closedUntil !== undefined && this.state.closedUntil > now))
        this.state.budget = Math.max(0, quota.remaining - this.outstanding);
    } else if (!failed) {
      // A target that sends no quota headers is not metered by us (its 429s still close the gate).
      this.state.budget = UNMETERED;
    }
  }

  /** Wakes waiters, e.g. when a window's time has come. */
  tick(): void {
    this.version++;
  }

  /** Takes on a state learnt elsewhere (an account's gate back from the import it was lent to). */
  adopt(state: QuotaGateState): void {
    for (const key of Object.keys(this.state)) delete this.state[key as keyof QuotaGateState];
    Object.assign(this.state, JSON.parse(JSON.stringify(state)) as QuotaGateState);
    this.version++;
  }
}

/** "Voucherify's bulk quota": what a waiting import waits for, in the progress and the CLI. */
export function describeWait(target: string, bucket: string, maxPerMinute?: number): string {
  const name = manifests.find((m) => m.name === target)?.title ?? target;
  if (bucket === 'ceiling') return `the import's ceiling of ${maxPerMinute} submissions per minute`;
  if (bucket === 'bulk_api_calls') return `${name}'s bulk quota`;
  if (bucket === 'api_calls') return `${name}'s API call quota`;
  return `${name}'s rate limit`;
}
