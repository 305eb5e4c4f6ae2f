import type { z } from 'zod';
import { arrayTests, judged, mayBeAbsent, numberTests, outputIsInput, stringTests, type Test } from './as-given';

/**
 * A compact JSON line tested against a schema as text, without parsing it: what staging checked with `JSON.parse`,
 * the depth and key walks and `asGivenCheck`, in one pass over the characters that allocates almost nothing. It answers
 * only where it is sure that all of those would pass, and that the line may be sent as it is (`sendableAsIs`):
 *
 * - the line is one JSON object, with no whitespace outside its strings, nested at most `maxDepth` levels;
 * - no object repeats a key, and no key is `__proto__` or written with an escape (which could spell it);
 * - the schema accepts the record as it is, by the same kinds and checks as asGivenCheck, with zod's meaning.
 *
 * Then it returns the top-level values named in `fields` (what the target's keyOf reads), decoded as JSON.parse would.
 * Anything else (invalid JSON, a kind it does not know, a value the schema may refuse) gets undefined, and staging
 * parses and validates that line as before: this is a shortcut, never a judge. test/as-given.test.ts holds it to
 * JSON.parse and the schema on valid, broken and randomly changed lines.
 */
export type AsGivenTextCheck = (line: string) => Record<string, unknown> | undefined;

export function asGivenTextCheck(schema: z.ZodType, fields: readonly string[], maxDepth: number): AsGivenTextCheck | undefined {
  if (!outputIsInput(schema)) return undefined;
  const root = compile(schema, new Set(fields));
  // Every field there from the start, so that each line's object has one shape (a key added later made a slow store).
  const none = Object.fromEntries(fields.map((field) => [field, undefined]));
  return (line) => {
    const scan = new Scan(line, !ODD_CHARACTER.test(line), { ...none });
    return scan.value(root, 0, maxDepth) === line.length ? scan.captured : undefined;
  };
}

/** A node of the compiled schema: a kind the scan knows, and its checks. */
type Node =
  | { kind: 'notSure' }
  | { kind: 'string'; tests: Test<string>[] }
  | { kind: 'number'; tests: Test<number>[] }
  | { kind: 'words'; words: string[] }
  | { kind: 'any' }
  | { kind: 'oneOf'; values: Set<unknown> }
  | { kind: 'nullable'; inner: Node }
  | { kind: 'array'; element: Node; tests: Test<{ length: number }>[] }
  | { kind: 'union'; options: Node[] }
  | {
      kind: 'object';
      members: Member[];
      required: number;
      catchall: Node | undefined;
      /** The index of the member the last record gave first (see Member.next). */
      first: number;
    };

interface Member {
  key: string;
  /** Its place in the shape. */
  index: number;
  /**
   * The index of the member that came after it in the last record. Records mostly give their keys in one order, the
   * schema's or not: a key is looked for there first, and found at once.
   */
  next: number;
  /** The scan of an object that last found it (objectsScanned then): a member is never within itself. */
  seen: number;
  node: Node;
  required: boolean;
  /** Captured (the top level's key fields): its value decoded into `Scan.captured`. */
  capture: boolean;
}

// Character codes: plain constants, which the compiler folds into the scan.
const QUOTE = 34;
const BACKSLASH = 92;
const COMMA = 44;
const COLON = 58;
const MINUS = 45;
const DOT = 46;
const ZERO = 48;
const NINE = 57;
const OPEN_BRACE = 123;
const CLOSE_BRACE = 125;
const OPEN_BRACKET = 91;
const CLOSE_BRACKET = 93;

/**
 * Keys outside the schema's shapes (a loose object's, any value's) of the objects being scanned, as [start, end)
 * offsets, the innermost object's last: to find a repeated key.
 */
const MAX_KEYS = 1024;
const KEYS = new Int32Array(MAX_KEYS * 2);
const ANY: Node = { kind: 'any' };
/** Objects scanned so far: each scan's stamp on the members it finds. */
let objectsScanned = 0;

/** One line's scan: the text, what a string's scan found, and the captured top-level values. */
class Scan {
  /** Whether the last string scanned held an escape. */
  escaped = false;

  /** KEYS' first free slot: shared by every scan, as a check runs to its end before the next begins. */
  private top = 0;
  constructor(
    readonly s: string,
    /** The line holds no backslash and no control character: a string ends at the next quote. */
    private readonly plain: boolean,
    /** The top level's key fields, as found (undefined where absent). */
    readonly captured: Record<string, unknown>,
  ) {}

