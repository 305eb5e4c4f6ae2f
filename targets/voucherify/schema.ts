import { z } from 'zod';

/**
 * A product as POST /v1/products/bulk/async takes it (ProductsUpdateInBulkRequestBody).
 * Unknown keys are rejected rather than dropped, so a misspelt column is reported, not lost.
 */
export const VoucherifyProduct = z
  .object({
    source_id: z.string().min(1, 'source_id is required: it is the upsert key'),
    name: z.string().optional(),
    price: z.number().int('price must be an integer: the amount multiplied by 100 (e.g. 1999 for 19.99)').optional(),
    attributes: z.array(z.string()).optional(),
    image_url: z.url({ protocol: /^https?$/ }).optional(),
    // Any JSON object, its values as given. A loose object, not z.record(z.string(), z.unknown()): the same objects pass
    // (JSON keys are strings), at half the cost of validating a product (bench/README.md, 2026-12-05).
    metadata: z.looseObject({}).optional(),
  })
  .strict();
export type VoucherifyProduct = z.infer<typeof VoucherifyProduct>;
