/**
 * The claim check: product bodies, outcomes and reports live here, and workflows hold only keys.
 * A local folder by default; an object store can implement the same few calls later.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import readline from 'node:readline';
import { once } from 'node:events';
import type { Readable } from 'node:stream';

export interface LineWriter {
  write(line: string): Promise<void>;
  /** Makes the whole file visible at once: readers never see half a chunk. */
  close(): Promise<void>;
  abort(): Promise<void>;
}

export interface StagingStore {
  /** Where a key lives, for people (a path or a URL). */
  locate(key: string): string;
  createWriter(key: string): Promise<LineWriter>;
  readLines(key: string): AsyncIterable<string>;
  /** A file's bytes as a stream (a redrive reads an earlier import's failed records as its source). */
  readStream(key: string): Readable;
  /** A whole (small) file's text at once: far fewer promises than line by line. Stores without it are read by lines. */
  readText?(key: string): Promise<string>;
  /** A whole file written at once, visible whole or not at all. Stores without it are written by lines. */
  writeText?(key: string, text: string): Promise<void>;
  /** Keys under a prefix, sorted. */
  list(prefix: string): Promise<string[]>;
  exists(key: string): Promise<boolean>;
  remove(prefix: string): Promise<void>;
}

/** Temporary files are told apart by process and a counter: two writes of one key in the same millisecond do not collide. */
let tmpCounter = 0;
const tmpPathOf = (finalPath: string) => `${finalPath}.${process.pid}.${++tmpCounter}.tmp`;

export class LocalFolderStore implements StagingStore {
  constructor(readonly root: string) {}

  locate(key: string): string {
    const resolved = path.resolve(this.root, key);
    if (!resolved.startsWith(path.resolve(this.root) + path.sep)) throw new Error(`staging key escapes the store: ${key}`);
    return resolved;
  }

  async createWriter(key: string): Promise<LineWriter> {
    const finalPath = this.locate(key);
    await mkdir(path.dirname(finalPath), { recursive: true });
    const tmpPath = tmpPathOf(finalPath);
    const stream = createWriteStream(tmpPath);
    await once(stream, 'open');
    return {
      async write(line) {
        if (!stream.write(`${line}\n`)) await once(stream, 'drain');
      },
      async close() {
        await new Promise<void>((resolve, reject) => stream.end((err?: Error | null) => (err ? reject(err) : resolve())));
        await rename(tmpPath, finalPath);
      },
      async abort() {
        stream.destroy();
        await rm(tmpPath, { force: true });
      },
    };
  }

  async writeText(key: string, text: string): Promise<void> {
    const finalPath = this.locate(key);
    await mkdir(path.dirname(finalPath), { recursive: true });
    const tmpPath = tmpPathOf(finalPath);
    try {
      await writeFile(tmpPath, text);
      await rename(tmpPath, finalPath);
    } catch (err) {
      await rm(tmpPath, { force: true });
      throw err;
    }
  }

  readText(key: string): Promise<string> {
    return readFile(this.locate(key), 'utf8');
  }

  readStream(key: string): Readable {
    return createReadStream(this.locate(key));
  }

  async *readLines(key: string): AsyncIterable<string> {
    const lines = readline.createInterface({ input: createReadStream(this.locate(key)), crlfDelay: Infinity });
    for await (const line of lines) if (line) yield line;
  }

  async list(prefix: string): Promise<string[]> {
    const dir = path.posix.dirname(prefix);
    const base = path.posix.basename(prefix);
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
}

export function storeFromEnv(env: NodeJS.ProcessEnv = process.env): StagingStore {
  return new LocalFolderStore(path.resolve(env.BULKPORT_STAGING_DIR ?? '.bulkport/staging'));
}