  /** The index after the value at `at` that `node` accepts for sure, or -1. */
  value(node: Node, at: number, depth: number): number {
    const s = this.s;
    switch (node.kind) {
      case 'string': {
        const end = this.string(at);
        if (end < 0 || node.tests.length === 0) return end;
        const value = this.stringValue(at, end);
        for (let t = 0; t < node.tests.length; t++) if (!node.tests[t]!(value)) return -1;
        return end;
      }
      case 'number': {
        const end = this.number(at);
        if (end < 0) return -1;
        const value = this.numberValue(at, end);
        if (!Number.isFinite(value)) return -1;
        for (let t = 0; t < node.tests.length; t++) if (!node.tests[t]!(value)) return -1;
        return end;
      }
      case 'words':
        for (const w of node.words) if (s.startsWith(w, at)) return at + w.length;
        return -1;
      case 'oneOf': {
        if (s.charCodeAt(at) === QUOTE) {
          const end = this.string(at);
          return end > 0 && node.values.has(this.stringValue(at, end)) ? end : -1;
        }
        // A literal number, true, false or null: rare enough to parse.
        const end = this.any(at, depth);
        return end > 0 && node.values.has(JSON.parse(s.slice(at, end))) ? end : -1;
      }
      case 'nullable':
        return s.startsWith('null', at) ? at + 4 : this.value(node.inner, at, depth);
      case 'union':
        for (const option of node.options) {
          const end = this.value(option, at, depth);
          if (end >= 0) return end;
        }
        return -1;
      case 'array':
        return this.array(node, at, depth);
      case 'object':
        return this.object(node, at, depth);
      case 'any':
        return this.any(at, depth);
      default:
        return -1;
    }
  }

  /** Any JSON value (an unknown or any field), its objects' keys checked as the schema's are. */
  private any(at: number, depth: number): number {
    const c = this.s.charCodeAt(at);
    if (c === QUOTE) return this.string(at);
    if (c === OPEN_BRACE) return this.object(undefined, at, depth);
    if (c === OPEN_BRACKET) return this.array(undefined, at, depth);
    if (c === MINUS || (c >= ZERO && c <= NINE)) {
      const end = this.number(at);
      // 1e999 parses to Infinity, which no finite number check passes: let the schema judge it.
      return end > 0 && Number.isFinite(this.numberValue(at, end)) ? end : -1;
    }
    for (const w of WORDS) if (this.s.startsWith(w, at)) return at + w.length;
    return -1;
  }

  /** An array at `at`, each element the node's (any value without one), and the node's length checks. */
  private array(node: Extract<Node, { kind: 'array' }> | undefined, at: number, depth: number): number {
    const s = this.s;
    if (s.charCodeAt(at) !== OPEN_BRACKET || depth < 1) return -1;
    const element = node?.element ?? ANY;
    let i = at + 1;
    let count = 0;
    if (s.charCodeAt(i) === CLOSE_BRACKET) i++;
    else
      for (;;) {
        i = this.value(element, i, depth - 1);
        if (i < 0) return -1;
        count++;
        const c = s.charCodeAt(i++);
        if (c === CLOSE_BRACKET) break;
        if (c !== COMMA) return -1;
      }
    if (node) for (const test of node.tests) if (!test({ length: count })) return -1;
    return i;
  }

