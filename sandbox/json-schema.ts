// A JSON-schema validator for the subset the sandbox needs: Propeller's request
// schema (reported in everit's message format, as Propeller's 10007 errors are)
// and the OpenAPI 3.0 response schemas of Voucherify (nullable, allOf, $ref).

export interface JsonSchema {
  type?: 'object' | 'array' | 'string' | 'integer' | 'number' | 'boolean';
  properties?: Record<string, JsonSchema>;
  required?: string[];
  /** Only `false` is enforced. */
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  format?: string;
  nullable?: boolean;
  allOf?: JsonSchema[];
  anyOf?: JsonSchema[];
  /**
   * Checked like anyOf: Voucherify's spec uses oneOf as an untagged union whose
   * alternatives overlap, so "exactly one" would reject every valid answer.
   */
  oneOf?: JsonSchema[];
  $ref?: string;
  [annotation: string]: unknown;
}

export type RefResolver = (ref: string) => JsonSchema;

/** Violations as "<JSON pointer>: <message>", e.g. "#/products/3: required key [names] not found". */
export function validateJson(value: unknown, schema: JsonSchema, resolveRef?: RefResolver): string[] {
  const messages: string[] = [];
  visit(value, schema, '#', messages, resolveRef);
  return messages;
}

const isoDateTime = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

function visit(value: unknown, schemaOrRef: JsonSchema, pointer: string, out: string[], resolveRef?: RefResolver): void {
  const schema = dereference(schemaOrRef, resolveRef);
  const fail = (message: string) => out.push(`${pointer}: ${message}`);

  for (const part of schema.allOf ?? []) visit(value, part, pointer, out, resolveRef);
  const alternatives = schema.anyOf ?? schema.oneOf;
  if (alternatives && !alternatives.some((alt) => validateJson(value, dereference(alt, resolveRef), resolveRef).length === 0)) {
    fail(`no subschema matched out of the total ${alternatives.length} subschemas`);
  }
  if (value === null) {
    if (schema.type !== undefined && !schema.nullable) fail(`expected type: ${everitTypeName(schema.type)}, found: Null`);
    return;
  }
  if (schema.type !== undefined && !hasType(value, schema.type)) {
    fail(`expected type: ${everitTypeName(schema.type)}, found: ${everitValueType(value)}`);
    return;
  }
  if (schema.enum && !schema.enum.some((allowed) => allowed === value)) fail(`${String(value)} is not a valid enum value`);

  if (typeof value === 'string') {
    if (schema.minLength !== undefined && value.length < schema.minLength)
      fail(`expected minLength: ${schema.minLength}, actual: ${value.length}`);
    if (schema.maxLength !== undefined && value.length > schema.maxLength)
      fail(`expected maxLength: ${schema.maxLength}, actual: ${value.length}`);
    if (schema.pattern !== undefined && !new RegExp(schema.pattern).test(value))
      fail(`string [${value}] does not match pattern ${schema.pattern}`);
    if (schema.format === 'date-time' && !isoDateTime.test(value)) fail(`[${value}] is not a valid date-time`);
  } else if (typeof value === 'number') {
    if (schema.minimum !== undefined && value < schema.minimum) fail(`${value} is not greater or equal to ${schema.minimum}`);
    if (schema.maximum !== undefined && value > schema.maximum) fail(`${value} is not less or equal to ${schema.maximum}`);
  } else if (Array.isArray(value)) {
    if (schema.minItems !== undefined && value.length < schema.minItems)
      fail(`expected minimum item count: ${schema.minItems}, found: ${value.length}`);
    if (schema.maxItems !== undefined && value.length > schema.maxItems)
      fail(`expected maximum item count: ${schema.maxItems}, found: ${value.length}`);
    if (schema.items) for (const [i, item] of value.entries()) visit(item, schema.items as JsonSchema, `${pointer}/${i}`, out, resolveRef);
  } else if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    for (const key of schema.required ?? []) if (!(key in record)) fail(`required key [${key}] not found`);
    if (schema.additionalProperties === false) {
      for (const key of Object.keys(record))
        if (!schema.properties || !(key in schema.properties)) fail(`extraneous key [${key}] is not permitted`);
    }
    for (const [key, propertySchema] of Object.entries(schema.properties ?? {})) {
      if (key in record) visit(record[key], propertySchema, `${pointer}/${escapePointer(key)}`, out, resolveRef);
    }
  }
}

function dereference(schema: JsonSchema, resolveRef?: RefResolver): JsonSchema {
  let current = schema;
  for (let depth = 0; current.$ref !== undefined; depth++) {
    if (!resolveRef) throw new Error(`cannot resolve ${current.$ref}: no resolver given`);
    if (depth > 32) throw new Error(`$ref cycle at ${current.$ref}`);
    current = resolveRef(current.$ref);
  }
  return current;
}

function hasType(value: unknown, type: NonNullable<JsonSchema['type']>): boolean {
  switch (type) {
    case 'object':
      return typeof value === 'object' && value !== null && !Array.isArray(value);
    case 'array':
      return Array.isArray(value);
    case 'integer':
      return Number.isInteger(value);
    case 'number':
      return typeof value === 'number';
    default:
      return typeof value === type;
  }
}

/** The Java class names everit prints. */
function everitTypeName(type: NonNullable<JsonSchema['type']>): string {
  const names = { object: 'JSONObject', array: 'JSONArray', string: 'String', integer: 'Integer', number: 'Number', boolean: 'Boolean' };
  return names[type];
}

function everitValueType(value: unknown): string {
  if (Array.isArray(value)) return 'JSONArray';
  if (typeof value === 'number') return Number.isInteger(value) ? 'Integer' : 'BigDecimal';
  if (typeof value === 'string') return 'String';
  if (typeof value === 'boolean') return 'Boolean';
  return 'JSONObject';
}

function escapePointer(key: string): string {
  return key.replaceAll('~', '~0').replaceAll('/', '~1');
}
