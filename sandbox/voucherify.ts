// Voucherify simulator: bulk product upsert through async actions, OAuth tokens,
// and the documented quotas, answering in the shapes of Voucherify's OpenAPI spec.
import { promisify } from 'node:util';
import { deflateRaw } from 'node:zlib';
import {
  commonDefaults,
  launchTarget,
  resolveOptions,
  type CommonSandboxOptions,
  type SandboxHandle,
  type SandboxOptionsInput,
  type TargetCore,
} from './common';
import {
  bearerToken,
  gatewayErrorReply,
  parseJson,
  TokenIssuer,
  type RequestContext,
  type Route,
  type RouteHandler,
  type SandboxReply,
} from './http';
import { FixedWindowQuota, type QuotaState } from './quota';
import { hash32, hex } from './rng';
import { ActionProcessor, type ResultShape } from './voucherify-actions';
import { VoucherifyProductStore, type VoucherifyProduct } from './voucherify-products';

export interface VoucherifyQuotas {
  /** Bulk calls allowed per bulk window (`X-Rate-Limit-Type: bulk_api_calls`). */
  bulkPerHour: number;
  /** Other calls allowed per calls window (`api_calls`). */
  callsPerMinute: number;
  /** Length of the bulk window; 3600 as documented, shorter in tests. */
  bulkWindowSeconds: number;
  /** Length of the calls window; 60 as documented, shorter in tests. */
  callsWindowSeconds: number;
}

export interface VoucherifySandboxOptions extends CommonSandboxOptions {
  appId: string;
  appToken: string;
  /** Processing speed of the async-action worker. */
  productsPerSecond: number;
  /** `legacy`: result is {results: [{source_id, found, updated}], done_count} as before Aug 2024. */
  resultShape: ResultShape;
  /** How long the report URL of a finished action works. */
  reportTtlSeconds: number;
  quotas: VoucherifyQuotas;
  /** Largest accepted bulk body; larger ones get 413. */
  maxBodyBytes: number;
  /** Lifetime of tokens from POST /v1/oauth/token (900 s documented). */
  oauthTokenTtlSeconds: number;
}

export const voucherifyDefaults: VoucherifySandboxOptions = {
  ...commonDefaults,
  appId: 'sandbox-app-id',
  appToken: 'sandbox-app-token',
  productsPerSecond: 50_000,
  resultShape: 'current',
  reportTtlSeconds: 86_400,
  // Generous, so imports are not throttled unless a test asks for it.
  quotas: { bulkPerHour: 10_000, callsPerMinute: 100_000, bulkWindowSeconds: 3600, callsWindowSeconds: 60 },
  maxBodyBytes: 10_485_760,
  oauthTokenTtlSeconds: 900,
};

export interface VoucherifySandbox extends SandboxHandle {
  credentials: { appId: string; appToken: string };
  getProduct(idOrSourceId: string): VoucherifyProduct | undefined;
}

const oauthScopes = new Set(
  'api assets async-actions campaigns categories client_api client_consents client_customers client_events client_promotions client_publish client_qualifications client_redeem client_redemptions client_validate client_validations client_vouchers consents customers events exports locations loyalties metadata-schemas orders product-collections products promotions publications qualifications redemptions referrals rewards segments skus task-results templates trash-bin validation-rules-assignments validation-rules validations vouchers'.split(
    ' ',
  ),
);

type Bucket = 'bulk_api_calls' | 'api_calls';

const deflateRawAsync = promisify(deflateRaw);

/** Accepts Partial<VoucherifySandboxOptions>, and also part of `quotas` (e.g. `{ quotas: { bulkPerHour: 2 } }`). */
export async function startVoucherifySandbox(opts?: SandboxOptionsInput<VoucherifySandboxOptions>): Promise<VoucherifySandbox> {
  const options = resolveOptions(voucherifyDefaults, opts);
  const store = new VoucherifyProductStore();
  let processor: ActionProcessor | undefined;
  const { handle } = await launchTarget('voucherify', options, (core) => {
    processor = new ActionProcessor({
      productsPerSecond: options.productsPerSecond,
      reportTtlSeconds: options.reportTtlSeconds,
      seed: options.seed,
      store,
      faults: core.faults,
      reportUrl: (actionId) => `${core.baseUrl()}/_sandbox/reports/${actionId}.csv`,
    });
    return voucherifyHooks(options, store, processor, core);
  });
  return {
    ...handle,
    close: async () => {
      processor?.stop();
      await handle.close();
    },
    credentials: { appId: options.appId, appToken: options.appToken },
    env: { VOUCHERIFY_API_URL: handle.url, VOUCHERIFY_APP_ID: options.appId, VOUCHERIFY_APP_TOKEN: options.appToken },
    getProduct: (idOrSourceId) => store.get(idOrSourceId),
  };
}

