/**
 * Field mapping: JSONata expressions, one per product field, that turn a source record into the target's product
 * before the target's validation. Compiled once (by the client to refuse a bad file before anything starts, and by
 * each staging attempt); evaluated per record. A record the mapping cannot handle is an invalid row with its error.
 */
import jsonata from 'jsonata';
import type { FieldMapping } from '../common/mapping';

/** A mapping that does not compile: the message names the field and JSONata's error. */
export class MappingError extends Error {
  override readonly name = 'MappingError';
}

/** The ApplicationFailure type of a mapping the worker cannot compile (a caller that skipped the client's check). */
export const INVALID_MAPPING = 'InvalidMapping';

/** JSONata throws plain objects, not Errors: a code (S0203, D3030 …), the character position and a message. */
interface JsonataError {
  code?: string;
  position?: number;
  message?: string;
}

function jsonataMessage(err: unknown): string {
  const { code, position, message } = (typeof err === 'object' && err !== null ? err : {}) as JsonataError;
  const text = message ?? String(err);
  // $error("…") is the mapping's own message to the user: it stands alone.
  if (!code || code === 'D3137') return text;
  return `${text} (JSONata ${code}${position !== undefined ? ` at character ${position}` : ''})`;
}

export type MappedRecord = { product: Record<string, unknown> } | { error: { path: string; message: string } };

export interface CompiledMapping {
  /** The product the mapping makes of one record, or the field that failed and why. */
  apply(record: unknown): Promise<MappedRecord>;
}

type Expression = ReturnType<typeof jsonata>;

/**
 * Functions whose value changes from one evaluation to the next. A retried staging attempt must make the same product of
 * a record, byte for byte: chunks are cut by size, and the attempt keeps the chunks an earlier one committed.
 */
const UNSTABLE = new Set(['now', 'millis', 'random']);

/** The first of them the expression's syntax tree names (called or passed around), if any. */
function unstableFunctionIn(node: unknown): string | undefined {
  const stack = [node];
  while (stack.length > 0) {
    const next = stack.pop();
    if (typeof next !== 'object' || next === null) continue;
    const { type, value } = next as { type?: unknown; value?: unknown };
    if (type === 'variable' && typeof value === 'string' && UNSTABLE.has(value)) return value;
    stack.push(...Object.values(next));
  }
  return undefined;
}

/** Compiles every field (a MappingError names the first that fails) and the whole product as one expression. */
export function compileMapping(mapping: FieldMapping): CompiledMapping {
  const fields: [string, Expression][] = Object.entries(mapping.fields).map(([name, source]) => {
    let expression: Expression;
    try {
      expression = jsonata(source);
    } catch (err) {
      throw new MappingError(`field ${name}: ${jsonataMessage(err)}, in ${JSON.stringify(source)}`);
    }
    const unstable = unstableFunctionIn(expression.ast());
    if (unstable) {
      throw new MappingError(
        `field ${name}: $${unstable} gives another value each time, and staging must make the same product of a record on every attempt: take the value from the source instead`,
      );
    }
    return [name, expression];
  });
  // One evaluation per record instead of one per field: JSONata 2 awaits every step, so each evaluation costs.
  // Each field compiled alone, so in parentheses it is one balanced term of the object.
  const product = `{${Object.entries(mapping.fields)
    .map(([name, source]) => `${JSON.stringify(name)}: (${source})`)
    .join(',\n')}}`;
  let whole: Expression;
  try {
    whole = jsonata(product);
  } catch (err) {
    throw new MappingError(`the fields do not compile as one product: ${jsonataMessage(err)}`);
  }

  /** Errors are rare: only then are the fields evaluated one by one, to name the one that failed. */
  async function failingField(record: unknown, wholeError: unknown): Promise<MappedRecord> {
    for (const [name, expression] of fields) {
      try {
        await expression.evaluate(record);
      } catch (err) {
        return { error: { path: name, message: `the mapping failed: ${jsonataMessage(err)}` } };
      }
    }
    return { error: { path: '', message: `the mapping failed: ${jsonataMessage(wholeError)}` } };
  }

  return {
    async apply(record) {
      let product: unknown;
      try {
        product = await whole.evaluate(record);
      } catch (err) {
        return failingField(record, err);
      }
      // An object constructor: always one object, empty when every field gave nothing.
      if (Object.keys(product as object).length === 0) {
        return { error: { path: '', message: 'the mapping made no field of this record: every expression gave nothing' } };
      }
      return { product: product as Record<string, unknown> };
    },
  };
}
