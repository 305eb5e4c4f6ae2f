import type { z } from 'zod';

/**
 * Whether a zod schema's output is always its input as given, keys aside: what it accepts it returns unchanged, only
 * its objects' keys perhaps in the shape's order instead of the input's. True only for the kinds listed here, with no
 * default, coercion, transform, normalization (`trim`, a URL's `normalize`) or object that drops unknown keys; any
 * other kind is taken to change its input. Staging then serializes the record itself, in its own key order, instead of
 * the copy validation made: a JSON record already compact then is its body byte for byte, and is stored once.
 */
export function outputIsInput(schema: z.ZodType): boolean {
  const def = schema._zod.def as unknown as Def;
  // `overwrite` checks (trim, toLowerCase, …) replace the value they check.
  if (def.coerce || def.normalize || def.checks?.some((check) => check._zod.def.check === 'overwrite')) return false;
  if (UNCHANGED.has(def.type)) return true;
  switch (def.type) {
    case 'optional':
    case 'nullable':
      return outputIsInput(def.innerType!);
    case 'array':
      return outputIsInput(def.element!);
    case 'union':
      return def.options!.every(outputIsInput);
    case 'object':
      // Without a catchall unknown keys are dropped; `never` (strict) refuses them, any other keeps what it accepts.
      return def.catchall !== undefined && outputIsInput(def.catchall) && Object.values(def.shape!).every(outputIsInput);
    default:
      return false;
  }
}

/** Kinds that return what they accept (`never` accepts nothing: a strict object's catchall). */
const UNCHANGED = new Set(['string', 'number', 'boolean', 'null', 'literal', 'enum', 'unknown', 'any', 'never']);

interface Def {
  type: string;
  checks?: { _zod: { def: { check: string } } }[];
  coerce?: boolean;
  normalize?: boolean;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  innerType?: z.ZodType;
  options?: z.ZodType[];
}
