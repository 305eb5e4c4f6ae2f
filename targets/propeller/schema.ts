import { z } from 'zod';

/** ISO 639-1 codes; Propeller's examples are upper case ("EN"), lower case is not ruled out. */
const LanguageCode = z.string().regex(/^[A-Za-z]{2}$/, 'language must be a two-letter ISO 639-1 code such as EN or NL');

const Translation = z.object({ language: LanguageCode, value: z.string() }).strict();
/** Localized fields are arrays of `{language, value}`, one entry per language. */
const Localized = z.array(Translation);

const Parent = z.union(
  [
    z.object({ id: z.number().int().nonnegative() }).strict(),
    z.object({ sourceId: z.string().min(1), source: z.string().min(1) }).strict(),
  ],
  { error: 'parent is a category given as {id} or {sourceId, source}' },
);

/**
 * A product as POST /v2/products/bulk/{id|sourceId} takes it, from the field table of the
 * "Bulk Product by Id" page. Unknown keys are rejected, as the API does.
 *
 * `names` is optional because the table says so, although the same page's 10007 example reports
 * "required key [names] not found": where the docs disagree the API has the last word, and its
 * 10007 answer marks such products invalid one by one.
 */
export const PropellerProduct = z
  .object({
    /** The Propeller id: bulk/id matches products by it (keyOf requires it with lookupKey id). */
    id: z.number().int().nonnegative().optional(),
    sourceId: z.string().min(1, 'sourceId is required'),
    source: z.string().min(1, 'source is required (the system the product comes from, e.g. your ERP)'),
    language: LanguageCode,
    names: Localized.optional(),
    sku: z.string().optional(),
    unit: z.number().int().min(1).optional(),
    status: z.enum(['A', 'N', 'T', 'P', 'S', 'R']).optional(),
    /** Only in the v1 docs; v2 has /v2/prices/bulk. Kept because the seed lists it. */
    price: z.number().nonnegative().optional(),
    priceDisplay: z.enum(['default', 'onrequest', 'from', 'fromfor', 'perpackage', 'peruom']).optional(),
    descriptions: Localized.optional(),
    shortDescriptions: Localized.optional(),
    taxCode: z.enum(['H', 'L', 'N']).optional(),
    supplier: z.string().optional(),
    supplierCode: z.string().optional(),
    oemCode: z.string().optional(),
    eanCode: z.string().optional(),
    minimumQuantity: z.number().int().min(1).optional(),
    packageDescriptions: Localized.optional(),
    notes: Localized.optional(),
    /**
     * Attribute values have a shape of their own (see Propeller's attribute docs); passed through as given. Loose objects
     * rather than z.record(z.string(), z.unknown()): the same JSON objects pass, validated at a fraction of the cost.
     */
    attributes: z.array(z.looseObject({})).optional(),
    parent: Parent.optional(),
  })
  .strict();
export type PropellerProduct = z.infer<typeof PropellerProduct>;

/** Fields that hold translations: CSV spreads them over `<field>.<LANGUAGE>` columns. */
export const localizedFields = ['names', 'descriptions', 'shortDescriptions', 'packageDescriptions', 'notes'] as const;

/** Fields that are numbers in the product; CSV cells are text. */
export const numericFields = ['id', 'unit', 'price', 'minimumQuantity'] as const;
