/**
 * A round's chunks as a tree: a chunk that was split (413) is replaced by its halves `<id>.0` and
 * `<id>.1`, recursively. Resolving the tree never depends on how a listing sorts names
 * (`r0-000000.0.jsonl` sorts before `r0-000000.jsonl`).
 */
import { chunkIdOf } from '../../common/import';
import { chunkIdOfKey, importPrefix, readAllJsonLines, roundKey } from './files';
import type { StagingStore } from './store';

/**
 * The leaves under `roots`, in source order: a chunk with an outcome is a leaf; one without an
 * outcome whose halves exist (as chunk or outcome files) stands for its halves; any other is a leaf
 * that was never answered (or whose file is gone: reading it will say so).
 */
export function leafChunks(roots: Iterable<string>, chunks: ReadonlySet<string>, outcomes: ReadonlySet<string>): string[] {
  const leaves: string[] = [];
  const split = (id: string) => [`${id}.0`, `${id}.1`].some((half) => chunks.has(half) || outcomes.has(half));
  const visit = (id: string): void => {
    if (!outcomes.has(id) && split(id)) {
      visit(`${id}.0`);
      visit(`${id}.1`);
    } else leaves.push(id);
  };
  for (const root of roots) visit(root);
  return leaves;
}

/** The chunk ids that have a file in one of an import's folders (`chunks`, `outcomes`, `rows`), from one listing. */
export async function listIdsIn(store: StagingStore, importId: string, folder: string): Promise<Set<string>> {
  return new Set((await store.list(`${importPrefix(importId)}/${folder}/r`)).map(chunkIdOfKey));
}

/** The chunk ids that have a chunk file and an outcome file, from one listing each. */
export async function listChunkIds(store: StagingStore, importId: string): Promise<{ chunks: Set<string>; outcomes: Set<string> }> {
  return { chunks: await listIdsIn(store, importId, 'chunks'), outcomes: await listIdsIn(store, importId, 'outcomes') };
}

/** A round's chunk count as the files show it: the fallback when the file that recorded it is damaged. */
export function listedRootCount(round: number, chunks: ReadonlySet<string>, outcomes: ReadonlySet<string>): number {
  const root = new RegExp(`^r${round}-(\\d+)$`);
  let count = 0;
  for (const id of [...chunks, ...outcomes]) {
    const m = root.exec(id);
    if (m) count = Math.max(count, Number(m[1]) + 1);
  }
  return count;
}

export const roundRoots = (round: number, count: number): string[] => Array.from({ length: count }, (_, i) => chunkIdOf(round, i));

/** How many chunks retry round `round` (≥ 1) was cut into, as planRetryRound recorded it. Throws StagingDamaged. */
export async function retryRoundChunks(store: StagingStore, importId: string, round: number): Promise<number> {
  const [planned] = await readAllJsonLines<{ chunks: number }>(store, roundKey(importId, round));
  return planned?.chunks ?? 0;
}
