/**
 * Where an import gets its permission to send a chunk: its own QuotaGate (pacing within the import), or its
 * account's coordinator (pacing across every import into the account, workflows/account-quota.ts). Both wait
 * durably (timers and conditions, no activity held open), so a window hours away survives worker restarts.
 */
import * as wf from '@temporalio/workflow';
import type { QuotaSeen } from '../targets/http';
import type { QuotaMessage } from '../activities/quota';
import {
  leaseRecallSignal,
  leaseReturnSignal,
  permitAnswerSignal,
  permitGrantSignal,
  permitRequestSignal,
  permitWaitSignal,
  type LeaseReturn,
  type PermitGrant,
  type PermitRequest,
  type PermitWait,
} from './account-quota';
import { describeWait, QuotaGate, type QuotaGateState } from './quota';
import { recordQuotaWait } from '../common/metrics';

/** How long before a quota window opens its first submission is scheduled (workflow task, activity task, reading the chunk). */
export const WINDOW_LEAD_MS = 1000;

export interface Permit {
  /** Epoch ms: send at this time (the window opens then). */
  notBefore?: number;
  /** The coordinator's request this permit answers. */
  requestId?: string;
  /** Workflow time (epoch ms) the coordinator's grant came. */
  grantedAt?: number;
  /** Taken from the account's gate on lease: answered to it here, not to the coordinator. */
  leaseId?: string;
}

export interface PermitSource {
  /** Waits for a permit; false when the import stops meanwhile (the permit, if one came, is given back). */
  take(): Promise<Permit | false>;
  /** The chunk's answer (`quota` from its headers or a 429), or a failure that taught nothing. */
  answered(permit: Permit, quota: QuotaSeen | undefined, failed: boolean): Promise<void>;
  /** What submissions wait for now, for the progress. */
  waitingFor(): { what: string; until: number } | undefined;
  /**
   * Asks now for the next submission's permit, before its chunk is there (the window has room while staging writes it):
   * the next `take` gets it. A source that answers at once has no need of it.
   */
  ahead?(): void;
  /** Whether a permit asked for ahead is out (asked for or held), which no submission has taken yet. */
  holdsAhead?(): boolean;
  /**
   * Gives back the permit asked for ahead that no submission took, and a lease held (the round is over, the import
   * stops or pauses); once what was taken from the lease has answered.
   */
  release?(): Promise<void>;
}

export interface PermitContext {
  target: string;
  maxPerMinute?: number;
  stopping(): boolean;
  paused(): boolean;
  /** Something the progress shows changed. */
  changed(): void;
  /** No chunk of the round is left to take (staging has ended, none waits): a lease goes back once its sends answered. */
  allTaken?(): boolean;
}

/** Waits while the import is paused; false if it stops. */
async function unpaused(ctx: PermitContext): Promise<boolean> {
  if (ctx.paused()) await wf.condition(() => ctx.stopping() || !ctx.paused());
  return !ctx.stopping();
}

/** Pacing by the import's own gate: one timer per window however many chunks wait. */
export function localPermits(gate: QuotaGate, ctx: PermitContext): PermitSource {
  let windowTimer: number | undefined;
  let waiting: { until: number; what: string; chunks: number } | undefined;
  return {
    async take() {
      /** Since when this submission has waited for the quota (closed window, or a probe's answer). */
      let waitingSince: number | undefined;
      for (;;) {
        if (!(await unpaused(ctx))) return false;
        const now = Date.now();
        const decision = gate.decide(now, WINDOW_LEAD_MS);
        if (decision.send) {
          gate.take(now);
          const sendAt = decision.notBefore ?? now;
          if (waitingSince !== undefined || sendAt > now)
            recordQuotaWait(wf.metricMeter, ctx.target, (sendAt - (waitingSince ?? now)) / 1000);
          return decision.notBefore === undefined ? {} : { notBefore: decision.notBefore };
        }
        waitingSince ??= now;
        const version = gate.version;
        if (decision.until === undefined) {
          await wf.condition(() => ctx.stopping() || ctx.paused() || gate.version !== version);
          continue;
        }
        if (waiting?.until !== decision.until) {
          waiting = { until: decision.until, what: describeWait(ctx.target, decision.bucket, ctx.maxPerMinute), chunks: 0 };
          ctx.changed();
        }
        const wait = waiting;
        wait.chunks++;
        try {
          if (windowTimer !== decision.until) {
            windowTimer = decision.until;
            // Woken a little early: the submission is scheduled by the time the window opens, and waits for it in the activity.
            await wf.condition(() => ctx.stopping(), Math.max(1, decision.until - WINDOW_LEAD_MS - now));
            gate.tick();
          } else {
            await wf.condition(() => ctx.stopping() || ctx.paused() || gate.version !== version);
          }
        } finally {
          wait.chunks--;
        }
        if (wait.chunks === 0) ctx.changed();
      }
    },
    async answered(_permit, quota, failed) {
      gate.answered(Date.now(), quota, failed);
    },
    waitingFor: () => (waiting && waiting.chunks > 0 ? waiting : undefined),
  };
}

