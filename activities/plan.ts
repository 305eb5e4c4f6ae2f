/**
 * A dry run's plan: what staging found (counts, the first invalid rows) and what sending the chunks would take, from
 * the target's limits and the worker's rate caps. It reads the staging store only: no request reaches the target.
 */
import { Context } from '@temporalio/activity';
import { chunkIdOf, type ImportInput, type ImportPlan, type StageResult } from '../common/import';
import { describeErrors, invalidKey, type InvalidRow, readChunkHeads, readJsonLines } from './staging/files';
import type { StagingStore } from './staging/store';
import type { TargetRegistry } from './targets';

/** Invalid rows a plan shows; the file has them all. */
const FIRST_ERRORS = 10;

export function createPlanActivities(store: StagingStore, targets: TargetRegistry) {
  return {
    async planImport({ input, stage }: { input: ImportInput; stage: StageResult }): Promise<ImportPlan> {
      const target = targets.bind(input);
      let requests = stage.chunks;
      if (target.requestsFor) {
        // Only a target whose requests depend on the products (Propeller: one per source) reads its chunks back.
        requests = 0;
        for (let i = 0; i < stage.chunks; i++) {
          const items = await readChunkHeads(store, input.importId, chunkIdOf(0, i));
          requests += target.requestsFor(items.map((item) => item.key));
          Context.current().heartbeat(i);
        }
      }
      const firstErrors: ImportPlan['firstErrors'] = [];
      if (stage.invalid > 0) {
        for await (const row of readJsonLines<InvalidRow>(store, invalidKey(input.importId))) {
          firstErrors.push({ line: row.line, ...(row.key !== undefined ? { key: row.key } : {}), error: describeErrors(row.errors) });
          if (firstErrors.length === FIRST_ERRORS) break;
        }
      }
      // Nothing valid, nothing to send: no call at all.
      const send = stage.chunks > 0 ? target.planSend({ chunks: stage.chunks, requests }) : { otherCalls: [], bounds: [], notes: [] };
      const estimate = send.bounds.reduce<ImportPlan['estimate']>((max, b) => (max && max.seconds >= b.seconds ? max : b), null);
      return {
        importId: input.importId,
        target: input.target,
        source: input.source.location,
        counts: {
          read: stage.read,
          valid: stage.valid,
          invalid: stage.invalid,
          ...(stage.unchanged !== undefined ? { unchanged: stage.unchanged } : {}),
        },
        firstErrors,
        invalidRows: store.locate(invalidKey(input.importId)),
        chunks: stage.chunks,
        requests,
        ...send,
        estimate,
      };
    },
  };
}
