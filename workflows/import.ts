/**
 * An import, as the process it models: stage the source, submit chunks through a sliding
 * window, follow each to its outcome, retry what may pass in later rounds, write the report.
 * The workflow holds counts, cursors and ids only; product data stays in the staging store.
 */
import * as wf from '@temporalio/workflow';
import type { ImportActivities, SubmitResult } from '../activities';
import {
  ImportInput,
  importIdOf,
  manifestOf,
  type ImportPhase,
  type ImportProgress,
  type ImportRequest,
  type ImportSummary,
  type OutcomeCounts,
  type StageResult,
} from '../common/import';
import { HEARTBEAT_TIMEOUT_MS, STAGE_ATTEMPTS, SUBMIT_START_TO_CLOSE_MS } from '../common/timeouts';
import { BulkImportStatus } from '../common/search-attributes';
import { AdaptiveLimit, type AdaptiveState, type Send } from './adaptive';
import { emptyCounters, ImportLedger, type Counters } from './ledger';
import { ChunkCursor, type CursorState } from './cursor';
import { phaseStatus, VisibilityPublisher } from './visibility';
import {
  chunkFailureKind,
  FATAL_FAILURES,
  failureDetails,
  failureMessage,
  failureType,
  MAX_UNRECORDED,
  type UnrecordedChunk,
} from './failures';
import { FailureType } from '../common/failure-types';
import { recordProducts } from '../common/metrics';
import { QuotaGate, type QuotaGateState } from './quota';
import { accountPermits, FIRST_PERMIT_AHEAD, localPermits } from './permits';
import type { QuotaSeen } from '../targets/http';
import type { StagedSoFar } from '../activities/staging/files';
import { cancelSignal, pauseSignal, progressQuery, resumeSignal, setConcurrencyUpdate } from './messages';

/**
 * A misconfigured target (refused connection, wrong base URL) is fatal like a 401 when it comes
 * back on this many chunks before the target ever answered one (nothing succeeded, no action
 * accepted); once it has answered, the same error is a transient trouble of the target, and
 * its chunks go to the retry rounds.
 */
const MISCONFIGURED_CHUNKS_TO_STOP = 2;

/** The quota a 429 reported (targets/http.ts puts it in the failure's details), when `err` is one. */
function rateLimitQuota(err: unknown): QuotaSeen | undefined {
  if (failureType(err) !== FailureType.rateLimited) return undefined;
  return (failureDetails(err)[0] as { quota?: QuotaSeen } | undefined)?.quota ?? { bucket: 'requests', remaining: 0 };
}

/** What one run hands to the next when it continues as new: counters and cursors, nothing else. */
export interface CarriedState extends CursorState {
  startedAt: number;
  runNumber: number;
  stage?: StageResult;
  /** Staging's counts while it runs (its result replaces them). */
  stagedSoFar?: Omit<StagedSoFar, 'done'>;
  counters: Counters;
  concurrency: number;
  paused: boolean;
  /** Recent (time, finished products) samples for the last minute's throughput (the ledger's). */
  samples: [number, number][];
  /** Chunks whose failure could not be recorded (the first MAX_UNRECORDED), and how many there were in all. */
  unrecorded?: UnrecordedChunk[];
  unrecordedCount?: number;
  /** Chunks that met a misconfigured target while it had never answered a chunk. */
  misconfiguredStreak?: number;
  /** The target has answered a chunk (accepted it, or answered for its products): its configuration works. */
  targetAnswered?: boolean;
  /** Adaptive concurrency's controller, when the import uses it. */
  adaptive?: AdaptiveState;
  /** The quota as last known: sends allowed, or the window the bucket is closed until. */
  quota?: QuotaGateState;
  lastIssue?: ImportProgress['lastIssue'];
}

/** The product counts of `progress`, plus the chunk counts that `progress` nests. */

// How these agree with the heartbeat interval and the HTTP timeout: common/timeouts.ts.
export const activityDefaults = { heartbeatTimeout: HEARTBEAT_TIMEOUT_MS } as const;

