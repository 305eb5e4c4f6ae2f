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

/** A test that a value passes a schema: true only when the schema surely accepts it (false: let the schema decide). */
export type AsGivenCheck = (value: unknown) => boolean;

/**
 * For a schema whose output is its input (outputIsInput), a test compiled from its definition that says which values it
 * certainly accepts: those then skip validation, whose copy of every product, about 1.2 KB of short-lived objects, was
 * staging's largest allocation (bench/README.md, "Records parsed as staging takes them"). The schema stays the one
 * authority: the test knows only the kinds and checks named here, with zod's meaning; anything else it meets (a URL or
 * other string format, a refinement, a kind not listed) makes it answer false for the value there, so zod decides and
 * words the errors. It never answers true where the schema would refuse or change a value (test/as-given.test.ts).
 */
export function asGivenCheck(schema: z.ZodType): AsGivenCheck | undefined {
  return outputIsInput(schema) ? compile(schema) : undefined;
}

const undecided: AsGivenCheck = () => false;

/** Whether an object's key of this schema may be absent, as asGivenCheck judges it (an optional kind it knows). */
export const mayBeAbsent = (schema: z.ZodType): boolean => compile(schema)(undefined);

/**
 * A schema's definition and its checks, where its kind can be judged here: not where it coerces or normalizes its
 * input, nor where it is a check of zod's own (only a number kind is known to be its own check, z.int()). Shared with
 * the text check (as-given-text.ts), so that both know the same kinds.
 */
export function judged(schema: z.ZodType): { def: Def; checks: CheckDef[] } | undefined {
  const def = schema._zod.def as unknown as Def;
  if (def.coerce || def.normalize || (def.check !== undefined && def.type !== 'number')) return undefined;
  return { def, checks: (def.checks ?? []).map((check) => check._zod.def) };
}

/** A string's tests (lengths, regexes), or undefined where it has a format (z.url(), z.email(): zod's to check) or another check. */
export function stringTests(def: Def, checks: CheckDef[]): Test<string>[] | undefined {
  const tests = def.format === undefined ? checks.map(lengthOrPattern) : [undefined];
  return allDefined(tests) ? (tests as Test<string>[]) : undefined;
}

/** A number's tests (bounds, int), or undefined where it has another check. */
export function numberTests(def: Def, checks: CheckDef[]): Test<number>[] | undefined {
  const tests = [...(def.check ? [def as unknown as CheckDef] : []), ...checks].map(numberCheck);
  return allDefined(tests) ? tests : undefined;
}

/** An array's length tests, or undefined where it has another check. */
export function arrayTests(checks: CheckDef[]): Test<{ length: number }>[] | undefined {
  const tests = checks.map(lengthOrPattern);
  return allDefined(tests) && !checks.some((check) => check.check === 'string_format') ? tests : undefined;
}

function compile(schema: z.ZodType): AsGivenCheck {
  const { def, checks } = judged(schema) ?? {};
  if (!def || !checks) return undecided;
  switch (def.type) {
    case 'string': {
      const tests = stringTests(def, checks);
      return tests ? both((v) => typeof v === 'string', tests) : undecided;
    }
    case 'number': {
      const tests = numberTests(def, checks);
      return tests ? both((v) => typeof v === 'number' && Number.isFinite(v), tests) : undecided;
    }
    case 'boolean':
      return checks.length ? undecided : (v) => typeof v === 'boolean';
    case 'null':
      return checks.length ? undecided : (v) => v === null;
    // An absent required key is refused even for `unknown`: only `optional` (below) lets undefined through.
    case 'unknown':
    case 'any':
      return checks.length ? undecided : (v) => v !== undefined;
    case 'enum': {
      const values = Object.values(def.entries ?? {});
      if (checks.length || !values.every((value) => typeof value === 'string')) return undecided;
      const set = new Set<unknown>(values);
      return (v) => set.has(v);
    }
    case 'literal': {
      const set = new Set<unknown>(def.values);
      return checks.length ? undecided : (v) => set.has(v);
    }
    case 'optional':
    case 'nullable': {
      const inner = compile(def.innerType!);
      const passes = def.type === 'optional' ? undefined : null;
      return checks.length ? undecided : (v) => v === passes || inner(v);
    }
    case 'array': {
      const element = compile(def.element!);
      const tests = arrayTests(checks);
      if (!tests) return undecided;
      const list = both(Array.isArray, tests);
      return (v) => {
        if (!list(v)) return false;
        for (const item of v as unknown[]) if (!element(item)) return false;
        return true;
      };
    }
    case 'union': {
      // Only a plain union: one that needs exactly one option to pass (z.xor), or picks one by a key, is zod's to judge.
      if (checks.length || def.inclusive === false || def.discriminator !== undefined) return undecided;
      const options = def.options!.map(compile);
      return (v) => {
        for (const option of options) if (option(v)) return true;
        return false;
      };
    }
    case 'object':
      return checks.length ? undecided : compileObject(def);
    default:
      return undecided;
  }
}

