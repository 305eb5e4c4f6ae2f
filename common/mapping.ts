/**
 * A field mapping's shape: pure zod, so the client and the workflow check it alike. Compiling its expressions needs
 * JSONata, which stays out of the workflow (activities/mapping.ts): a JSONata upgrade must not change what a replayed
 * workflow accepts.
 */
import { z } from 'zod';

/** The mapping travels in the workflow's input, and in every run's after continue-as-new: it must stay small. */
export const MAX_MAPPING_BYTES = 64 * 1024;

/** UTF-8 length without Buffer or TextEncoder, which the workflow's sandbox may lack. */
function utf8Bytes(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c < 0xdc00 && i + 1 < text.length) {
      bytes += 4; // a surrogate pair: one code point
      i++;
    } else bytes += 3;
  }
  return bytes;
}

export const FieldMapping = z
  .object({
    /** For people: what the mapping reads and makes. */
    description: z.string().max(1000).optional(),
    /** The target it makes products for: an import into another target is refused. */
    target: z.string().min(1).optional(),
    /** Each product field and the JSONata expression that makes it from the source record; undefined leaves it out. */
    fields: z
      .record(z.string().min(1).max(200), z.string().min(1, 'an expression is required (a constant is quoted: "\'EN\'")'))
      .refine((fields) => Object.keys(fields).length > 0, 'a mapping needs at least one field')
      // The refinement in the JSON Schema's words.
      .meta({ minProperties: 1 }),
  })
  .strict()
  .refine((m) => utf8Bytes(JSON.stringify(m)) <= MAX_MAPPING_BYTES, {
    message: `the mapping is over ${MAX_MAPPING_BYTES / 1024} KiB as JSON: it travels in the workflow's input, so keep it to expressions (look-up tables belong in the source)`,
  })
  .describe(
    `A field mapping: each product field's JSONata expression over the source record (README: Field mapping); at most ${MAX_MAPPING_BYTES / 1024} KiB as JSON.`,
  );
export type FieldMapping = z.infer<typeof FieldMapping>;
