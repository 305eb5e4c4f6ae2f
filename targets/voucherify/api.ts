/**
 * Voucherify's bulk product upsert: POST the chunk, get an async action id, poll the action.
 * Connection settings come from the worker's environment only.
 */
import { z } from 'zod';
import { setTimeout as sleep } from 'node:timers/promises';
import { Context } from '@temporalio/activity';
import got, { type Got } from 'got';
import { DEFAULT_HTTP_TIMEOUT_MS } from '../../common/timeouts';
import {
  createHttp,
  heartbeatWhile,
  isHttpStatus,
  isUnknownOutcome,
  quotaOf,
  requireEnv,
  TokenCache,
  tokenOfAnswer,
  toFailure,
  withBearer,
  type TargetSettings,
} from '../http';
import { DEFAULT_MAX_RPS, limiterFromEnv } from '../limiter';
import type { ActionPoll, AsyncActionApi, ItemHead, ItemOutcome, SubmitContext } from '../types';
import { voucherifyQuotaHeaders } from './quota-headers';
import { succeeded } from '../../common/outcome';

const label = 'Voucherify';

const ActionAccepted = z.object({ async_action_id: z.string().min(1) });

const ProductError = z.object({
  message: z.string().optional(),
  details: z.string().optional().nullable(),
  key: z.string().optional().nullable(),
  source_id: z.string().optional().nullable(),
});

const AsyncAction = z.object({
  id: z.string(),
  status: z.enum(['ENQUEUED', 'IN_PROGRESS', 'DONE', 'FAILED']),
  progress: z.number().optional(),
  result: z
    .object({
      // Today's shape.
      done_count: z.number().optional(),
      failed_count: z.number().optional(),
      errors: z.array(ProductError).optional(),
      // The shape before August 2024.
      results: z.array(z.object({ source_id: z.string(), found: z.boolean().optional(), updated: z.boolean().optional() })).optional(),
      message: z.string().optional(),
    })
    .passthrough()
    .optional()
    .nullable(),
});
type AsyncAction = z.infer<typeof AsyncAction>;

/** Error keys that judge the product itself: resubmitting it unchanged cannot succeed. */
const permanentErrorKeys = /invalid|not_allowed|required|duplicate|too_long|unprocessable|forbidden|validation/i;

function productErrorOutcome(error: z.infer<typeof ProductError>): ItemOutcome {
  const message = [error.message, error.details].filter(Boolean).join(': ') || 'failed without a message';
  const permanent = permanentErrorKeys.test(error.key ?? '');
  return { kind: permanent ? 'invalid' : 'retryable', error: error.key ? `${error.key}: ${message}` : message };
}

/** Maps a finished action onto each product of the chunk, from either result shape. */
export function outcomesOfAction(action: AsyncAction): (item: ItemHead) => ItemOutcome {
  if (action.status === 'FAILED') {
    const why = action.result?.message ?? 'the async action ended FAILED';
    return () => ({ kind: 'retryable', error: `${action.id}: ${why}` });
  }
  const errors = new Map((action.result?.errors ?? []).filter((e) => e.source_id).map((e) => [e.source_id as string, e]));
  const legacy = action.result?.results ? new Map(action.result.results.map((r) => [r.source_id, r])) : undefined;
  return (item) => {
    const error = errors.get(item.key);
    if (error) return productErrorOutcome(error);
    if (!legacy) return succeeded;
    const row = legacy.get(item.key);
    if (row?.updated) return succeeded;
    return {
      kind: 'retryable',
      error: row ? `${action.id}: reported as not updated` : `${action.id}: not in the action's results`,
    };
  };
}

/** Whether `outcomesOfAction` says succeeded for every product, whichever: no error names one, and no legacy results. */
export function allSucceededIn(action: AsyncAction): boolean {
  return action.status !== 'FAILED' && !action.result?.results && !(action.result?.errors ?? []).some((e) => e.source_id);
}

/** What a submission heartbeats just before sending: a later attempt then knows an action may exist. */
interface SubmitHeartbeat {
  sentAt: number;
  bodySha256: string;
  /** Sends of this chunk after an attempt of unknown outcome, carried across attempts. */
  resends: number;
  /** The request got an HTTP answer: no action was created. */
  answered?: boolean;
}

