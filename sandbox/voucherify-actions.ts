// Voucherify's async actions for PRODUCTS.BULK_UPDATE: a FIFO queue per project,
// worked through by a timer at a fixed product rate, off the request path.
import { inflateRawSync } from 'node:zlib';
import type { FaultInjector } from './faults';
import { hash32, hex } from './rng';
import { checkBulkProduct, type VoucherifyProductStore } from './voucherify-products';

export type ActionStatus = 'ENQUEUED' | 'IN_PROGRESS' | 'DONE' | 'FAILED';
export type ResultShape = 'current' | 'legacy';

export interface ProductError {
  message: string;
  details: string;
  key: string;
  source_id: string;
}

interface ActionRecord {
  id: string;
  index: number;
  requestId: string;
  createdAtMs: number;
  updatedAtMs: number;
  startedAtMs?: number;
  finishedAtMs?: number;
  status: ActionStatus;
  total: number;
  cursor: number;
  doneCount: number;
  /**
   * The request body, deflated until processing starts: a queue of many 10 MB
   * bodies would otherwise hold hundreds of MB (parsed objects, several times more).
   */
  pendingBody?: Buffer;
  items?: unknown[];
  /** Index at which an injected action failure strikes. */
  failAtIndex?: number;
  /** Per-product report rows, dropped when the report expires. */
  report?: { sourceIds: string[]; outcomes: Uint8Array };
  errorsByIndex: Map<number, ProductError>;
  reportsAvailableTillMs?: number;
}

const FOUND = 1;
const UPDATED = 2;

export interface ActionProcessorOptions {
  productsPerSecond: number;
  reportTtlSeconds: number;
  seed: number;
  store: VoucherifyProductStore;
  faults: FaultInjector;
  reportUrl(actionId: string): string;
}

const tickMs = 10;
/** Longest run of product work between two chances for requests to be served. */
const sliceMs = 8;

export class ActionProcessor {
  private readonly actions = new Map<string, ActionRecord>();
  /** Creation order, for listing. */
  private readonly created: ActionRecord[] = [];
  private readonly queue: ActionRecord[] = [];
  /** Finished actions whose report rows are still held, in expiry order. */
  private readonly reportsHeld: ActionRecord[] = [];
  private scheduled: { cancel(): void } | undefined;
  private lastTickMs = 0;
  private credit = 0;

  constructor(private readonly options: ActionProcessorOptions) {}

  enqueue(deflatedBody: Buffer, total: number, requestId: string): string {
    const now = Date.now();
    const index = this.created.length;
    const action: ActionRecord = {
      id: `aa_${hex(hash32(this.options.seed, 'action-id', index), 8)}${hex(index, 10)}`,
      index,
      requestId,
      createdAtMs: now,
      updatedAtMs: now,
      status: 'ENQUEUED',
      total,
      cursor: 0,
      doneCount: 0,
      pendingBody: deflatedBody,
      errorsByIndex: new Map(),
    };
    this.actions.set(action.id, action);
    this.created.push(action);
    this.queue.push(action);
    this.schedule();
    return action.id;
  }

  stop(): void {
    this.scheduled?.cancel();
    this.scheduled = undefined;
  }

  /** The documented action object; `result` only on a finished action and when asked for. */
  describe(id: string, withResult: boolean, shape: ResultShape): Record<string, unknown> | undefined {
    const action = this.actions.get(id);
    if (!action) return undefined;
    this.expireReports(Date.now());
    const finished = action.status === 'DONE' || action.status === 'FAILED';
    const described: Record<string, unknown> = {
      id: action.id,
      type: 'PRODUCTS.BULK_UPDATE',
      status: action.status,
      operation_status: action.status === 'DONE' ? 'SUCCESS' : action.status === 'FAILED' ? 'FAILED' : 'UNKNOWN',
      created_at: new Date(action.createdAtMs).toISOString(),
      updated_at: new Date(action.updatedAtMs).toISOString(),
      request_id: action.requestId,
      processing_time: action.startedAtMs === undefined ? 0 : (action.finishedAtMs ?? Date.now()) - action.startedAtMs,
      progress: action.total === 0 ? (finished ? 100 : 0) : Math.floor((action.cursor / action.total) * 100),
      object: 'async_action',
    };
    if (withResult && finished) described.result = shape === 'legacy' ? legacyResult(action) : this.currentResult(action);
    return described;
  }

  /** Newest first, created strictly before endDate when given. */
  list(limit: number, endDateMs: number | undefined): { actions: Record<string, unknown>[]; hasMore: boolean } {
    const matching: ActionRecord[] = [];
    for (let i = this.created.length - 1; i >= 0 && matching.length <= limit; i--) {
      const action = this.created[i];
      if (action && (endDateMs === undefined || action.createdAtMs < endDateMs)) matching.push(action);
    }
    const page = matching.slice(0, limit).map((action) => this.describe(action.id, false, 'current') ?? {});
    return { actions: page, hasMore: matching.length > limit };
  }

  /** CSV rows found,updated,source_id,error; `expired` once the report's time is up. */
  report(id: string): string | 'expired' | undefined {
    const action = this.actions.get(id);
    if (!action?.reportsAvailableTillMs) return undefined;
    this.expireReports(Date.now());
    if (!action.report) return 'expired';
    const { sourceIds, outcomes } = action.report;
    const lines = ['found,updated,source_id,error'];
    for (let i = 0; i < sourceIds.length; i++) {
      const outcome = outcomes[i] ?? 0;
      const error = action.errorsByIndex.get(i)?.details ?? '';
      lines.push([Boolean(outcome & FOUND), Boolean(outcome & UPDATED), csvField(sourceIds[i] ?? ''), csvField(error)].join(','));
    }
    return `${lines.join('\n')}\n`;
  }