  /**
   * An object at `at`: its keys plain (no escape, not `__proto__`) and not repeated; each the node's shape's, or its
   * catchall's (any value without a node), and every required key present.
   */
  private object(node: Extract<Node, { kind: 'object' }> | undefined, at: number, depth: number): number {
    const s = this.s;
    if (s.charCodeAt(at) !== OPEN_BRACE || depth < 1) return -1;
    let i = at + 1;
    let present = 0;
    let expected = node?.first ?? 0;
    let previous: Member | undefined;
    const stamp = ++objectsScanned;
    const base = this.top;
    if (s.charCodeAt(i) === CLOSE_BRACE) i++;
    else
      for (;;) {
        const keyEnd = this.string(i);
        if (keyEnd < 0 || this.escaped || s.charCodeAt(keyEnd) !== COLON) {
          i = -1;
          break;
        }
        const member = node?.members.length ? this.member(node, expected, i + 1, keyEnd - 1) : undefined;
        // A member seen twice in this object, or another key that repeats one (or is __proto__), is a repeated key.
        if (member ? member.seen === stamp : !this.newKey(i, keyEnd, base)) {
          i = -1;
          break;
        }
        if (member) {
          member.seen = stamp;
          if (previous) previous.next = member.index;
          else if (node) node.first = member.index;
          previous = member;
          expected = member.next;
        } else if (node && node.catchall === undefined) {
          i = -1;
          break;
        }
        const valueAt = keyEnd + 1;
        const end = this.value(member?.node ?? node?.catchall ?? ANY, valueAt, depth - 1);
        if (end < 0) {
          i = -1;
          break;
        }
        if (member?.required) present++;
        if (member?.capture) this.captured[member.key] = this.decoded(valueAt, end);
        const c = s.charCodeAt(end);
        i = end + 1;
        if (c === CLOSE_BRACE) break;
        if (c !== COMMA) {
          i = -1;
          break;
        }
      }
    this.top = base;
    return i >= 0 && (node === undefined || present === node.required) ? i : -1;
  }

  /** The shape's member for the key [start, end) (its quotes left out): the one `expected` first, then the others. */
  private member(node: Extract<Node, { kind: 'object' }>, expected: number, start: number, end: number): Member | undefined {
    const { members } = node;
    const length = end - start;
    for (let k = 0; k < members.length; k++) {
      const member = members[(expected + k) % members.length]!;
      if (member.key.length === length && sameText(member.key, 0, this.s, start, length)) return member;
    }
    return undefined;
  }

  /** The index after the string that starts at `at` (a quote), or -1; sets `escaped`. */
  private string(at: number): number {
    const s = this.s;
    if (s.charCodeAt(at) !== QUOTE) return -1;
    if (this.plain) return s.indexOf('"', at + 1) + 1 || -1;
    this.escaped = false;
    const length = s.length;
    for (let i = at + 1; i < length; i++) {
      const c = s.charCodeAt(i);
      if (c === QUOTE) return i + 1;
      if (c < 0x20) return -1;
      if (c === BACKSLASH) {
        this.escaped = true;
        const e = s.charCodeAt(++i);
        if (e === 0x75 /* u */) {
          for (let k = 1; k <= 4; k++) if (!isHex(s.charCodeAt(i + k))) return -1;
          i += 4;
        } else if (!ESCAPES.has(e)) return -1;
      }
    }
    return -1;
  }

  /** The value of the string [at, end) just scanned, decoded. */
  private stringValue(at: number, end: number): string {
    return this.escaped ? (JSON.parse(this.s.slice(at, end)) as string) : this.s.slice(at + 1, end - 1);
  }

  /** The index after the number at `at`, as JSON writes numbers, or -1. */
  private number(at: number): number {
    const s = this.s;
    let i = at;
    if (s.charCodeAt(i) === MINUS) i++;
    const first = s.charCodeAt(i);
    if (first === ZERO) i++;
    else if (first > ZERO && first <= NINE) i = digits(s, i + 1);
    else return -1;
    if (s.charCodeAt(i) === DOT) {
      const end = digits(s, i + 1);
      if (end === i + 1) return -1;
      i = end;
    }
    const e = s.charCodeAt(i);
    if (e === 0x65 || e === 0x45) {
      i++;
      const sign = s.charCodeAt(i);
      if (sign === 0x2b || sign === MINUS) i++;
      const end = digits(s, i);
      if (end === i) return -1;
      i = end;
    }
    return i;
  }

  /** The number [at, end) just scanned: short unsigned integers read here, others by Number. */
  private numberValue(at: number, end: number): number {
    if (end - at > 15) return Number(this.s.slice(at, end));
    let value = 0;
    for (let i = at; i < end; i++) {
      const c = this.s.charCodeAt(i);
      if (c < ZERO || c > NINE) return Number(this.s.slice(at, end));
      value = value * 10 + c - ZERO;
    }
    return value;
  }

  /**
   * A captured value, decoded as JSON.parse would, and a string of its own: a slice of the line would keep the whole
   * piece of the source it was cut from alive as long as the key is (two chunks' worth of keys are).
   */
  private decoded(at: number, end: number): unknown {
    if (this.s.charCodeAt(at) !== QUOTE || this.string(at) < 0 || this.escaped) return JSON.parse(this.s.slice(at, end));
    // V8 copies a slice shorter than 13 characters; a longer one is copied by way of a concatenation (made flat to be sliced).
    const value = this.s.slice(at + 1, end - 1);
    return value.length < 13 ? value : `${value} `.slice(0, -1);
  }