/** The earlier attempt's send, when it may have created an action for this very body. */
export function earlierSend(details: unknown, bodySha256: string): SubmitHeartbeat | undefined {
  const d = details as Partial<SubmitHeartbeat> | undefined;
  if (!d || typeof d.sentAt !== 'number' || d.bodySha256 !== bodySha256 || d.answered) return undefined;
  return { sentAt: d.sentAt, bodySha256, resends: typeof d.resends === 'number' ? d.resends : 0 };
}

/** Clocks of worker and API may differ this much. */
const CLOCK_SKEW_MS = 5_000;
/** Longest wait for an unfinished candidate action before the chunk is sent again. */
const LOOKUP_WAIT_MS = 10 * 60_000;
/** The list's largest page, and how many pages back a look-up goes (2,000 actions created within the window). */
const LIST_PAGE = 100;
const LOOKUP_MAX_PAGES = 20;

const AsyncActionList = z.object({
  async_actions: z.array(z.object({ id: z.string(), type: z.string().optional(), created_at: z.string() })),
});

/** The source_id column of a report file (CSV with a header row; source ids may be quoted). */
export function sourceIdsOfReport(csv: string): string[] | undefined {
  const rows = csv
    .split(/\r?\n/)
    .filter((line) => line.length > 0)
    .map(csvFields);
  const column = rows[0]?.indexOf('source_id') ?? -1;
  if (column < 0) return undefined;
  return rows.slice(1).map((row) => row[column] ?? '');
}

function csvFields(line: string): string[] {
  const fields: string[] = [];
  const pattern = /(?:^|,)(?:"((?:[^"]|"")*)"|([^,]*))/g;
  for (let m = pattern.exec(line); m && m.index < line.length; m = pattern.exec(line)) {
    fields.push(m[1] !== undefined ? m[1].replace(/""/g, '"') : (m[2] ?? ''));
    if (pattern.lastIndex === m.index) pattern.lastIndex++;
  }
  return fields;
}

