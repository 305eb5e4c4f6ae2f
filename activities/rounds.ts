/**
 * Retry rounds: the products whose failure may pass, cut into new chunks of their own.
 */
import { Context } from '@temporalio/activity';
import type { ImportInput } from '../common/import';
import { Chunker } from './staging/chunker';
import { chunkId, chunkIdOfKey, outcomeKey, readChunk, readJsonLines, roundOutcomesPrefix, writeChunk, type OutcomeLine } from './staging/files';
import type { StagingStore } from './staging/store';
import type { TargetRegistry } from './targets';

export function createRoundActivities(store: StagingStore, targets: TargetRegistry) {
  return {
    /** Stages round `round` from the retryable failures of the round before; returns its chunk and product counts. */
    async planRetryRound({ input, round }: { input: ImportInput; round: number }): Promise<{ chunks: number; products: number }> {
      const target = targets.bind(input);
      let products = 0;
      const chunker = new Chunker(target.limits, target.envelopeBytes, (index, items) => writeChunk(store, input.importId, chunkId(round, index), items));
      for (const key of await store.list(roundOutcomesPrefix(input.importId, round - 1))) {
        const id = chunkIdOfKey(key);
        const items = await readChunk(store, input.importId, id);
        let i = 0;
        for await (const outcome of readJsonLines<OutcomeLine>(store, outcomeKey(input.importId, id))) {
          const item = items[i++];
          if (!outcome.ok && outcome.retryable && item) {
            products++;
            await chunker.add(item);
          }
        }
        Context.current().heartbeat();
      }
      await chunker.flush();
      return { chunks: chunker.chunks, products };
    },
  };
}
