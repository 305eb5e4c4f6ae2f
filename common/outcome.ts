/**
 * One vocabulary for how a product fares, from the target's answer through the outcome files, the retry rounds and the
 * counts to the report: `succeeded`, `retryable` (may pass in a later round: 5xx-like, transient), `invalid` (the
 * target's validation judged the product itself), `failed` (a final answer that is not about the product's data, or
 * an unknown outcome). The report adds `not-submitted`, and a product still `retryable` when the rounds ran out
 * ends there as `failed`. A chunk's `OutcomeCounts` count these four kinds by name. The live progress keeps two words
 * of its own, because it tells apart what the report merges: `awaitingRetry` (retryable, waiting for the next round)
 * and `rejected` (invalid by the target's judgement, where the progress's `invalid` is the rows our schema refused).
 */

export const answeredKinds = ['succeeded', 'retryable', 'invalid', 'failed'] as const;
export type AnsweredKind = (typeof answeredKinds)[number];
export type FailedKind = Exclude<AnsweredKind, 'succeeded'>;
/** A row of the report; `unchanged`: delta sync did not send it, as the target holds it already. */
export type ReportOutcome = Exclude<AnsweredKind, 'retryable'> | 'not-submitted' | 'unchanged';

export type ItemOutcome = { kind: 'succeeded' } | FailedOutcome;
export interface FailedOutcome {
  kind: FailedKind;
  error: string;
}

export const succeeded: ItemOutcome = { kind: 'succeeded' };

/** A product's last answer as the report shows it: retries ran out for one still retryable. */
export function reportOutcomeOf(outcome: ItemOutcome): Exclude<ReportOutcome, 'not-submitted'> {
  return outcome.kind === 'retryable' ? 'failed' : outcome.kind;
}

/**
 * An outcome as an outcome file holds it, written by this version (`kind`) or by one before it (`ok`, `retryable`,
 * `invalid`), so that an import staged before an upgrade still reports true rows.
 */
export function storedOutcome(line: Record<string, unknown>): ItemOutcome {
  const error = typeof line.error === 'string' ? line.error : '';
  if (typeof line.kind === 'string' && (answeredKinds as readonly string[]).includes(line.kind)) {
    return line.kind === 'succeeded' ? succeeded : { kind: line.kind as FailedKind, error };
  }
  if (line.ok === true) return succeeded;
  return { kind: line.invalid ? 'invalid' : line.retryable ? 'retryable' : 'failed', error };
}