/**
 * How often an import whose requests wait for permits makes sure its coordinator still holds them: a coordinator that
 * has ended (terminated by hand, say) would never answer them, and the import would wait for ever.
 */
export const REQUEST_CHECK_MS = 60_000;

/**
 * A permit asked for ahead and held longer than this is given back when its chunk comes, and asked for anew: a permit is
 * counted (the coordinator's ceiling too) when it is granted, and a send may come this much later, as a grant for an
 * opening window (notBefore) comes up to a second early. A chunk that takes longer than this to stage gains nothing.
 */
export const AHEAD_HELD_MS = 5_000;

/**
 * The patch under which an import asks for its first chunk's permit ahead, from its start, and takes a permit asked for
 * ahead before a lease it holds (the lease may have come with that permit).
 */
export const FIRST_PERMIT_AHEAD = 'first-permit-ahead';

/**
 * Pacing by the account's coordinator: requests and answers by signal, the permit by signal. Call it once per
 * workflow run, before the first workflow task ends (it sets signal handlers). `start` sends a message by activity
 * (signal-with-start: the coordinator may not run yet) and returns the coordinator's workflow id; once one has, the
 * import signals the coordinator itself, which costs the server and the worker about half (an activity is three
 * events, a worker's poll and a client's call; a signal two events). A coordinator that has ended meanwhile fails the
 * signal, and the activity starts one again. While requests wait, one of them is sent again every REQUEST_CHECK_MS
 * (the coordinator ignores a request it has); if that starts a new coordinator, the others follow it there.
 *
 * An import alone on the account is lent the account's gate with a grant (workflows/account-quota.ts): it then paces
 * its sends by that gate as `localPermits` does, with no message a chunk. Once the coordinator recalls it, or the
 * round's chunks are all taken, and every send from it has its answer, the gate goes back (with what its answers
 * taught), and permits are asked for again.
 */
