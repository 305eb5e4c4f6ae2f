/**
 * Retry rounds: the products whose failure may pass, cut into new chunks of their own.
 */
import { Context } from '@temporalio/activity';
import type { ImportInput } from '../common/import';
import { Chunker } from './staging/chunker';
import {
  ChunkDraft,
  chunkId,
  damageOf,
  metaKey,
  readAllJsonLines,
  readChunk,
  removeLeftovers,
  roundKey,
  writeChunkDraft,
  writeLines,
  type ImportMeta,
  readOutcomes,
  rowsKey,
} from './staging/files';
import type { StagingStore } from './staging/store';
import { leafChunks, listChunkIds, retryRoundChunks, roundRoots } from './staging/tree';
import type { TargetRegistry } from './targets';

/** The answered chunks of a round, in order (split chunks stand for their halves). */
export async function roundLeaves(
  store: StagingStore,
  importId: string,
  round: number,
  listing?: Awaited<ReturnType<typeof listChunkIds>>,
) {
  const { chunks, outcomes } = listing ?? (await listChunkIds(store, importId));
  let count: number;
  if (round === 0) {
    const [meta] = await readAllJsonLines<ImportMeta>(store, metaKey(importId));
    count = meta?.counts?.chunks ?? 0;
  } else count = await retryRoundChunks(store, importId, round);
  return { leaves: leafChunks(roundRoots(round, count), chunks, outcomes), outcomes };
}

export function createRoundActivities(store: StagingStore, targets: TargetRegistry) {
  return {
    /** Stages round `round` from the retryable failures of the round before; returns its chunk and product counts. */
    async planRetryRound({ input, round }: { input: ImportInput; round: number }): Promise<{ chunks: number; products: number }> {
      const target = targets.bind(input);
      let products = 0;
      const leftovers = await removeLeftovers(store, input.importId, round);
      if (leftovers) Context.current().log.info('Removed the files an earlier attempt left half written', { files: leftovers });
      // Each chunk to its file as it is cut (see stage.ts); one that fails midway is dropped.
      const chunker = new Chunker(
        target.limits,
        target.envelopeBytes,
        (index, draft) => writeChunkDraft(store, input.importId, chunkId(round, index), draft),
        { draftFor: (index) => ChunkDraft.streamed(store, input.importId, chunkId(round, index)) },
      );
      try {
        const { leaves, outcomes } = await roundLeaves(store, input.importId, round - 1);
        for (const id of leaves) {
          Context.current().heartbeat();
          if (!outcomes.has(id)) continue; // never answered: the report says so
          // Kept rows (round 0's only) are written where every product succeeded, and removed before any other outcome is
          // (rows.ts): such a chunk has nothing to retry, and its outcomes need not be read.
          if (round === 1 && (await store.exists(rowsKey(input.importId, id)))) continue;
          let items, answers;
          try {
            answers = await readOutcomes(store, input.importId, id);
            // A chunk with nothing to retry is not read: most chunks of a large import, each decoded whole for nothing.
            if (!answers.some((outcome) => outcome.kind === 'retryable')) continue;
            items = await readChunk(store, input.importId, id);
          } catch (err) {
            // A damaged chunk is not retried; the report names it and fails the import.
            if (!damageOf(err)) throw err;
            Context.current().log.warn('Damaged staging file left out of the retry round', { chunkId: id, ...damageOf(err) });
            continue;
          }
          for (const [i, outcome] of answers.entries()) {
            const item = items[i];
            if (outcome.kind === 'retryable' && item) {
              products++;
              await chunker.add(item);
            }
          }
        }
        await chunker.flush();
      } catch (err) {
        await chunker.abort();
        throw err;
      }
      await writeLines(store, roundKey(input.importId, round), [JSON.stringify({ chunks: chunker.chunks, products })]);
      return { chunks: chunker.chunks, products };
    },
  };
}
