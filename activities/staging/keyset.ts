/**
 * The keys staging has seen, in about 13 bytes a key instead of a Map's ~100 (mostly the key strings themselves): a
 * 48-bit hash per key in typed arrays, indexed by an open-addressing table.
 *
 * 48 bits make a match of two distinct keys rare (about 0.2 expected among 10M keys, 18 among 100M) and each costs
 * one chunk read; 64 bits cost a third more memory (20 MiB at 10M keys) for nothing else.
 *
 * A hash match is only a possible duplicate, and rejecting a product wrongly breaks the promise that matters (each
 * record ends as exactly one row), so every match is confirmed against the first key itself:
 * - entries are numbered in staging order and every staged product has one, so entry i is item i - start(chunk) of its
 *   chunk: no line or chunk number is stored per key;
 * - keys and lines of chunks not committed yet (the one being built, those being written) are kept in arrays, as
 *   their files may not be complete yet;
 * - a committed chunk's keys and lines are read back from its file, written by this attempt or identically by an
 *   earlier one. The last few read are cached: duplicates that come in runs (a catalog appended to itself) read each
 *   chunk once, but duplicates scattered at random across a huge catalog cost a chunk read each;
 * - keys seen but never staged (a product too large on its own) are rare and kept whole in a Map.
 */

/** Writes the key's 64-bit hash into out[0] (high half) and out[1] (low half); the set keeps out[0]'s low 16 bits. */
export type KeyHash = (key: string, out: Uint32Array) => void;

/**
 * cyrb53's two 32-bit lanes kept whole (64 bits), over UTF-16 code units: two multiplications a character. About
 * 0.05 µs for a 14-character key where sha1 through node:crypto takes 1.8 µs, a tenth of staging's 20 µs a record.
 */
