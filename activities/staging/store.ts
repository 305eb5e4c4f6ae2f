/**
 * The claim check: product bodies, outcomes and reports live here, and workflows hold only keys.
 * A local folder by default; an S3-compatible bucket (s3-store.ts) with BULKPORT_STAGING_URL.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { once } from 'node:events';
import type { Readable, Writable } from 'node:stream';
import { S3Store } from './s3-store';

export interface LineWriter {
  write(line: string): Promise<void>;
  /** Makes the whole file visible at once: readers never see half a chunk. */
  close(): Promise<void>;
  abort(): Promise<void>;
}

/** A store's own writer: it also takes lines that are bytes already. */
export interface StoreWriter extends LineWriter {
  /**
   * Lines as bytes, each with its newline (report rows kept as bytes): written as they are, not decoded to be encoded
   * again. Several pieces are queued together and waited for once.
   */
  writeBytes(lines: Buffer | readonly Buffer[]): Promise<void>;
}

/** A file written as its bytes come, in order: visible whole once closed, never if aborted or if a write failed. */
export interface BytesWriter {
  /** Queues the bytes; a failure to write them is close's to throw. */
  write(bytes: Buffer): void;
  close(): Promise<void>;
  abort(): Promise<void>;
}

export interface StagingStore {
  /** Where a key lives, for people (a path or a URL). */
  locate(key: string): string;
  createWriter(key: string): Promise<StoreWriter>;
  readLines(key: string): AsyncIterable<string>;
  /** A file's bytes as a stream (a redrive reads an earlier import's failed records as its source). */
  readStream(key: string): Readable;
  /** A whole (small) file's text at once: far fewer promises than line by line. */
  readText?(key: string): Promise<string>;
  /**
   * A whole file's bytes at once. Staging files are read this way (stores without it are read by lines): a Buffer lives
   * outside the JavaScript heap and is freed as soon as it is dropped, where a 20 MB string waits for a full collection.
   */
  readBytes?(key: string): Promise<Buffer>;
  /** A whole file written at once (text, or its UTF-8 bytes in pieces), visible whole or not at all. Stores without it are written by lines. */
  writeText?(key: string, text: string | readonly Buffer[]): Promise<void>;
  /**
   * A file written while it is built (a chunk, as staging cuts it), so that it is never held whole in memory. Stores
   * without it are given the whole file by writeText.
   */
  openBytes?(key: string): BytesWriter;
  /**
   * Removes the temporary files in folder `dir` of the files whose names `match` accepts: what a killed writer left half
   * written. Returns how many. A bucket has none: the parts of an upload cut short are its lifecycle's to drop (MinIO
   * drops them after a day by itself; README.md, "Retention").
   */
  removeTemporary?(dir: string, match: (name: string) => boolean): Promise<number>;
  /**
   * The entries (files and folders) of one folder whose names start with a base, as keys, sorted: `a/b/r0-` lists
   * `a/b/r0-000000.jsonl`, … ; a prefix ending in `/` lists the whole folder.
   */
  list(prefix: string): Promise<string[]>;
  exists(key: string): Promise<boolean>;
  /** Removes a file, or a folder and everything in it (`a/b` is not `a/bc`). */
  remove(prefix: string): Promise<void>;
  /** The bytes of a file or of everything in a folder, and when it last changed (ms since the epoch); undefined when absent. */
  usage(prefix: string): Promise<{ bytes: number; modifiedMs: number } | undefined>;
}

/**
 * Queues bytes on a stream, several pieces at once (the stream joins what waits into one writev); false when the caller
 * should wait for 'drain'. Waiting after each piece of a report's kept rows (beyond the stream's 16 KiB mark) made the
 * writes one at a time.
 */
export function writeAll(stream: Writable, bytes: Buffer | readonly Buffer[]): boolean {
  if (Buffer.isBuffer(bytes)) return stream.write(bytes);
  let more = true;
  for (const piece of bytes) more = stream.write(piece);
  return more;
}

