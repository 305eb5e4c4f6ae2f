/**
 * Delta sync's ledger: for every product the target confirmed, its key's and its content's 64-bit hashes, one ledger
 * per target account and request shape, in the staging store. Staging skips a product whose content hash matches
 * (`unchanged`); the report writes the hashes of what succeeded and drops those of what failed or may have been
 * applied, so that anything not confirmed is sent again next time.
 *
 * 16 bytes a product in the file (as base64: about 21) and about 40 in memory (an open-addressing table at most half full). A skip needs the
 * key's and the content's hashes both to match one confirmed product: a false skip is a 128-bit coincidence.
 */
import { createHash } from 'node:crypto';
import { cyrb64 } from './keyset';
import { readSealedLines, StagingFileDamage, writeLines } from './files';
import type { StagingStore } from './store';

/** Whether an import keeps the account's ledger (delta sync, or a full import that refreshes it): its report needs every body. */
export const keepsLedger = (options: { skipUnchanged?: boolean; full?: boolean }) => Boolean(options.skipUnchanged || options.full);

/** Where the ledger of one account and request shape lives: hashed, since the account names a URL. */
export const ledgerKey = (scope: string) => `ledgers/${createHash('sha256').update(scope).digest('hex').slice(0, 32)}.ledger`;

/** Entries a ledger file line holds (base64 of 16 bytes each: about 1.4 MB a line). */
const ENTRIES_PER_LINE = 65_536;

const EMPTY = 0;
const FULL = 1;
const DELETED = 2;

/** key hash → content hash, plus the line where this import first met each key (duplicates of unchanged products). */
export class DeltaLedger {
  private keys: Uint32Array;
  private values: Uint32Array;
  private state: Uint8Array;
  /** The source line that was first seen with this key in this import (0: not seen). */
  private seenAt: Uint32Array;
  private used = 0;
  private count = 0;
  private readonly scratch = new Uint32Array(2);

  constructor(capacity = 1024) {
    let slots = 1024;
    while (slots < capacity * 2) slots *= 2;
    this.keys = new Uint32Array(slots * 2);
    this.values = new Uint32Array(slots * 2);
    this.state = new Uint8Array(slots);
    this.seenAt = new Uint32Array(slots);
  }

  get size(): number {
    return this.count;
  }

  /** The slot of (hi, lo), or -1; with `insert`, a free slot for it (a deleted one reused). */
  private slot(hi: number, lo: number, insert: boolean): number {
    const mask = this.state.length - 1;
    let free = -1;
    for (let i = (lo ^ Math.imul(hi, 0x9e3779b1)) & mask; ; i = (i + 1) & mask) {
      const s = this.state[i]!;
      if (s === EMPTY) return insert ? (free >= 0 ? free : i) : -1;
      if (s === DELETED) {
        if (free < 0) free = i;
      } else if (this.keys[2 * i] === hi && this.keys[2 * i + 1] === lo) return i;
    }
  }

  private keySlot(key: string, insert: boolean): number {
    cyrb64(key, this.scratch);
    return this.slot(this.scratch[0]!, this.scratch[1]!, insert);
  }

  /** Whether `content` is what the target confirmed last for `key`. */
  unchanged(key: string, content: string): boolean {
    const i = this.keySlot(key, false);
    if (i < 0) return false;
    cyrb64(content, this.scratch);
    return this.values[2 * i] === this.scratch[0] && this.values[2 * i + 1] === this.scratch[1];
  }

  /** The line where `key` was first seen with unchanged content in this import, if it was. */
  seenLine(key: string): number | undefined {
    const i = this.keySlot(key, false);
    return i >= 0 && this.seenAt[i] ? this.seenAt[i] : undefined;
  }

  markSeen(key: string, line: number): void {
    const i = this.keySlot(key, false);
    if (i >= 0 && !this.seenAt[i]) this.seenAt[i] = line;
  }

  /** The target confirmed `content` for `key`. */
  confirm(key: string, content: string): void {
    cyrb64(key, this.scratch);
    const hi = this.scratch[0]!;
    const lo = this.scratch[1]!;
    cyrb64(content, this.scratch);
    this.put(hi, lo, this.scratch[0]!, this.scratch[1]!);
  }

