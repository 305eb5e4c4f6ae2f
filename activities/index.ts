/**
 * Every activity of an import, built around the worker's staging store and target connections.
 * Workers register the object this returns; workflows import its type only.
 */
import { createChunkActivities } from './chunks';
import { createReportActivities } from './report';
import { createQuotaActivities } from './quota';
import { createRoundActivities } from './rounds';
import { createStageActivities } from './stage';
import type { StagingStore } from './staging/store';
import type { TargetRegistry } from './targets';

export function createActivities(store: StagingStore, targets: TargetRegistry) {
  return {
    ...createStageActivities(store, targets),
    ...createChunkActivities(store, targets),
    ...createRoundActivities(store, targets),
    ...createQuotaActivities(targets),
    ...createReportActivities(store),
  };
}

export type ImportActivities = ReturnType<typeof createActivities>;
export type { ChunkRequest, SubmitResult } from './chunks';