/** A listing's folder and name base: `a/b/r0-` → `a/b` and `r0-`; `a/b/` → `a/b` and the empty base. */
export function splitListPrefix(prefix: string): { dir: string; base: string } {
  if (prefix.endsWith('/')) return { dir: prefix.slice(0, -1) || '.', base: '' };
  return { dir: path.posix.dirname(prefix), base: path.posix.basename(prefix) };
}

/**
 * Small pieces (SealedFile's first ones) joined into buffers of about this many bytes, one write each: a 22 MB chunk file
 * written as 700 pieces of 32 KB cost the worker's threads and the kernel about twice the CPU of 22 writes of 1 MiB.
 */
const WRITE_BYTES = 1 << 20;

function inWrites(pieces: readonly Buffer[]): Buffer[] {
  const writes: Buffer[] = [];
  for (let from = 0; from < pieces.length; ) {
    let to = from;
    let bytes = 0;
    while (to < pieces.length && (to === from || bytes + pieces[to]!.length <= WRITE_BYTES)) bytes += pieces[to++]!.length;
    writes.push(to - from === 1 ? pieces[from]! : Buffer.concat(pieces.slice(from, to), bytes));
    from = to;
  }
  return writes;
}

/** Temporary files are told apart by process and a counter: two writes of one key in the same millisecond do not collide. */
let tmpCounter = 0;
const tmpPathOf = (finalPath: string) => `${finalPath}.${process.pid}.${++tmpCounter}.tmp`;
/** A temporary file's name (tmpPathOf's) → the name of the file it becomes. */
const TMP_NAME = /^(.+)\.\d+\.\d+\.tmp$/;

/**
 * Runs `create` (which creates a file beside `finalPath`), creating the folder first only when it is missing: a recursive
 * mkdir before each of the many small files an import writes cost more than the folder's rare absence.
 */
async function inFolder<T>(finalPath: string, create: () => Promise<T>): Promise<T> {
  try {
    return await create();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    await mkdir(path.dirname(finalPath), { recursive: true });
    return create();
  }
}

/**
 * Files are streamed in pieces of 1 MiB, not Node's 64 KiB: a chunk streamed to a target moves one piece per turn of
 * the event loop, and staging on the same thread takes a turn per piece of the source. With 64 KiB a 10 MB upload
 * went at staging's pace (Voucherify 200k: 0.6-0.9 s per chunk, against 0.1-0.4 s).
 */
const READ_PIECE_BYTES = 1024 * 1024;

export class LocalFolderStore implements StagingStore {
  constructor(readonly root: string) {}

  locate(key: string): string {
    const resolved = path.resolve(this.root, key);
    if (!resolved.startsWith(path.resolve(this.root) + path.sep)) throw new Error(`staging key escapes the store: ${key}`);
    return resolved;
  }

  async createWriter(key: string): Promise<StoreWriter> {
    const finalPath = this.locate(key);
    await mkdir(path.dirname(finalPath), { recursive: true });
    const tmpPath = tmpPathOf(finalPath);
    const stream = createWriteStream(tmpPath);
    await once(stream, 'open');
    return {
      async write(line) {
        if (!stream.write(`${line}\n`)) await once(stream, 'drain');
      },
      async writeBytes(lines) {
        if (!writeAll(stream, lines)) await once(stream, 'drain');
      },
      async close() {
        await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
        await rename(tmpPath, finalPath);
      },
      async abort() {
        // A write still pending fails once the stream is destroyed: the file is discarded anyway, so that is no error.
        stream.on('error', () => {});
        stream.destroy();
        await rm(tmpPath, { force: true });
      },
    };
  }

  async writeText(key: string, text: string | readonly Buffer[]): Promise<void> {
    const finalPath = this.locate(key);
    const tmpPath = tmpPathOf(finalPath);
    try {
      await inFolder(finalPath, () => writeFile(tmpPath, typeof text === 'string' ? text : inWrites(text)));
      await rename(tmpPath, finalPath);
    } catch (err) {
      await rm(tmpPath, { force: true });
      throw err;
    }
  }