/**
 * An object: a plain one, each of its keys passing its shape's test (an absent one: only if optional), any other key
 * refused (strict) or passing the catchall. One pass over the keys it has, as zod's `for…in` goes through them: a
 * record's keys (JSON, a CSV row, a mapping's result) are its own, enumerable data properties.
 */
function compileObject(def: Def): AsGivenCheck {
  if (def.catchall === undefined) return undecided; // unknown keys dropped: not the input as given
  const shape = new Map(
    Object.entries(def.shape ?? {}).map(([key, schema]) => {
      const test = compile(schema);
      return [key, { test, required: !test(undefined) }] as const;
    }),
  );
  const required = [...shape.values()].filter((entry) => entry.required).length;
  // A strict object's catchall (`never`) refuses every other key.
  const catchall = def.catchall._zod.def.type === 'never' ? undefined : compile(def.catchall);
  return (v) => {
    if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
    const record = v as Record<string, unknown>;
    let present = 0;
    for (const key in record) {
      const entry = shape.get(key);
      if (entry === undefined) {
        // zod leaves a `__proto__` key out of its copy.
        if (key === '__proto__' || !catchall?.(record[key])) return false;
      } else if (!entry.test(record[key])) return false;
      else if (entry.required) present++;
    }
    return present === required;
  };
}

export type Test<T> = (value: T) => boolean;

/** `kind`, then `tests` on what passes it (most fields have none). */
function both<T>(kind: AsGivenCheck, tests: Test<T>[]): AsGivenCheck {
  if (tests.length === 0) return kind;
  return (v) => {
    if (!kind(v)) return false;
    for (const test of tests) if (!test(v as T)) return false;
    return true;
  };
}

const allDefined = <T>(tests: (T | undefined)[]): tests is T[] => tests.every((test) => test !== undefined);

/** A string's or an array's length check, or a string's regex: as zod tests them (a string's length in UTF-16 units). */
function lengthOrPattern(check: CheckDef): Test<{ length: number }> | undefined {
  switch (check.check) {
    case 'min_length':
      return (v) => v.length >= check.minimum!;
    case 'max_length':
      return (v) => v.length <= check.maximum!;
    case 'length_equals':
      return (v) => v.length === check.length;
    case 'string_format': {
      if (check.format !== 'regex' || !(check.pattern instanceof RegExp)) return undefined;
      const pattern = check.pattern;
      return (v) => {
        pattern.lastIndex = 0;
        return pattern.test(v as unknown as string);
      };
    }
    default:
      return undefined;
  }
}

/** A number's bound or integer check, as zod tests them. */
function numberCheck(check: CheckDef): Test<number> | undefined {
  switch (check.check) {
    case 'greater_than':
      return check.inclusive ? (v) => v >= check.value! : (v) => v > check.value!;
    case 'less_than':
      return check.inclusive ? (v) => v <= check.value! : (v) => v < check.value!;
    case 'number_format':
      return check.format === 'safeint' ? Number.isSafeInteger : undefined;
    default:
      return undefined;
  }
}

export interface CheckDef {
  check: string;
  minimum?: number;
  maximum?: number;
  length?: number;
  format?: string;
  pattern?: RegExp;
  value?: number;
  inclusive?: boolean;
}

export interface Def {
  type: string;
  checks?: { _zod: { def: CheckDef } }[];
  /** A number kind that is its own check (z.int()). */
  check?: string;
  format?: string;
  coerce?: boolean;
  normalize?: boolean;
  shape?: Record<string, z.ZodType>;
  catchall?: z.ZodType;
  element?: z.ZodType;
  innerType?: z.ZodType;
  options?: z.ZodType[];
  entries?: Record<string, unknown>;
  values?: unknown[];
  inclusive?: boolean;
  discriminator?: string;
}
