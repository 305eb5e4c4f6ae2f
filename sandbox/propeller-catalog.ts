// Propeller's product catalog: the bulk request schema (from the "Bulk Product by
// Id" page), the upsert with its directives, and compact storage.
import type { JsonSchema } from './json-schema';
import { toCompactJson } from './compact-json';

export type LookupKey = 'id' | 'sourceId';
export type Directive = 'skipIfNotEmpty' | 'skipMoveOnUpdate' | 'mergeTranslationsOnUpdate';

export interface Translation {
  language: string;
  value: string;
}

/** A product as the bulk endpoints take it (validated against bulkRequestSchema first). */
export interface ProductPayload {
  id?: number;
  sourceId: string;
  source: string;
  language: string;
  names: Translation[];
  [field: string]: unknown;
}

export interface StoredProduct extends ProductPayload {
  id: number;
}

/** Fields holding translations, which updates merge per language. */
export const localizedFields = ['names', 'descriptions', 'shortDescriptions', 'packageDescriptions', 'notes'] as const;

const creationDefaults = { unit: 1, status: 'A', price: 0, priceDisplay: 'default', taxCode: 'H', minimumQuantity: 1 };

const languageCode: JsonSchema = { type: 'string', pattern: '^[A-Za-z]{2}$' };
const text: JsonSchema = { type: 'string' };
const translations: JsonSchema = {
  type: 'array',
  items: {
    type: 'object',
    required: ['language', 'value'],
    additionalProperties: false,
    properties: { language: languageCode, value: text },
  },
};

/** The request schema; Propeller answers 10007 with everit's messages when it is violated. */
export function bulkRequestSchema(lookupKey: LookupKey, maxProducts: number): JsonSchema {
  const product: JsonSchema = {
    type: 'object',
    required: ['sourceId', 'source', 'language', 'names'],
    additionalProperties: false,
    properties: {
      ...(lookupKey === 'id' ? { id: { type: 'integer', minimum: 0 } } : {}),
      sourceId: { type: 'string', minLength: 1 },
      source: { type: 'string', minLength: 1 },
      language: languageCode,
      names: translations,
      sku: text,
      unit: { type: 'integer', minimum: 1 },
      status: { type: 'string', enum: ['A', 'N', 'T', 'P', 'S', 'R'] },
      price: { type: 'number', minimum: 0 },
      priceDisplay: { type: 'string', enum: ['default', 'onrequest', 'from', 'fromfor', 'perpackage', 'peruom'] },
      descriptions: translations,
      shortDescriptions: translations,
      taxCode: { type: 'string', enum: ['H', 'L', 'N'] },
      supplier: text,
      supplierCode: text,
      oemCode: text,
      eanCode: text,
      minimumQuantity: { type: 'integer', minimum: 1 },
      packageDescriptions: translations,
      notes: translations,
      // Attribute values have a rich shape of their own; the sandbox only checks the container.
      attributes: { type: 'array', items: { type: 'object' } },
      parent: {
        type: 'object',
        additionalProperties: false,
        properties: {
          id: { type: 'integer', minimum: 0 },
          sourceId: { type: 'string', minLength: 1 },
          source: { type: 'string', minLength: 1 },
        },
      },
    },
  };
  return {
    type: 'object',
    required: ['products'],
    additionalProperties: false,
    properties: {
      products: { type: 'array', minItems: 1, maxItems: maxProducts, items: product },
      directives: {
        type: 'array',
        items: {
          type: 'object',
          required: ['operation', 'fields'],
          additionalProperties: false,
          properties: {
            operation: { type: 'string', enum: ['skipIfNotEmpty', 'skipMoveOnUpdate', 'mergeTranslationsOnUpdate'] },
            fields: { type: 'array', items: text },
          },
        },
      },
    },
  };
}

export interface Directives {
  skipIfNotEmpty: Set<string>;
  skipMoveOnUpdate: boolean;
  mergeTranslationsOnUpdate: boolean;
}

export function readDirectives(directives: Array<{ operation: Directive; fields: string[] }> | undefined): Directives {
  const result: Directives = { skipIfNotEmpty: new Set(), skipMoveOnUpdate: false, mergeTranslationsOnUpdate: false };
  for (const { operation, fields } of directives ?? []) {
    if (operation === 'skipIfNotEmpty') for (const field of fields) result.skipIfNotEmpty.add(field);
    else result[operation] = true;
  }
  return result;
}

/** What an update makes of an existing product, directive by directive. */
export function applyUpdate(existing: StoredProduct, payload: ProductPayload, directives: Directives): StoredProduct {
  const updated: StoredProduct = { ...existing };
  for (const [field, value] of Object.entries(payload)) {
    if (field === 'id') continue;
    if (directives.skipIfNotEmpty.has(field) && !isEmpty(existing[field])) continue;
    if (field === 'parent' && directives.skipMoveOnUpdate) continue;
    const isLocalized = (localizedFields as readonly string[]).includes(field);
    updated[field] =
      isLocalized && !directives.mergeTranslationsOnUpdate ? mergeTranslations(existing[field], value as Translation[]) : value;
  }
  return updated;
}

export function createProduct(id: number, payload: ProductPayload): StoredProduct {
  const { id: _ignored, ...fields } = payload;
  return { id, ...creationDefaults, ...fields };
}

/** Payload translations win; languages the payload does not mention are kept. */
function mergeTranslations(existing: unknown, incoming: Translation[]): Translation[] {
  const incomingLanguages = new Set(incoming.map((t) => t.language.toUpperCase()));
  const kept = Array.isArray(existing) ? (existing as Translation[]).filter((t) => !incomingLanguages.has(t.language.toUpperCase())) : [];
  return [...kept, ...incoming];
}

function isEmpty(value: unknown): boolean {
  return value === undefined || value === null || value === '' || (Array.isArray(value) && value.length === 0);
}

/** Products as JSON strings by id, with an index on (source, sourceId). */
export class PropellerProductStore {
  private readonly jsonById = new Map<number, string>();
  private readonly idBySource = new Map<string, number>();
  private nextId = 40_000;

  get size(): number {
    return this.jsonById.size;
  }

  newId(): number {
    return this.nextId++;
  }

  byId(id: number): StoredProduct | undefined {
    const json = this.jsonById.get(id);
    return json === undefined ? undefined : (JSON.parse(json) as StoredProduct);
  }

  idOfSource(source: string, sourceId: string): number | undefined {
    return this.idBySource.get(sourceKey(source, sourceId));
  }

  save(product: StoredProduct, previous?: StoredProduct): void {
    if (previous && sourceKey(previous.source, previous.sourceId) !== sourceKey(product.source, product.sourceId)) {
      this.idBySource.delete(sourceKey(previous.source, previous.sourceId));
    }
    this.idBySource.set(sourceKey(product.source, product.sourceId), product.id);
    this.jsonById.set(product.id, toCompactJson(product));
  }
}

function sourceKey(source: string, sourceId: string): string {
  return `${source}\u0000${sourceId}`;
}