export function connectVoucherify(env: NodeJS.ProcessEnv): AsyncActionApi<'voucherify'> {
  const settings = requireEnv(
    env,
    ['VOUCHERIFY_API_URL', 'VOUCHERIFY_APP_ID', 'VOUCHERIFY_APP_TOKEN'] as const,
    "Set them to your project's API URL (e.g. https://api.voucherify.io) and application keys, or run `bulkport sandbox` and use the values it prints.",
  );
  const timeoutMs = Number(env.VOUCHERIFY_TIMEOUT_MS ?? DEFAULT_HTTP_TIMEOUT_MS);
  // An earlier attempt's action appears at most one HTTP timeout after it was sent.
  const lookupWindowMs = timeoutMs + CLOCK_SKEW_MS;
  const http: Got = createHttp({
    target: 'voucherify',
    baseUrl: settings.VOUCHERIFY_API_URL,
    timeoutMs,
    limiter: limiterFromEnv(env, 'VOUCHERIFY_MAX_RPS', DEFAULT_MAX_RPS.voucherify),
  });
  const where: TargetSettings = {
    label,
    baseUrl: settings.VOUCHERIFY_API_URL,
    urlVariable: 'VOUCHERIFY_API_URL',
    timeoutVariable: 'VOUCHERIFY_TIMEOUT_MS',
  };
  const appKeys = { 'x-app-id': settings.VOUCHERIFY_APP_ID, 'x-app-token': settings.VOUCHERIFY_APP_TOKEN };

  // With VOUCHERIFY_OAUTH_SCOPE set, calls use a 15-minute bearer token obtained with the app keys.
  const scope = env.VOUCHERIFY_OAUTH_SCOPE;
  const tokens = scope
    ? new TokenCache(async () => {
        const answer = await http.post('v1/oauth/token', { headers: appKeys, form: { grant_type: 'client_credentials', scope } }).json();
        return tokenOfAnswer(answer, label);
      })
    : undefined;
  const authorized = <T>(request: (headers: Record<string, string>) => Promise<T>): Promise<T> =>
    tokens ? withBearer(tokens, (token) => request({ authorization: `Bearer ${token}` })) : request(appKeys);

  const log = (message: string) => {
    try {
      Context.current().log.warn(message);
    } catch {
      console.warn(`[${label}] ${message}`);
    }
  };

  /**
   * Looks for the async action an earlier attempt may have created. The list says nothing of an action's
   * products, so an action is ours only when its own products are exactly the chunk's keys: read from the
   * legacy result or the report file once it is finished (unfinished candidates are waited for). Anything
   * unprovable (no candidate, report expired, candidates still unfinished after LOOKUP_WAIT_MS) means a resend:
   * an upsert sent twice costs a bulk call, an action adopted wrongly would mark unsent products as done.
   */
  async function findEarlierAction(
    items: readonly ItemHead[],
    earlier: SubmitHeartbeat,
    ctx: SubmitContext<'voucherify'>,
  ): Promise<{ actionId?: string; why: string }> {
    const { signal, heartbeat } = ctx;
    const beat = () => heartbeat?.({ ...earlier, lookingUp: true });
    const from = earlier.sentAt - CLOCK_SKEW_MS;
    const until = new Date(earlier.sentAt + lookupWindowMs).toISOString();
    // The list comes newest first, 100 a page, before `end_date`: page back until the send time (a busy account
    // creates more than 100 actions in the window). Ids already seen are skipped, as pages may overlap by a millisecond.
    const listed = new Map<string, { type?: string; createdAt: number }>();
    let end = until;
    for (let page = 0; page < LOOKUP_MAX_PAGES; page++) {
      const { async_actions: actions } = AsyncActionList.parse(
        await heartbeatWhile(
          heartbeat,
          beat,
          authorized((headers) =>
            http.get('v1/async-actions', { headers, searchParams: { limit: LIST_PAGE, end_date: end }, signal }).json(),
          ),
        ),
      );
      const fresh = actions.filter((a) => !listed.has(a.id));
      for (const a of fresh) listed.set(a.id, { type: a.type, createdAt: Date.parse(a.created_at) });
      const oldest = Math.min(...actions.map((a) => Date.parse(a.created_at)));
      if (actions.length < LIST_PAGE || fresh.length === 0 || oldest < from) break;
      end = new Date(oldest + 1).toISOString();
    }
    let pending = [...listed].filter(([, a]) => a.type === 'PRODUCTS.BULK_UPDATE' && a.createdAt >= from).map(([id]) => id);
    if (pending.length === 0) return { why: `no bulk action was created after it was sent at ${new Date(earlier.sentAt).toISOString()}` };
    const keys = new Set(items.map((item) => item.key));
    const deadline = Date.now() + LOOKUP_WAIT_MS;
    let unprovable = 0;
    for (;;) {
      const still: string[] = [];
      for (const id of pending) {
        const action = AsyncAction.parse(
          await heartbeatWhile(
            heartbeat,
            beat,
            authorized((headers) => http.get(`v1/async-actions/${encodeURIComponent(id)}`, { headers, signal }).json()),
          ),
        );
        if (action.status === 'ENQUEUED' || action.status === 'IN_PROGRESS') still.push(id);
        else {
          const sourceIds = await actionSourceIds(action);
          if (!sourceIds) unprovable++;
          else if (sourceIds.length === keys.size && sourceIds.every((id) => keys.has(id))) return { actionId: action.id, why: 'found' };
        }
      }
      if (still.length === 0) {
        const why = unprovable
          ? `${unprovable} candidate action(s) had no readable product list`
          : 'no bulk action created since holds exactly its products';
        return { why };
      }
      if (Date.now() > deadline) return { why: `${still.length} candidate action(s) still unfinished after ${LOOKUP_WAIT_MS / 1000} s` };
      pending = still;
      beat();
      await sleep(ctx.options.pollIntervalMs, undefined, { signal });
    }
  }

  /** The products of a finished action: the legacy result lists them, today's only in the report file. */
  async function actionSourceIds(action: AsyncAction): Promise<string[] | undefined> {
    if (action.result?.results) return action.result.results.map((r) => r.source_id);
    const url = (action.result as { reports?: unknown } | undefined)?.reports;
    const first = Array.isArray(url) && typeof url[0] === 'string' ? url[0] : undefined;
    if (!first) return undefined;
    try {
      // A signed file URL: no API keys go with it.
      const csv = await got(first, { timeout: { request: 60_000 }, retry: { limit: 0 } }).text();
      return sourceIdsOfReport(csv);
    } catch {
      return undefined;
    }
  }

  return {
    mode: 'async-action',
    // One application of one cluster: the quotas belong to it (the token is no part of it).
    account: `${settings.VOUCHERIFY_API_URL.replace(/\/+$/, '')}|${settings.VOUCHERIFY_APP_ID}`,
    async submit(chunk, ctx) {
      const { signal, heartbeat } = ctx;
      const body = chunk.body('[', ']');
      const bodySha256 = body.sha256;
      const earlier = earlierSend(ctx.lastHeartbeat, bodySha256);
      let resends = earlier?.resends ?? 0;
      if (earlier) {
        // Only here are the chunk's keys decoded: to find its products in the earlier attempt's action.
        const found = await findEarlierAction(await chunk.heads(), earlier, ctx).catch((err: unknown) => {
          throw toFailure(err, label, where, voucherifyQuotaHeaders);
        });
        if (found.actionId) {
          log(
            `chunk of ${chunk.products} products: the earlier attempt's async action ${found.actionId} was found; polling it instead of posting again`,
          );
          return { accepted: true, actionId: found.actionId, resends };
        }
        resends++;
        log(`chunk of ${chunk.products} products sent again after an attempt of unknown outcome: ${found.why}`);
      }
      // Recorded before the first byte goes out, so a later attempt knows this one may have created an action.
      const sent: SubmitHeartbeat = { sentAt: Date.now(), bodySha256, resends };
      heartbeat?.(sent);
      try {
        // A 10 MB upload may take longer than the heartbeat timeout: beat while it runs, or the attempt is
        // taken for dead and the chunk sent again while the first request may still be applied.
        const answer = await heartbeatWhile(
          heartbeat,
          () => sent,
          authorized((headers) =>
            http.post('v1/products/bulk/async', {
              headers: { ...headers, 'content-type': 'application/json', 'content-length': String(body.bytes) },
              // Streamed from the staged file, opened again for each request (a token refresh sends it twice).
              body: body.open(),
              signal,
              responseType: 'json',
            }),
          ),
        );
        // The bulk bucket's headers let the workflow plan the next calls instead of finding the closed window with a 429.
        const seen = quotaOf(answer.headers, answer.statusCode, voucherifyQuotaHeaders, Date.now(), 'bulk_api_calls');
        const quota = seen && { ...seen, sentAtMs: sent.sentAt };
        return { accepted: true, actionId: ActionAccepted.parse(answer.body).async_action_id, resends, ...(quota ? { quota } : {}) };
      } catch (err) {
        // An HTTP answer (429, 5xx, 4xx), a request that never left (connection refused), or one whose body could not be
        // read whole from staging, created no action: the next attempt need not look for one.
        if (body.failed || !isUnknownOutcome(err)) heartbeat?.({ ...sent, answered: true });
        if (body.failed) throw body.failed;
        if (isHttpStatus(err, 413)) return { accepted: false, reason: 'too-large', resends };
        throw toFailure(err, label, where, voucherifyQuotaHeaders);
      }
    },
    async poll(actionId, { signal, heartbeat }): Promise<ActionPoll> {
      let action: AsyncAction;
      try {
        const answer = authorized((headers) => http.get(`v1/async-actions/${encodeURIComponent(actionId)}`, { headers, signal }).json());
        action = AsyncAction.parse(await heartbeatWhile(heartbeat, () => ({ actionId, polling: true }), answer));
      } catch (err) {
        // A 404 here means an action the target doesn't know (awaitAction's business), not a wrong URL.
        throw toFailure(err, label, isHttpStatus(err, 404) ? undefined : where, voucherifyQuotaHeaders);
      }
      if (action.status === 'ENQUEUED' || action.status === 'IN_PROGRESS') {
        return { finished: false, status: action.status, progress: action.progress ?? 0 };
      }
      return { finished: true, status: action.status, outcomeOf: outcomesOfAction(action), allSucceeded: allSucceededIn(action) };
    },
  };
}
