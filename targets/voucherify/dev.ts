/** Voucherify for the demo, the tests and the benchmarks: generated products and the options a quick local run uses. */
import type { CatalogOptions } from '../../scripts/catalog';
import { startVoucherifySandbox } from '../../sandbox';
import type { DevTarget } from '../dev';

export const colors = ['red', 'green', 'blue', 'black', 'white'];

/** A Voucherify product; invalid ones carry a price that is not an integer. */
export function voucherifyRecord(i: number, o: CatalogOptions): Record<string, unknown> {
  const invalid = o.invalidEvery ? i % o.invalidEvery === o.invalidEvery - 1 : false;
  return {
    source_id: `${o.keyPrefix ?? 'sku'}-${String(i).padStart(7, '0')}`,
    name: `Product ${i}${o.padding ? ` ${'x'.repeat(o.padding)}` : ''}`,
    price: invalid ? 10.5 : 100 + (i % 9000),
    attributes: ['color', 'size'],
    metadata: { color: colors[i % colors.length], batch: `b${i % 7}` },
  };
}

export const voucherifyDev: DevTarget = {
  record: voucherifyRecord,
  // The sandbox's queue is quick: poll it often, and retry rounds come soon.
  demoOptions: { chunkBytes: 1_000_000, pollIntervalMs: 250, retryBackoffMs: 1000 },
  benchOptions: (chunk) => ({ pollIntervalMs: 200, chunksPerRun: 50, ...(chunk ? { chunkBytes: chunk } : {}) }),
  startSandbox: (options) => startVoucherifySandbox(options),
};

export default voucherifyDev;