  openBytes(key: string): BytesWriter {
    const finalPath = this.locate(key);
    const tmpPath = tmpPathOf(finalPath);
    let file: FileHandle | undefined;
    // Opened at the first bytes: a chunk that never gets any (the one begun after the last) leaves nothing behind.
    let writes: Promise<void> | undefined;
    const opened = async () => {
      file = await inFolder(finalPath, () => open(tmpPath, 'w'));
    };
    const discard = async () => {
      await file?.close().catch(() => {});
      file = undefined;
      await rm(tmpPath, { force: true });
    };
    return {
      write(bytes) {
        // Each write at the file's position, after the one before; after a failure, none.
        writes = (writes ?? opened()).then(() => file!.writeFile(bytes));
        writes.catch(() => {});
      },
      async close() {
        try {
          await (writes ?? opened());
          await file!.close();
          file = undefined;
          await rename(tmpPath, finalPath);
        } catch (err) {
          await discard();
          throw err;
        }
      },
      async abort() {
        await writes?.catch(() => {});
        await discard();
      },
    };
  }

  async removeTemporary(dir: string, match: (name: string) => boolean): Promise<number> {
    const folder = this.locate(dir);
    let names: string[];
    try {
      names = await readdir(folder);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
      throw err;
    }
    const leftovers = names.filter((n) => {
      const final = TMP_NAME.exec(n)?.[1];
      return final !== undefined && match(final);
    });
    await Promise.all(leftovers.map((n) => rm(path.join(folder, n), { force: true })));
    return leftovers.length;
  }

  readText(key: string): Promise<string> {
    return readFile(this.locate(key), 'utf8');
  }

  readBytes(key: string): Promise<Buffer> {
    return readFile(this.locate(key));
  }

  readStream(key: string): Readable {
    return createReadStream(this.locate(key), { highWaterMark: READ_PIECE_BYTES });
  }

  async *readLines(key: string): AsyncIterable<string> {
    const lines = readline.createInterface({ input: createReadStream(this.locate(key)), crlfDelay: Infinity });
    for await (const line of lines) if (line) yield line;
  }

  async list(prefix: string): Promise<string[]> {
    const { dir, base } = splitListPrefix(prefix);
    try {
      const names = await readdir(this.locate(dir));
      return names
        .filter((n) => n.startsWith(base) && !n.endsWith('.tmp'))
        .sort()
        .map((n) => path.posix.join(dir, n));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  async exists(key: string): Promise<boolean> {
    return stat(this.locate(key)).then(
      () => true,
      () => false,
    );
  }

  async remove(prefix: string): Promise<void> {
    await rm(this.locate(prefix), { recursive: true, force: true });
  }

  async usage(prefix: string): Promise<{ bytes: number; modifiedMs: number } | undefined> {
    const walk = async (file: string): Promise<{ bytes: number; modifiedMs: number }> => {
      const info = await stat(file);
      if (!info.isDirectory()) return { bytes: info.size, modifiedMs: info.mtimeMs };
      const total = { bytes: 0, modifiedMs: info.mtimeMs };
      for (const entry of await readdir(file)) {
        const inner = await walk(path.join(file, entry));
        total.bytes += inner.bytes;
        total.modifiedMs = Math.max(total.modifiedMs, inner.modifiedMs);
      }
      return total;
    };
    return walk(this.locate(prefix)).catch((err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT') return undefined;
      throw err;
    });
  }
}

/** A store from where it is: an s3:// URL (credentials from the SDK's default chain) or a folder. */
export function storeAt(location: string): StagingStore {
  return location.startsWith('s3://') ? S3Store.fromUrl(location) : new LocalFolderStore(location);
}

/** `BULKPORT_STAGING_URL=s3://bucket/prefix` stages in a bucket; otherwise the folder BULKPORT_STAGING_DIR (or .bulkport/staging). */
export function storeFromEnv(env: NodeJS.ProcessEnv = process.env): LocalFolderStore | S3Store {
  const url = env.BULKPORT_STAGING_URL?.trim();
  if (url) {
    if (!url.startsWith('s3://'))
      throw new Error(`BULKPORT_STAGING_URL=${url}: only s3://bucket/prefix URLs are supported; unset it to stage in BULKPORT_STAGING_DIR`);
    return S3Store.fromUrl(url, env);
  }
  return new LocalFolderStore(path.resolve(env.BULKPORT_STAGING_DIR ?? '.bulkport/staging'));
}
