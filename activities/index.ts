/**
 * Every activity of an import, built around the worker's staging store and target connections.
 * Workers register the object this returns; workflows import its type only.
 */
import { createChunkActivities } from './chunks';
import { createPlanActivities } from './plan';
import { createReportActivities } from './report';
import { createQuotaActivities } from './quota';
import { createRoundActivities } from './rounds';
import { createStageActivities, type StageThread } from './stage';
import type { StagingStore } from './staging/store';
import type { TargetRegistry } from './targets';

/** `thread`: where a staging thread finds the store and the targets' settings; without it staging runs on the activity's thread. */
export function createActivities(store: StagingStore, targets: TargetRegistry, thread?: StageThread) {
  return {
    ...createStageActivities(store, targets, thread),
    ...createChunkActivities(store, targets),
    ...createRoundActivities(store, targets),
    ...createQuotaActivities(targets),
    ...createReportActivities(store, targets),
    ...createPlanActivities(store, targets),
  };
}

export type ImportActivities = ReturnType<typeof createActivities>;
export type { ChunkRequest, SubmitResult } from './chunks';
