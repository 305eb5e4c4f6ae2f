import type { ChunkLimits, StagedItem } from '../../targets/types';
import { ChunkDraft } from './files';

/** The products chunk `index` may hold: the limits' ramp up to maxItems. */
export function maxItemsOf(limits: ChunkLimits, index: number): number {
  const { ramp } = limits;
  return ramp ? Math.min(limits.maxItems, ramp.items * (1 + Math.floor(index / Math.max(1, ramp.every)))) : limits.maxItems;
}

/**
 * Cuts items into chunks whose request body stays within the target's limits.
 * Cutting depends only on the sequence of items, so staging the same source twice yields the same chunks.
 * A chunk is held as its file's bytes, each item encoded as it is added: the items die young instead of filling the
 * old generation with a whole chunk's objects (71,000 for a 10 MB Voucherify chunk) until it is written.
 */
export class Chunker {
  private draft: ChunkDraft;
  private bytes: number;
  chunks = 0;

  constructor(
    private readonly limits: ChunkLimits,
    private readonly envelopeBytes: number,
    private readonly onChunk: (index: number, draft: ChunkDraft) => Promise<void>,
    private readonly options: {
      /** The first chunk's body is cut at this many bytes at most: it is sent while the rest is staged, so it comes soon. */
      firstChunkBytes?: number;
      /** Chunk `index`'s draft, begun when the one before is cut (ChunkDraft.streamed writes it as it is built). */
      draftFor?: (index: number) => ChunkDraft;
    } = {},
  ) {
    this.bytes = envelopeBytes;
    this.draft = this.newDraft(0);
  }

  private newDraft(index: number): ChunkDraft {
    return this.options.draftFor?.(index) ?? new ChunkDraft();
  }

  /** The request's size if an item whose body has `bodyBytes` bytes would not fit in a request alone. */
  tooLarge(bodyBytes: number): number | undefined {
    const size = this.envelopeBytes + bodyBytes;
    return this.limits.maxBodyBytes !== undefined && size > this.limits.maxBodyBytes ? size : undefined;
  }

  /** Adds an item (its body's size in bytes, when the caller has measured it); a promise only when a chunk is cut. */
  add(item: StagedItem, bodyBytes = Buffer.byteLength(item.body)): Promise<void> | undefined {
    const maxBytes = Math.min(
      this.limits.maxBodyBytes ?? Number.POSITIVE_INFINITY,
      this.chunks === 0 ? (this.options.firstChunkBytes ?? Number.POSITIVE_INFINITY) : Number.POSITIVE_INFINITY,
    );
    const count = this.draft.products;
    const overBytes = this.bytes + bodyBytes + 1 > maxBytes; // + the comma
    const cut = count > 0 && (overBytes || count >= maxItemsOf(this.limits, this.chunks));
    return cut ? this.flush().then(() => this.push(item, bodyBytes)) : this.push(item, bodyBytes);
  }

  private push(item: StagedItem, bodyBytes: number): undefined {
    this.bytes += bodyBytes + (this.draft.products ? 1 : 0);
    this.draft.add(item);
    return undefined;
  }

  async flush(): Promise<void> {
    if (!this.draft.products) return;
    const draft = this.draft;
    this.draft = this.newDraft(this.chunks + 1);
    this.bytes = this.envelopeBytes;
    await this.onChunk(this.chunks++, draft);
  }

  /** Drops the chunk being cut (the activity failed); those cut before are onChunk's. */
  abort(): Promise<void> {
    return this.draft.abort();
  }
}