function voucherifyHooks(options: VoucherifySandboxOptions, store: VoucherifyProductStore, processor: ActionProcessor, core: TargetCore) {
  const buckets: Record<Bucket, FixedWindowQuota> = {
    bulk_api_calls: new FixedWindowQuota(options.quotas.bulkPerHour, options.quotas.bulkWindowSeconds * 1000),
    api_calls: new FixedWindowQuota(options.quotas.callsPerMinute, options.quotas.callsWindowSeconds * 1000),
  };
  const tokens = new TokenIssuer('vf_oauth_');
  const bucketOf = (ctx: RequestContext): Bucket => (ctx.endpoint === 'POST /v1/products/bulk/async' ? 'bulk_api_calls' : 'api_calls');
  let requestCount = 0;

  /** Authentication, scope and quota, in that order, before the handler runs. */
  const guarded =
    (scope: string | undefined, handler: RouteHandler): RouteHandler =>
    async (ctx) => {
      const appKeysOk = ctx.req.headers['x-app-id'] === options.appId && ctx.req.headers['x-app-token'] === options.appToken;
      const token = appKeysOk || scope === undefined ? undefined : tokens.lookup(bearerToken(ctx.req));
      if (!appKeysOk && !token) return voucherifyError(ctx, 401, 'unauthorized', 'Unauthorized');
      if (token && scope && !token.scope.split(' ').some((granted) => granted === 'api' || granted === scope)) {
        return voucherifyError(
          ctx,
          403,
          'missing_required_permission',
          'Missing required permission',
          `The token's scope does not include "${scope}"`,
        );
      }
      const bucket = bucketOf(ctx);
      const quota = buckets[bucket].take();
      ctx.state.quota = quota;
      if (!quota.allowed) return tooManyRequests(ctx, bucket, Math.max(1, Math.ceil((quota.resetAtMs - Date.now()) / 1000)));
      return handler(ctx);
    };

  const routes: Route[] = [
    { method: 'POST', pattern: '/v1/oauth/token', handler: guarded(undefined, issueToken) },
    { method: 'POST', pattern: '/v1/products/bulk/async', handler: guarded('products', bulkUpsert) },
    { method: 'GET', pattern: '/v1/products', handler: guarded('products', listProducts) },
    { method: 'GET', pattern: '/v1/products/:productId', handler: guarded('products', getProduct) },
    { method: 'GET', pattern: '/v1/async-actions', handler: guarded('async-actions', listActions) },
    { method: 'GET', pattern: '/v1/async-actions/:asyncActionId', handler: guarded('async-actions', getAction) },
    // Stands in for the signed file URL in result.reports: no API key, no quota.
    { method: 'GET', pattern: '/_sandbox/reports/:file', api: false, handler: serveReport },
  ];

  async function issueToken(ctx: RequestContext): Promise<SandboxReply> {
    const received = await ctx.readBody(64 * 1024);
    const form = new URLSearchParams(received.data?.toString('utf8') ?? '');
    if (form.get('grant_type') !== 'client_credentials') return voucherifyError(ctx, 400, 'invalid_grant_type', 'Invalid grant_type');
    const scope = (form.get('scope') ?? '').trim();
    const scopes = scope.split(/\s+/);
    if (scope === '' || !scopes.every((s) => oauthScopes.has(s)))
      return voucherifyError(ctx, 400, 'invalid_scope', `Invalid scope: ${scope}`);
    const { token, expiresAtMs } = tokens.issue(options.oauthTokenTtlSeconds, scopes.join(' '));
    return {
      status: 200,
      body: {
        access_token: token,
        client_id: options.appId,
        expires_at: Math.floor(expiresAtMs / 1000),
        expires_in: options.oauthTokenTtlSeconds,
        scope: scopes.join(' '),
        token_type: 'Bearer',
      },
    };
  }

  async function bulkUpsert(ctx: RequestContext): Promise<SandboxReply> {
    const received = await ctx.readBody(options.maxBodyBytes);
    if (!received.data) {
      // hapi's payload limit answers in Boom's shape, unlike every other Voucherify error.
      return {
        status: 413,
        body: {
          statusCode: 413,
          error: 'Request Entity Too Large',
          message: `Payload content length greater than maximum allowed: ${options.maxBodyBytes}`,
        },
      };
    }
    const parsed = parseJson(received.data);
    if (!parsed.ok)
      return voucherifyError(ctx, 400, 'invalid_payload', 'Invalid payload', `Request body is not valid JSON: ${parsed.message}`);
    if (!Array.isArray(parsed.value))
      return voucherifyError(ctx, 400, 'invalid_payload', 'Invalid payload', 'Request body must be an array of products');
    // Deflating runs on libuv's thread pool, off the event loop.
    const deflated = await deflateRawAsync(received.data, { level: 1 });
    core.stats.countProducts(parsed.value.length);
    return { status: 202, body: { async_action_id: processor.enqueue(deflated, parsed.value.length, ctx.requestId) } };
  }

  function listProducts(ctx: RequestContext): SandboxReply {
    const limit = intParam(ctx, 'limit', 10, 1, 100);
    const page = intParam(ctx, 'page', 1, 1, 100);
    if (limit === undefined || page === undefined) return invalidQuery(ctx, 'limit and page must be integers between 1 and 100');
    const products = store.page(page, limit, ctx.query.get('order') === '-created_at');
    return { status: 200, body: { object: 'list', data_ref: 'products', products, total: store.size } };
  }

  function getProduct(ctx: RequestContext): SandboxReply {
    const id = ctx.params.productId ?? '';
    const product = store.get(id);
    return product ? { status: 200, body: product } : notFoundError(ctx, 'product', id);
  }

  function listActions(ctx: RequestContext): SandboxReply {
    const limit = intParam(ctx, 'limit', 10, 1, 100);
    if (limit === undefined) return invalidQuery(ctx, 'limit must be an integer between 1 and 100');
    const endDate = ctx.query.get('end_date');
    const endDateMs = endDate === null ? undefined : Date.parse(endDate);
    if (endDateMs !== undefined && Number.isNaN(endDateMs)) return invalidQuery(ctx, 'end_date must be an ISO 8601 date');
    const { actions, hasMore } = processor.list(limit, endDateMs);
    return { status: 200, body: { object: 'list', data_ref: 'async_actions', async_actions: actions, has_more: hasMore } };
  }

  function getAction(ctx: RequestContext): SandboxReply {
    const id = ctx.params.asyncActionId ?? '';
    const action = processor.describe(id, true, options.resultShape);
    return action ? { status: 200, body: action } : notFoundError(ctx, 'async_action', id);
  }

  function serveReport(ctx: RequestContext): SandboxReply {
    const report = processor.report((ctx.params.file ?? '').replace(/\.csv$/, ''));
    if (report === undefined) return { status: 404, body: 'Not Found' };
    if (report === 'expired') {
      return {
        status: 403,
        contentType: 'application/xml',
        body: '<?xml version="1.0" encoding="UTF-8"?><Error><Code>AccessDenied</Code><Message>Request has expired</Message></Error>',
      };
    }
    return { status: 200, contentType: 'text/csv; charset=utf-8', body: report };
  }

  function tooManyRequests(ctx: RequestContext, type: Bucket, retryAfterSeconds: number): SandboxReply {
    const reply = voucherifyError(ctx, 429, 'too_many_requests', 'Too many requests hit the API too quickly.');
    reply.headers = { 'Retry-After': retryAfterSeconds, 'X-Rate-Limit-Type': type };
    return reply;
  }

  return {
    routes,
    newRequestId: () => {
      const n = requestCount++;
      return `v-${hex(hash32(options.seed, 'request-id', n), 8)}${hex(n, 10)}`;
    },
    notFound: (ctx: RequestContext) => voucherifyError(ctx, 404, 'not_found', 'Resource not found', `Cannot ${ctx.method} ${ctx.path}`),
    faultReply: (fault: 'rateLimited' | 500 | 502 | 503 | 504, ctx: RequestContext): SandboxReply => {
      if (fault === 'rateLimited') return tooManyRequests(ctx, 'api_calls', core.faults.current.rateLimitRetryAfterSeconds);
      if (fault === 502 || fault === 504) return gatewayErrorReply(fault);
      return fault === 503
        ? voucherifyError(ctx, 503, 'service_unavailable', 'Service Unavailable')
        : voucherifyError(ctx, 500, 'internal_server_error', 'Internal Server Error');
    },
    /** Every answer carries the quota of the bucket its endpoint draws from. */
    decorate: (ctx: RequestContext, reply: SandboxReply) => {
      const quota = (ctx.state.quota as QuotaState | undefined) ?? buckets[bucketOf(ctx)].peek();
      const nowSeconds = Math.floor(Date.now() / 1000);
      reply.headers = {
        'X-Rate-Limit-Limit': quota.limit,
        'X-Rate-Limit-Remaining': quota.remaining,
        'X-Rate-Limit-Retry': quota.remaining > 0 ? nowSeconds : Math.ceil(quota.resetAtMs / 1000),
        ...reply.headers,
      };
    },
    productsStored: () => store.size,
  };
}

function voucherifyError(ctx: RequestContext, code: number, key: string, message: string, details?: string): SandboxReply {
  return { status: code, body: { code, key, message, ...(details === undefined ? {} : { details }), request_id: ctx.requestId } };
}

function notFoundError(ctx: RequestContext, resourceType: string, id: string): SandboxReply {
  const reply = voucherifyError(ctx, 404, 'not_found', 'Resource not found', `Cannot find ${resourceType} with id ${id}`);
  Object.assign(reply.body as object, { resource_id: id, resource_type: resourceType });
  return reply;
}

function invalidQuery(ctx: RequestContext, details: string): SandboxReply {
  return voucherifyError(ctx, 400, 'invalid_query_params', 'Invalid query params', details);
}

/** An integer query parameter within bounds, the fallback when absent, undefined when invalid. */
function intParam(ctx: RequestContext, name: string, fallback: number, min: number, max: number): number | undefined {
  const raw = ctx.query.get(name);
  if (raw === null) return fallback;
  const value = Number(raw);
  return Number.isInteger(value) && value >= min && value <= max ? value : undefined;
}
