/**
 * One coordinator per target account: every import into the account asks it for a permit before each bulk call,
 * so pacing holds across imports and workers. Its core is the same QuotaGate an import uses alone; the coordinator
 * adds a queue (first come, first served), the answers of every import, and leases, so a permit whose import died
 * is not held for ever. Messages are signals both ways: an import reaches the coordinator through an activity
 * (signal-with-start, so the first one starts it), the coordinator answers with a signal to the import.
 *
 * An import alone on the account is lent the gate itself (a lease): it paces alone, as with `shareQuota: false`, with no
 * message a chunk, until another import asks for a permit (the coordinator recalls the lease, and the import gives the
 * gate back once its sends have answered) or LEND_MS has passed (so that a holder that has ended is found).
 */
import * as wf from '@temporalio/workflow';
import type { TargetName } from '../common/import';
import { SUBMIT_START_TO_CLOSE_MS } from '../common/timeouts';
import type { QuotaSeen } from '../targets/http';
import { QuotaGate, type QuotaGateState } from './quota';

export interface PermitRequest {
  requestId: string;
  /** The import asking: the permit is signalled to it. */
  workflowId: string;
  /** The import's ceiling (submissions per minute): the smallest of the imports waiting applies to the account. */
  maxPerMinute?: number;
  /** The import can take the account's gate on lease (workflows/permits.ts), as the run `runId`. */
  lease?: { runId: string };
}

/** What the bulk call's answer said; `failed` without `quota`: nothing learnt (or the permit is given back unused). */
export interface PermitAnswer {
  requestId: string;
  quota?: QuotaSeen;
  failed: boolean;
}

export interface PermitGrant {
  requestId: string;
  /** Epoch ms: the window opens then; send at that time. */
  notBefore?: number;
  /** The account's gate, lent until recalled: this grant's permit is the first taken from it. */
  lease?: { id: string; gate: QuotaGateState };
}

export interface LeaseRecall {
  leaseId: string;
  /** The coordinator's workflow id, for the answer of a run that holds no such lease (it may not know it). */
  coordinator: string;
}

/** The gate as its holder leaves it, with nothing out; none from an import that holds no such lease. */
export interface LeaseReturn {
  leaseId: string;
  gate?: QuotaGateState;
}

/** Sent to the imports waiting when the account's bucket is closed: what they wait for, and until when. */
export interface PermitWait {
  until: number;
  bucket: string;
  ceiling: boolean;
  maxPerMinute?: number;
}

export const permitRequestSignal = wf.defineSignal<[PermitRequest]>('quotaPermitRequest');
export const permitAnswerSignal = wf.defineSignal<[PermitAnswer]>('quotaPermitAnswer');
export const permitGrantSignal = wf.defineSignal<[PermitGrant]>('quotaPermitGrant');
export const permitWaitSignal = wf.defineSignal<[PermitWait]>('quotaPermitWait');
export const leaseRecallSignal = wf.defineSignal<[LeaseRecall]>('quotaLeaseRecall');
export const leaseReturnSignal = wf.defineSignal<[LeaseReturn]>('quotaLeaseReturn');

export interface AccountQuotaArgs {
  target: TargetName;
  /** false: never lend the gate (tests of the permit-by-permit protocol). */
  lends?: boolean;
}

export interface Lease {
  /** The request whose grant lent the gate. */
  id: string;
  workflowId: string;
  runId: string;
  at: number;
  /** The gate as lent: it comes back as this when its holder has ended (what the holder learnt is lost). */
  gate: QuotaGateState;
  recalledAt?: number;
}

export interface AccountQuotaState {
  gate?: QuotaGateState;
  queue: PermitRequest[];
  /** Permits out, with the time they were granted. */
  granted: (PermitRequest & { at: number })[];
  /** Recent request ids, so a request delivered twice (an activity retried) is served once. */
  seen: string[];
  /** The gate lent to an import: nothing is granted until it comes back. */
  lease?: Lease;
}

/** A bulk call takes at most the submission's startToClose; a permit unanswered after that is taken back. */
export const PERMIT_LEASE_MS = SUBMIT_START_TO_CLOSE_MS + 60_000;
/** The coordinator ends after this long with nothing queued or out, once the window it knows of is over. */
const IDLE_MS = 5 * 60_000;
/** Grants are scheduled this early before a window opens, as an import does alone. */
const WINDOW_LEAD_MS = 1000;
const MAX_SEEN = 500;
/** A lease is recalled after this long (its holder asks again, and is lent it again if still alone). */
const LEND_MS = 5 * 60_000;
const EVENTS_PER_RUN = 5_000;

