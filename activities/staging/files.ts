/**
 * The files of one import in the staging store, and their line formats.
 */
import { createHash } from 'node:crypto';
import { ApplicationFailure } from '@temporalio/common';
import { type ItemOutcome, storedOutcome } from '../../common/outcome';
import type { ChunkToSend, ItemHead, StagedItem, SubmitItem } from '../../targets/types';
import { isAscii } from 'node:buffer';
import { Readable } from 'node:stream';
import type { BytesWriter, LineWriter, StagingStore } from './store';

export const importPrefix = (importId: string) => `imports/${importId}`;
export const chunkKey = (importId: string, chunkId: string) => `${importPrefix(importId)}/chunks/${chunkId}.jsonl`;
export const outcomeKey = (importId: string, chunkId: string) => `${importPrefix(importId)}/outcomes/${chunkId}.jsonl`;
/**
 * A chunk's heads (each product's line and key) in a small sealed file beside it: polls, failures, the key set and the
 * report read these instead of the whole chunk (22 MB for a 10 MB Voucherify chunk). The chunk file stays authoritative:
 * without an intact heads file (a chunk staged before them), its heads are read from the chunk.
 */
export const headsKey = (importId: string, chunkId: string) => `${importPrefix(importId)}/heads/${chunkId}.jsonl`;
export const invalidKey = (importId: string) => `${importPrefix(importId)}/invalid.jsonl`;
/** Products delta sync did not send: `{ line, key }` a line, sealed. */
export const unchangedKey = (importId: string) => `${importPrefix(importId)}/unchanged.jsonl`;
export const metaKey = (importId: string) => `${importPrefix(importId)}/meta.json`;
/** How far staging has got while it runs: the workflow sends round 0's chunks as they are committed. */
export const stagedKey = (importId: string) => `${importPrefix(importId)}/staged.json`;
/** Which import (workflow and first run) owns the staging data under an import id. */
export const ownerKey = (importId: string) => `${importPrefix(importId)}/owner.json`;
/** How many chunks a retry round was cut into: the report finds them without trusting a listing. */
export const roundKey = (importId: string, round: number) => `${importPrefix(importId)}/rounds/r${round}.json`;
export const reportKey = (importId: string, file: string) => `${importPrefix(importId)}/report/${file}`;
/**
 * The outcomes a failed attempt of a chunk of several requests got for the requests that were answered: the next
 * attempt sends only the others (activities/chunks.ts). Removed once the chunk's outcomes are recorded.
 */
export const keptKey = (importId: string, chunkId: string) => `${importPrefix(importId)}/kept/${chunkId}.jsonl`;
/** A round-0 chunk's report rows, written with its outcomes when all its products succeeded (see rows.ts). */
export const rowsKey = (importId: string, chunkId: string) => `${importPrefix(importId)}/rows/${chunkId}.jsonl`;

/**
 * What a staging file is for, by its key: `report` (results and failed records, kept longest), `owner` (the id's claim,
 * never expired) or `data` (chunks, outcomes, plans: needed only while the import runs). An object store tags objects
 * with it, so that its lifecycle rules expire each kind after its own time.
 */
