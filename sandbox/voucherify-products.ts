import { hex } from './rng';
import { isJsonObject } from './http';
import { toCompactJson } from './compact-json';

/** The fields a bulk upsert may set (spec schema ProductsUpdateInBulkRequestBody). */
export interface ProductInput {
  source_id: string;
  name?: string | null;
  price?: number | null;
  attributes?: string[];
  image_url?: string | null;
  metadata?: Record<string, unknown>;
}

/** A product as GET /v1/products/{id} answers it (spec schema Product). */
export interface VoucherifyProduct {
  id: string;
  source_id: string;
  name: string | null;
  price: number | null;
  attributes: string[];
  metadata: Record<string, unknown>;
  image_url: string | null;
  created_at: string;
  updated_at: string | null;
  object: 'product';
  skus: { object: 'list'; data_ref: 'data'; data: unknown[]; total: number };
}

type StoredProduct = Omit<VoucherifyProduct, 'skus'>;

export type ProductCheck = { ok: true; product: ProductInput } | { ok: false; sourceId: string; details: string };

/**
 * Per-product validation of a bulk item. The messages follow Voucherify's
 * invalid_payload details ("Property .name must be string").
 */
export function checkBulkProduct(item: unknown): ProductCheck {
  if (!isJsonObject(item)) return { ok: false, sourceId: '', details: 'Product must be an object' };
  const sourceId = item.source_id;
  if (typeof sourceId !== 'string' || sourceId === '') {
    return {
      ok: false,
      sourceId: typeof sourceId === 'number' ? String(sourceId) : '',
      details: 'Property .source_id is required and must be a non-empty string',
    };
  }
  const problem = fieldProblem(item);
  if (problem) return { ok: false, sourceId, details: problem };
  const product: ProductInput = { source_id: sourceId };
  for (const key of ['name', 'price', 'attributes', 'image_url', 'metadata'] as const) {
    if (key in item) (product as unknown as Record<string, unknown>)[key] = item[key];
  }
  return { ok: true, product };
}

function fieldProblem(item: Record<string, unknown>): string | undefined {
  const { name, price, attributes, image_url: imageUrl, metadata } = item;
  if (name !== undefined && name !== null && typeof name !== 'string') return 'Property .name must be string';
  if (price !== undefined && price !== null && !Number.isInteger(price)) return 'Property .price must be integer';
  if (attributes !== undefined) {
    if (!Array.isArray(attributes)) return 'Property .attributes must be array';
    const index = attributes.findIndex((attribute) => typeof attribute !== 'string');
    if (index >= 0) return `Property .attributes[${index}] must be string`;
  }
  if (imageUrl !== undefined && imageUrl !== null && !isHttpUrl(imageUrl)) return 'Property .image_url must be a valid URL';
  if (metadata !== undefined && !isJsonObject(metadata)) return 'Property .metadata must be object';
  return undefined;
}

function isHttpUrl(value: unknown): boolean {
  if (typeof value !== 'string') return false;
  try {
    const { protocol } = new URL(value);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

const productIdPrefix = 'prod_0b';
const productIdPattern = /^prod_0b([0-9a-f]{16})$/;

/**
 * Products kept as JSON strings keyed by source_id (compact for a million rows);
 * the product id encodes the insertion index, so no second map is needed.
 */
export class VoucherifyProductStore {
  private readonly jsonBySourceId = new Map<string, string>();
  private readonly sourceIdByIndex: string[] = [];

  get size(): number {
    return this.jsonBySourceId.size;
  }

  has(sourceId: string): boolean {
    return this.jsonBySourceId.has(sourceId);
  }

  /** Creates or updates; tells whether the product existed. */
  upsert(input: ProductInput, nowIso: string): { found: boolean } {
    const existing = this.jsonBySourceId.get(input.source_id);
    let stored: StoredProduct;
    if (existing === undefined) {
      const index = this.sourceIdByIndex.push(input.source_id) - 1;
      stored = {
        id: productIdPrefix + hex(index, 16),
        source_id: input.source_id,
        name: null,
        price: null,
        attributes: [],
        metadata: {},
        image_url: null,
        created_at: nowIso,
        updated_at: null,
        object: 'product',
      };
    } else {
      stored = JSON.parse(existing) as StoredProduct;
      stored.updated_at = nowIso;
    }
    Object.assign(stored, input);
    this.jsonBySourceId.set(input.source_id, toCompactJson(stored));
    return { found: existing !== undefined };
  }

  /** By Voucherify id or by source_id, as the real endpoint accepts both. */
  get(idOrSourceId: string): VoucherifyProduct | undefined {
    const byId = productIdPattern.exec(idOrSourceId);
    const sourceId = byId?.[1] !== undefined ? this.sourceIdByIndex[parseInt(byId[1], 16)] : undefined;
    const json = this.jsonBySourceId.get(sourceId ?? idOrSourceId);
    return json === undefined ? undefined : withSkus(JSON.parse(json) as StoredProduct);
  }

  /** One page in creation order (newest first when descending). */
  page(page: number, limit: number, descending: boolean): VoucherifyProduct[] {
    const total = this.sourceIdByIndex.length;
    const products: VoucherifyProduct[] = [];
    for (let n = (page - 1) * limit; n < Math.min(page * limit, total); n++) {
      const sourceId = this.sourceIdByIndex[descending ? total - 1 - n : n];
      const product = sourceId === undefined ? undefined : this.get(sourceId);
      if (product) products.push(product);
    }
    return products;
  }
}

function withSkus(product: StoredProduct): VoucherifyProduct {
  return { ...product, skus: { object: 'list', data_ref: 'data', data: [], total: 0 } };
}
