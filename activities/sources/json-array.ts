import { RecordText, SourceError, takeJsonRecord, type SourceItem } from './types';

/** Character codes the scanner acts on. */
enum Ch {
  Tab = 0x09,
  Lf = 0x0a,
  Cr = 0x0d,
  Space = 0x20,
  Quote = 0x22,
  Comma = 0x2c,
  Backslash = 0x5c,
  OpenSquare = 0x5b,
  CloseSquare = 0x5d,
  OpenCurly = 0x7b,
  CloseCurly = 0x7d,
  Bom = 0xfeff,
}

const isSpace = (c: number): boolean => c === Ch.Space || c === Ch.Lf || c === Ch.Cr || c === Ch.Tab || c === Ch.Bom;

type Phase =
  | 'before' // before the opening [
  | 'wrapper' // inside an object that wraps the array, looking for --records-path
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
  private wrapper: WrapperScanner | undefined;

  constructor(
    maxRecordChars: number,
    private readonly recordsPath?: string,
  ) {
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
          if (c === Ch.OpenSquare) {
            if (this.recordsPath !== undefined) {
              throw new SourceError(
                `--records-path ${this.recordsPath} was given, but the source is a JSON array itself: leave --records-path out`,
              );
            }
            this.phase = 'between';
          } else if (c === Ch.OpenCurly) {
            this.wrapper = new WrapperScanner(this.recordsPath);
            this.phase = 'wrapper';
          } else if (!isSpace(c)) throw this.notAnArray(chunk, i);
          break;
        case 'wrapper':
          if (this.wrapper?.char(c)) this.phase = 'between';
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
          // The rest of a wrapping object holds no records: reading stops at the array's end.
          if (this.wrapper) this.phase = 'done';
          else if (!isSpace(c)) {
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
    if (this.phase === 'wrapper' && this.wrapper) throw this.wrapper.notFound();
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
    return new SourceError(
      `expected a JSON array of records at line ${this.line} of the source, but it starts with ${JSON.stringify(found)}: ` +
        'a .json source holds [ {…}, {…} ]; for one object per line name the file .jsonl or pass --format jsonl',
    );
  }
}

/** Arrays named in the error for a wrapping object without --records-path, at most. */
const LISTED_ARRAYS = 5;
/** Longest key kept while scanning a wrapper; a longer one cannot be a path anyone types. */
const MAX_KEY_CHARS = 200;

/**
 * Walks the object around the records (`{"meta":{…},"products":[…]}`) character by character, memory
 * bounded by its nesting, to find the array at a dotted path through objects; without a path it
 * collects the paths of the arrays one or two levels down, to name them in the error.
 */
class WrapperScanner {
  /** One frame per open object or array; `key` is the object's current member name. */
  private readonly frames: { array: boolean; key: string; expectKey: boolean }[] = [{ array: false, key: '', expectKey: true }];
  private inString = false;
  private escaped = false;
  private stringIsKey = false;
  private readonly found: string[] = [];

  constructor(private readonly recordsPath: string | undefined) {}

  /** Advances by one character; true when it is the [ that opens the records. */
  char(c: number): boolean {
    const top = this.frames.at(-1);
    if (!top) return false; // the wrapper ended; whatever follows is ignored
    if (this.inString) {
      if (this.escaped) this.escaped = false;
      else if (c === Ch.Backslash) this.escaped = true;
      else if (c === Ch.Quote) this.inString = false;
      else if (this.stringIsKey && top.key.length < MAX_KEY_CHARS) top.key += String.fromCharCode(c);
      return false;
    }
    switch (c) {
      case Ch.Quote:
        this.inString = true;
        this.stringIsKey = !top.array && top.expectKey;
        if (this.stringIsKey) top.key = '';
        return false;
      case 0x3a: // :
        if (!top.array) top.expectKey = false;
        return false;
      case Ch.Comma:
        if (!top.array) top.expectKey = true;
        return false;
      case Ch.OpenSquare:
      case Ch.OpenCurly: {
        const path = this.frames.every((f) => !f.array) ? this.frames.map((f) => f.key).join('.') : undefined;
        if (c === Ch.OpenSquare && path !== undefined) {
          if (path === this.recordsPath) return true;
          if (this.found.length < LISTED_ARRAYS && this.frames.length <= 2) this.found.push(path);
        }
        this.frames.push({ array: c === Ch.OpenSquare, key: '', expectKey: c === Ch.OpenCurly });
        return false;
      }
      case Ch.CloseCurly:
      case Ch.CloseSquare:
        this.frames.pop();
        return false;
      default:
        return false;
    }
  }

  notFound(): SourceError {
    const arrays = this.found.map((p) => JSON.stringify(p)).join(', ');
    if (this.recordsPath !== undefined) {
      const where = arrays ? `its arrays are at ${arrays}` : 'it holds no array of records one or two levels down';
      return new SourceError(`--records-path ${this.recordsPath} names no array in the source's top-level object: ${where}`);
    }
    if (!arrays) {
      return new SourceError(
        'the source holds one JSON object, not an array of records: wrap the products in [ ], ' +
          'or for one object per line name the file .jsonl or pass --format jsonl',
      );
    }
    return new SourceError(
      `the source holds a JSON object, not an array of records; it has an array at ${arrays}: ` +
        `point at the records with --records-path ${this.found[0] ?? ''}`,
    );
  }
}

export async function* readJsonArray(
  chunks: AsyncIterable<string>,
  maxRecordChars: number,
  recordsPath?: string,
): AsyncGenerator<SourceItem> {
  const scanner = new JsonArrayScanner(maxRecordChars, recordsPath);
  for await (const chunk of chunks) {
    yield* scanner.write(chunk);
    if (scanner.finished) return;
  }
  yield* scanner.end();
}