export const accountQuotaWorkflowId = (target: TargetName, account: string) => `quota-${target}-${account}`;

export async function accountQuota(args: AccountQuotaArgs, carried?: AccountQuotaState): Promise<void> {
  const state: AccountQuotaState = carried ?? { queue: [], granted: [], seen: [] };
  const gate = new QuotaGate({ probeFirst: true }, state.gate);
  state.gate = gate.state;
  let changed = 0;
  let lastWait: number | undefined;
  /** Whether the lease timer is armed (it fires at the earliest lease end known when it was armed). */
  let leaseTimerArmed = false;
  /**
   * Waits for a message, or for the earliest lease to run out. One timer is kept for the leases across wakes (it wakes
   * the loop once when it fires, and is armed again for the leases then out), where a timed condition started and
   * cancelled a timer on every message: two of the five events each request and each answer cost. A timer that fires
   * early (its permit was answered) wakes the loop once for nothing. Coordinators that ran before keep the timed condition.
   */
  const messageOrLeaseEnd = async (version: number, leaseEnd: number, now: number): Promise<void> => {
    if (!wf.patched('coordinator-lease-timer')) {
      await wf.condition(() => changed + gate.version !== version, Math.max(1, leaseEnd - now));
      return;
    }
    if (!leaseTimerArmed) {
      leaseTimerArmed = true;
      wf.sleep(Math.max(1, leaseEnd - now)).then(
        () => {
          leaseTimerArmed = false;
          changed++;
        },
        () => {
          // Cancelled with the coordinator: the loop's own wait ends it.
        },
      );
    }
    await wf.condition(() => changed + gate.version !== version);
  };

  const see = (requestId: string) => {
    state.seen = [...state.seen, requestId].slice(-MAX_SEEN);
  };
  /** A request its sender's lease serves: sent before the lease reached it, it takes from the lease instead. */
  const servedByLease = (r: PermitRequest) =>
    state.lease !== undefined && r.workflowId === state.lease.workflowId && r.lease?.runId === state.lease.runId;
  /** The lease ends: the gate comes back as its holder left it, or as lent (with nothing out) if it did not say. */
  const endLease = (returned?: QuotaGateState) => {
    const lent = state.lease!;
    state.lease = undefined;
    gate.adopt({ ...(returned ?? lent.gate), outstanding: 0 });
    changed++;
  };
  wf.setHandler(permitRequestSignal, (request) => {
    if (state.seen.includes(request.requestId)) return;
    see(request.requestId);
    if (servedByLease(request)) return;
    state.queue.push(request);
    changed++;
  });
  wf.setHandler(leaseReturnSignal, (returned) => {
    if (state.lease?.id === returned.leaseId) endLease(returned.gate);
  });
  wf.setHandler(permitAnswerSignal, (answer) => {
    const granted = state.granted.findIndex((g) => g.requestId === answer.requestId);
    // The request a lease was granted for, given back: its import gave up waiting before the grant came (it stopped,
    // paused, or its staging failed), and never took the gate. It comes back as lent, instead of waiting for a recall
    // that the import may never answer (one that ends in the task that hears it, its return is dropped with it).
    if (state.lease?.id === answer.requestId && wf.patched('lease-given-back-unused')) endLease();
    else if (granted >= 0) {
      state.granted.splice(granted, 1);
      gate.answered(Date.now(), answer.quota, answer.failed);
    } else {
      // A request given up before its permit came (the import stopped): it leaves the queue.
      state.queue = state.queue.filter((r) => r.requestId !== answer.requestId);
      if (!state.seen.includes(answer.requestId)) see(answer.requestId);
    }
    changed++;
  });

  /**
   * Whether the grant for `next` lends the gate: it can take a lease, nothing else is out, and every request queued is
   * its own (no other import waits; a ceiling is an import's own and is never lent).
   */
  const lendable = (next: PermitRequest): boolean =>
    next.lease !== undefined &&
    args.lends !== false &&
    next.maxPerMinute === undefined &&
    state.granted.length === 0 &&
    state.queue.every((r) => r.workflowId === next.workflowId && r.lease?.runId === next.lease?.runId) &&
    wf.patched('coordinator-lends');

  /**
   * While the gate is lent: another import's request recalls it, as does the end of its term; a holder that has ended
   * (the recall fails) or that does not answer within a permit's lease gives it back as lent.
   */
  const lent = async (lease: Lease, now: number): Promise<void> => {
    if (lease.recalledAt === undefined && (state.queue.length > 0 || now >= lease.at + LEND_MS)) {
      lease.recalledAt = now;
      const recall: LeaseRecall = { leaseId: lease.id, coordinator: wf.workflowInfo().workflowId };
      await wf
        .getExternalWorkflowHandle(lease.workflowId)
        .signal(leaseRecallSignal, recall)
        .catch(() => {
          if (state.lease?.id === lease.id) endLease();
        });
      return;
    }
    if (lease.recalledAt !== undefined && now >= lease.recalledAt + PERMIT_LEASE_MS) {
      endLease();
      return;
    }
    const version = changed + gate.version;
    const until = lease.recalledAt !== undefined ? lease.recalledAt + PERMIT_LEASE_MS : lease.at + LEND_MS;
    await wf.condition(() => changed + gate.version !== version, Math.max(1, until - now));
  };

  for (;;) {
    if (wf.workflowInfo().continueAsNewSuggested || wf.workflowInfo().historyLength > EVENTS_PER_RUN) {
      await wf.condition(wf.allHandlersFinished);
      await wf.continueAsNew<typeof accountQuota>(args, state);
    }
    const now = Date.now();
    if (state.lease) {
      await lent(state.lease, now);
      continue;
    }
    for (const expired of state.granted.filter((g) => g.at + PERMIT_LEASE_MS <= now)) {
      state.granted = state.granted.filter((g) => g !== expired);
      gate.answered(now, undefined, true);
    }
    const ceilings = state.queue.map((r) => r.maxPerMinute).filter((n): n is number => n !== undefined);
    gate.options.maxPerMinute = ceilings.length ? Math.min(...ceilings) : undefined;
    const version = changed + gate.version;
    const next = state.queue[0];
    if (next) {
      const decision = gate.decide(now, WINDOW_LEAD_MS);
      if (decision.send) {
        gate.take(now);
        state.queue.shift();
        const lend = lendable(next);
        const lentGate = lend ? (JSON.parse(JSON.stringify(gate.state)) as QuotaGateState) : undefined;
        if (lentGate) {
          state.lease = { id: next.requestId, workflowId: next.workflowId, runId: next.lease!.runId, at: now, gate: lentGate };
          // Its other requests queued are served by the lease.
          state.queue = state.queue.filter((r) => !servedByLease(r));
        } else {
          state.granted.push({ ...next, at: now });
        }
        const grant: PermitGrant = {
          requestId: next.requestId,
          ...(decision.notBefore !== undefined ? { notBefore: decision.notBefore } : {}),
          ...(lentGate ? { lease: { id: next.requestId, gate: lentGate } } : {}),
        };
        // An import that has ended cannot take its permit: it is given back at once.
        await wf
          .getExternalWorkflowHandle(next.workflowId)
          .signal(permitGrantSignal, grant)
          .catch(() => {
            if (lend) {
              if (state.lease?.id === next.requestId) endLease();
              return;
            }
            state.granted = state.granted.filter((g) => g.requestId !== next.requestId);
            gate.answered(Date.now(), undefined, true);
          });
        continue;
      }
      if (decision.until !== undefined) {
        if (lastWait !== decision.until) {
          lastWait = decision.until;
          const wait: PermitWait = {
            until: decision.until,
            bucket: decision.bucket,
            ceiling: decision.ceiling,
            maxPerMinute: gate.options.maxPerMinute,
          };
          const waiting = [...new Set(state.queue.map((r) => r.workflowId))];
          await Promise.all(
            waiting.map((id) =>
              wf
                .getExternalWorkflowHandle(id)
                .signal(permitWaitSignal, wait)
                .catch(() => undefined),
            ),
          );
        }
        await wf.condition(() => changed + gate.version !== version, Math.max(1, decision.until - WINDOW_LEAD_MS - now));
      } else {
        // Answers are awaited; a lease running out also frees a permit.
        await messageOrLeaseEnd(version, Math.min(...state.granted.map((g) => g.at + PERMIT_LEASE_MS)), now);
      }
    } else if (state.granted.length > 0) {
      await messageOrLeaseEnd(version, Math.min(...state.granted.map((g) => g.at + PERMIT_LEASE_MS)), now);
    } else {
      // Idle: stay while the account's window is known to be closed, so a new import does not probe it again.
      const idleUntil = Math.max(now, gate.state.closedUntil ?? 0) + IDLE_MS;
      const woken = await wf.condition(() => state.queue.length > 0, idleUntil - now);
      if (!woken) return;
    }
  }
}
