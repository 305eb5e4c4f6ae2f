import { VOUCHERIFY_MAX_BODY_BYTES } from './manifest';
import { jsonOrText, unflattenDotted } from '../../common/dotted';
import type { Target } from '../types';
import { connectVoucherify } from './api';
import { DEFAULT_MAX_RPS, rateFromEnv } from '../limiter';
import { hourlyQuotaTime, rateBounds } from '../plan';
import { VoucherifyProduct } from './schema';

const integerCell = /^-?\d+$/;

/** CSV cells are text: price becomes a number when it is one; attributes are `a|b|c` or a JSON array. */
function fromCsvRow(row: Record<string, string>): unknown {
  const record = unflattenDotted(row);
  if (typeof record.price === 'string' && integerCell.test(record.price.trim())) record.price = Number(record.price);
  if (typeof record.attributes === 'string') {
    const cell = record.attributes.trim();
    // JSON that doesn't parse is left as text for the schema to reject with its own message.
    record.attributes = cell.startsWith('[')
      ? jsonOrText(cell)
      : cell
          .split('|')
          .map((a) => a.trim())
          .filter(Boolean);
  }
  return record;
}

export const voucherify: Target<'voucherify'> = {
  name: 'voucherify',
  productSchema: VoucherifyProduct,
  fromCsvRow,
  csvKeyColumns: () => ({ columns: ['source_id'], example: 'source_id,name,price' }),
  keyOf: (product) => (product as VoucherifyProduct).source_id,
  limits: (options) => {
    const maxBodyBytes = Math.min(options.chunkBytes, VOUCHERIFY_MAX_BODY_BYTES);
    const bytes = (n: number) => n.toLocaleString('en-US');
    return {
      maxItems: options.maxItemsPerChunk ?? Number.MAX_SAFE_INTEGER,
      maxBodyBytes,
      tooLarge: `over --chunk-bytes ${bytes(maxBodyBytes)} (Voucherify takes at most ${bytes(VOUCHERIFY_MAX_BODY_BYTES)}): raise --chunk-bytes or shrink the product`,
    };
  },
  // The body is a bare JSON array: "[" and "]".
  envelopeBytes: () => 2,
  connect: connectVoucherify,
  planSend({ chunks, requests }, options, env) {
    const rps = rateFromEnv(env, 'VOUCHERIFY_MAX_RPS', DEFAULT_MAX_RPS.voucherify);
    // Each chunk's action is polled at least once, and every poll counts against the quota like a bulk call.
    return {
      otherCalls: [{ what: 'polls of the async actions', count: chunks }],
      bounds: rateBounds({ requests, calls: requests + chunks, rps, variable: 'VOUCHERIFY_MAX_RPS', ...options }),
      notes: [
        "Voucherify works on each chunk after accepting it: its queue's time is not in the estimate.",
        ...(requests > 1
          ? [
              `Bulk calls have an hourly quota that depends on the plan (older plans: 1 to 50 an hour): ${requests} bulk calls ${requests <= 50 ? 'fit in one hour at 50' : `take at least ${hourlyQuotaTime(requests, 50)} at 50 an hour`}, ${hourlyQuotaTime(requests, 1)} at 1. The import paces itself by the quota the answers report.`,
            ]
          : []),
      ],
    };
  },
};

export default voucherify;
