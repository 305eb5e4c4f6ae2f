/**
 * Bytes to text, with the source's kind told up front: gzip is read transparently, UTF-16 (a BOM or
 * NULs every other byte) is decoded, other binary data (ZIP/Excel, NUL bytes) is refused by name, and
 * anything else must be valid UTF-8 unless an explicit encoding says otherwise. Nothing is ever
 * decoded to U+FFFD replacement characters silently.
 */
import { isUtf8 } from 'node:buffer';
import { Readable, pipeline } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { SourceError, type ReadSourceOptions } from './types';

/** Bytes looked at before deciding what the source is. */
const SNIFF_BYTES = 4096;

const startsWith = (head: Buffer, ...bytes: number[]): boolean => bytes.every((b, i) => head[i] === b);

export const isGzip = (head: Buffer): boolean => startsWith(head, 0x1f, 0x8b);

/** The encoding a UTF-16 source is in, from its BOM or from NULs in every other byte (ASCII text in UTF-16); undefined otherwise. */
export function utf16Of(head: Buffer): 'utf-16le' | 'utf-16be' | undefined {
  if (startsWith(head, 0xff, 0xfe)) return 'utf-16le';
  if (startsWith(head, 0xfe, 0xff)) return 'utf-16be';
  const pairs = Math.floor(Math.min(head.length, 512) / 2);
  if (pairs < 2) return undefined;
  let evenNul = 0;
  let oddNul = 0;
  for (let i = 0; i < pairs * 2; i += 2) {
    if (head[i] === 0) evenNul++;
    if (head[i + 1] === 0) oddNul++;
  }
  if (oddNul >= pairs * 0.8 && evenNul === 0) return 'utf-16le';
  if (evenNul >= pairs * 0.8 && oddNul === 0) return 'utf-16be';
  return undefined;
}

/** Why these first bytes cannot be a text catalog, or undefined when they may be one. */
export function binaryKindOf(head: Buffer): string | undefined {
  if (startsWith(head, 0x50, 0x4b, 0x03, 0x04) || startsWith(head, 0x50, 0x4b, 0x05, 0x06)) {
    return 'this looks like a ZIP archive or an Excel (.xlsx) file; export the sheet as CSV (UTF-8), or unzip the catalog';
  }
  if (startsWith(head, 0xd0, 0xcf, 0x11, 0xe0)) return 'this looks like an old Excel (.xls) file; export the sheet as CSV (UTF-8)';
  if (startsWith(head, 0x25, 0x50, 0x44, 0x46)) return 'this looks like a PDF; bulkport reads JSONL, CSV or a JSON array';
  const nul = head.indexOf(0);
  if (nul !== -1) return `this is binary data, not text (a NUL byte at offset ${nul}); bulkport reads JSONL, CSV or a JSON array in UTF-8`;
  return undefined;
}

/** Checks an --encoding label; the WHATWG name it stands for. */
export function encodingNamed(label: string): string {
  try {
    return new TextDecoder(label).encoding;
  } catch {
    throw new SourceError(
      `unknown encoding ${JSON.stringify(label)}: --encoding takes a WHATWG label such as windows-1252, latin1, iso-8859-15, utf-16le or shift_jis`,
    );
  }
}

/** The first bytes of a stream (at least `min` unless it ends sooner) and the whole stream again. */
async function sniff(input: AsyncIterable<Buffer>, min: number): Promise<{ head: Buffer; all: AsyncIterable<Buffer> }> {
  const it = input[Symbol.asyncIterator]();
  const first: Buffer[] = [];
  let size = 0;
  let done = false;
  while (size < min) {
    const next = await it.next();
    if (next.done) {
      done = true;
      break;
    }
    first.push(next.value);
    size += next.value.length;
  }
  const head = Buffer.concat(first);
  async function* all(): AsyncGenerator<Buffer> {
    if (head.length > 0) yield head;
    if (done) return;
    for (let next = await it.next(); !next.done; next = await it.next()) yield next.value;
  }
  return { head, all: all() };
}

function gunzip(input: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
  const unzip = createGunzip();
  // pipeline forwards a failing input (missing file, HTTP error) into the gunzip stream's iterator.
  pipeline(Readable.from(input), unzip, () => {});
  return unzip;
}

const isZlibError = (err: unknown): boolean =>
  typeof (err as { code?: unknown })?.code === 'string' && (err as { code: string }).code.startsWith('Z_');