export function activities(summary?: string) {
  const common = { ...activityDefaults, ...(summary ? { summary } : {}) };
  return {
    stage: wf.proxyActivities<ImportActivities>({
      ...common,
      startToCloseTimeout: '24 hours',
      retry: { maximumAttempts: STAGE_ATTEMPTS, initialInterval: '2 seconds' },
    }).stage,
    staged: wf.proxyActivities<ImportActivities>({
      ...common,
      startToCloseTimeout: '1 minute',
      retry: { maximumAttempts: 5, initialInterval: '1 second', maximumInterval: '10 seconds' },
    }).awaitStaged,
    chunk: wf.proxyActivities<ImportActivities>({
      ...common,
      startToCloseTimeout: SUBMIT_START_TO_CLOSE_MS,
      // A 429 costs no attempt: it ends the activity, and the workflow waits for the window durably and sends again.
      retry: {
        initialInterval: '1 second',
        backoffCoefficient: 2,
        maximumInterval: '2 minutes',
        maximumAttempts: 8,
        nonRetryableErrorTypes: [FailureType.rateLimited],
      },
    }),
    poll: wf.proxyActivities<ImportActivities>({
      ...common,
      startToCloseTimeout: '24 hours',
      // The activity decides what a cancel means (awaitAction): the workflow waits for its answer.
      cancellationType: wf.ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
      retry: { initialInterval: '2 seconds', maximumInterval: '1 minute', maximumAttempts: 20 },
    }).awaitAction,
    quota: wf.proxyActivities<ImportActivities>({
      ...common,
      startToCloseTimeout: '1 minute',
      retry: { maximumAttempts: 10, initialInterval: '1 second', maximumInterval: '30 seconds' },
    }).messageQuotaCoordinator,
    bookkeeping: wf.proxyActivities<ImportActivities>({
      ...common,
      startToCloseTimeout: '2 hours',
      retry: { maximumAttempts: 10, initialInterval: '1 second' },
    }),
  };
}

/**
 * The request checked as the client checks it; an invalid one ends the workflow (Failed) naming every problem. A
 * request without an import id (a schedule starts every run with the same arguments) takes its run's (scheduledImportId).
 */
export function parseImportRequest(request: ImportRequest | ScheduledRequest): ImportInput {
  const parsed = ImportInput.safeParse(request.importId ? request : { ...request, importId: scheduledImportId() });
  if (!parsed.success) {
    // Thrown as is, a ZodError would fail the workflow task on every replay: end the import instead.
    wf.upsertSearchAttributes([{ key: BulkImportStatus, value: 'Failed' }]);
    const issues = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(input)'}: ${issue.message}`).join('; ');
    throw wf.ApplicationFailure.nonRetryable(`The import's input is invalid: ${issues}`, 'InvalidInput');
  }
  return parsed.data;
}

/**
 * A scheduled run's import id: its workflow id and its first run's id. A schedule names a run `<schedule id>-<time>`
 * to the second, so two runs started within one second (a trigger right after a short run) share a workflow id; with
 * the workflow id alone the second found the first's data and failed (ImportIdReused). A run continued by an earlier
 * version carried no id: it keeps the workflow id alone, as its first run did (and so do runs replayed unpatched).
 */
function scheduledImportId(): string {
  const { workflowId, firstExecutionRunId, continuedFromExecutionRunId } = wf.workflowInfo();
  if (continuedFromExecutionRunId || !wf.patched('scheduled-import-id-per-run')) return importIdOf(workflowId);
  // The random end of the run id: a UUIDv7 begins with the time, which two such runs share.
  return `${importIdOf(workflowId).slice(0, 115)}-${firstExecutionRunId.replace(/-/g, '').slice(-12)}`;
}

/** What a schedule starts an import with: the request, less the import id each run takes from its workflow and run ids. */
export type ScheduledRequest = Omit<ImportRequest, 'importId'> & { importId?: undefined };

