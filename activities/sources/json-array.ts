import { RecordText, SourceError, takeJsonRecord, type SourceItem } from './types';

/** Character codes the scanner acts on. */
const enum Ch {
  Tab = 0x09, Lf = 0x0a, Cr = 0x0d, Space = 0x20, Quote = 0x22, Comma = 0x2c, Backslash = 0x5c,
  OpenSquare = 0x5b, CloseSquare = 0x5d, OpenCurly = 0x7b, CloseCurly = 0x7d, Bom = 0xfeff,
}

const isSpace = (c: number): boolean => c === Ch.Space || c === Ch.Lf || c === Ch.Cr || c === Ch.Tab || c === Ch.Bom;

type Phase =
  | 'before' // before the opening [
  | 'between' // after [ or a top-level comma, waiting for an element or ]
  | 'element' // inside a top-level element
  | 'after' // after the closing ]
  | 'done'; // trailing garbage was reported; the rest is ignored

/**
 * Cuts a top-level JSON array into its elements without parsing the whole document, so memory is
 * bounded by the largest element. Only strings and brackets are tracked; each element is then
 * handed to JSON.parse, which produces the error message for a malformed one.
 */
export class JsonArrayScanner {
  private phase: Phase = 'before';
  private line = 1;
  private elementLine = 0;
  private inString = false;
  private escaped = false;
  /** Line of a string cut short by a raw newline in the current element, if any. */
  private unterminatedLine: number | undefined;
  private readonly openers: number[] = [];
  private readonly text: RecordText;

  constructor(maxRecordChars: number) {
    this.text = new RecordText(maxRecordChars);
  }

  get finished(): boolean {
    return this.phase === 'done';
  }

  *write(chunk: string): Generator<SourceItem> {
    let start = this.phase === 'element' ? 0 : -1;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk.charCodeAt(i);
      switch (this.phase) {
        case 'before':
          if (c === Ch.OpenSquare) this.phase = 'between';
          else if (!isSpace(c)) throw this.notAnArray(chunk, i);
          break;
        case 'between':
          if (isSpace(c)) break;
          if (c === Ch.Comma) {
            yield { line: this.line, error: 'invalid JSON: empty array element (two commas in a row)' };
          } else if (c === Ch.CloseSquare) {
            // A trailing comma before ] loses no data, so it is tolerated.
            this.phase = 'after';
          } else {
            this.phase = 'element';
            this.elementLine = this.line;
            this.openers.length = 0;
            this.unterminatedLine = undefined;
            start = i;
            this.elementChar(c);
          }
          break;
        case 'element':
          if (this.elementChar(c)) {
            yield* this.cut(chunk, start, i);
            start = -1;
          }
          break;
        case 'after':
          if (!isSpace(c)) {
            this.phase = 'done';
            yield { line: this.line, error: 'unexpected content after the closing ] of the JSON array' };
          }
          break;
        case 'done':
          return;
      }
      if (c === Ch.Lf) this.line++;
    }
    if (this.phase === 'element') this.text.add(chunk.slice(start));
  }

  *end(): Generator<SourceItem> {
    if (this.phase === 'element') {
      // The last element may be cut short even if it happens to parse, so it is not trusted.
      const taken = this.text.take();
      const text = 'text' in taken ? taken.text.trim() : taken.tooLong;
      yield { line: this.elementLine, error: 'unexpected end of file inside an element: the JSON array is not closed with ]', text };
    } else if (this.phase === 'between') {
      yield { line: this.line, error: 'unexpected end of file: the JSON array is not closed with ]' };
    }
  }

  /** Advances the string/bracket state by one character; true when the character ends the element. */
  private elementChar(c: number): boolean {
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === Ch.Backslash) this.escaped = true;
      else if (c === Ch.Quote) this.inString = false;
      else if (c === Ch.Lf) {
        // A raw newline cannot occur in a JSON string: end the string here so brackets on the
        // following lines count again and the element can still end at its closing bracket.
        this.inString = false;
        this.unterminatedLine ??= this.line;
      }
      return false;
    }
    switch (c) {
      case Ch.Quote:
        this.inString = true;
        return false;
      case Ch.OpenSquare:
      case Ch.OpenCurly:
        this.openers.push(c);
        return false;
      case Ch.CloseCurly:
      case Ch.CloseSquare: {
        const at = this.openers.lastIndexOf(c === Ch.CloseCurly ? Ch.OpenCurly : Ch.OpenSquare);
        if (at !== -1) {
          // Popping past mismatched openers lets a malformed element end at the next top-level comma.
          this.openers.length = at;
          return false;
        }
        // A ] with no [ open inside the element can only be the end of the array.
        return c === Ch.CloseSquare;
      }
      case Ch.Comma:
        return this.openers.length === 0;
      default:
        return false;
    }
  }

  private *cut(chunk: string, start: number, end: number): Generator<SourceItem> {
    this.text.add(chunk.slice(start, end));
    this.phase = chunk.charCodeAt(end) === Ch.Comma ? 'between' : 'after';
    this.inString = false;
    this.escaped = false;
    const item = takeJsonRecord(this.elementLine, this.text);
    if (item && 'error' in item && this.unterminatedLine !== undefined) {
      // The element may have absorbed the ones after it; say how far so they can be checked.
      const error = `invalid JSON: the string on line ${this.unterminatedLine} is not terminated, so everything up to line ${this.line} was read as one element`;
      yield { ...item, error };
    } else if (item) {
      yield item;
    }
  }

  private notAnArray(chunk: string, i: number): SourceError {
    const found = chunk.slice(i, i + 20);
    const hint =
      chunk.charCodeAt(i) === Ch.OpenCurly
        ? ' (for one JSON object per line, name the file .jsonl or pass --format jsonl)'
        : '';
    return new SourceError(`expected a JSON array at line ${this.line} of the source, but it starts with ${JSON.stringify(found)}${hint}`);
  }
}

export async function* readJsonArray(chunks: AsyncIterable<string>, maxRecordChars: number): AsyncGenerator<SourceItem> {
  const scanner = new JsonArrayScanner(maxRecordChars);
  for await (const chunk of chunks) {
    yield* scanner.write(chunk);
    if (scanner.finished) return;
  }
  yield* scanner.end();
}
