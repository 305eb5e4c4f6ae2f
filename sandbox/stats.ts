export interface SandboxStats {
  /** e.g. requests["POST /v1/products/bulk/async"]["202"]; a dropped connection counts as "dropped". */
  requests: Record<string, Record<string, number>>;
  /** Size of the largest request body received, counting bytes past any limit. */
  largestBodyBytes: number;
  productsStored: number;
  /** Products in the bulk requests the target accepted to work on (applied or not), over all requests. */
  productsReceived: number;
  faultsInjected: Record<string, number>;
  /** Whole-process figures (two sandboxes in one process report the same numbers). */
  memory: { rssBytes: number; heapUsedBytes: number; heapTotalBytes: number; externalBytes: number };
}

export class StatsRecorder {
  private requests: Record<string, Record<string, number>> = {};
  private largestBodyBytes = 0;
  private productsReceived = 0;
  private faultsInjected: Record<string, number> = {};

  countRequest(endpoint: string, status: number | 'dropped'): void {
    this.requests[endpoint] ??= {};
    const byStatus = this.requests[endpoint];
    const key = String(status);
    byStatus[key] = (byStatus[key] ?? 0) + 1;
  }

  noteBodySize(bytes: number): void {
    if (bytes > this.largestBodyBytes) this.largestBodyBytes = bytes;
  }

  countProducts(count: number): void {
    this.productsReceived += count;
  }

  countFault(kind: string, count = 1): void {
    this.faultsInjected[kind] = (this.faultsInjected[kind] ?? 0) + count;
  }

  snapshot(productsStored: number): SandboxStats {
    const memory = process.memoryUsage();
    return {
      requests: structuredClone(this.requests),
      largestBodyBytes: this.largestBodyBytes,
      productsStored,
      productsReceived: this.productsReceived,
      faultsInjected: { ...this.faultsInjected },
      memory: { rssBytes: memory.rss, heapUsedBytes: memory.heapUsed, heapTotalBytes: memory.heapTotal, externalBytes: memory.external },
    };
  }

  reset(): void {
    this.requests = {};
    this.largestBodyBytes = 0;
    this.productsReceived = 0;
    this.faultsInjected = {};
  }
}
