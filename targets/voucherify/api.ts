/**
 * Voucherify's bulk product upsert: POST the chunk, get an async action id, poll the action.
 * Connection settings come from the worker's environment only.
 */
import { z } from 'zod';
import type { Got } from 'got';
import { createHttp, heartbeatWhile, isHttpStatus, quotaOf, requireEnv, TokenCache, tokenOfAnswer, toFailure, withBearer, type TargetSettings } from '../http';
import type { ActionPoll, AsyncActionApi, ItemOutcome, StagedItem } from '../types';

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
  return { ok: false, retryable: !permanent, invalid: permanent, error: error.key ? `${error.key}: ${message}` : message };
}

/** Maps a finished action onto each product of the chunk, from either result shape. */
export function outcomesOfAction(action: AsyncAction): (item: StagedItem) => ItemOutcome {
  if (action.status === 'FAILED') {
    const why = action.result?.message ?? 'the async action ended FAILED';
    return () => ({ ok: false, retryable: true, error: `${action.id}: ${why}` });
  }
  const errors = new Map((action.result?.errors ?? []).filter((e) => e.source_id).map((e) => [e.source_id as string, e]));
  const legacy = action.result?.results ? new Map(action.result.results.map((r) => [r.source_id, r])) : undefined;
  return (item) => {
    const error = errors.get(item.key);
    if (error) return productErrorOutcome(error);
    if (!legacy) return { ok: true };
    const row = legacy.get(item.key);
    if (row?.updated) return { ok: true };
    return { ok: false, retryable: true, error: row ? `${action.id}: reported as not updated` : `${action.id}: not in the action's results` };
  };
}

export function connectVoucherify(env: NodeJS.ProcessEnv): AsyncActionApi<'voucherify'> {
  const settings = requireEnv(env, ['VOUCHERIFY_API_URL', 'VOUCHERIFY_APP_ID', 'VOUCHERIFY_APP_TOKEN'] as const,
    'Set them to your project\'s API URL (e.g. https://api.voucherify.io) and application keys, or run `bulkport sandbox` and use the values it prints.');
  const http: Got = createHttp({ baseUrl: settings.VOUCHERIFY_API_URL, timeoutMs: Number(env.VOUCHERIFY_TIMEOUT_MS ?? 120_000) });
  const where: TargetSettings = { label, baseUrl: settings.VOUCHERIFY_API_URL, urlVariable: 'VOUCHERIFY_API_URL', timeoutVariable: 'VOUCHERIFY_TIMEOUT_MS' };
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

  return {
    mode: 'async-action',
    async submit(items, { signal, heartbeat }) {
      const body = `[${items.map((item) => item.body).join(',')}]`;
      const sentAtMs = Date.now();
      try {
        // A 10 MB upload may take longer than the heartbeat timeout: beat while it runs, or the attempt is
        // taken for dead and the chunk sent again while the first request may still be applied.
        const answer = await heartbeatWhile(heartbeat, () => ({ submitting: items.length }), authorized((headers) =>
          http.post('v1/products/bulk/async', { headers: { ...headers, 'content-type': 'application/json' }, body, signal, responseType: 'json' }),
        ));
        // The bulk bucket's headers let the workflow plan the next calls instead of finding the closed window with a 429.
        const seen = quotaOf(answer.headers, answer.statusCode, Date.now(), 'bulk_api_calls');
        const quota = seen && { ...seen, sentAtMs };
        return { accepted: true, actionId: ActionAccepted.parse(answer.body).async_action_id, ...(quota ? { quota } : {}) };
      } catch (err) {
        if (isHttpStatus(err, 413)) return { accepted: false, reason: 'too-large' };
        throw toFailure(err, label, where);
      }
    },
    async poll(actionId, { signal, heartbeat }): Promise<ActionPoll> {
      let action: AsyncAction;
      try {
        const answer = authorized((headers) => http.get(`v1/async-actions/${encodeURIComponent(actionId)}`, { headers, signal }).json());
        action = AsyncAction.parse(await heartbeatWhile(heartbeat, () => ({ actionId, polling: true }), answer));
      } catch (err) {
        // A 404 here means an action the target doesn't know (awaitAction's business), not a wrong URL.
        throw toFailure(err, label, isHttpStatus(err, 404) ? undefined : where);
      }
      if (action.status === 'ENQUEUED' || action.status === 'IN_PROGRESS') {
        return { finished: false, status: action.status, progress: action.progress ?? 0 };
      }
      return { finished: true, status: action.status, outcomeOf: outcomesOfAction(action) };
    },
  };
}