export type StagingKind = 'data' | 'report' | 'owner';
export const STAGING_KIND_TAG = 'bulkport-kind';
export function stagingKindOf(key: string): StagingKind {
  if (/^imports\/[^/]+\/report\//.test(key)) return 'report';
  return /^imports\/[^/]+\/owner\.json$/.test(key) ? 'owner' : 'data';
}

export { chunkIdOf as chunkId } from '../../common/import';
export const roundOutcomesPrefix = (importId: string, round: number) => `${importPrefix(importId)}/outcomes/r${round}-`;
export const chunkIdOfKey = (key: string) => key.slice(key.lastIndexOf('/') + 1).replace(/\.jsonl$/, '');

/**
 * A chunk line embeds the body as JSON, last, and says its length first: the body is sliced out as the very bytes
 * that were measured and go into the request, without parsing it and serializing it again (which cost more than a
 * quarter of the worker's time in reading chunks).
 */
interface ChunkLine {
  line: number;
  key: string;
  raw: unknown;
  body: unknown;
}

const RAW_FIELD = ',"raw":';
/**
 * The record in place of a raw record that is the body itself, byte for byte (a compact JSON line in the schema's key
 * order, as exports often are): the product is stored once, and a chunk file is 40 % smaller for such catalogs, bytes
 * that were encoded, hashed, written, read and hashed again. Not JSON, on purpose: a worker of an older version reads it as
 * the record, and its report, which parses the record of every product that did not succeed, fails and is retried
 * (until a worker that knows it runs it) rather than writing a wrong record.
 */
const SAME_AS_BODY = '=';

const BODY_FIELD = ',"body":';
const bodyLengthPrefix = /^\{"bodyLength":(\d+),/;

/** A chunk's line for `item`, as ChunkDraft.add writes it (in parts, without this string). */
export function encodeItem(item: StagedItem): string {
  const raw = item.rawJson === item.body ? SAME_AS_BODY : item.rawJson;
  return `{"bodyLength":${item.body.length},"line":${item.line},"key":${JSON.stringify(item.key)}${RAW_FIELD}${raw}${BODY_FIELD}${item.body}}`;
}

/**
 * A chunk line back into its item, parsing only its line and key: the record and the body are sliced out as written.
 * The first `,"raw":` follows the key (a JSON string holds no unescaped quote). Lines written before the body's length
 * was (no prefix) are parsed whole; they never hold SAME_AS_BODY, which came after.
 */
export function decodeItem(text: string): StagedItem {
  const length = bodyLengthPrefix.exec(text)?.[1];
  const bodyStart = length === undefined ? -1 : text.length - 1 - Number(length);
  const rawStart = text.indexOf(RAW_FIELD);
  const rawEnd = bodyStart - BODY_FIELD.length;
  if (bodyStart > 0 && rawStart > 0 && rawStart + RAW_FIELD.length < rawEnd && text.startsWith(BODY_FIELD, rawEnd)) {
    const head = JSON.parse(`${text.slice(0, rawStart)}}`) as Pick<ChunkLine, 'line' | 'key'>;
    const body = text.slice(bodyStart, -1);
    const raw = text.slice(rawStart + RAW_FIELD.length, rawEnd);
    return { line: head.line, key: head.key, rawJson: raw === SAME_AS_BODY ? body : raw, body };
  }
  const whole = JSON.parse(text) as ChunkLine;
  return { line: whole.line, key: whole.key, rawJson: JSON.stringify(whole.raw ?? null), body: JSON.stringify(whole.body) };
}

export async function writeChunk(store: StagingStore, importId: string, id: string, items: StagedItem[]): Promise<void> {
  const draft = new ChunkDraft();
  for (const item of items) draft.add(item);
  await writeChunkDraft(store, importId, id, draft);
}

/**
 * A chunk being cut: its file's bytes (SealedFile) and its products' heads, for the heads file beside it. With a writer,
 * the bytes go to the file as they come instead of being held until the chunk is written.
 */
export class ChunkDraft {
  readonly file: SealedFile;
  private readonly lines: number[] = [];
  private readonly keys: string[] = [];
  /** Its bodies' UTF-8 bytes, for the heads file: a submission knows its request's length before it reads the chunk. */
  private bodyBytes = 0;

  constructor(private readonly out?: BytesWriter) {
    this.file = new SealedFile(out && ((bytes) => out.write(bytes)));
  }

  /** Where the store can, chunk `id`'s draft written to its file as it is built. */
  static streamed(store: StagingStore, importId: string, id: string): ChunkDraft {
    return new ChunkDraft(store.openBytes?.(chunkKey(importId, id)));
  }

  get products(): number {
    return this.lines.length;
  }

  /** encodeItem's line, written in parts: the template's string was 400 MB of garbage a million products. */
  add(item: StagedItem): void {
    const { body, key, line } = item;
    const raw = item.rawJson === body ? SAME_AS_BODY : item.rawJson;
    const { file } = this;
    file.room(96 + 6 * key.length + 3 * (raw.length + body.length));
    file.ascii('{"bodyLength":');
    file.int(body.length);
    file.ascii(',"line":');
    file.int(line);
    file.ascii(',"key":');
    file.json(key);
    file.ascii(RAW_FIELD);
    file.text(raw);
    file.ascii(BODY_FIELD);
    this.bodyBytes += file.text(body);
    file.ascii('}');
    file.endLine();
    this.lines.push(line);
    this.keys.push(key);
  }

  /**
   * The heads file's one line: two arrays, parsed in one JSON.parse instead of one per product; once the chunk is sealed,
   * what a submission needs before it reads the chunk first (SendFacts).
   */
  headsLine(): string {
    const sha256 = this.file.sealed?.sha256;
    const send = sha256 === undefined ? undefined : { products: this.lines.length, bodyBytes: this.bodyBytes, sha256 };
    return JSON.stringify({ ...(send ? { send } : {}), lines: this.lines, keys: this.keys } satisfies HeadsLine);
  }

  /**
   * Writes the chunk file: its last bytes and its seal where it is written as it is built (to the key it was opened
   * with), else all of it, at `key`.
   */
  write(store: StagingStore, key: string): Promise<void> {
    if (!this.out) return writeSealed(store, key, this.file);
    this.file.finish();
    return this.out.close();
  }

  /** Drops what was written of a draft that will not be: the activity failed. */
  async abort(): Promise<void> {
    await this.out?.abort();
  }
}

interface HeadsLine {
  /** Absent in heads files staged before it (a submission then measures the chunk itself). */
  send?: SendFacts;
  lines: number[];
  keys: string[];
}

/** What a submission needs of a chunk before it reads its bodies: their count and bytes, and the chunk file's checksum. */
interface SendFacts {
  products: number;
  bodyBytes: number;
  sha256: string;
}

/**
 * Removes what an earlier attempt of staging (round 0) or of retry round `round` left half written when its worker died:
 * the temporary files of that round's chunks and heads, and of staging's rows and progress files. Only names no one else writes: a
 * split's halves (`r0-000012.0`) belong to submissions that may be running. An attempt still alive (its heartbeat lost)
 * then fails to rename its file, as it should: another attempt owns the round now.
 */
export async function removeLeftovers(store: StagingStore, importId: string, round: number): Promise<number> {
  if (!store.removeTemporary) return 0;
  const ofRound = new RegExp(`^r${round}-\\d+\\.jsonl$`);
  const prefix = importPrefix(importId);
  const removed = await Promise.all([
    store.removeTemporary(`${prefix}/chunks`, (name) => ofRound.test(name)),
    store.removeTemporary(`${prefix}/heads`, (name) => ofRound.test(name)),
    round === 0 ? store.removeTemporary(prefix, (name) => ['invalid.jsonl', 'unchanged.jsonl', 'staged.json'].includes(name)) : 0,
  ]);
  return removed.reduce((sum, n) => sum + n, 0);
}

/** What an earlier attempt of the report left half written: only the report activity writes in its folder. */
export async function removeReportLeftovers(store: StagingStore, importId: string): Promise<number> {
  // And the rows a killed submission left half written: the report runs once no submission does.
  const folders = ['report', 'rows'].map((folder) => store.removeTemporary?.(`${importPrefix(importId)}/${folder}`, () => true));
  return (await Promise.all(folders)).reduce<number>((sum, n) => sum + (n ?? 0), 0);
}

/** Writes a chunk and its heads file; a chunk counts as staged only once both are written (its commit follows this). */
export async function writeChunkDraft(store: StagingStore, importId: string, id: string, draft: ChunkDraft): Promise<void> {
  // Sealed as write begins (before its first await): the heads line names the seal.
  const chunk = draft.write(store, chunkKey(importId, id));
  await Promise.all([writeLines(store, headsKey(importId, id), [draft.headsLine()]), chunk]);
}

/** A chunk line decoded with its record and body parsed too: garbage anywhere in the line throws. */
function checkedDecodeItem(text: string): StagedItem {
  const item = decodeItem(text);
  JSON.parse(item.rawJson);
  JSON.parse(item.body);
  return item;
}

/** The chunk's products; throws StagingDamaged when its file is missing or damaged, before returning any. */
export function readChunk(store: StagingStore, importId: string, id: string): Promise<StagedItem[]> {
  return readWholeFile(store, chunkKey(importId, id), decodeItem, checkedDecodeItem);
}

const RAW_BYTES = Buffer.from(RAW_FIELD);
const BODY_BYTES = Buffer.from(BODY_FIELD);

const BODY_LENGTH_BYTES = Buffer.from('{"bodyLength":');
const LINE_BYTES = Buffer.from(',"line":');
const KEY_BYTES = Buffer.from(',"key":"');

/** Whether `bytes` holds `what` at `at` (no view allocated: this runs for every product read). */
export function bytesAt(bytes: Buffer, at: number, what: Buffer): boolean {
  if (at < 0 || at + what.length > bytes.length) return false;
  for (let i = 0; i < what.length; i++) if (bytes[at + i] !== what[i]) return false;
  return true;
}

/** The decimal digits at `at`: their value and where they end (`end === at`: none). */
export function digitsAt(bytes: Buffer, at: number, limit: number): { value: number; end: number } {
  let value = 0;
  let i = at;
  for (; i < limit && bytes[i]! >= 0x30 && bytes[i]! <= 0x39; i++) value = value * 10 + bytes[i]! - 0x30;
  return { value, end: i };
}

/**
 * A chunk line's head (`{"bodyLength":…,"line":…,"key":…`) parsed from its bytes, up to the record; undefined if it has
 * none. The form encodeItem writes, with a key free of escapes, is read without JSON.parse; anything else is parsed.
 */
function headOfBytes(bytes: Buffer, start: number, end: number): ItemHead | undefined {
  const rawAt = bytes.indexOf(RAW_BYTES, start);
  if (rawAt < 0 || rawAt >= end) return undefined;
  if (bytesAt(bytes, start, BODY_LENGTH_BYTES) && bytes[rawAt - 1] === 0x22 /* " */) {
    const bodyLength = digitsAt(bytes, start + BODY_LENGTH_BYTES.length, rawAt);
    const line = bytesAt(bytes, bodyLength.end, LINE_BYTES) ? digitsAt(bytes, bodyLength.end + LINE_BYTES.length, rawAt) : undefined;
    const keyStart =
      line && line.end > bodyLength.end + LINE_BYTES.length && bytesAt(bytes, line.end, KEY_BYTES) ? line.end + KEY_BYTES.length : -1;
    if (bodyLength.end > start + BODY_LENGTH_BYTES.length && line && keyStart > 0 && keyStart <= rawAt - 1) {
      if (plainBetween(bytes, keyStart, rawAt - 1)) {
        return { line: line.value, key: bytes.toString('utf8', keyStart, rawAt - 1) };
      }
    }
  }
  return JSON.parse(`${bytes.toString('utf8', start, rawAt)}}`) as ItemHead;
}

/** Whether the bytes hold no quote and no backslash: a JSON string's content that reads as it is. */
function plainBetween(bytes: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (bytes[i] === 0x5c /* \ */ || bytes[i] === 0x22) return false;
  return true;
}

/** A product's line and key alone, without what else its object holds. */
const headOf = ({ line, key }: ItemHead): ItemHead => ({ line, key });

function headOfLine(bytes: Buffer, start: number, end: number): ItemHead {
  return headOf(headOfBytes(bytes, start, end) ?? decodeItem(bytes.toString('utf8', start, end)));
}

/**
 * The chunk's products' lines and keys only (outcomes are written with them), from its heads file, else from the chunk
 * itself; damage of the chunk throws as readChunk's does.
 */
export async function readChunkHeads(store: StagingStore, importId: string, id: string): Promise<ItemHead[]> {
  return (await readHeadsFile(store, importId, id)) ?? readHeadsOfChunk(store, importId, id);
}

/** A chunk's heads file, or undefined when it is missing or damaged (the chunk tells then). */
async function readHeadsFile(store: StagingStore, importId: string, id: string): Promise<ItemHead[] | undefined> {
  let heads: HeadsLine | undefined;
  try {
    [heads] = await readAllJsonLines<HeadsLine>(store, headsKey(importId, id));
  } catch (err) {
    if (damageOf(err)) return undefined;
    throw err;
  }
  const { lines, keys } = heads ?? {};
  if (!Array.isArray(lines) || !Array.isArray(keys) || lines.length !== keys.length) return undefined;
  return lines.map((line, i) => ({ line, key: keys[i]! }));
}

/** The heads as the chunk file holds them: the whole file is read. */
export function readHeadsOfChunk(store: StagingStore, importId: string, id: string): Promise<ItemHead[]> {
  return readWholeFile(
    store,
    chunkKey(importId, id),
    (text) => headOf(decodeItem(text)),
    (text) => headOf(checkedDecodeItem(text)),
    headOfLine,
  );
}

/** A chunk as the report reads it whole: each product decoded only when asked for. */
export interface ChunkFile {
  products: number;
  item(index: number): StagedItem;
}

/**
 * Where the body of a chunk line as encodeItem writes it begins (`{"bodyLength":N,…,"body":` and the N bytes of an
 * ASCII body before its closing brace), or -1 for any other form, and for a line that is not ASCII (its `bodyLength`
 * counts characters, not bytes); `ascii`: the whole file is, no need to look. Reads no key and allocates nothing: this
 * is all a submission needs of each line.
 */
function bodyStartOf(bytes: Buffer, start: number, end: number, ascii: boolean): number {
  if (!bytesAt(bytes, start, BODY_LENGTH_BYTES)) return -1;
  const bodyLength = digitsAt(bytes, start + BODY_LENGTH_BYTES.length, end);
  if (bodyLength.end === start + BODY_LENGTH_BYTES.length) return -1;
  const bodyStart = end - 1 - bodyLength.value;
  if (bodyStart <= bodyLength.end || !bytesAt(bytes, bodyStart - BODY_BYTES.length, BODY_BYTES)) return -1;
  return ascii || isAscii(bytes.subarray(start, end)) ? bodyStart : -1;
}

/**
 * A chunk read whole, each product decoded only when asked for (lines that are not ASCII, or of the format before
 * `bodyLength`, at once). Damage throws as readChunk's does.
 */
export async function readChunkFile(store: StagingStore, importId: string, id: string): Promise<ChunkFile> {
  let file: Buffer = Buffer.alloc(0);
  // Two numbers a product: where its line starts and ends in `file` (-1: decoded).
  const at: number[] = [];
  const decoded = new Map<number, StagedItem>();
  let allAscii = false;
  const keep = (item: StagedItem): void => {
    decoded.set(at.length / 2, item);
    at.push(-1, -1);
  };
  const known = await readWholeFile<void>(
    store,
    chunkKey(importId, id),
    (text) => keep(decodeItem(text)),
    (text) => keep(checkedDecodeItem(text)),
    (bytes, start, end) => {
      if (allAscii || isAscii(bytes.subarray(start, end))) at.push(start, end);
      else keep(decodeItem(bytes.toString('utf8', start, end)));
    },
    (bytes) => {
      file = bytes;
      allAscii = isAscii(bytes);
    },
  );
  return {
    products: known.length,
    item: (i) => decoded.get(i) ?? decodeItem(file.toString('utf8', at[2 * i], at[2 * i + 1])),
  };
}

/**
 * A chunk's products as a synchronous target sends them: each body a view of the file's bytes where its line is ASCII
 * and of encodeItem's form (no string made of it, none encoded back for the request), decoded otherwise. Damage
 * throws as readChunk's does.
 */
export function readChunkToSubmit(store: StagingStore, importId: string, id: string): Promise<SubmitItem[]> {
  let allAscii = false;
  return readWholeFile<SubmitItem>(
    store,
    chunkKey(importId, id),
    decodeItem,
    checkedDecodeItem,
    (bytes, start, end) => {
      const bodyStart = bodyStartOf(bytes, start, end, allAscii);
      const head = bodyStart < 0 ? undefined : headOfBytes(bytes, start, end);
      if (!head) return decodeItem(bytes.toString('utf8', start, end));
      return { line: head.line, key: head.key, body: bytes.subarray(bodyStart, end - 1) };
    },
    (bytes) => {
      allAscii = isAscii(bytes);
    },
  );
}

// ---- a chunk streamed to a target ----------------------------------------------------------

/**
 * A chunk's request body is copied into pieces of this size as it is streamed to a target. Each piece read from the
 * store (1 MiB) gives several, written in one turn of the event loop: as fast as 1 MiB pieces (Voucherify 200k, 3.0
 * against 2.9 s), with a sixteenth of the memory in flight.
 */
const SEND_PIECE_BYTES = 64 * 1024;
const SEND_FACTS = /^\{"send":(\{"products":\d+,"bodyBytes":\d+,"sha256":"[0-9a-f]{64}"\}),/;

/**
 * A chunk as an asynchronous target sends it: its bodies streamed from its file in pieces, never the whole file or the
 * whole body in memory (each was 10 MB or more, four chunks in flight). Its count, body bytes and checksum come from its
 * heads file (a chunk staged before they were there is read once to measure them). Damage throws StagingDamaged here,
 * or ends the body's stream before its last piece: a request is never whole unless the file is.
 */
export async function chunkToSend(store: StagingStore, importId: string, id: string): Promise<ChunkToSend> {
  const key = chunkKey(importId, id);
  const facts = (await readSendFacts(store, headsKey(importId, id))) ?? (await measureChunk(store, key));
  let failed: Error | undefined;
  return {
    products: facts.products,
    heads: () => readChunkHeads(store, importId, id),
    body(head, tail) {
      const bodyEnd = Buffer.byteLength(head) + facts.bodyBytes + Math.max(0, facts.products - 1);
      return {
        bytes: bodyEnd + Buffer.byteLength(tail),
        // The chunk file's checksum names its bodies: no second hash of 10 MB.
        sha256: createHash('sha256').update(`${head}\n${facts.sha256}\n${tail}`).digest('hex'),
        get failed() {
          return failed;
        },
        open() {
          failed = undefined;
          const pieces = streamBody(store, key, facts, head, bodyEnd, tail, (err) => {
            failed = err;
          });
          return Readable.from(pieces, { objectMode: false });
        },
      };
    },
  };
}

/** A chunk's SendFacts from the start of its heads file, when the file is intact and has them. */
async function readSendFacts(store: StagingStore, key: string): Promise<SendFacts | undefined> {
  if (!store.readBytes) return undefined;
  let bytes: Buffer;
  try {
    bytes = await store.readBytes(key);
  } catch {
    return undefined; // missing or unreadable: the chunk tells
  }
  const end = sealedDataEnd(bytes);
  const facts = end === undefined ? undefined : SEND_FACTS.exec(bytes.toString('latin1', 0, Math.min(end, 200)))?.[1];
  return facts === undefined ? undefined : (JSON.parse(facts) as SendFacts);
}

/** A chunk's SendFacts read from the chunk itself (staged before its heads file had them). */
async function measureChunk(store: StagingStore, key: string): Promise<SendFacts> {
  let products = 0;
  let bodyBytes = 0;
  try {
    const scan = scanBodies(store, key, (_bytes, start, end) => {
      products++;
      bodyBytes += end - start;
    });
    for (;;) {
      const next = await scan.next();
      if (next.done) return { products, bodyBytes, sha256: next.value };
    }
  } catch (err) {
    throw err instanceof StagingFileDamage ? stagingDamaged(err) : err;
  }
}

/**
 * A chunk's request body, piece by piece. The last piece, with the tail, goes out only once the whole file has proved
 * intact and the same as staged (its count, bytes and checksum): a damaged file ends the stream with StagingDamaged
 * before the request is whole, so the target never takes it. `onFail` hears of any failure first.
 */
async function* streamBody(
  store: StagingStore,
  key: string,
  facts: SendFacts,
  head: string,
  bodyEnd: number,
  tail: string,
  onFail: (err: Error) => void,
): AsyncGenerator<Buffer> {
  const out = new BodyPieces();
  out.text(head);
  let products = 0;
  try {
    const scan = scanBodies(store, key, (bytes, start, end) => {
      if (products++ > 0) out.comma();
      out.bytes(bytes, start, end);
    });
    for (;;) {
      const next = await scan.next();
      if (out.written > bodyEnd) throw new StagingFileDamage(key, 'its bodies are longer than when it was staged');
      if (next.done) {
        if (next.value !== facts.sha256 || products !== facts.products || out.written !== bodyEnd)
          throw new StagingFileDamage(key, 'not the file that was staged');
        break;
      }
      yield* out.take();
    }
  } catch (err) {
    const failure = err instanceof StagingFileDamage ? stagingDamaged(err) : (err as Error);
    onFail(failure);
    throw failure;
  }
  out.text(tail);
  yield* out.take(true);
}

/** Bytes gathered into pieces of SEND_PIECE_BYTES: a stream of a few large writes, not one per product. */
class BodyPieces {
  written = 0;
  private piece = Buffer.allocUnsafe(SEND_PIECE_BYTES);
  private at = 0;
  private full: Buffer[] = [];

  bytes(from: Buffer, start: number, end: number): void {
    while (start < end) {
      const n = Math.min(end - start, this.piece.length - this.at);
      from.copy(this.piece, this.at, start, start + n);
      this.at += n;
      this.written += n;
      start += n;
      if (this.at === this.piece.length) this.next();
    }
  }

  text(text: string): void {
    const bytes = Buffer.from(text);
    this.bytes(bytes, 0, bytes.length);
  }

  comma(): void {
    this.piece[this.at++] = 0x2c;
    this.written++;
    if (this.at === this.piece.length) this.next();
  }

  /** The pieces filled so far; with `all`, the one being filled too. */
  take(all = false): Buffer[] {
    if (all && this.at > 0) {
      this.full.push(this.piece.subarray(0, this.at));
      this.at = 0;
    }
    const full = this.full;
    this.full = [];
    return full;
  }

  private next(): void {
    this.full.push(this.piece);
    this.piece = Buffer.allocUnsafe(SEND_PIECE_BYTES);
    this.at = 0;
  }
}

/**
 * Reads a chunk file in pieces and checks it against its seal as it goes (as SealCheck does: blank lines are no lines),
 * giving each product's body to `take` as a range of bytes: an ASCII line's in the piece it is in (not copied), any
 * other line's decoded first (its `bodyLength` counts characters) and encoded again. Yields after each piece, so that a
 * caller can pass on what it made of it. Damage throws StagingFileDamage, at the latest once the file has ended; the
 * scan returns the checksum of the file's data.
 */
async function* scanBodies(
  store: StagingStore,
  key: string,
  take: (bytes: Buffer, start: number, end: number) => void,
): AsyncGenerator<void, string> {
  const check = new SealCheck(key);
  const { hash } = check;
  /** A line (`end`: its newline); whether it is data, to be hashed. */
  const line = (bytes: Buffer, start: number, end: number, ascii: boolean): boolean => {
    if (end === start) return false;
    if (!check.counted(bytesAt(bytes, start, SEAL_PREFIX_BYTES) ? bytes.toString('utf8', start, end) : undefined)) return false;
    const bodyStart = bodyStartOf(bytes, start, end, ascii);
    if (bodyStart > 0) {
      take(bytes, bodyStart, end - 1);
      return true;
    }
    let body: Buffer;
    try {
      body = Buffer.from(decodeItem(bytes.toString('utf8', start, end)).body);
    } catch {
      throw new StagingFileDamage(key, `garbage: line ${check.lines} is not JSON`);
    }
    take(body, 0, body.length);
    return true;
  };
  /** The start of a line cut by the end of the piece before. */
  let carry: Buffer | undefined;
  try {
    for await (const piece of store.readStream(key) as AsyncIterable<Buffer>) {
      let from = 0;
      if (carry) {
        const newline = piece.indexOf(NEWLINE);
        if (newline < 0) {
          carry = Buffer.concat([carry, piece]);
          continue;
        }
        const whole = Buffer.concat([carry, piece.subarray(0, newline + 1)]);
        carry = undefined;
        if (line(whole, 0, whole.length - 1, isAscii(whole))) hash.update(whole);
        from = newline + 1;
      }
      const ascii = isAscii(piece);
      // Data lines are hashed a run at a time, not one by one.
      let runFrom = from;
      for (let start = from; ; ) {
        const end = piece.indexOf(NEWLINE, start);
        if (end < 0) {
          hash.update(piece.subarray(runFrom, start));
          if (start < piece.length) carry = Buffer.from(piece.subarray(start));
          break;
        }
        if (!line(piece, start, end, ascii)) {
          hash.update(piece.subarray(runFrom, start));
          runFrom = end + 1;
        }
        start = end + 1;
      }
      yield;
    }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StagingFileDamage(key, 'missing');
    throw err;
  }
  // A last line without its newline is a line all the same.
  if (carry && line(Buffer.concat([carry, Buffer.of(NEWLINE)]), 0, carry.length, isAscii(carry))) hash.update(carry).update('\n');
  return check.end();
}

/** One line per product of a chunk attempt. */
export type OutcomeLine = { line: number; key: string } & ItemOutcome;

const OUTCOME_HEAD_BYTES = Buffer.from('{"line":');
const SUCCEEDED_TAIL = '","kind":"succeeded"}';
const SUCCEEDED_TAIL_BYTES = Buffer.from(SUCCEEDED_TAIL);
const SUCCEEDED_TAIL_REST = SUCCEEDED_TAIL.slice(1);

/** An outcome line in this version's words, whichever version wrote it. */
function outcomeOfLine(l: Record<string, unknown> & { line: number; key: string }): OutcomeLine {
  return { line: l.line, key: l.key, ...storedOutcome(l) };
}

/**
 * An outcome line from its bytes. A success as writeOutcomes writes it (`{"line":…,"key":"…","kind":"succeeded"}`), its
 * key free of escapes, is read without JSON.parse: most lines of most imports. Anything else is parsed.
 */
function outcomeOfBytes(bytes: Buffer, start: number, end: number): StoredOutcomeLine {
  const tailAt = end - SUCCEEDED_TAIL_BYTES.length;
  if (bytesAt(bytes, start, OUTCOME_HEAD_BYTES) && bytesAt(bytes, tailAt, SUCCEEDED_TAIL_BYTES)) {
    const line = digitsAt(bytes, start + OUTCOME_HEAD_BYTES.length, tailAt);
    const keyStart = line.end + KEY_BYTES.length;
    if (line.end > start + OUTCOME_HEAD_BYTES.length && bytesAt(bytes, line.end, KEY_BYTES) && keyStart <= tailAt) {
      if (plainBetween(bytes, keyStart, tailAt))
        return { line: line.value, key: bytes.toString('utf8', keyStart, tailAt), kind: 'succeeded' };
    }
  }
  return decodeOutcomeLine(bytes.toString('utf8', start, end));
}

/**
 * The one line of the outcome file of a chunk whose products all succeeded, in source order (its rows are kept beside
 * it: rows.ts): its products are its heads. A line for each product cost a quarter of a second a million, to say what
 * the rows say again. Not JSON: a worker of the version before fails on it rather than read it wrong
 * (docs/versioning.md, rule 3), and it reads outcomes only where the rows are damaged.
 */
const allSucceededLine = (products: number) => `{"products":${products},"all":=succeeded}`;
const ALL_SUCCEEDED = /^\{"products":(\d+),"all":=succeeded\}$/;

/** An outcome file's line: a product's outcome, or the one line of a chunk whose products all succeeded. */
type StoredOutcomeLine = OutcomeLine | { allSucceeded: number };

/** A chunk's outcome lines, in this version's words whichever version wrote them. */
export async function readOutcomes(store: StagingStore, importId: string, id: string): Promise<OutcomeLine[]> {
  const key = outcomeKey(importId, id);
  const lines = await readOutcomeLines(store, key);
  const all = lines.length === 1 && 'allSucceeded' in lines[0]! ? lines[0].allSucceeded : undefined;
  if (all === undefined) return productLines(key, lines);
  const heads = await readChunkHeads(store, importId, id);
  if (heads.length !== all)
    throw stagingDamaged(new StagingFileDamage(key, `it says all ${all} products succeeded, and the chunk holds ${heads.length}`));
  return heads.map(({ line, key: k }) => ({ line, key: k, kind: 'succeeded' }));
}

/**
 * How many products a chunk's outcome file says all succeeded, or undefined when it says anything else or is damaged
 * (a reader of its outcomes finds out why); a file that cannot be read for another reason throws.
 */
export async function allSucceededOf(store: StagingStore, importId: string, id: string): Promise<number | undefined> {
  let lines: StoredOutcomeLine[];
  try {
    lines = await readOutcomeLines(store, outcomeKey(importId, id));
  } catch (err) {
    if (damageOf(err)) return undefined;
    throw err;
  }
  return lines.length === 1 && 'allSucceeded' in lines[0]! ? lines[0].allSucceeded : undefined;
}

function decodeOutcomeLine(text: string): StoredOutcomeLine {
  const all = ALL_SUCCEEDED.exec(text);
  return all ? { allSucceeded: Number(all[1]) } : outcomeOfLine(JSON.parse(text));
}

function readOutcomeLines(store: StagingStore, key: string): Promise<StoredOutcomeLine[]> {
  return readWholeFile(store, key, decodeOutcomeLine, decodeOutcomeLine, outcomeOfBytes);
}

/** The lines of a file of outcomes a product each; throws StagingDamaged if one is a chunk's line for all its products. */
function productLines(key: string, lines: StoredOutcomeLine[]): OutcomeLine[] {
  if (lines.some((l) => 'allSucceeded' in l))
    throw stagingDamaged(new StagingFileDamage(key, 'garbage: a line for all products among others'));
  return lines as OutcomeLine[];
}

/** The outcome file of a chunk whose products all succeeded (see allSucceededLine): its rows come after it. */
export function writeAllSucceeded(store: StagingStore, importId: string, id: string, products: number): Promise<void> {
  return writeLines(store, outcomeKey(importId, id), [allSucceededLine(products)]);
}

export async function writeOutcomes(
  store: StagingStore,
  importId: string,
  id: string,
  items: readonly ItemHead[],
  outcomes: readonly ItemOutcome[],
): Promise<void> {
  await writeOutcomeLines(store, outcomeKey(importId, id), items, outcomes);
}

/** Outcome lines of the products that have an outcome (all of them, but in a kept file). */
async function writeOutcomeLines(
  store: StagingStore,
  key: string,
  items: readonly ItemHead[],
  outcomes: readonly (ItemOutcome | undefined)[],
): Promise<void> {
  const file = new SealedFile();
  for (let i = 0; i < items.length; i++) {
    const outcome = outcomes[i];
    if (!outcome) continue;
    const { line, key: k } = items[i]!;
    // A success written in parts: the same bytes as JSON.stringify's, for most lines of most imports.
    if (outcome.kind === 'succeeded') addSucceeded(file, line, k, SUCCEEDED_TAIL_REST);
    else file.add(JSON.stringify({ line, key: k, ...outcome }));
  }
  await writeSealed(store, key, file);
}

/** A line `{"line":…,"key":…` and `tail` (which closes the object), written in parts: an outcome's, a report row's. */
export function addSucceeded(file: SealedFile, line: number, key: string, tail: string): void {
  file.room(64 + tail.length + 6 * key.length);
  file.ascii('{"line":');
  file.int(line);
  file.ascii(',"key":');
  file.json(key);
  file.ascii(tail);
  file.endLine();
}

/** Keeps the outcomes a failing attempt got (keptKey): those its chunk's next attempt need not send for. */
export function keepOutcomes(
  store: StagingStore,
  importId: string,
  id: string,
  items: readonly ItemHead[],
  outcomes: readonly (ItemOutcome | undefined)[],
): Promise<void> {
  return writeOutcomeLines(store, keptKey(importId, id), items, outcomes);
}

/**
 * The outcomes an earlier attempt kept, by the index of their product in `items` (matched by line and key), or
 * undefined when none were kept. A damaged kept file is not trusted: its products are sent again.
 */
export async function keptOutcomes(
  store: StagingStore,
  importId: string,
  id: string,
  items: readonly ItemHead[],
): Promise<(ItemOutcome | undefined)[] | undefined> {
  const key = keptKey(importId, id);
  if (!(await store.exists(key))) return undefined;
  let lines: OutcomeLine[];
  try {
    lines = productLines(key, await readOutcomeLines(store, key));
  } catch {
    return [];
  }
  const byLine = new Map(lines.map(({ line, key: k, ...outcome }) => [line, { key: k, outcome }]));
  return items.map((item) => {
    const kept = byLine.get(item.line);
    return kept?.key === item.key ? (kept.outcome as ItemOutcome) : undefined;
  });
}

/** Reads a whole (small) sealed file: nothing is returned unless all of it is intact. */
export function readAllJsonLines<T>(store: StagingStore, key: string): Promise<T[]> {
  return readWholeFile(store, key, (text) => JSON.parse(text) as T);
}

/**
 * A whole sealed file, each line decoded, at once (one read, not a promise per line); any damage, a line that does
 * not decode included, throws a nonretryable StagingDamaged failure. A file that fails the one-pass check is read line
 * by line with `checkedDecode`, which parses what `decode` leaves as text, so garbage is named as such.
 */
async function readWholeFile<T>(
  store: StagingStore,
  key: string,
  decode: (text: string) => T,
  checkedDecode: (text: string) => T = decode,
  /** Decodes a line of an intact file from its bytes (`start` to `end`, its newline), without making it a string. */
  decodeBytes: (bytes: Buffer, start: number, end: number) => T = (bytes, start, end) => decode(bytes.toString('utf8', start, end)),
  /** Called once with the file's bytes when it is intact, before its lines are decoded. */
  onBytes?: (bytes: Buffer) => void,
): Promise<T[]> {
  const values: T[] = [];
  let decodeLine = decode;
  // Decoded as checked, so that garbage is named as such before the seal's verdict, as the streaming readers do.
  const take = (text: string | undefined, decoded?: () => T) => {
    try {
      values.push(decoded ? decoded() : decodeLine(text!));
    } catch {
      throw new StagingFileDamage(key, `garbage: line ${values.length + 1} is not JSON`);
    }
  };
  try {
    if (store.readBytes) {
      let bytes: Buffer;
      try {
        bytes = await store.readBytes(key);
      } catch (err) {
        throw (err as NodeJS.ErrnoException).code === 'ENOENT' ? new StagingFileDamage(key, 'missing') : err;
      }
      const intact = intactLineEnds(bytes);
      if (intact) {
        onBytes?.(bytes);
        // Line by line from the bytes: small strings at most, which the young generation frees at once.
        for (let i = 0, start = 0; i < intact.length; start = intact[i]! + 1, i++) {
          const end = intact[i]!;
          take(undefined, () => decodeBytes(bytes, start, end));
        }
      } else {
        // Damaged or unusual: line by line, so that the verdict names the damage exactly.
        decodeLine = checkedDecode;
        const check = new SealCheck(key);
        for (const line of bytes.toString('utf8').split('\n')) if (line && check.line(line)) take(line);
        check.end();
      }
    } else {
      decodeLine = checkedDecode;
      for await (const line of readSealedLines(store, key)) take(line);
    }
    return values;
  } catch (err) {
    throw err instanceof StagingFileDamage ? stagingDamaged(err) : err;
  }
}

// ---- seals --------------------------------------------------------------------------------
// Every staging file ends with a seal line holding its line count and checksum, so that a file
// deleted, cut short or overwritten while an import runs is noticed instead of read as fewer products.

export const StagingDamagedType = 'StagingDamaged';
const SEAL_PREFIX = '{"#seal":';

interface Seal {
  lines: number;
  sha256: string;
}

/** What is wrong with a staging file, in a few words: "missing", "truncated: 3 of 10 lines", ... */
export class StagingFileDamage extends Error {
  constructor(
    readonly key: string,
    readonly damage: string,
  ) {
    super(`staging file ${key} is damaged (${damage})`);
  }
}

/** The file a key names, for messages: the chunk id for chunk and outcome files, else the file's path in the import. */
export function describeStagingFile(key: string): string {
  const m = /\/(chunks|outcomes|heads)\/([^/]+)\.jsonl$/.exec(key);
  if (m) return m[1] === 'chunks' ? `chunk ${m[2]}` : `${m[1]} of chunk ${m[2]}`;
  return key.replace(/^imports\/[^/]+\//, '');
}

export const STAGING_FIX =
  'Staging files must not be changed while an import runs (keep BULKPORT_STAGING_DIR, or the prefix of BULKPORT_STAGING_URL, for bulkport alone); ' +
  'check the target for the products concerned, then import them again under a new --id';

export function stagingDamaged(damage: StagingFileDamage): ApplicationFailure {
  return ApplicationFailure.create({
    type: StagingDamagedType,
    nonRetryable: true,
    message: `${describeStagingFile(damage.key)} is damaged (${damage.damage}): ${STAGING_FIX}`,
    details: [{ file: damage.key, damage: damage.damage }],
  });
}

/** Counts and hashes lines as they are written. */
class Sealer {
  private hash = createHash('sha256');
  private lines = 0;
  add(line: string): void {
    this.hash.update(line).update('\n');
    this.lines++;
  }
  seal(): Seal {
    return { lines: this.lines, sha256: this.hash.digest('hex') };
  }
}

/** A writer whose file ends with a seal: use it for every staging file the report relies on. */
export async function createSealedWriter(store: StagingStore, key: string): Promise<LineWriter> {
  const writer = await store.createWriter(key);
  const sealer = new Sealer();
  return {
    async write(line) {
      sealer.add(line);
      await writer.write(line);
    },
    async close() {
      await writer.write(`${SEAL_PREFIX}${JSON.stringify(sealer.seal())}}`);
      await writer.close();
    },
    abort: () => writer.abort(),
  };
}

/**
 * The lines of a sealed file, checked against its seal. Lines are yielded as they are read, so a
 * streaming reader learns of damage at the end (throws StagingFileDamage); use readAllJsonLines to learn it first.
 */
export async function* readSealedLines(store: StagingStore, key: string): AsyncIterable<string> {
  const check = new SealCheck(key);
  try {
    for await (const text of store.readLines(key)) if (check.line(text)) yield text;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new StagingFileDamage(key, 'missing');
    throw err;
  }
  check.end();
}

/** Checks a sealed file's lines as they come: `line` says whether one is data (not the seal), `end` checks the seal. */
class SealCheck {
  /** The data lines' hash, each with its newline: `line` adds to it; a caller of `counted` adds them itself. */
  readonly hash = createHash('sha256');
  private seal: Seal | undefined;
  private n = 0;
  /** Data lines so far. */
  lines = 0;

  constructor(private readonly key: string) {}

  line(text: string): boolean {
    if (!this.counted(text.startsWith(SEAL_PREFIX) ? text : undefined)) return false;
    this.hash.update(text).update('\n');
    return true;
  }

  /**
   * Counts a (non-empty) line, and keeps the seal when it is one (`seal`: its text, given only then: a closure a line
   * to give it was 100 MB of garbage a million products sent); whether it is data.
   */
  counted(seal: string | undefined): boolean {
    this.n++;
    if (this.seal) throw new StagingFileDamage(this.key, `line ${this.n} follows the seal`);
    if (seal !== undefined) {
      this.seal = parseSeal(this.key, seal);
      return false;
    }
    this.lines++;
    return true;
  }

  /** Checks the data against the seal; returns the data's checksum. */
  end(): string {
    const sha256 = this.hash.digest('hex');
    const { key, seal, lines } = this;
    if (!seal) throw new StagingFileDamage(key, `no seal: truncated or not written by bulkport, ${lines} line(s) left`);
    if (lines !== seal.lines) throw new StagingFileDamage(key, `truncated: ${lines} of ${seal.lines} lines`);
    if (sha256 !== seal.sha256) throw new StagingFileDamage(key, 'checksum mismatch');
    return sha256;
  }
}

function parseSeal(key: string, text: string): Seal {
  try {
    const seal = (JSON.parse(text) as { '#seal': Seal })['#seal'];
    if (Number.isInteger(seal.lines) && typeof seal.sha256 === 'string') return seal;
  } catch {
    // reported below
  }
  throw new StagingFileDamage(key, 'garbage seal line');
}

/** JSON lines of a sealed staging file; any damage throws a nonretryable StagingDamaged failure. */
export async function* readJsonLines<T>(store: StagingStore, key: string): AsyncIterable<T> {
  try {
    let n = 0;
    for await (const text of readSealedLines(store, key)) {
      n++;
      let value: T;
      try {
        value = JSON.parse(text) as T;
      } catch {
        throw new StagingFileDamage(key, `garbage: line ${n} is not JSON`);
      }
      yield value;
    }
  } catch (err) {
    throw err instanceof StagingFileDamage ? stagingDamaged(err) : err;
  }
}

/** The damage a StagingDamaged failure describes, if that is what `err` is. */
export function damageOf(err: unknown): { file: string; damage: string } | undefined {
  if (err instanceof ApplicationFailure && err.type === StagingDamagedType) return err.details?.[0] as { file: string; damage: string };
  return undefined;
}

export const NEWLINE = 0x0a;
const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const SEAL_BYTES = Buffer.from(`\n${SEAL_PREFIX}`);
const SEAL_PREFIX_BYTES = SEAL_BYTES.subarray(1);

/** Where a whole sealed file's seal line starts, and the seal, when its last line is one (the data is not checked). */
function sealAtEnd(bytes: Buffer): { sealStart: number; seal: Seal } | undefined {
  const sealStart = bytes.lastIndexOf(SEAL_BYTES) + 1;
  if (sealStart === 0 && !bytes.subarray(0, SEAL_BYTES.length - 1).equals(SEAL_BYTES.subarray(1))) return undefined;
  if (bytes.length < 2 || bytes[bytes.length - 1] !== NEWLINE || bytes[bytes.length - 2] !== 0x7d /* } */) return undefined;
  try {
    const seal = JSON.parse(bytes.toString('utf8', sealStart + SEAL_PREFIX.length, bytes.length - 2)) as Seal | undefined;
    return { sealStart, seal: seal ?? ({} as Seal) };
  } catch {
    return undefined;
  }
}

const sha256Of = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/**
 * Where the data of a whole sealed file ends (its seal line starts), when the data hashes to the seal's checksum: for a
 * reader that finds its way by offsets it wrote, and so need not find every line.
 */
export function sealedDataEnd(bytes: Buffer): number | undefined {
  const sealed = sealAtEnd(bytes);
  return sealed && sha256Of(bytes.subarray(0, sealed.sealStart)) === sealed.seal.sha256 ? sealed.sealStart : undefined;
}

/**
 * Where each data line of a whole sealed file ends (the offset of its newline), found in one pass (one hash of its
 * bytes, not one per line), or undefined when the file is not exactly what writeLines writes with a matching seal: the
 * caller then checks it line by line for the verdict.
 */
function intactLineEnds(bytes: Buffer): number[] | undefined {
  const sealed = sealAtEnd(bytes);
  if (!sealed) return undefined;
  const { sealStart, seal } = sealed;
  const ends: number[] = [];
  for (let start = 0; start < sealStart; ) {
    const end = bytes.indexOf(NEWLINE, start);
    // An empty line, or a seal line among the data, is not what writeLines writes.
    if (end === start || bytesAt(bytes, start, SEAL_PREFIX_BYTES)) return undefined;
    ends.push(end);
    start = end + 1;
  }
  if (ends.length !== seal.lines) return undefined;
  return sha256Of(bytes.subarray(0, sealStart)) === seal.sha256 ? ends : undefined;
}

/** Lines written at once by SealedFile.addAll. */
const BLOCK_LINES = 256;

/** A file's bytes are written into pieces of this size at most (the first ones smaller), hashed as each is filled. */
const PIECE_BYTES = 1 << 20;
const FIRST_PIECE_BYTES = 16 * 1024;

/**
 * A sealed staging file built a line at a time, as bytes: each line's parts are encoded straight into a piece of the
 * file (no string per line, none as large as the file), and pieces are hashed as they fill. Pieces start small and
 * double, so that the many small files (outcomes, heads) stay small.
 */
export class SealedFile {
  private readonly hash = createHash('sha256');
  private readonly pieces: Buffer[] = [];
  private piece = Buffer.allocUnsafe(FIRST_PIECE_BYTES);
  private at = 0;
  /** Bytes in the pieces before the one being filled. */
  private before = 0;
  lines = 0;
  /** Its seal, once finished. */
  sealed: Seal | undefined;

  /** The file's size so far: where the next line starts. */
  get size(): number {
    return this.before + this.at;
  }

  /** `out` takes each piece as it is filled, the seal last, instead of the file keeping them for finish. */
  constructor(private readonly out?: (bytes: Buffer) => void) {}

  /**
   * A line (its newline is added); returns its bytes. Its own copy of `addAll`'s write: a shared method cost 15 % of
   * staging's CPU.
   */
  add(line: string): number {
    const most = line.length * 3 + 1;
    if (this.at + most > this.piece.length) this.next(most);
    const bytes = this.piece.write(line, this.at);
    this.at += bytes;
    this.piece[this.at++] = NEWLINE;
    this.lines++;
    return bytes;
  }

  /** Lines, gathered into blocks: one write per block costs far less than one per short line (a row, an outcome). */
  addAll(lines: Iterable<string>): void {
    let block = '';
    let n = 0;
    const write = () => {
      const most = block.length * 3;
      if (this.at + most > this.piece.length) this.next(most);
      this.at += this.piece.write(block, this.at);
      this.lines += n;
      [block, n] = ['', 0];
    };
    for (const line of lines) {
      block += `${line}\n`;
      if (++n === BLOCK_LINES) write();
    }
    if (n) write();
  }

  /*
   * A line built in parts, straight into the piece: `room` first (for the line, its newline included), then its parts,
   * then `endLine`. No string is made for the line: the rows and outcomes of a million products made 1.3 GB of strings
   * that lived only to be copied into a piece, and each 16 MB of them cost a scavenge.
   */

  /** Room for a line of at most `most` bytes, its newline included. */
  room(most: number): void {
    if (this.at + most > this.piece.length) this.next(most);
  }

  /** Text known to be ASCII: a constant of the format. */
  ascii(text: string): void {
    const { piece } = this;
    let { at } = this;
    for (let i = 0; i < text.length; i++) piece[at++] = text.charCodeAt(i);
    this.at = at;
  }

  /** A whole number as `String` writes it. */
  int(n: number): void {
    if (!(Number.isSafeInteger(n) && n >= 0)) {
      this.ascii(String(n));
      return;
    }
    let digits = 1;
    for (let rest = n; rest >= 10; rest = Math.floor(rest / 10)) digits++;
    const { piece } = this;
    let at = this.at + digits;
    this.at = at;
    for (let rest = n; digits-- > 0; rest = Math.floor(rest / 10)) piece[--at] = 48 + (rest % 10);
  }

  /** Any text, as UTF-8; returns its bytes (its room: 3 a character). */
  text(text: string): number {
    // A short text costs less copied here than in a call to the encoder, when it is ASCII, as most keys are.
    if (text.length < 32) {
      const { piece, at } = this;
      let i = 0;
      for (; i < text.length && text.charCodeAt(i) <= 0x7f; i++) piece[at + i] = text.charCodeAt(i);
      // All of it ASCII: copied. Else what was copied is written over by the encoder.
      if (i === text.length) {
        this.at += i;
        return i;
      }
    }
    const bytes = this.piece.write(text, this.at);
    this.at += bytes;
    return bytes;
  }

  /** A string as `JSON.stringify` writes it (its room: 6 a character, and 2). */
  json(text: string): void {
    const { piece } = this;
    const start = this.at;
    let at = start;
    piece[at++] = QUOTE;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      // An escape, or a character of more than one byte: JSON.stringify's own words.
      if (c < 0x20 || c > 0x7e || c === QUOTE || c === BACKSLASH) {
        this.at = start;
        this.at += this.piece.write(JSON.stringify(text), start);
        return;
      }
      piece[at++] = c;
    }
    piece[at++] = QUOTE;
    this.at = at;
  }

  endLine(): void {
    this.piece[this.at++] = NEWLINE;
    this.lines++;
  }

  /** The file's bytes, its seal line last (none: all went to `out`). */
  finish(): Buffer[] {
    this.next(0);
    const seal: Seal = { lines: this.lines, sha256: this.hash.digest('hex') };
    this.sealed = seal;
    const sealLine = Buffer.from(`${SEAL_PREFIX}${JSON.stringify(seal)}}\n`);
    if (!this.out) return [...this.pieces, sealLine];
    this.out(sealLine);
    return [];
  }

  /** Closes the piece being filled and starts one with room for `room` bytes. */
  private next(room: number): void {
    if (this.at > 0) {
      // A piece filled to less than half is copied, so as not to keep the rest of it.
      const bytes = this.at * 2 < this.piece.length ? Buffer.from(this.piece.subarray(0, this.at)) : this.piece.subarray(0, this.at);
      this.hash.update(bytes);
      this.before += bytes.length;
      if (this.out) this.out(bytes);
      else this.pieces.push(bytes);
    }
    if (room === 0) return;
    this.piece = Buffer.allocUnsafe(Math.max(room, Math.min(PIECE_BYTES, this.piece.length * 2)));
    this.at = 0;
  }
}

/** Writes a sealed file built with SealedFile: at once where the store can, else line by line (the same bytes). */
export async function writeSealed(store: StagingStore, key: string, file: SealedFile): Promise<void> {
  const bytes = file.finish();
  if (store.writeText) return store.writeText(key, bytes);
  // The data pieces (the seal, last, is the line writer's to add) back into their lines.
  const lines = bytes.slice(0, -1).flatMap((piece) => piece.toString('utf8', 0, piece.length - 1).split('\n'));
  await writeByLines(store, key, lines);
}

/** Writes a whole sealed staging file at once where the store can (see SealedFile), else line by line. */
export async function writeLines(store: StagingStore, key: string, lines: Iterable<string>): Promise<void> {
  if (!store.writeText) return writeByLines(store, key, lines);
  const file = new SealedFile();
  file.addAll(lines);
  await writeSealed(store, key, file);
}

/** The sealed line writer, for stores that cannot write a file at once. */
async function writeByLines(store: StagingStore, key: string, lines: Iterable<string>): Promise<void> {
  const writer = await createSealedWriter(store, key);
  try {
    for (const line of lines) await writer.write(line);
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

export interface InvalidRow {
  line: number;
  key?: string;
  errors: { path: string; message: string }[];
  raw?: unknown;
  /** The source text when the row could not be parsed at all. */
  text?: string;
}

export const describeErrors = (errors: InvalidRow['errors']) =>
  errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');

/** Facts about the source that the report needs to write failed records in the source's own format. */
export interface ImportMeta {
  format: 'jsonl' | 'csv' | 'json';
  columns?: string[];
  source: string;
  /** Stage's counts: the report must account for every record read, in `chunks` round-0 chunks. */
  counts?: { read: number; valid: number; invalid: number; chunks: number; unchanged?: number };
  /** Why staging stopped before the end of the source (the report covers the records read until then). */
  incomplete?: string;
}

/** Staging's progress file: chunks committed (r0-0 … r0-(chunks-1) are complete), records read so far, and whether it ended. */
export interface StagedSoFar {
  chunks: number;
  read: number;
  valid: number;
  invalid: number;
  /** Products delta sync found unchanged (with delta sync on). */
  unchanged?: number;
  done: boolean;
  /** How round 0's first chunk was cut (null: like the others); absent in files written before it was cut short. */
  firstChunkBytes?: number | null;
}

/** Who staged an import id's data: another workflow (or a reset run) must not mix its data in. */
export interface ImportOwner {
  workflowId: string;
  runId: string;
}

export type { LineWriter };

/**
 * One import id names one import's data: the first workflow run that stages under an id claims it,
 * and any other (another workflow id, or a reset or reused run) is refused before it writes anything.
 */
export async function claimImportId(store: StagingStore, importId: string, me: ImportOwner): Promise<void> {
  if (await store.exists(ownerKey(importId))) return assertOwner(store, importId, me);
  await writeLines(store, ownerKey(importId), [JSON.stringify(me)]);
}

/** The workflow run that claimed an import id's data, if one has. */
export async function readImportOwner(store: StagingStore, importId: string): Promise<ImportOwner | undefined> {
  if (!(await store.exists(ownerKey(importId)))) return undefined;
  const [owner] = await readAllJsonLines<ImportOwner>(store, ownerKey(importId));
  return owner;
}

/** Refuses (ImportIdReused) when the id's data belongs to another workflow, or to another run when `me.runId` is given. */
export async function assertOwner(store: StagingStore, importId: string, me: { workflowId: string; runId?: string }): Promise<void> {
  if (!(await store.exists(ownerKey(importId)))) return;
  const owner = await readImportOwner(store, importId);
  if (owner && owner.workflowId === me.workflowId && (me.runId === undefined || owner.runId === me.runId)) return;
  throw ApplicationFailure.create({
    type: 'ImportIdReused',
    nonRetryable: true,
    message:
      `import id ${importId} already names the data of workflow ${owner?.workflowId} (run ${owner?.runId}), ` +
      `not of this one (${me.workflowId}${me.runId ? `, run ${me.runId}` : ''}): one import id names one import's data and report; choose another id`,
    details: [{ importId, owner, refused: me }],
  });
}
