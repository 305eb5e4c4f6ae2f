import type { Readable } from 'node:stream';
export type SourceFormat = 'jsonl' | 'csv' | 'json';

/** A record, with its JSON text when the source had one on a single line (written as it came, never serialized again). */
export type SourceItem =
  /** `json`: the record's one-line text; `keys`, with it: its objects' keys, counted as the record was checked (sendableAsIs). */
  | { line: number; record: unknown; json?: string; keys?: number }
  | { line: number; error: string; text?: string }
  /** A JSON line `precheck` was sure of, not parsed: its text, and what the check answered. */
  | { line: number; json: string; sure: Record<string, unknown> };

export interface ReadSourceOptions {
  signal?: AbortSignal;
  /** Read-chunk size in bytes for local files; tests shrink it to force chunk splits. */
  highWaterMark?: number;
  /**
   * A JSON/JSONL record longer than this many characters becomes an error item instead of
   * exhausting memory; a CSV record longer than this many bytes ends the read with a SourceError.
   */
  maxRecordChars?: number;
  /** A WHATWG encoding label (windows-1252, latin1, utf-16le, shift_jis…); without it the source must be UTF-8 (or UTF-16 with a BOM). */
  encoding?: string;
  /** CSV: the cell separator (default ","). */
  delimiter?: string;
  /** JSON: the dotted path of the array of records inside a top-level object, e.g. "data.products". */
  recordsPath?: string;
  /** CSV: the columns the target needs to key a product, and an example header to suggest when they are missing. */
  keyColumns?: { columns: string[]; example: string };
  /** Told about what was detected and decoded transparently (gzip, UTF-16), for the worker's log. */
  onNote?: (message: string, level?: 'info' | 'warn') => void;
  /**
   * JSON Lines: a line's text given to this before it is parsed (a trailing `\r` left out). Where it answers, the line
   * comes as it is, with the answer (`sure`), and no one parses it.
   */
  precheck?: (json: string) => Record<string, unknown> | undefined;
  /** Called for every piece of the source read, so a reader can show it is alive between records. */
  onBytes?: () => void;
  /** Opens the source's bytes where they are neither a local path nor a URL (a file in the staging store). */
  open?: () => Readable;
}

/** Default cap on one record's text: far above any real product, far below a whole runaway file. */
export const DEFAULT_MAX_RECORD_CHARS = 32 * 1024 * 1024;

/**
 * A problem with the source as a whole (not one record). `retryable` tells the orchestrator
 * whether trying again can help (a 503 can; a missing file or a malformed header cannot).
 */
export class SourceError extends Error {
  override readonly name = 'SourceError';
  constructor(
    message: string,
    readonly retryable = false,
    /** When retryable: the attempts worth making at most (a refused connection may be a server restarting, briefly). */
    readonly maxAttempts?: number,
  ) {
    super(message);
  }
}

const PREVIEW_CHARS = 200;

/** Shortens text for error items, never cutting a surrogate pair in half. */
export function preview(text: string): string {
  if (text.length <= PREVIEW_CHARS) return text;
  let end = PREVIEW_CHARS;
  const last = text.charCodeAt(end - 1);
  if (last >= 0xd800 && last <= 0xdbff) end--;
  return `${text.slice(0, end)}…`;
}

/**
 * Collects one record's text from chunk slices. Past the size limit it keeps only a preview so a
 * file without record separators (wrong format, unclosed string) cannot exhaust memory.
 */
export class RecordText {
  private parts: string[] = [];
  private size = 0;
  private head: string | undefined;

  constructor(private readonly limit: number) {}

  get isEmpty(): boolean {
    return this.size === 0;
  }

  add(piece: string): void {
    if (piece.length === 0) return;
    this.size += piece.length;
    if (this.head === undefined && this.size <= this.limit) {
      this.parts.push(piece);
      return;
    }
    // Over the limit: only a preview is kept, filled up to its length from whatever arrives.
    if (this.head === undefined) {
      this.head = '';
      for (const part of this.parts) this.head += part.slice(0, PREVIEW_CHARS + 1 - this.head.length);
      this.parts = [];
    }
    if (this.head.length <= PREVIEW_CHARS) this.head += piece.slice(0, PREVIEW_CHARS + 1 - this.head.length);
  }

  /** Returns the collected text (or the too-long marker) and starts a new record. */
  take(): { text: string } | { tooLong: string } {
    const result = this.head !== undefined ? { tooLong: preview(this.head) } : { text: this.parts.join('') };
    this.parts = [];
    this.size = 0;
    this.head = undefined;
    return result;
  }

  get limitMessage(): string {
    return `record is longer than the limit of ${this.limit} characters`;
  }
}

/** Deeper records are invalid rows: JSON.stringify, zod and the report recurse and would overflow the stack (about 5,000 levels). */
export const MAX_NESTING_DEPTH = 64;

/**
 * The own keys of every object in a parsed value, or -1 where it nests objects/arrays deeper than `max` levels.
 * Recursive without allocating (it runs for every record), yet safe at any depth: it never goes more than `max` + 1
 * calls deep.
 */
export function keysWithin(value: unknown, max: number): number {
  if (typeof value !== 'object' || value === null) return 0;
  if (max < 1) return -1;
  let keys = 0;
  if (Array.isArray(value)) {
    for (const child of value) {
      const within = keysWithin(child, max - 1);
      if (within < 0) return -1;
      keys += within;
    }
    return keys;
  }
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    const within = keysWithin((value as Record<string, unknown>)[key], max - 1);
    if (within < 0) return -1;
    keys += 1 + within;
  }
  return keys;
}

