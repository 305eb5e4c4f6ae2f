import { propellerRequestSize } from './manifest';
import { jsonOrText, unflattenDotted } from '../../common/dotted';
import type { Target } from '../types';
import { connectPropeller, requestEnvelope, requestGroups } from './api';
import { DEFAULT_MAX_RPS, rateFromEnv } from '../limiter';
import { rateBounds } from '../plan';
import { localizedFields, numericFields, PropellerProduct } from './schema';

const numberCell = /^-?\d+(\.\d+)?$/;

const toNumberIfNumeric = (value: unknown) => (typeof value === 'string' && numberCell.test(value.trim()) ? Number(value) : value);

/**
 * CSV cells are text. Translations come as one column per language (`names.EN`, `descriptions.NL`)
 * or as a JSON array in a `names` cell; attributes as a JSON array; numbers become numbers.
 */
function fromCsvRow(row: Record<string, string>): unknown {
  const record = unflattenDotted(row);
  for (const field of localizedFields) {
    const value = record[field];
    if (typeof value === 'string') record[field] = jsonOrText(value.trim());
    else if (value && typeof value === 'object')
      record[field] = Object.entries(value).map(([language, text]) => ({ language, value: text }));
  }
  for (const field of numericFields) record[field] = toNumberIfNumeric(record[field]);
  if (record.parent && typeof record.parent === 'object') {
    const parent = record.parent as Record<string, unknown>;
    if (parent.id !== undefined) parent.id = toNumberIfNumeric(parent.id);
  }
  if (typeof record.attributes === 'string') record.attributes = jsonOrText(record.attributes.trim());
  // Absent fields stay absent, so an empty cell means "leave as it is" on update.
  for (const key of Object.keys(record)) if (record[key] === undefined) delete record[key];
  return record;
}

/** `source:sourceId`, with ":" (and "%") escaped in the source so two different pairs never share a key. */
import { sourceKey } from './keys';

export { sourceKey };

export const propeller: Target<'propeller'> = {
  name: 'propeller',
  productSchema: PropellerProduct,
  fromCsvRow,
  /**
   * With lookupKey sourceId a product is known by (source, sourceId): that pair is the key that
   * dedupes the import and names the product in the report. Propeller answers with the sourceId
   * alone, so the API module sends one request per source to match answers safely.
   * With lookupKey id the key is the Propeller id, which the product must then carry: bulk/id
   * creates products it doesn't know under a new id, and answers for id-less products can't be
   * told apart. New products belong in a sourceId import.
   */
  csvKeyColumns: (options) =>
    options.lookupKey === 'id'
      ? { columns: ['id'], example: 'id,names.EN,price' }
      : { columns: ['sourceId', 'source'], example: 'sourceId,source,names.EN,price' },
  keyOf(product, options) {
    const p = product as Partial<Record<'id' | 'source' | 'sourceId', unknown>>;
    if (options.lookupKey === 'id') {
      if (typeof p.id !== 'number') throw new Error('id is required with lookupKey id: bulk/id matches products by their Propeller id');
      return String(p.id);
    }
    if (typeof p.source !== 'string' || typeof p.sourceId !== 'string')
      throw new Error('source and sourceId are required with lookupKey sourceId');
    return sourceKey(p.source, p.sourceId);
  },
  // Up to requestsPerChunk requests per chunk, from one-request chunks for the first window's worth.
  limits: (options) => {
    const request = propellerRequestSize(options);
    return {
      maxItems: Math.min(request * options.requestsPerChunk, options.maxItemsPerChunk ?? Number.POSITIVE_INFINITY),
      ramp: { items: request, every: options.concurrency },
    };
  },
  envelopeBytes: (options) => {
    const { head, tail } = requestEnvelope(options.directives);
    return Buffer.byteLength(head) + Buffer.byteLength(tail);
  },
  connect: connectPropeller,
  requestShape: (options) => JSON.stringify({ lookupKey: options.lookupKey, directives: options.directives }),
  // The requests a submission makes of the chunk: one per source and per chunkSize within it.
  requestsFor: (keys, options) =>
    requestGroups(
      keys.map((key) => ({ key })),
      options,
    ).length,
  planSend({ requests }, options, env) {
    const rps = rateFromEnv(env, 'PROPELLER_MAX_RPS', DEFAULT_MAX_RPS.propeller);
    return {
      otherCalls: [{ what: 'OAuth token requests', count: 1 }],
      bounds: rateBounds({ requests, calls: requests + 1, rps, variable: 'PROPELLER_MAX_RPS', ...options }),
      notes: [`Propeller documents no rate limit: the time is mostly its answers', with up to ${options.concurrency} requests in flight.`],
    };
  },
};

export default propeller;
