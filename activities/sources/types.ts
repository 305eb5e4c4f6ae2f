export type SourceFormat = 'jsonl' | 'csv' | 'json';

export type SourceItem =
  | { line: number; record: unknown }
  | { line: number; error: string; text?: string };

export interface ReadSourceOptions {
  signal?: AbortSignal;
  /** Read-chunk size in bytes for local files; tests shrink it to force chunk splits. */
  highWaterMark?: number;
  /**
   * A JSON/JSONL record longer than this many characters becomes an error item instead of
   * exhausting memory; a CSV record longer than this many bytes ends the read with a SourceError.
   */
  maxRecordChars?: number;
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

/** Takes the collected text as one JSON record; undefined when it is only whitespace. */
export function takeJsonRecord(line: number, acc: RecordText): SourceItem | undefined {
  const taken = acc.take();
  if ('tooLong' in taken) return { line, error: acc.limitMessage, text: taken.tooLong };
  if (taken.text.trim() === '') return undefined;
  try {
    return { line, record: JSON.parse(taken.text) };
  } catch (err) {
    // The whole text: it goes to the failed-records file for someone to fix.
    return { line, error: `invalid JSON: ${(err as Error).message}`, text: taken.text.replace(/\r?\n$/, '') };
  }
}
