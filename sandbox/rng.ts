// Stateless, seed-driven randomness: every decision is a pure function of its
// inputs, so a fault sequence can be replayed from the seed alone.

/** 32-bit hash of the parts (FNV-1a over their text, then a murmur3-style finalizer). */
export function hash32(...parts: ReadonlyArray<string | number>): number {
  let h = 0x811c9dc5;
  for (const part of parts) {
    const text = String(part);
    for (let i = 0; i < text.length; i++) {
      h ^= text.charCodeAt(i);
      h = Math.imul(h, 0x01000193);
    }
    // separator, so ('ab','c') and ('a','bc') differ
    h ^= 0x1f;
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A number in [0, 1) determined by the parts. */
export function unitInterval(...parts: ReadonlyArray<string | number>): number {
  return hash32(...parts) / 0x1_0000_0000;
}

/** Fixed-width lowercase hex, for ids shaped like the real APIs' ones. */
export function hex(value: number, width: number): string {
  return value.toString(16).padStart(width, '0').slice(-width);
}
