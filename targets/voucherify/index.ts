import { VOUCHERIFY_MAX_BODY_BYTES } from './manifest';
import { jsonOrText, unflattenDotted } from '../../common/dotted';
import type { Target } from '../types';
import { connectVoucherify } from './api';
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
};

export default voucherify;
