/** How the world talks to a running import: one query, three signals, one update. */
import { defineQuery, defineSignal, defineUpdate } from '@temporalio/workflow';
import type { ImportProgress } from '../common/import';

export const progressQuery = defineQuery<ImportProgress>('progress');
/** Nothing new is submitted while paused; work already in flight finishes. */
export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
/** Graceful: nothing new is submitted, in-flight chunks finish, the report is written. */
export const cancelSignal = defineSignal<[reason?: string]>('cancel');
/** Sets the number of chunks in flight; returns the previous value. */
export const setConcurrencyUpdate = defineUpdate<number, [number]>('setConcurrency');