export function accountPermits(ctx: PermitContext, start: (message: QuotaMessage) => Promise<string>): PermitSource {
  let coordinator: string | undefined;
  /** Sends a message; true when it went by activity (to a coordinator that may have just been started). */
  const tell = async (message: QuotaMessage): Promise<boolean> => {
    if (coordinator !== undefined && wf.patched('quota-signals')) {
      const handle = wf.getExternalWorkflowHandle(coordinator);
      try {
        await (message.request ? handle.signal(permitRequestSignal, message.request) : handle.signal(permitAnswerSignal, message.answer));
        return false;
      } catch (err) {
        if (wf.isCancellation(err)) throw err;
      }
    }
    coordinator = await start(message);
    return true;
  };
  const grants = new Map<string, PermitGrant>();
  /**
   * The account's gate on lease, while held; `recalled` once it is to go back (no permit is taken from it then);
   * `takers`: submissions waiting for a permit from it.
   */
  let lease: { id: string; gate: QuotaGate; local: PermitSource; recalled: boolean; takers: number } | undefined;
  const returnLease = async (message: LeaseReturn, to = coordinator): Promise<void> => {
    if (to === undefined) return;
    try {
      await wf.getExternalWorkflowHandle(to).signal(leaseReturnSignal, message);
    } catch (err) {
      if (wf.isCancellation(err)) throw err;
      // The coordinator has ended: nothing to give back to.
    }
  };
  /** Paces by the lent gate until it is to go back, then gives it back once nothing taken from it is out. */
  const holdLease = (id: string, lent: QuotaGateState): void => {
    const gate = new QuotaGate({ probeFirst: true }, lent);
    // A recall ends the lent gate's waits as a stop would: the submission then asks the coordinator.
    const held: NonNullable<typeof lease> = {
      id,
      gate,
      recalled: false,
      takers: 0,
      local: localPermits(gate, { ...ctx, stopping: () => ctx.stopping() || held.recalled }),
    };
    lease = held;
    void (async () => {
      const done = () => ctx.allTaken?.() === true && held.takers === 0;
      await wf.condition(() => (held.recalled || done()) && (gate.state.outstanding ?? 0) === 0);
      held.recalled = true;
      try {
        await returnLease({ leaseId: id, gate: gate.state });
      } finally {
        // Requests wait for this: sent after the gate is back, the coordinator serves them with it.
        lease = undefined;
      }
    })().catch(() => {
      // Only a cancellation ends it early: the import is being cancelled.
    });
  };
  /** Requests sent and not yet answered with a permit. */
  const waiting = new Map<string, PermitRequest>();
  let checking = false;
  /** Runs while requests wait (one timer a REQUEST_CHECK_MS for all of them, not one a request). */
  const checkCoordinator = async (): Promise<void> => {
    checking = true;
    try {
      while (waiting.size > 0) {
        await wf.sleep(REQUEST_CHECK_MS);
        // A request whose permit has come is no longer the coordinator's to hold: sent again, a new one would grant it twice.
        const unanswered = (r: PermitRequest) => waiting.has(r.requestId) && !grants.has(r.requestId);
        const [first, ...others] = [...waiting.values()].filter(unanswered);
        try {
          if (first && (await tell({ request: first }))) for (const request of others) if (unanswered(request)) await tell({ request });
        } catch (err) {
          if (wf.isCancellation(err)) throw err;
          // The activity failed for good (a worker without the target's settings): the next round tries again.
        }
      }
    } finally {
      checking = false;
    }
  };
  let wait: PermitWait | undefined;
  /** The coordinator's "wait" messages so far: a request that saw one waited for the quota. */
  let waitsTold = 0;
  wf.setHandler(permitGrantSignal, (grant) => {
    grants.set(grant.requestId, grant);
  });
  wf.setHandler(permitWaitSignal, (w) => {
    waitsTold++;
    wait = w;
    ctx.changed();
  });
  wf.setHandler(leaseRecallSignal, (recall) => {
    if (lease?.id === recall.leaseId) lease.recalled = true;
    // A lease this run does not hold (given back already, or an earlier run's): the coordinator takes its gate back as lent.
    else if (lease === undefined) void returnLease({ leaseId: recall.leaseId }, recall.coordinator).catch(() => undefined);
  });
  /** A permit (or a request) given back unused: the coordinator takes it out of its queue or counts it unused. */
  const giveBack = (requestId: string) => tell({ answer: { requestId, failed: true } });
  const giveBackPermit = async (permit: Permit): Promise<void> => {
    if (permit.leaseId === undefined) await giveBack(permit.requestId!);
    else if (lease?.id === permit.leaseId) lease.gate.answered(Date.now(), undefined, true);
  };
  /**
   * Asks for a permit and waits for it; false when the import stops, or `cancelled` says so (the request is given back);
   * 'lease' when a lease is held, or came meanwhile: the coordinator drops the requests of a lease's holder, and the
   * caller takes from the lease, or asks again once it is back.
   */
  const takeOne = async (cancelled: () => boolean, afterOthers = false): Promise<Permit | false | 'lease'> => {
    if (!(await unpaused(ctx))) return false;
    // Asked for ahead: after the import's requests out now, so that the coordinator grants them first (a first request
    // is the window's probe, and its chunk is there).
    if (afterOthers) await wf.condition(() => waiting.size === 0 || ctx.stopping() || cancelled() || lease !== undefined);
    if (ctx.stopping() || cancelled()) return false;
    if (lease !== undefined) return 'lease';
    const requestId = wf.uuid4();
    const asked = Date.now();
    const waitsBefore = waitsTold;
    const request: PermitRequest = {
      requestId,
      workflowId: wf.workflowInfo().workflowId,
      // An import with its own ceiling is paced by the coordinator with it: no lease. (No patch: a request's payload is
      // not part of what a replay compares, and a run of the version before was sent no lease.)
      ...(ctx.maxPerMinute ? { maxPerMinute: ctx.maxPerMinute } : { lease: { runId: wf.workflowInfo().runId } }),
    };
    waiting.set(requestId, request);
    try {
      await tell({ request });
      if (!checking && wf.patched('quota-signals'))
        void checkCoordinator().catch(() => {
          // Only a cancellation ends it early: the import is being cancelled, and its requests with it.
        });
      await wf.condition(() => grants.has(requestId) || ctx.stopping() || cancelled() || lease !== undefined);
    } finally {
      waiting.delete(requestId);
      if (waiting.size === 0 && wait) ctx.changed();
    }
    const grant = grants.get(requestId);
    grants.delete(requestId);
    if (!grant) {
      if (lease !== undefined && !ctx.stopping() && !cancelled()) return 'lease';
      await giveBack(requestId);
      return false;
    }
    if (grant.lease) holdLease(grant.lease.id, grant.lease.gate);
    const permit: Permit = {
      requestId,
      grantedAt: Date.now(),
      ...(grant.notBefore !== undefined ? { notBefore: grant.notBefore } : {}),
      ...(grant.lease ? { leaseId: grant.lease.id } : {}),
    };
    if (ctx.stopping() || cancelled()) {
      await giveBackPermit(permit);
      return false;
    }
    const sendAt = Math.max(grant.notBefore ?? 0, Date.now());
    if (waitsTold !== waitsBefore || sendAt > Date.now()) recordQuotaWait(wf.metricMeter, ctx.target, (sendAt - asked) / 1000);
    return permit;
  };
  /** The permit asked for ahead, while no chunk has taken it. */
  let ahead: { permit: Promise<Permit | false | 'lease'>; cancel(): void } | undefined;
  return {
    async take() {
      for (;;) {
        const leased = lease;
        const held = ahead;
        // A permit asked for ahead goes first, even beside a lease: the lease may have come with it, the permit taken
        // from the lent gate already (and the gate goes back only once that permit is answered).
        const aheadFirst = held !== undefined && leased !== undefined && wf.patched(FIRST_PERMIT_AHEAD);
        if (leased && !leased.recalled && !aheadFirst) {
          leased.takers++;
          const permit = await leased.local.take().finally(() => leased.takers--);
          if (permit) return { ...permit, leaseId: leased.id };
          if (ctx.stopping()) return false;
          continue;
        }
        // A lease on its way back: the request goes after it, so that the coordinator has its gate back when it comes.
        if (leased && !aheadFirst) {
          await wf.condition(() => lease !== leased);
          continue;
        }
        ahead = undefined;
        if (held) {
          const permit = await held.permit;
          if (permit === 'lease') continue;
          // Held longer than AHEAD_HELD_MS (a slow source), it goes back: its grant counted too long ago.
          if (permit && Date.now() - (permit.grantedAt ?? 0) <= AHEAD_HELD_MS) return permit;
          if (permit) await giveBackPermit(permit);
          if (ctx.stopping()) return false;
        }
        const permit = await takeOne(() => false);
        if (permit !== 'lease') return permit;
      }
    },
    ahead() {
      // The import's own ceiling paces its sends by the minute: a permit ahead would gain nothing there; nor under a lease.
      if (ahead || ctx.stopping() || ctx.maxPerMinute !== undefined || lease !== undefined || !wf.patched('permit-ahead')) return;
      let cancelled = false;
      ahead = {
        permit: takeOne(() => cancelled, true),
        cancel: () => {
          cancelled = true;
        },
      };
    },
    holdsAhead: () => ahead !== undefined,
    async release() {
      const held = ahead;
      ahead = undefined;
      if (held) {
        held.cancel();
        const permit = await held.permit;
        if (permit && permit !== 'lease') await giveBackPermit(permit);
      }
      const leased = lease;
      if (leased) {
        leased.recalled = true;
        await wf.condition(() => lease !== leased);
      }
    },
    async answered(permit, quota, failed) {
      if (permit.leaseId !== undefined) {
        if (lease?.id === permit.leaseId) lease.gate.answered(Date.now(), quota, failed);
        return;
      }
      if (permit.requestId) await tell({ answer: { requestId: permit.requestId, ...(quota ? { quota } : {}), failed } });
    },
    waitingFor() {
      if (lease && !lease.recalled) return lease.local.waitingFor();
      if (waiting.size === 0 || !wait || wait.until <= Date.now()) return undefined;
      return { until: wait.until, what: describeWait(ctx.target, wait.bucket, wait.maxPerMinute) };
    },
  };
}