export async function importCatalog(request: ImportRequest | ScheduledRequest, carried?: CarriedState): Promise<ImportSummary> {
  const input = parseImportRequest(request);
  const { options } = input;
  const state: CarriedState = carried ?? {
    startedAt: Date.now(),
    runNumber: 1,
    round: 0,
    roundChunks: 0,
    nextChunk: 0,
    pendingParts: [],
    counters: emptyCounters(),
    // A default concurrency (Propeller's ceiling of 16) stays under a smaller maxConcurrency the user set.
    concurrency: Math.min(options.concurrency, options.maxConcurrency),
    paused: false,
    samples: [],
  };
  // The books live in the carried state: the ledger keeps them, continue-as-new carries them.
  const ledger = new ImportLedger(state);
  const cursor = new ChunkCursor(state);
  const c = ledger.counters;
  const visibility = new VisibilityPublisher(input.target);
  // Synchronous targets only (the manifest says): an async action's latency is the target's queue, not our load.
  const manifest = manifestOf(input.target);
  const adaptive =
    manifest.adaptive && 'adaptiveConcurrency' in input.options && input.options.adaptiveConcurrency
      ? new AdaptiveLimit(state.adaptive)
      : undefined;
  /** Chunks the window may hold now: the user's concurrency, or the adaptive limit under it. */
  const windowLimit = () => (adaptive ? adaptive.limit(state.concurrency) : state.concurrency);
  const inFlight = new Set<string>();
  // Continue-as-new happens with nothing in flight: no send of an earlier run awaits its answer.
  const gate = new QuotaGate(
    { probeFirst: manifest.probesQuota, maxPerMinute: options.maxSubmitsPerMinute },
    state.quota && { ...state.quota, outstanding: 0 },
  );
  state.quota = gate.state;
  let phase: ImportPhase = state.stage ? 'submitting' : 'staging';
  let cancelRequested = false;
  let cancelReason: string | undefined;
  let fatalError: string | undefined;
  let chunksThisRun = 0;
  /** Why staging failed, once it has (with chunks already sent, the import stops through `fatalError`). */
  let stagingFailure: unknown;
  const stagingRunning = () => state.stage === undefined && stagingFailure === undefined;

  // Voucherify's quota belongs to the account: its imports share one coordinator, unless told to pace alone.
  // Before the handlers: a signal delivered with the start publishes progress, which asks the permits.
  const permitContext = {
    target: input.target,
    maxPerMinute: options.maxSubmitsPerMinute,
    stopping: () => stopping(),
    paused: () => state.paused,
    changed: () => publish(),
    allTaken: () => !cursor.hasNext() && !stagingRunning(),
  };
  const permits =
    'shareQuota' in options && options.shareQuota
      ? accountPermits(permitContext, (message) => activities('quota').quota({ input: { target: input.target }, message }))
      : localPermits(gate, permitContext);

  // ---- messages -------------------------------------------------------------------------
  // Handlers publish at once: while paused nothing else happens that would.
  const requestCancel = (reason: string) => {
    // Once the report is being written there is nothing left to stop.
    if (cancelRequested || phase === 'reporting') return;
    cancelRequested = true;
    cancelReason = reason;
    publish();
  };
  wf.setHandler(progressQuery, () => progress());
  wf.setHandler(pauseSignal, () => {
    state.paused = true;
    publish();
  });
  wf.setHandler(resumeSignal, () => {
    state.paused = false;
    publish();
  });
  wf.setHandler(cancelSignal, (reason) => requestCancel(reason || 'cancelled by signal'));
  // Temporal's own cancellation request takes the same graceful path as the signal: the body
  // below runs non-cancellable and watches `cancelRequested`, so in-flight chunks and the report finish.
  wf.CancellationScope.current().cancelRequested.catch(() => requestCancel('cancelled through Temporal'));
  wf.setHandler(
    setConcurrencyUpdate,
    (n) => {
      const previous = state.concurrency;
      state.concurrency = n;
      publish();
      return previous;
    },
    {
      validator: (n) => {
        if (!Number.isInteger(n) || n < 1 || n > options.maxConcurrency) {
          throw new Error(`concurrency must be a whole number from 1 to ${options.maxConcurrency}; got ${n}`);
        }
      },
    },
  );

  function progress(): ImportProgress {
    // Workflow time: in a query handler it is the time of the last event, reported as `asOf`.
    const now = Date.now();
    const rate = ledger.throughput(now);
    const waiting = permits.waitingFor();
    return {
      importId: input.importId,
      target: input.target,
      phase,
      paused: state.paused,
      cancelRequested,
      ...(cancelReason ? { cancelReason } : {}),
      startedAt: new Date(state.startedAt).toISOString(),
      asOf: new Date(now).toISOString(),
      read: (state.stage ?? state.stagedSoFar)?.read ?? 0,
      valid: (state.stage ?? state.stagedSoFar)?.valid ?? 0,
      invalid: (state.stage ?? state.stagedSoFar)?.invalid ?? 0,
      ...(phase !== 'staging' && stagingRunning() ? { staging: true } : {}),
      submitted: c.submitted,
      succeeded: c.succeeded,
      failed: c.failed,
      rejected: c.rejected,
      awaitingRetry: c.awaitingRetry,
      inFlight: c.inFlight,
      unknownOutcomeRetries: c.unknownOutcomeRetries,
      chunks: { total: c.chunksTotal, inFlight: inFlight.size, done: c.chunksDone },
      retryRound: state.round,
      concurrency: state.concurrency,
      ...(adaptive ? { adaptiveLimit: windowLimit() } : {}),
      throughputPerSecond: Math.round(rate * 10) / 10,
      etaSeconds:
        phase === 'submitting' && state.stage && !state.paused && !cancelRequested ? ledger.etaSeconds(state.stage.valid, now) : null,
      runNumber: state.runNumber,
      ...(waiting ? { waitingFor: { what: waiting.what, until: new Date(waiting.until).toISOString() } } : {}),
      ...(state.lastIssue ? { lastIssue: state.lastIssue } : {}),
    };
  }

  function publish(status?: string): void {
    visibility.publish(progress(), status ?? (cancelRequested ? 'Cancelling' : state.paused ? 'Paused' : phaseStatus[phase]));
  }

  /** A finished chunk's outcome counts, into the books and the progress. */
  function settle(counts: OutcomeCounts, products: number, wasInFlight: boolean): void {
    ledger.settle(counts, products, wasInFlight, Date.now());
    publish();
  }

  /** A chunk whose outcome came with its submission (a synchronous answer, or a failure recorded for it). */
  function settleAnswered(counts: OutcomeCounts): void {
    ledger.settleAnswered(counts, state.round, Date.now());
    publish();
  }

  // ---- one chunk, start to end ------------------------------------------------------------
  /**
   * Never rejects: a chunk whose failure cannot even be recorded (failChunk failed for good) is
   * kept in `state.unrecorded` and reported as of unknown outcome, so the import still ends.
   */
  async function processChunk(chunkId: string): Promise<void> {
    try {
      await followChunk(chunkId);
    } catch (err) {
      state.unrecordedCount = (state.unrecordedCount ?? 0) + 1;
      state.unrecorded = [...(state.unrecorded ?? []), { chunkId, error: failureMessage(err) }].slice(0, MAX_UNRECORDED);
      ledger.chunkWithoutOutcome();
      publish();
    }
  }

  async function followChunk(chunkId: string): Promise<void> {
    const act = activities(`${input.target} chunk ${chunkId} (round ${state.round})`);
    let result: SubmitResult;
    let sent: Send | undefined;
    for (;;) {
      let permit: Awaited<ReturnType<typeof permits.take>>;
      try {
        permit = await permits.take();
      } catch (err) {
        // Asking the account's coordinator failed (a worker without the target's settings): a failure of the chunk's like any.
        await recordChunkFailure(chunkId, err, sent);
        return;
      }
      if (!permit) {
        // Never sent: it stays for after a resume, or is reported not-submitted.
        cursor.putBack(chunkId);
        return;
      }
      sent = adaptive?.send(state.concurrency);
      try {
        result = await act.chunk.submitChunk({
          input,
          chunkId,
          ...(permit.notBefore !== undefined ? { notBefore: permit.notBefore } : {}),
        });
        // A 413 (split) says nothing about the quota; an accepted or answered chunk without quota headers means none is metered.
        await permits.answered(permit, result.kind === 'accepted' ? result.quota : undefined, result.kind === 'split');
        break;
      } catch (err) {
        const quota = rateLimitQuota(err);
        await permits.answered(permit, quota, true);
        if (quota) continue;
        await recordChunkFailure(chunkId, err, sent);
        return;
      }
    }
    // An answer about the chunk (even a 413) proves the URL and the credentials work.
    state.targetAnswered = true;
    if (result.kind === 'split') {
      cursor.split(result.parts);
      ledger.addChunks(result.parts.length - 1);
      return;
    }
    if (result.kind === 'completed') {
      if (adaptive && result.load) {
        adaptive.onChunk(result.load, state.concurrency, sent);
        state.adaptive = adaptive.state;
      }
      settleAnswered(result.counts);
      return;
    }
    ledger.beginSubmission(result.products, state.round);
    // Resends of a chunk whose earlier async action could not be found count as unknown-outcome retries.
    ledger.inFlightStarted(result.products, result.resends ?? 0);
    publish();
    let counts: OutcomeCounts;
    // A stopping import tells the poll (a cancel of the activity): it ends at once if the target is failing (the outcome
    // unknown, and said so), else it follows the action. An activity cancelled before it started is asked again, told so.
    const follow = (stopIfFailing: boolean) =>
      act.poll({ input, chunkId, actionId: result.actionId, stopIfFailing, products: result.products });
    const polling = new wf.CancellationScope();
    let polled = false;
    void wf.condition(() => polled || stopping()).then(() => polled || polling.cancel());
    try {
      counts = await polling
        .run(() => follow(false))
        .catch((err: unknown) => {
          if (wf.isCancellation(err)) return follow(true);
          throw err;
        });
    } catch (err) {
      try {
        // The action may still apply: its products get another round, and the report the cause if none comes.
        counts = await act.bookkeeping.failChunk({ input, chunkId, error: failureMessage(err), kind: 'retryable' });
      } catch (recordErr) {
        // Its products are no longer in flight; the report shows them as of unknown outcome.
        ledger.inFlightLost(result.products);
        throw recordErr;
      }
    } finally {
      polled = true;
    }
    settle(counts, result.products, true);
  }

  async function recordChunkFailure(chunkId: string, err: unknown, sent?: Send): Promise<void> {
    const type = failureType(err);
    if (type === FailureType.misconfigured && !state.targetAnswered && c.succeeded === 0) {
      state.misconfiguredStreak = (state.misconfiguredStreak ?? 0) + 1;
      if (state.misconfiguredStreak >= MISCONFIGURED_CHUNKS_TO_STOP) fatalError ??= failureMessage(err);
      // A chunk that may have been applied (no answer in time) is recorded as failed with the cause, never as not submitted;
      // one that never reached the target is put back, not lost: the next chunk tells a misconfiguration from a blip.
      if ((failureDetails(err)[0] as { unknownOutcome?: boolean } | undefined)?.unknownOutcome) {
        settleAnswered(await activities().bookkeeping.failChunk({ input, chunkId, error: failureMessage(err), kind: 'retryable' }));
      } else {
        cursor.putBack(chunkId);
      }
      return;
    }
    if (type && FATAL_FAILURES.has(type)) {
      fatalError ??= failureMessage(err);
      cursor.putBack(chunkId);
      return;
    }
    const kind = chunkFailureKind(err);
    if (adaptive && kind === 'retryable') {
      adaptive.onCongestion(state.concurrency, sent);
      state.adaptive = adaptive.state;
    }
    settleAnswered(await activities().bookkeeping.failChunk({ input, chunkId, error: failureMessage(err), kind }));
  }

  // ---- the sliding window over one round's chunks ----------------------------------------
  const stopping = () => cancelRequested || fatalError !== undefined;

  /** Returns false when the run should continue as new before the round is over. */
  async function submitRound(): Promise<boolean> {
    try {
      return await slideWindow();
    } finally {
      await permits.release?.();
    }
  }

  async function slideWindow(): Promise<boolean> {
    const room = () => !state.paused && inFlight.size < windowLimit();
    for (;;) {
      // Chunks are being sent and the window has room for the one staging writes now: its permit is asked for already,
      // so that it leaves as soon as it is there (a coordinator's answer takes a few workflow tasks).
      if (room() && inFlight.size > 0 && !cursor.hasNext() && stagingRunning()) permits.ahead?.();
      // While staging runs, round 0 is not over: more chunks are on their way.
      await wf.condition(
        () =>
          stopping() ||
          (inFlight.size === 0 && !cursor.hasNext() && !stagingRunning()) ||
          (room() && cursor.hasNext()) ||
          (state.paused && permits.holdsAhead?.() === true),
      );
      if (state.paused && !stopping() && permits.holdsAhead?.()) {
        // A paused import holds no permit: the account's other imports may use it.
        await permits.release?.();
        continue;
      }
      if (stopping() || !cursor.hasNext()) break;
      if (chunksThisRun >= options.chunksPerRun || wf.workflowInfo().continueAsNewSuggested) {
        // Staging belongs to this run: the next one starts when it has ended (the history stays within chunksPerRun).
        await wf.condition(() => inFlight.size === 0 && !stagingRunning());
        // A cancel that came in while the window drained must not be lost to continue-as-new.
        return stopping();
      }
      const id = cursor.take();
      chunksThisRun++;
      inFlight.add(id);
      // In-flight chunks finish even when the import is cancelled: their outcome must be known.
      void wf.CancellationScope.nonCancellable(() => processChunk(id)).finally(() => inFlight.delete(id));
    }
    // A stop while staging runs waits for it too: the report needs all it read.
    await wf.CancellationScope.nonCancellable(() => wf.condition(() => inFlight.size === 0 && !stagingRunning()));
    return true;
  }

  // ---- staging, beside the window ---------------------------------------------------------
  /** Round 0 has `chunks` chunks staged so far. */
  function staged(chunks: number): void {
    if (chunks <= state.roundChunks) return;
    ledger.addChunks(chunks - state.roundChunks);
    cursor.extend(chunks);
  }

  /**
   * Runs the stage activity and follows its progress file, adding round 0's chunks as they are committed. Never
   * rejects: a failure is kept in `stagingFailure`, and stops the import once chunks have been sent.
   */
  async function stageAlongside(): Promise<void> {
    const act = activities(`stage ${input.source.location}`);
    // Imports that staged before submitting replay as they ran: without following.
    const following = wf.patched('stage-alongside') ? followStaging(act.staged) : undefined;
    try {
      const result = await act.stage(input);
      state.stage = result;
      state.stagedSoFar = undefined;
      staged(result.chunks);
    } catch (err) {
      stagingFailure = err;
      fatalError ??= `Staging failed: ${failureMessage(err)}`;
    } finally {
      following?.cancel();
    }
  }

  /** Follows staging's progress file until staging ends (the scope returned is cancelled then). */
  function followStaging(awaitStaged: ReturnType<typeof activities>['staged']): wf.CancellationScope {
    const following = new wf.CancellationScope();
    void following
      .run(async () => {
        // The first chunk goes out as soon as it is there; later news comes in batches, a few history events a second.
        for (let calls = 0; stagingRunning(); calls++) {
          const { chunks, read, valid, invalid } = await awaitStaged({
            importId: input.importId,
            after: state.roundChunks,
            batchMs: Math.min(1000, 125 * calls),
          });
          if (!stagingRunning()) break;
          state.stagedSoFar = { chunks, read, valid, invalid };
          staged(chunks);
          publish();
        }
      })
      // Following is a shortcut: without it, the chunks are all sent when staging ends.
      .catch(
        (err) =>
          wf.isCancellation(err) ||
          wf.log.warn('Following staging failed; its chunks are sent when it ends', { error: failureMessage(err) }),
      );
    return following;
  }

  // ---- the import -------------------------------------------------------------------------
  /**
   * Every way an import ends is a defined state: completed or cancelled with a report, or failed
   * (an ApplicationFailure, never a failing workflow task) with the root cause, Failed in the
   * search attributes, and the report when one could be written.
   */
  try {
    // Non-cancellable as a whole: a cancellation request only sets `cancelRequested` (see above).
    // Staging is not interrupted: it only reads the source and writes chunk files, and the report needs its result;
    // round 0's chunks are sent while it runs.
    await wf.CancellationScope.nonCancellable(async () => {
      publish();
      if (!state.stage) {
        void stageAlongside();
        // The first chunk's permit is asked for while staging writes it, as the next ones are: its request, and the
        // coordinator's start and its lease, overlap staging instead of following it (the first submission was scheduled
        // 0.26 s after the first chunk's news; now in the workflow task that hears it).
        if (permits.ahead && wf.patched(FIRST_PERMIT_AHEAD)) permits.ahead();
        await wf.condition(() => !stagingRunning() || cursor.hasNext());
        // Nothing will take that permit.
        if (stagingFailure !== undefined) await permits.release?.();
        // Nothing was sent yet: the import fails with staging's cause, as if staging had come first (a bug as a bug).
        if (stagingFailure instanceof wf.ActivityFailure) throw importFailure('Staging failed', stagingFailure);
        if (stagingFailure !== undefined) throw stagingFailure;
      }
      phase = 'submitting';
      ledger.recordSample(Date.now());
      publish();
      for (;;) {
        if (!(await submitRound())) {
          // With the import id decided: a scheduled run's next run must not derive another.
          await wf.continueAsNew<typeof importCatalog>(
            { ...request, importId: input.importId },
            { ...state, runNumber: state.runNumber + 1 },
          );
        }
        if (stopping() || c.awaitingRetry === 0 || state.round >= options.retryRounds) break;
        phase = 'waiting-to-retry';
        publish();
        await wf.condition(() => stopping(), options.retryBackoffMs * 2 ** state.round);
        if (stopping()) break;
        if (!(await planRound(state.round + 1))) break;
      }
    });
    return await finish();
  } catch (err) {
    if (err instanceof wf.ContinueAsNew) throw err;
    // Our own failures (stage, report, a stop) say what happened; anything else is unexpected: report what is known.
    const failure = err instanceof wf.ApplicationFailure ? err : importFailure('The import failed', err, await reportWhatIsKnown());
    publish('Failed');
    throw failure;
  }

  /** After an unexpected error: the report as far as the staging store knows, if one can be written at all. */
  async function reportWhatIsKnown(): Promise<unknown[] | undefined> {
    if (!state.stage || phase === 'reporting') return undefined;
    try {
      return [await writeReport('write the report after an unexpected error')];
    } catch {
      return undefined;
    }
  }

  /**
   * Chunks whose failure could not be recorded are reported as of unknown outcome. The import still
   * completes when the report's own checks pass (every staged product has its row); if they don't,
   * writeReport fails naming the gap and so does the import.
   */
  function writeReport(summary: string) {
    const request = { input, lastRound: state.round, unrecorded: state.unrecorded ?? [], unrecordedCount: state.unrecordedCount ?? 0 };
    return wf.CancellationScope.nonCancellable(() => activities(summary).bookkeeping.writeReport(request));
  }

  /** Plans a retry round; when that fails for good the import stops retrying, reports and fails with the cause. */
  async function planRound(round: number): Promise<boolean> {
    let planned;
    try {
      planned = await activities(`plan retry round ${round}`).bookkeeping.planRetryRound({ input, round });
    } catch (err) {
      fatalError ??= `retry round ${round} could not be planned: ${failureMessage(err)}`;
      return false;
    }
    cursor.startRound(round, planned.chunks);
    ledger.addChunks(planned.chunks);
    phase = 'submitting';
    publish();
    return true;
  }

  /** Writes the report and ends: the summary, or the failure that stopped the import, naming the report. */
  async function finish(): Promise<ImportSummary> {
    // Products still waiting for a retry round that will not come have failed.
    ledger.closeRetries();
    // The report is the truth for the user; books that don't balance point at a bug worth a look in the worker's log.
    const imbalance = ledger.imbalance();
    if (imbalance && !state.unrecordedCount) wf.log.warn("The import's counts do not balance", { imbalance });
    phase = 'reporting';
    publish();
    const report = await writeReport('write the report').catch((err) => {
      throw importFailure(fatalError ? `${fatalError}; then the report failed` : 'The report could not be written', err);
    });
    // Counted here, once per import: the report's counts are final, and the workflow's meter skips replays.
    const { succeeded, failed, invalid, notSubmitted, unchanged = 0 } = report.counts;
    recordProducts(wf.metricMeter, input.target, { succeeded, failed, invalid, 'not-submitted': notSubmitted, unchanged });
    const finishedAt = Date.now();
    const stopped = cancelRequested || fatalError !== undefined;
    phase = stopped ? 'cancelled' : 'completed';
    // Every chunk was followed to its end, so a product without an outcome means its outcome file is gone.
    if (!stopped && report.counts.notSubmitted > 0) {
      const n = report.counts.notSubmitted;
      throw wf.ApplicationFailure.nonRetryable(
        `${n.toLocaleString('en-US')} product${n === 1 ? ' has' : 's have'} no outcome although every chunk was submitted: ` +
          `outcome files were removed from the staging store while the import ran (report: ${report.files.resultsJsonl})`,
        'StagingDamaged',
        report,
      );
    }
    if (fatalError) {
      throw wf.ApplicationFailure.nonRetryable(
        `${fatalError} (import stopped; report: ${report.files.resultsJsonl})`,
        'ImportStopped',
        report,
      );
    }
    publish(stopped ? 'Cancelled' : 'Completed');
    return ledger.summary({
      input,
      stage: state.stage,
      report,
      round: state.round,
      runs: state.runNumber,
      stopped,
      finishedAt,
      startedAt: state.startedAt,
      ...(cancelRequested && cancelReason ? { cancelReason } : {}),
    });
  }
}

/** The import's failure for an activity's: `what` and the root cause's message, its type, and its details (a partial report's files and counts). */
export function importFailure(what: string, err: unknown, details = failureDetails(err)): wf.ApplicationFailure {
  return wf.ApplicationFailure.create({
    message: `${what}: ${failureMessage(err)}`,
    type: failureType(err) ?? 'ImportFailed',
    nonRetryable: true,
    details,
  });
}
