import type { ChunkLimits, StagedItem } from '../../targets/types';

/**
 * Cuts items into chunks whose request body stays within the target's limits.
 * Cutting depends only on the sequence of items, so staging the same source twice yields the same chunks.
 */
export class Chunker {
  private items: StagedItem[] = [];
  private bytes: number;
  chunks = 0;

  constructor(
    private readonly limits: ChunkLimits,
    private readonly envelopeBytes: number,
    private readonly onChunk: (index: number, items: StagedItem[]) => Promise<void>,
  ) {
    this.bytes = envelopeBytes;
  }

  /** The item alone would not fit in a request. */
  tooLarge(item: StagedItem): number | undefined {
    const size = this.envelopeBytes + Buffer.byteLength(item.body);
    return this.limits.maxBodyBytes !== undefined && size > this.limits.maxBodyBytes ? size : undefined;
  }

  async add(item: StagedItem): Promise<void> {
    const itemBytes = Buffer.byteLength(item.body) + (this.items.length ? 1 : 0); // the comma
    const overBytes = this.limits.maxBodyBytes !== undefined && this.bytes + itemBytes > this.limits.maxBodyBytes;
    if (this.items.length && (overBytes || this.items.length >= this.limits.maxItems)) await this.flush();
    this.bytes += Buffer.byteLength(item.body) + (this.items.length ? 1 : 0);
    this.items.push(item);
  }

  async flush(): Promise<void> {
    if (!this.items.length) return;
    const items = this.items;
    this.items = [];
    this.bytes = this.envelopeBytes;
    await this.onChunk(this.chunks++, items);
  }
}