/** Decodes the source to text chunks; a byte order mark is dropped. */
export async function* decodeSource(input: AsyncIterable<Buffer>, opts: ReadSourceOptions = {}): AsyncGenerator<string> {
  let { head, all } = await sniff(input, SNIFF_BYTES);
  let compressed = false;
  if (isGzip(head)) {
    opts.onNote?.('the source is gzip-compressed: reading it decompressed');
    compressed = true;
    ({ head, all } = await sniff(gunzip(all), SNIFF_BYTES).catch((err: unknown) => {
      throw isZlibError(err) ? damagedGzip(err) : err;
    }));
  }
  let encoding = opts.encoding === undefined ? undefined : encodingNamed(opts.encoding);
  if (encoding === undefined) {
    encoding = utf16Of(head);
    if (encoding) opts.onNote?.(`the source is ${encoding.toUpperCase()} text: decoding it as such`);
  }
  // NUL bytes are text only in UTF-16; an explicit single-byte encoding doesn't make a ZIP file readable.
  const binary = encoding?.startsWith('utf-16') ? undefined : binaryKindOf(head);
  if (binary) throw new SourceError(`the source is not a text file: ${binary}`);
  encoding ??= 'utf-8';
  // Fatal for UTF-8 and UTF-16: a byte sequence they cannot hold is an error, not a replacement character.
  const decoder = encoding === 'utf-8' ? new Utf8Decoder() : new TextDecoder(encoding, { fatal: true });
  const lines = new LineTracker();
  let replacementSeen = false;
  try {
    for await (const bytes of all) {
      opts.onBytes?.();
      let text: string;
      try {
        text = decoder.decode(bytes, { stream: true });
      } catch (err) {
        throw notDecodable(encoding, lines, err instanceof InvalidUtf8 ? err.bytes : bytes, err);
      }
      if (!replacementSeen && text.includes('\uFFFD')) {
        // Valid UTF-8 for U+FFFD itself: the damage was done by an earlier conversion, and is only reported.
        replacementSeen = true;
        const line = lines.line + (text.slice(0, text.indexOf('\uFFFD')).match(/\n/g)?.length ?? 0);
        opts.onNote?.(
          `line ${line} holds the replacement character �: the file was damaged by an earlier conversion ` +
            '(its original characters are lost); re-export it from the source system',
          'warn',
        );
      }
      lines.saw(text);
      if (text.length > 0) yield text;
    }
    let rest: string;
    try {
      rest = decoder.decode();
    } catch {
      const why = `the file is cut short, or ${encodingHint(encoding)}`;
      throw new SourceError(`the source ends in the middle of a ${encoding} character (line ${lines.line}): ${why}`);
    }
    if (rest.length > 0) yield rest;
  } catch (err) {
    throw compressed && isZlibError(err) ? damagedGzip(err) : err;
  }
}

/** Bytes that are not UTF-8, carried to notDecodable whole (with the start of a character the piece before ended in). */
class InvalidUtf8 extends TypeError {
  constructor(readonly bytes: Buffer) {
    super('The encoded data was not valid for encoding utf-8');
  }
}

/**
 * TextDecoder's fatal UTF-8 decoding, by Node's own checks: buffer.isUtf8 and toString, about 3.5 times as fast as ICU's
 * converter that TextDecoder runs (bench/README.md). A piece that ends inside a character keeps that character's first
 * bytes for the next; a leading byte order mark is dropped, as TextDecoder drops it.
 */
class Utf8Decoder {
  private carry: Buffer | undefined;
  private started = false;

  decode(bytes?: Buffer, options?: { stream?: boolean }): string {
    let all = bytes ?? Buffer.alloc(0);
    if (this.carry) all = Buffer.concat([this.carry, all]);
    this.carry = undefined;
    if (!this.started && all.length > 0) {
      this.started = true;
      if (startsWith(all, 0xef, 0xbb, 0xbf)) all = all.subarray(3);
    }
    const end = options?.stream ? completeUtf8End(all) : all.length;
    if (end < all.length) this.carry = Buffer.from(all.subarray(end));
    const whole = all.subarray(0, end);
    if (!isUtf8(whole)) throw new InvalidUtf8(all);
    return whole.toString('utf8');
  }
}

/** Where the last character of `bytes` starts, if it is cut short; else the length. */
function completeUtf8End(bytes: Buffer): number {
  let start = bytes.length - 1;
  while (start >= 0 && start > bytes.length - 4 && (bytes[start]! & 0xc0) === 0x80) start--;
  if (start < 0) return bytes.length;
  const lead = bytes[start]!;
  const length = lead >= 0xf0 && lead <= 0xf4 ? 4 : lead >= 0xe0 && lead < 0xf0 ? 3 : lead >= 0xc2 && lead < 0xe0 ? 2 : 1;
  // A lead byte without all its continuation bytes yet; anything else (complete, or never valid) is isUtf8's to judge.
  return start + length > bytes.length ? start : bytes.length;
}

const damagedGzip = (err: unknown): SourceError =>
  new SourceError(
    `the source looks gzip-compressed but cannot be decompressed (${(err as Error).message}): the file is damaged or cut short; check it with gzip -t`,
  );

const encodingHint = (encoding: string): string =>
  encoding === 'utf-8'
    ? 'the file is not UTF-8: pass its encoding, e.g. --encoding windows-1252 (Excel on Windows) or --encoding latin1, or save it as UTF-8'
    : `the file is not ${encoding}: pass its real encoding with --encoding`;

/** Counts lines of the decoded text and keeps the start of the current one, for naming where decoding failed. */
class LineTracker {
  line = 1;
  tail = '';

  saw(text: string): void {
    let count = 0;
    for (let nl = text.indexOf('\n'); nl !== -1; nl = text.indexOf('\n', nl + 1)) count++;
    this.line += count;
    const lastNl = text.lastIndexOf('\n');
    this.tail = (lastNl === -1 ? this.tail + text : text.slice(lastNl + 1)).slice(-60);
  }
}

function notDecodable(encoding: string, lines: LineTracker, bytes: Buffer, err: unknown): SourceError {
  if (!(err instanceof TypeError)) return err as SourceError;
  // Decoded again leniently only to say where: the first replacement character marks the bad byte.
  const lenient = new TextDecoder(encoding).decode(bytes);
  const bad = Math.max(0, lenient.indexOf('\uFFFD'));
  const before = lenient.slice(0, bad);
  const lastNl = before.lastIndexOf('\n');
  const line = lines.line + (before.match(/\n/g)?.length ?? 0);
  const shown = (
    (lastNl === -1 ? lines.tail + before : before.slice(lastNl + 1)).slice(-40) + lenient.slice(bad, bad + 20).split('\n')[0]
  ).trimStart();
  return new SourceError(
    `line ${line} is not valid ${encoding === 'utf-8' ? 'UTF-8' : encoding} (${JSON.stringify(shown)}): ${encodingHint(encoding)}`,
  );
}
