/**
 * Which chunk the window sends next: a round's chunks in order (r<round>-<index>), and before them any chunk put back
 * (never sent, or the halves of a split). Plain data in the carried state, so continue-as-new resumes where it stopped.
 * No Temporal here: test/cursor.test.ts checks it in milliseconds.
 */
import { chunkIdOf } from '../common/import';

export interface CursorState {
  round: number;
  roundChunks: number;
  nextChunk: number;
  /** Chunks to send before the round's next: halves of split chunks, and chunks put back unsent. */
  pendingParts: string[];
}

export class ChunkCursor {
  constructor(private readonly state: CursorState) {}

  get round(): number {
    return this.state.round;
  }

  hasNext(): boolean {
    return this.state.pendingParts.length > 0 || this.state.nextChunk < this.state.roundChunks;
  }

  /** The next chunk to send; call only when `hasNext()`. */
  take(): string {
    return this.state.pendingParts.shift() ?? chunkIdOf(this.state.round, this.state.nextChunk++);
  }

  /** A chunk taken but not sent (no permit, a stop, a target not yet known to work): it goes out first next time. */
  putBack(chunkId: string): void {
    this.state.pendingParts.unshift(chunkId);
  }

  /** A chunk split in parts: they go out next, in order. */
  split(parts: string[]): void {
    this.state.pendingParts.unshift(...parts);
  }

  /** Round 0 grows while staging commits its chunks: they are sent as they come. */
  extend(chunks: number): void {
    if (this.state.round === 0) this.state.roundChunks = Math.max(this.state.roundChunks, chunks);
  }

  /** Staging's chunks, or a retry round's: sent from the first. */
  startRound(round: number, chunks: number): void {
    Object.assign(this.state, { round, roundChunks: chunks, nextChunk: 0 });
  }
}
