/** Propeller for the demo, the tests and the benchmarks: generated products and the options a quick local run uses. */
import type { CatalogOptions } from '../../scripts/catalog';
import { startPropellerSandbox } from '../../sandbox';
import type { DevTarget } from '../dev';
import { colors } from '../voucherify/dev';

const statuses = ['A', 'A', 'A', 'N', 'T', 'P'];
const taxCodes = ['H', 'L', 'N'];

/**
 * A Propeller product with English and Dutch texts, filed under one of 20 categories of the same
 * source; invalid ones carry a status outside the enum.
 */
export function propellerRecord(i: number, o: CatalogOptions): Record<string, unknown> {
  const invalid = o.invalidEvery ? i % o.invalidEvery === o.invalidEvery - 1 : false;
  const sourceId = `${o.keyPrefix ?? 'sku'}-${String(i).padStart(7, '0')}`;
  return {
    sourceId,
    source: 'ERP',
    language: 'EN',
    names: [
      { language: 'EN', value: `Product ${i}${o.padding ? ` ${'x'.repeat(o.padding)}` : ''}` },
      { language: 'NL', value: `Product ${i} (NL)` },
    ],
    descriptions: [
      { language: 'EN', value: `A ${colors[i % colors.length]} product, batch b${i % 7}` },
      { language: 'NL', value: `Een product, partij b${i % 7}` },
    ],
    sku: `SKU-${sourceId}`,
    status: invalid ? 'X' : statuses[i % statuses.length],
    taxCode: taxCodes[i % taxCodes.length],
    priceDisplay: 'default',
    price: (100 + (i % 9000)) / 100,
    minimumQuantity: 1 + (i % 5),
    parent: { sourceId: `cat-${i % 20}`, source: 'ERP' },
    attributes: [{ name: 'color', value: colors[i % colors.length] }],
  };
}

export const propellerDev: DevTarget = {
  record: propellerRecord,
  demoOptions: { chunkSize: 1000, retryBackoffMs: 1000 },
  benchOptions: (chunk) => ({ chunkSize: chunk ?? 1000, chunksPerRun: 50 }),
  startSandbox: (options) => startPropellerSandbox(options),
};

export default propellerDev;
