/** Dotted CSV columns to nested records and back: pure, shared by the source readers and each target's CSV mapping. */
type Tree = Record<string, unknown>;

const isPlainObject = (value: unknown): value is Tree => {
  if (typeof value !== 'object' || value === null) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
};

const own = (node: Tree, key: string): unknown => (Object.hasOwn(node, key) ? node[key] : undefined);

/** Plain assignment to "__proto__" would replace the prototype (or pollute Object.prototype). */
function setOwn(node: Tree, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(node, key, { value, enumerable: true, writable: true, configurable: true });
  else node[key] = value;
}

/** A name with an empty segment ("a..b", ".a", "a.") is taken as one literal key rather than guessed at. */
function splitColumn(column: string): string[] {
  const path = column.split('.');
  return path.includes('') ? [column] : path;
}

/**
 * Turns dotted CSV columns into nested objects: { 'metadata.color': 'red' } -> { metadata: { color: 'red' } }.
 * Empty cells are omitted, so an absent value and an empty cell mean the same thing. Values stay
 * strings; numeric segments make object keys, not arrays (arrays travel JSON-encoded in one cell).
 */
export function unflattenDotted(row: Record<string, string>): Record<string, unknown> {
  const out: Tree = {};
  for (const [column, value] of Object.entries(row)) {
    if (value === '' || value === undefined) continue;
    const path = splitColumn(column);
    let node = out;
    for (let depth = 0; depth < path.length; depth++) {
      const key = path[depth] as string;
      const existing = own(node, key);
      if (depth === path.length - 1 && existing === undefined) {
        setOwn(node, key, value);
      } else if (depth < path.length - 1 && existing === undefined) {
        const child: Tree = {};
        setOwn(node, key, child);
        node = child;
      } else if (depth < path.length - 1 && isPlainObject(existing)) {
        node = existing;
      } else {
        const field = JSON.stringify(path.slice(0, depth + 1).join('.'));
        throw new Error(
          `column ${JSON.stringify(column)} clashes with another column at ${field}: a field cannot hold both a value and nested fields`,
        );
      }
    }
  }
  return out;
}

function flattenInto(out: Record<string, string>, path: string, value: unknown): void {
  if (value === undefined) return;
  if (typeof value === 'string') {
    setOwn(out, path, value);
  } else if (isPlainObject(value) && Object.keys(value).length > 0) {
    for (const [key, child] of Object.entries(value)) flattenInto(out, `${path}.${key}`, child);
  } else {
    // Numbers, booleans, null, arrays and {} are JSON-encoded so nothing is lost in a CSV cell.
    setOwn(out, path, JSON.stringify(value));
  }
}

/** The inverse of unflattenDotted, for writing records back to CSV. */
export function flattenDotted(obj: Record<string, unknown>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries(obj)) flattenInto(out, key, value);
  return out;
}

/** Union of the rows' keys in first-seen order, so CSV columns are stable across runs. */
export function csvColumns(rows: Record<string, string>[]): string[] {
  const columns = new Set<string>();
  for (const row of rows) for (const key of Object.keys(row)) columns.add(key);
  return [...columns];
}

/** Text that holds JSON (a cell such as `[{"name":"color"}]`, an API's error body) parsed; any other text as it is. */
export function jsonOrText(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}