/** Whether a parsed value nests objects/arrays deeper than `max` levels. */
export const nestedDeeperThan = (value: unknown, max: number): boolean => keysWithin(value, max) < 0;

export const tooDeepMessage = `record is nested deeper than ${MAX_NESTING_DEPTH} levels; flatten it (a product needs a few levels at most)`;

const PROTO_KEY = '__proto__';

/**
 * Where a parsed value holds an own `__proto__` key: its path (`metadata.__proto__`), or undefined. JSON.parse keeps
 * such a key as data, but validation copies objects, and a copy's `__proto__` sets its prototype: the key would vanish
 * from the product sent, silently. Recursive like nestedDeeperThan: call it on a value that passed that check.
 */
export function protoKeyPath(value: unknown): string | undefined {
  const at = protoKeyAt(value);
  return at?.map((part, i) => (typeof part === 'number' ? `[${part}]` : i ? `.${part}` : part)).join('');
}

function protoKeyAt(value: unknown): (string | number)[] | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const at = protoKeyAt(value[i]);
      if (at) return [i, ...at];
    }
    return undefined;
  }
  if (Object.hasOwn(value, PROTO_KEY)) return [PROTO_KEY];
  for (const key in value) {
    const at = Object.hasOwn(value, key) ? protoKeyAt((value as Record<string, unknown>)[key]) : undefined;
    if (at) return [key, ...at];
  }
  return undefined;
}

/**
 * Whether `json`, the one-line text of a record with `keys` keys in its objects (keysWithin), may be sent as it is
 * instead of serialized again: it is compact (no whitespace outside its strings, as JSON.stringify writes it), and no
 * object in it repeats a key (JSON.parse keeps a repeated key's last value, which validation saw; a target's parser
 * might keep the first). The keys in the text (strings right before a colon; each string skipped whole, escapes and all)
 * are counted against the record's. Any other line is serialized again, as before.
 */
export function sendableAsIs(json: string, keys: number): boolean {
  return keysInCompactText(json) === keys;
}

/** The keys in a compact JSON text; -1 where there is whitespace outside its strings. */
function keysInCompactText(json: string): number {
  let keys = 0;
  let from = 0;
  for (let open = json.indexOf('"'); open >= 0; open = json.indexOf('"', from)) {
    if (spaced(json, from, open)) return -1;
    let close = json.indexOf('"', open + 1);
    // A quote after an odd run of backslashes is part of the string.
    for (;;) {
      if (close < 0) return -1;
      let backslashes = 0;
      while (json.charCodeAt(close - 1 - backslashes) === BACKSLASH) backslashes++;
      if (backslashes % 2 === 0) break;
      close = json.indexOf('"', close + 1);
    }
    if (json.charCodeAt(close + 1) === COLON) keys++;
    from = close + 1;
  }
  return spaced(json, from, json.length) ? -1 : keys;
}

/** Whether json[from, to) holds a space, tab or line break. */
function spaced(json: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (json.charCodeAt(i) <= SPACE) return true;
  return false;
}

const BACKSLASH = 92;
const CARRIAGE_RETURN = 13;
const COLON = 58;
const SPACE = 32;

/** Whether a record's JSON text may hold a `__proto__` key: by name, or spelt with a \u escape. Most lines do neither. */
export const mayHoldProtoKey = (json: string) => json.includes(PROTO_KEY) || json.includes('\\u');

export const protoKeyMessage = `a key named "${PROTO_KEY}" cannot be imported: validation copies the product, and JavaScript turns that key into the copy's prototype, so it would be lost; rename the key in the source`;

/** Takes the collected text as one JSON record; undefined when it is only whitespace. */
export function takeJsonRecord(line: number, acc: RecordText, precheck?: ReadSourceOptions['precheck']): SourceItem | undefined {
  const taken = acc.take();
  if ('tooLong' in taken) return { line, error: acc.limitMessage, text: taken.tooLong };
  return jsonRecord(line, taken.text, precheck);
}

/**
 * A record's whole text (within the size limit) as one JSON record; undefined when it is only whitespace. Where
 * `precheck` answers for it, as it is.
 */
export function jsonRecord(line: number, text: string, precheck?: ReadSourceOptions['precheck']): SourceItem | undefined {
  if (precheck) {
    const json = text.charCodeAt(text.length - 1) === CARRIAGE_RETURN ? text.slice(0, -1) : text;
    const sure = precheck(json);
    if (sure) return { line, json, sure };
  }
  if (text.trim() === '') return undefined;
  let record: unknown;
  try {
    record = JSON.parse(text);
  } catch (err) {
    // The whole text: it goes to the failed-records file for someone to fix.
    return { line, error: `invalid JSON: ${(err as Error).message}`, text: text.replace(/\r?\n$/, '') };
  }
  const keys = keysWithin(record, MAX_NESTING_DEPTH);
  // Kept as text: the parsed value could not even be serialized again.
  if (keys < 0) return { line, error: tooDeepMessage, text: text.replace(/\r?\n$/, '') };
  // A record over several lines (a pretty-printed array) cannot go into a chunk line as it is.
  const json = text.endsWith('\r') ? text.slice(0, -1) : text;
  return json.includes('\n') || json.includes('\r') ? { line, record } : { line, record, json, keys };
}