  /** What the target holds for `key` is not known any more (a failure, an unknown outcome): send it next time. */
  forget(key: string): void {
    const i = this.keySlot(key, false);
    if (i < 0) return;
    this.state[i] = DELETED;
    this.count--;
  }

  private put(hi: number, lo: number, vHi: number, vLo: number): void {
    if ((this.used + 1) * 2 > this.state.length) this.grow();
    const i = this.slot(hi, lo, true);
    if (this.state[i] !== FULL) {
      if (this.state[i] === EMPTY) this.used++;
      this.count++;
      this.state[i] = FULL;
      this.keys[2 * i] = hi;
      this.keys[2 * i + 1] = lo;
    }
    this.values[2 * i] = vHi;
    this.values[2 * i + 1] = vLo;
  }

  /** Rehashes into a table twice the size (deleted slots dropped). */
  private grow(): void {
    const { keys, values, state } = this;
    const slots = state.length * 2;
    this.keys = new Uint32Array(slots * 2);
    this.values = new Uint32Array(slots * 2);
    this.state = new Uint8Array(slots);
    this.seenAt = new Uint32Array(slots);
    this.used = 0;
    this.count = 0;
    for (let i = 0; i < state.length; i++)
      if (state[i] === FULL) this.put(keys[2 * i]!, keys[2 * i + 1]!, values[2 * i]!, values[2 * i + 1]!);
  }

  /** The ledger as file lines: base64 of (key hi, key lo, content hi, content lo) 32-bit words. */
  *lines(): Iterable<string> {
    let batch = new Uint32Array(Math.min(ENTRIES_PER_LINE, this.count) * 4);
    let n = 0;
    for (let i = 0; i < this.state.length; i++) {
      if (this.state[i] !== FULL) continue;
      batch.set([this.keys[2 * i]!, this.keys[2 * i + 1]!, this.values[2 * i]!, this.values[2 * i + 1]!], n * 4);
      if (++n === ENTRIES_PER_LINE) {
        yield Buffer.from(batch.buffer).toString('base64');
        batch = new Uint32Array(batch.length);
        n = 0;
      }
    }
    if (n) yield Buffer.from(batch.buffer, 0, n * 16).toString('base64');
  }

  addLine(line: string): void {
    // Copied: a small decoded Buffer sits at any offset of a shared pool, and 32-bit words need an aligned one.
    const words = new Uint32Array(new Uint8Array(Buffer.from(line, 'base64')).buffer);
    for (let j = 0; j + 3 < words.length; j += 4) this.put(words[j]!, words[j + 1]!, words[j + 2]!, words[j + 3]!);
  }
}

/**
 * The ledger of `scope`, empty when there is none yet. A damaged one is dropped (`onDamage` says why): forgetting only
 * makes the next import send everything again, never skip what changed.
 */
export async function loadLedger(store: StagingStore, scope: string, onDamage: (why: string) => void): Promise<DeltaLedger> {
  const key = ledgerKey(scope);
  const ledger = new DeltaLedger();
  if (!(await store.exists(key))) return ledger;
  try {
    for await (const line of readSealedLines(store, key)) ledger.addLine(line);
    return ledger;
  } catch (err) {
    if (!(err instanceof StagingFileDamage)) throw err;
    onDamage(`the delta ledger ${store.locate(key)} is damaged (${err.message}): every product is sent this time`);
    return new DeltaLedger();
  }
}

/**
 * The ledger one import stages with: the account's as it was when its staging began, copied to the import's own
 * folder, so that every attempt skips the same products even if another import updates the account's ledger meanwhile.
 */
export async function importLedger(
  store: StagingStore,
  importId: string,
  scope: string,
  onDamage: (why: string) => void,
): Promise<DeltaLedger> {
  const own = `imports/${importId}/delta`;
  if (await store.exists(ledgerKey(own))) return loadLedger(store, own, onDamage);
  const ledger = await loadLedger(store, scope, onDamage);
  await saveLedger(store, own, ledger);
  return ledger;
}

export function saveLedger(store: StagingStore, scope: string, ledger: DeltaLedger): Promise<void> {
  return writeLines(store, ledgerKey(scope), ledger.lines());
}