  private currentResult(action: ActionRecord): Record<string, unknown> {
    const result: Record<string, unknown> = {
      done_count: action.doneCount,
      failed_count: action.total - action.doneCount,
      errors: [...action.errorsByIndex.values()],
      reports: [this.options.reportUrl(action.id)],
      reports_available_till: new Date(action.reportsAvailableTillMs ?? 0).toISOString(),
    };
    if (action.status === 'FAILED')
      result.message = `Processing stopped after ${action.cursor} of ${action.total} products (sandbox fault)`;
    return result;
  }

  private schedule(immediately = false): void {
    if (this.scheduled || this.queue.length === 0) return;
    if (immediately) {
      const handle = setImmediate(this.tick);
      this.scheduled = { cancel: () => clearImmediate(handle) };
    } else {
      const handle = setTimeout(this.tick, tickMs);
      this.scheduled = { cancel: () => clearTimeout(handle) };
    }
  }

  private readonly tick = (): void => {
    this.scheduled = undefined;
    const now = Date.now();
    this.expireReports(now);
    const head = this.queue[0];
    if (!head) return;
    let behind = false;
    if (head.status === 'ENQUEUED') {
      this.begin(head, now);
      this.credit = 0;
    } else {
      const { productsPerSecond } = this.options;
      this.credit = Math.min(productsPerSecond, this.credit + (productsPerSecond * (now - this.lastTickMs)) / 1000);
      this.credit -= this.work(head, Math.floor(this.credit), performance.now() + sliceMs, now);
      behind = this.credit >= 1;
    }
    this.lastTickMs = now;
    // When behind, yield only for pending I/O; otherwise wait for more budget.
    this.schedule(behind);
  };

  private begin(action: ActionRecord, now: number): void {
    action.items = action.pendingBody ? (JSON.parse(inflateRawSync(action.pendingBody).toString('utf8')) as unknown[]) : [];
    action.pendingBody = undefined;
    action.status = 'IN_PROGRESS';
    action.startedAtMs = now;
    action.updatedAtMs = now;
    action.report = { sourceIds: new Array<string>(action.total), outcomes: new Uint8Array(action.total) };
    const failure = this.options.faults.actionFailure(action.index);
    if (failure.fails) action.failAtIndex = Math.floor(failure.afterShare * action.total);
    if (action.total === 0) this.finish(action, now);
  }

  /** Processes up to `count` products, stopping early at the deadline; returns how many. */
  private work(action: ActionRecord, count: number, deadline: number, now: number): number {
    const { store, faults } = this.options;
    const nowIso = new Date(now).toISOString();
    const first = action.cursor;
    const end = Math.min(action.total, action.cursor + count);
    for (; action.cursor < end; action.cursor++) {
      if (action.cursor === action.failAtIndex) break;
      if ((action.cursor - first) % 64 === 63 && performance.now() > deadline) break;
      const i = action.cursor;
      const check = checkBulkProduct(action.items?.[i]);
      const sourceId = check.ok ? check.product.source_id : check.sourceId;
      let outcome = store.has(sourceId) ? FOUND : 0;
      if (!check.ok) {
        action.errorsByIndex.set(i, { message: 'Invalid payload', details: check.details, key: 'invalid_payload', source_id: sourceId });
      } else if (faults.productFails(sourceId)) {
        action.errorsByIndex.set(i, {
          message: 'Product update failed',
          details: 'Temporary failure while updating the product (sandbox fault); submit it again',
          key: 'product_update_failed',
          source_id: sourceId,
        });
      } else {
        store.upsert(check.product, nowIso);
        outcome |= UPDATED;
        action.doneCount++;
      }
      if (action.report) {
        action.report.sourceIds[i] = sourceId;
        action.report.outcomes[i] = outcome;
      }
    }
    action.updatedAtMs = now;
    if (action.cursor === action.total || action.cursor === action.failAtIndex) this.finish(action, now);
    return action.cursor - first;
  }

  private finish(action: ActionRecord, now: number): void {
    action.status = action.cursor === action.failAtIndex ? 'FAILED' : 'DONE';
    action.finishedAtMs = now;
    action.updatedAtMs = now;
    action.items = undefined;
    action.reportsAvailableTillMs = now + this.options.reportTtlSeconds * 1000;
    if (action.report) {
      // Only rows that were processed belong in the report.
      action.report.sourceIds.length = action.cursor;
      action.report.outcomes = action.report.outcomes.slice(0, action.cursor);
    }
    this.queue.shift();
    this.reportsHeld.push(action);
  }

  private expireReports(now: number): void {
    while (this.reportsHeld.length > 0 && (this.reportsHeld[0]?.reportsAvailableTillMs ?? 0) <= now) {
      const expired = this.reportsHeld.shift();
      if (expired) expired.report = undefined;
    }
  }
}

function legacyResult(action: ActionRecord): Record<string, unknown> {
  const results: Array<{ source_id: string; found: boolean; updated: boolean }> = [];
  const { sourceIds = [], outcomes = new Uint8Array() } = action.report ?? {};
  for (let i = 0; i < sourceIds.length; i++) {
    const outcome = outcomes[i] ?? 0;
    results.push({ source_id: sourceIds[i] ?? '', found: Boolean(outcome & FOUND), updated: Boolean(outcome & UPDATED) });
  }
  return { results, done_count: action.doneCount };
}

function csvField(value: string): string {
  return /[",\n\r]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
}
