/**
 * Where an import gets its permission to send a chunk: its own QuotaGate (pacing within the import), or its
 * account's coordinator (pacing across every import into the account, workflows/account-quota.ts). Both wait
 * durably (timers and conditions, no activity held open), so a window hours away survives worker restarts.
 */
import * as wf from '@temporalio/workflow';
import type { QuotaSeen } from '../targets/http';
import type { QuotaMessage } from '../activities/quota';
import {
  permitAnswerSignal,
  permitGrantSignal,
  permitRequestSignal,
  permitWaitSignal,
  type PermitGrant,
  type PermitRequest,
  type PermitWait,
} from './account-quota';
import { describeWait, type QuotaGate } from './quota';
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
  /** Gives back the permit asked for ahead that no submission took (staging ended, the import stops or pauses). */
  release?(): Promise<void>;
}

export interface PermitContext {
  target: string;
  maxPerMinute?: number;
  stopping(): boolean;
  paused(): boolean;
  /** Something the progress shows changed. */
  changed(): void;
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
 * Pacing by the account's coordinator: requests and answers by signal, the permit by signal. Call it once per
 * workflow run, before the first workflow task ends (it sets signal handlers). `start` sends a message by activity
 * (signal-with-start: the coordinator may not run yet) and returns the coordinator's workflow id; once one has, the
 * import signals the coordinator itself, which costs the server and the worker about half (an activity is three
 * events, a worker's poll and a client's call; a signal two events). A coordinator that has ended meanwhile fails the
 * signal, and the activity starts one again. While requests wait, one of them is sent again every REQUEST_CHECK_MS
 * (the coordinator ignores a request it has); if that starts a new coordinator, the others follow it there.
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
  /** A permit (or a request) given back unused: the coordinator takes it out of its queue or counts it unused. */
  const giveBack = (requestId: string) => tell({ answer: { requestId, failed: true } });
  /** Asks for a permit and waits for it; false when the import stops, or `cancelled` says so (the request is given back). */
  const takeOne = async (cancelled: () => boolean, afterOthers = false): Promise<Permit | false> => {
    if (!(await unpaused(ctx))) return false;
    // Asked for ahead: after the import's requests out now, so that the coordinator grants them first (a first request
    // is the window's probe, and its chunk is there).
    if (afterOthers) await wf.condition(() => waiting.size === 0 || ctx.stopping() || cancelled());
    if (ctx.stopping() || cancelled()) return false;
    const requestId = wf.uuid4();
    const asked = Date.now();
    const waitsBefore = waitsTold;
    const request: PermitRequest = {
      requestId,
      workflowId: wf.workflowInfo().workflowId,
      ...(ctx.maxPerMinute ? { maxPerMinute: ctx.maxPerMinute } : {}),
    };
    waiting.set(requestId, request);
    try {
      await tell({ request });
      if (!checking && wf.patched('quota-signals'))
        void checkCoordinator().catch(() => {
          // Only a cancellation ends it early: the import is being cancelled, and its requests with it.
        });
      await wf.condition(() => grants.has(requestId) || ctx.stopping() || cancelled());
    } finally {
      waiting.delete(requestId);
      if (waiting.size === 0 && wait) ctx.changed();
    }
    const grant = grants.get(requestId);
    grants.delete(requestId);
    if (!grant || ctx.stopping() || cancelled()) {
      await giveBack(requestId);
      return false;
    }
    const sendAt = Math.max(grant.notBefore ?? 0, Date.now());
    if (waitsTold !== waitsBefore || sendAt > Date.now()) recordQuotaWait(wf.metricMeter, ctx.target, (sendAt - asked) / 1000);
    return { requestId, grantedAt: Date.now(), ...(grant.notBefore !== undefined ? { notBefore: grant.notBefore } : {}) };
  };
  /** The permit asked for ahead, while no chunk has taken it. */
  let ahead: { permit: Promise<Permit | false>; cancel(): void } | undefined;
  return {
    async take() {
      const held = ahead;
      ahead = undefined;
      if (held) {
        const permit = await held.permit;
        // Held longer than AHEAD_HELD_MS (a slow source), it goes back: its grant counted too long ago.
        if (permit && Date.now() - (permit.grantedAt ?? 0) <= AHEAD_HELD_MS) return permit;
        if (permit) await giveBack(permit.requestId!);
        if (ctx.stopping()) return false;
      }
      return takeOne(() => false);
    },
    ahead() {
      // The import's own ceiling paces its sends by the minute: a permit ahead would gain nothing there.
      if (ahead || ctx.stopping() || ctx.maxPerMinute !== undefined || !wf.patched('permit-ahead')) return;
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
      if (!held) return;
      held.cancel();
      const permit = await held.permit;
      if (permit) await giveBack(permit.requestId!);
    },
    async answered(permit, quota, failed) {
      if (permit.requestId) await tell({ answer: { requestId: permit.requestId, ...(quota ? { quota } : {}), failed } });
    },
    waitingFor() {
      if (waiting.size === 0 || !wait || wait.until <= Date.now()) return undefined;
      return { until: wait.until, what: describeWait(ctx.target, wait.bucket, wait.maxPerMinute) };
    },
  };
}
