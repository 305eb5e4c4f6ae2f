/**
 * bulkport's own metrics, through the SDK's metric meter: the worker's runtime exports them beside the SDK's own
 * (Prometheus at BULKPORT_METRICS_ADDRESS, or OpenTelemetry if a runtime is installed that way). Pure: the workflow
 * records with its meter (which skips replays), activities and the targets' HTTP clients with the activity's.
 * README.md's "Metrics" section lists them; every one has a `target` label.
 */
import type { MetricMeter } from '@temporalio/common';

export const METRIC = {
  products: 'bulkport_products',
  requests: 'bulkport_requests',
  rateLimited: 'bulkport_rate_limited',
  requestSeconds: 'bulkport_request_seconds',
  quotaWaitSeconds: 'bulkport_quota_wait_seconds',
} as const;

/** Histogram buckets (seconds): a request answers in milliseconds to a couple of minutes, a quota window opens in up to an hour. */
export const HISTOGRAM_BUCKETS: Record<string, number[]> = {
  [METRIC.requestSeconds]: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
  [METRIC.quotaWaitSeconds]: [1, 5, 15, 30, 60, 300, 900, 3600],
};

export type ProductOutcome = 'succeeded' | 'failed' | 'invalid' | 'not-submitted' | 'unchanged';

/** An import's final counts, once its report is written (the report's rows are the truth, counted once per import). */
export function recordProducts(meter: MetricMeter, target: string, counts: Record<ProductOutcome, number>): void {
  const products = meter.createCounter(METRIC.products, 'products', "Products by their final outcome in an import's report");
  for (const [outcome, n] of Object.entries(counts)) if (n > 0) products.add(n, { target, outcome });
}

/** One answer of the target (status "none": no answer came, e.g. a timeout or a reset connection). */
export function recordRequest(meter: MetricMeter, target: string, status: number | undefined, seconds: number | undefined): void {
  const tags = { target, status: status === undefined ? 'none' : String(status) };
  meter.createCounter(METRIC.requests, 'requests', 'HTTP requests to the target, by the status of their answer').add(1, tags);
  if (status === 429) meter.createCounter(METRIC.rateLimited, 'requests', 'Answers 429 (a quota or rate limit)').add(1, { target });
  if (seconds !== undefined)
    meter.createHistogram(METRIC.requestSeconds, 'float', 's', 'Time from sending a request to its whole answer').record(seconds, tags);
}

/** A wait for the target's quota: a submission window (the workflow's) or a poll's 429 (the poll loop's). */
export function recordQuotaWait(meter: MetricMeter, target: string, seconds: number): void {
  const waits = meter.createHistogram(METRIC.quotaWaitSeconds, 'float', 's', "Waits for the target's quota to allow the next call");
  waits.record(Math.max(0, seconds), { target });
}
