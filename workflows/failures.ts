/**
 * What the workflow reads from a failure: the root cause's message and type (never a wrapper's
 * "Activity task failed"), its details, and whether Temporal may still retry what failed.
 * Pure functions of the failure, so deterministic.
 */
import { ActivityFailure, ApplicationFailure } from '@temporalio/workflow';
import { FailureType } from '../common/failure-types';
import type { FailedKind } from '../common/outcome';

/** Failures after which no other chunk can succeed either: stop submitting, report, fail. */
export const FATAL_FAILURES: ReadonlySet<string> = new Set([FailureType.unauthorized, FailureType.quotaExhausted]);

/** A chunk whose failure could not be recorded: reported as of unknown outcome. */
export interface UnrecordedChunk {
  chunkId: string;
  error: string;
}

/** How many unrecorded chunks the carried state lists; more are only counted (history stays small). */
export const MAX_UNRECORDED = 100;

/** The chain of causes, outermost first (bounded: a cycle or a freak depth can't hang a workflow task). */
function causes(err: unknown): unknown[] {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && chain.length < 20; e = (e as { cause?: unknown }).cause) chain.push(e);
  return chain;
}

const messageOf = (e: unknown) => (e instanceof Error ? e.message : typeof e === 'string' ? e : '');

/** The deepest cause's message: where the thing that went wrong says what it was. */
export function failureMessage(err: unknown): string {
  const messages = causes(err).map(messageOf).filter(Boolean);
  return messages.at(-1) ?? String(err);
}

/** The type of the deepest ApplicationFailure that has one (TargetMisconfigured, SourceError, …). */
export function failureType(err: unknown): string | undefined {
  return (
    causes(err)
      .filter((e): e is ApplicationFailure => e instanceof ApplicationFailure && !!e.type)
      .at(-1)?.type ?? undefined
  );
}

/** The details of the first failure in the chain that has some (e.g. a partial report's `{ files, counts }`). */
export function failureDetails(err: unknown): unknown[] {
  const withDetails = causes(err).find((e): e is ApplicationFailure => e instanceof ApplicationFailure && !!e.details?.length);
  return withDetails?.details ? [...withDetails.details] : [];
}

/** False when the activity said no retry can pass (a final rejection): its products should not get another round. */
export function isRetryable(err: unknown): boolean {
  return !(err instanceof ActivityFailure && err.cause instanceof ApplicationFailure && err.cause.nonRetryable);
}

/**
 * What the products of a chunk whose submission failed for good become: a final rejection (4xx) fails them; exhausted
 * transient failures, and a target gone astray mid-import, give them another round.
 */
export function chunkFailureKind(err: unknown): FailedKind {
  return failureType(err) === FailureType.misconfigured || isRetryable(err) ? 'retryable' : 'failed';
}
