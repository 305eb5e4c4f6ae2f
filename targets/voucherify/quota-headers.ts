/** Voucherify's quota headers (../shared/apis: X-Rate-Limit-*), for the shared HTTP code to read its answers with. */
import type { QuotaHeaders } from '../http';

export const voucherifyQuotaHeaders: QuotaHeaders = {
  retryAt: 'x-rate-limit-retry',
  limit: 'x-rate-limit-limit',
  remaining: 'x-rate-limit-remaining',
  bucket: 'x-rate-limit-type',
  // The monthly quota of the plan: no wait refills it before the billing cycle ends.
  exhaustedBuckets: ['api_calls_cycle'],
};