export const cyrb64: KeyHash = (key, out) => {
  let h1 = 0xdeadbeef;
  let h2 = 0x41c6ce57;
  for (let i = 0; i < key.length; i++) {
    const ch = key.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  out[0] = h2;
  out[1] = h1;
};

/** Where the first occurrences are: chunks committed so far (complete files), and a committed chunk's items. */
export interface KeySource {
  committed(): number;
  readChunk(index: number): Promise<readonly { line: number; key: string }[]>;
}

/** Entries per block of hashes: blocks are added, never copied, so growing costs no transient double. */
const BLOCK_BITS = 16;
const BLOCK = 1 << BLOCK_BITS;
const MAX_LOAD = 0.75;
/**
 * While entries fit in 24 bits (16.7M keys), a slot's top 8 bits hold 8 bits of its entry's hash (of those kept in
 * `highs`, so that growing can place entries again without their keys): a probe compares them before it reads the
 * entry's hash, which is a cache miss of its own, so a key not in the set costs one miss instead of several.
 */
const TAG_SHIFT = 24;
const ENTRY_MASK = (1 << TAG_SHIFT) - 1;
/** Chunks whose keys stay cached after being read to confirm a match. */
const CACHED_CHUNKS = 4;

interface ChunkKeys {
  keys: string[];
  lines: number[];
}

export class KeySet {
  /** The hash of entry i: its low 32 bits at lows[i >> BLOCK_BITS][i & (BLOCK - 1)], 16 more in highs at the same place. */
  private readonly lows: Uint32Array[] = [];
  private readonly highs: Uint16Array[] = [];
  /** Open addressing, linear probing: entry index + 1 in each slot (below its tag, while tagged), 0 for an empty one. */
  private slots = new Uint32Array(1 << 16);
  private tagged = true;
  private count = 0;
  /** The first entry of each chunk. */
  private readonly chunkStart: number[] = [];
  /** Keys and lines of the chunks from `firstUncommitted` on. */
  private readonly uncommitted: ChunkKeys[] = [];
  private firstUncommitted = 0;
  private readonly cache = new Map<number, ChunkKeys>();
  private readonly unstaged = new Map<string, number>();
  /** The hash of `hashed`, the last key hashed: `add` follows `mayHave` with the same key for every staged product. */
  private readonly h = new Uint32Array(2);
  private hashed: string | undefined;

  constructor(
    private readonly source: KeySource,
    private readonly hash: KeyHash = cyrb64,
    /** Entries stay tagged up to this many (tests lower it to see the set go on without tags). */
    private readonly taggedUpTo = ENTRY_MASK,
  ) {}

  private hashKey(key: string): void {
    if (key === this.hashed) return;
    this.hash(key, this.h);
    this.hashed = key;
  }

  /** Whether `key` may have been seen: false is certain, true asks for `firstLine`. Synchronous for the common case. */
  mayHave(key: string): boolean {
    if (this.unstaged.size > 0 && this.unstaged.has(key)) return true;
    this.hashKey(key);
    return this.nextMatch(this.homeSlot()) >= 0;
  }

  /** The line where `key` was first seen, if it was. */
  async firstLine(key: string): Promise<number | undefined> {
    const unstaged = this.unstaged.get(key);
    if (unstaged !== undefined) return unstaged;
    this.forgetCommitted();
    const candidates: number[] = [];
    this.hashKey(key);
    for (let slot = this.nextMatch(this.homeSlot()); slot >= 0; slot = this.nextMatch(this.nextSlot(slot))) {
      candidates.push(this.entryIn(slot));
    }
    for (const entry of candidates) {
      const chunk = this.chunkOf(entry);
      const { keys, lines } = this.uncommitted[chunk - this.firstUncommitted] ?? (await this.committedKeys(chunk));
      const at = entry - this.chunkStart[chunk]!;
      // Keys are unique among entries (a duplicate is never added): one that is equal is the first occurrence.
      if (keys[at] === key) return lines[at];
    }
    return undefined;
  }

  /** A key staged in chunk `chunk`: call for every staged product, in order, after `mayHave` said no or `firstLine` found none. */
  add(key: string, line: number, chunk: number): void {
    this.forgetCommitted();
    if (chunk !== this.chunkStart.length - 1) {
      if (chunk !== this.chunkStart.length) throw new Error(`keys added out of order: chunk ${chunk} after ${this.chunkStart.length - 1}`);
      this.chunkStart.push(this.count);
      this.uncommitted.push({ keys: [], lines: [] });
    }
    if (this.count >= 0xfffffffe) throw new Error('more than 4,294,967,294 keys in one import');
    if (this.count + 1 > this.slots.length * MAX_LOAD) this.grow();
    else if (this.tagged && this.count + 1 > this.taggedUpTo) this.placeAll(this.slots.length, false);
    const entry = this.count++;
    if (entry >> BLOCK_BITS === this.lows.length) {
      this.lows.push(new Uint32Array(BLOCK));
      this.highs.push(new Uint16Array(BLOCK));
    }
    this.hashKey(key);
    this.lows[entry >> BLOCK_BITS]![entry & (BLOCK - 1)] = this.h[1]!;
    this.highs[entry >> BLOCK_BITS]![entry & (BLOCK - 1)] = this.h[0]!;
    this.place(entry);
    const last = this.uncommitted[this.uncommitted.length - 1]!;
    last.keys.push(key);
    last.lines.push(line);
  }

  /** A key seen but not staged (its product is rejected for another reason): a later record with it is still a duplicate. */
  addUnstaged(key: string, line: number): void {
    this.unstaged.set(key, line);
  }

  /** Bytes held by the hashes and the table. */
  get tableBytes(): number {
    return this.lows.length * BLOCK * 6 + this.slots.byteLength;
  }

  /** Where the probe for the hash in `h` starts: its low bits. */
  private homeSlot(): number {
    return this.h[1]! & (this.slots.length - 1);
  }

  private nextSlot(slot: number): number {
    return (slot + 1) & (this.slots.length - 1);
  }

  /** The entry a full slot holds. */
  private entryIn(slot: number): number {
    return (this.tagged ? this.slots[slot]! & ENTRY_MASK : this.slots[slot]!) - 1;
  }

  /** The first slot from `slot` on, before an empty one, whose entry has the hash in `h`; -1 if none. */
  private nextMatch(slot: number): number {
    const high = this.h[0]! & 0xffff;
    const low = this.h[1];
    const tag = this.tagged ? high & 0xff : -1;
    for (let held = this.slots[slot]!; held !== 0; slot = this.nextSlot(slot), held = this.slots[slot]!) {
      if (tag >= 0 && held >>> TAG_SHIFT !== tag) continue;
      const entry = this.entryIn(slot);
      const at = entry & (BLOCK - 1);
      if (this.lows[entry >> BLOCK_BITS]![at] === low && this.highs[entry >> BLOCK_BITS]![at] === high) return slot;
    }
    return -1;
  }

  /** Puts the entry whose hash is in `h` in the table. */
  private place(entry: number): void {
    let slot = this.homeSlot();
    while (this.slots[slot] !== 0) slot = this.nextSlot(slot);
    this.slots[slot] = this.tagged ? (((this.h[0]! & 0xff) << TAG_SHIFT) | (entry + 1)) >>> 0 : entry + 1;
  }

  /** Doubles the table. */
  private grow(): void {
    this.placeAll(this.slots.length * 2, this.tagged && this.count + 1 <= this.taggedUpTo);
  }

  /** Places every entry again in a new table, tagged or not (the hashes are all kept, so the old table is not read). */
  private placeAll(size: number, tagged: boolean): void {
    this.slots = new Uint32Array(size);
    this.tagged = tagged;
    this.hashed = undefined; // `h` is reused below
    for (let entry = 0; entry < this.count; entry++) {
      // The low half places an entry, the high half's low byte tags it.
      this.h[1] = this.lows[entry >> BLOCK_BITS]![entry & (BLOCK - 1)]!;
      this.h[0] = this.highs[entry >> BLOCK_BITS]![entry & (BLOCK - 1)]!;
      this.place(entry);
    }
  }

  /** Lets go of the keys of chunks committed since: they can be read back from their files now. */
  private forgetCommitted(): void {
    const committed = this.source.committed();
    while (this.firstUncommitted < committed && this.uncommitted.length) {
      this.uncommitted.shift();
      this.firstUncommitted++;
    }
  }

  private chunkOf(entry: number): number {
    let low = 0;
    let high = this.chunkStart.length - 1;
    while (low < high) {
      const mid = (low + high + 1) >> 1;
      if (this.chunkStart[mid]! <= entry) low = mid;
      else high = mid - 1;
    }
    return low;
  }

  private async committedKeys(chunk: number): Promise<ChunkKeys> {
    let cached = this.cache.get(chunk);
    if (cached) {
      this.cache.delete(chunk);
    } else {
      const items = await this.source.readChunk(chunk);
      cached = { keys: items.map((item) => item.key), lines: items.map((item) => item.line) };
      if (this.cache.size >= CACHED_CHUNKS) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(chunk, cached);
    return cached;
  }
}
