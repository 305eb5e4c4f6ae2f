export interface QuotaState {
  allowed: boolean;
  limit: number;
  remaining: number;
  /** Epoch ms when the current window ends. */
  resetAtMs: number;
}

/** A fixed window of `limit` calls per `windowMs`, starting at the first call. */
export class FixedWindowQuota {
  private windowStartMs = 0;
  private used = 0;

  constructor(
    readonly limit: number,
    readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  /** Consumes one call when available. */
  take(): QuotaState {
    this.roll();
    const allowed = this.used < this.limit;
    if (allowed) this.used++;
    return { ...this.peek(), allowed };
  }

  peek(): QuotaState {
    this.roll();
    return {
      allowed: this.used < this.limit,
      limit: this.limit,
      remaining: Math.max(0, this.limit - this.used),
      resetAtMs: this.windowStartMs + this.windowMs,
    };
  }

  private roll(): void {
    const now = this.now();
    if (now >= this.windowStartMs + this.windowMs) {
      this.windowStartMs = now;
      this.used = 0;
    }
  }
}
