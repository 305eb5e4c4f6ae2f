import { VOUCHERIFY_MAX_BODY_BYTES } from '../../common/import';
import { unflattenDotted } from '../../activities/sources';
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
    record.attributes = cell.startsWith('[') ? safeJson(cell) : cell.split('|').map((a) => a.trim()).filter(Boolean);
  }
  return record;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text; // left for the schema to reject with its own message
  }
}

export const voucherify: Target<'voucherify'> = {
  name: 'voucherify',
  productSchema: VoucherifyProduct,
  fromCsvRow,
  keyOf: (product) => (product as VoucherifyProduct).source_id,
  limits: (options) => ({
    maxItems: options.maxItemsPerChunk ?? Number.MAX_SAFE_INTEGER,
    maxBodyBytes: Math.min(options.chunkBytes, VOUCHERIFY_MAX_BODY_BYTES),
  }),
  // The body is a bare JSON array: "[" and "]".
  envelopeBytes: () => 2,
  connect: connectVoucherify,
};