  /** Records the key [start, end) of the object whose keys begin at `base`; false if it repeats one or is `__proto__`. */
  private newKey(start: number, end: number, base: number): boolean {
    const s = this.s;
    const length = end - start;
    if (length === PROTO_KEY.length && s.startsWith(PROTO_KEY, start)) return false;
    for (let k = base; k < this.top; k += 2) {
      const other = KEYS[k]!;
      if (KEYS[k + 1]! - other === length && sameText(s, start, s, other, length)) return false;
    }
    if (this.top + 2 > KEYS.length) return false;
    KEYS[this.top++] = start;
    KEYS[this.top++] = end;
    return true;
  }
}

const PROTO_KEY = '"__proto__"';
/** A character that makes a string's end more than its next quote (an escape), or is never valid in a compact line. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it looks for.
const ODD_CHARACTER = /[\x00-\x1f\\]/;
const WORDS = ['true', 'false', 'null'];
/** What may follow a backslash in a JSON string, `u` aside. */
const ESCAPES = new Set([QUOTE, BACKSLASH, 0x2f, 0x62, 0x66, 0x6e, 0x72, 0x74]);

function isHex(c: number): boolean {
  return (c >= ZERO && c <= NINE) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);
}

function digits(s: string, from: number): number {
  let i = from;
  while (s.charCodeAt(i) >= ZERO && s.charCodeAt(i) <= NINE) i++;
  return i;
}

/** Whether a[at, at + length) and b[bt, bt + length) are the same text. */
function sameText(a: string, at: number, b: string, bt: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (a.charCodeAt(at + k) !== b.charCodeAt(bt + k)) return false;
  return true;
}

const notSure: Node = { kind: 'notSure' };

/** The schema as asGivenCheck judges it (the same kinds and checks, from as-given.ts), as nodes for the scan. */
function compile(schema: z.ZodType, capture?: Set<string>): Node {
  const { def, checks } = judged(schema) ?? {};
  if (!def || !checks) return notSure;
  switch (def.type) {
    case 'string': {
      const tests = stringTests(def, checks);
      return tests ? { kind: 'string', tests } : notSure;
    }
    case 'number': {
      const tests = numberTests(def, checks);
      return tests ? { kind: 'number', tests } : notSure;
    }
    case 'boolean':
      return checks.length ? notSure : { kind: 'words', words: ['true', 'false'] };
    case 'null':
      return checks.length ? notSure : { kind: 'words', words: ['null'] };
    case 'unknown':
    case 'any':
      return checks.length ? notSure : ANY;
    case 'enum':
    case 'literal': {
      const values = def.type === 'enum' ? Object.values(def.entries ?? {}) : (def.values ?? []);
      const json = (value: unknown) => value === null || ['string', 'number', 'boolean'].includes(typeof value);
      if (checks.length || !values.every(def.type === 'enum' ? (value) => typeof value === 'string' : json)) return notSure;
      return { kind: 'oneOf', values: new Set(values) };
    }
    case 'optional':
      // An absent key is the object's to allow; a present one is never undefined in JSON.
      return checks.length ? notSure : compile(def.innerType!);
    case 'nullable':
      return checks.length ? notSure : { kind: 'nullable', inner: compile(def.innerType!) };
    case 'array': {
      const tests = arrayTests(checks);
      return tests ? { kind: 'array', element: compile(def.element!), tests } : notSure;
    }
    case 'union':
      if (checks.length || def.inclusive === false || def.discriminator !== undefined) return notSure;
      return { kind: 'union', options: def.options!.map((option) => compile(option)) };
    case 'object': {
      if (checks.length || def.catchall === undefined) return notSure;
      const members = Object.entries(def.shape ?? {}).map(([key, schema], index) => ({
        key,
        index,
        next: index + 1,
        seen: 0,
        node: compile(schema),
        required: !mayBeAbsent(schema),
        capture: capture?.has(key) ?? false,
      }));
      const required = members.filter((member) => member.required).length;
      // A strict object's catchall (`never`) refuses every other key.
      const catchall = def.catchall._zod.def.type === 'never' ? undefined : compile(def.catchall);
      return { kind: 'object', members, required, catchall, first: 0 };
    }
    default:
      return notSure;
  }
}
