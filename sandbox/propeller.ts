// Propeller simulator: OAuth2 client credentials and the synchronous bulk product
// endpoints, with whole-request schema validation (10007) and per-item results.
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
  basicCredentials,
  bearerToken,
  gatewayErrorReply,
  parseJson,
  TokenIssuer,
  type RequestContext,
  type Route,
  type RouteHandler,
  type SandboxReply,
} from './http';
import { validateJson } from './json-schema';
import {
  applyUpdate,
  bulkRequestSchema,
  createProduct,
  PropellerProductStore,
  readDirectives,
  type Directive,
  type Directives,
  type LookupKey,
  type ProductPayload,
  type StoredProduct,
} from './propeller-catalog';
import { hash32 } from './rng';

export interface PropellerSandboxOptions extends CommonSandboxOptions {
  clientId: string;
  clientSecret: string;
  /** Lifetime of issued tokens (30 minutes documented); small values let tests see expiry. */
  tokenTtlSeconds: number;
  /** Products allowed in one bulk request. */
  maxProducts: number;
  /** `legacy`: the older gateway's token answer (expires_in as a string, token_type "BearerToken"). */
  tokenResponseShape: 'current' | 'legacy';
  /** Answer bulk items in a seed-determined order instead of input order (the order is undocumented). */
  shuffleResults: boolean;
  /**
   * A server whose latency grows with load, so that one concurrency is best: each bulk request takes
   * msPerProduct × products × (1 + slowdown × requests in flight beyond capacity, itself included), counted
   * when its body has been read. With slowdown × capacity > 1, throughput falls past the capacity. Off when undefined.
   */
  load?: PropellerLoad;
}

export interface PropellerLoad {
  capacity: number;
  msPerProduct: number;
  slowdown: number;
}

export const propellerDefaults: PropellerSandboxOptions = {
  ...commonDefaults,
  clientId: 'sandbox-client-id',
  clientSecret: 'sandbox-client-secret',
  tokenTtlSeconds: 1800,
  maxProducts: 2000,
  tokenResponseShape: 'current',
  shuffleResults: false,
};

export interface PropellerSandbox extends SandboxHandle {
  credentials: { clientId: string; clientSecret: string; tokenUrl: string };
  /** `source` is needed when lookupKey is sourceId. */
  getProduct(lookupKey: LookupKey, key: string | number, source?: string): StoredProduct | undefined;
}

interface BulkItemResult {
  action: 'create' | 'update';
  id?: number;
  key: string | number;
  lookupKey: LookupKey;
  success: boolean;
  error?: string;
}

/** No limit is documented; this only keeps a runaway client from exhausting memory. */
const maxBodyBytes = 256 * 1024 * 1024;

export async function startPropellerSandbox(opts?: SandboxOptionsInput<PropellerSandboxOptions>): Promise<PropellerSandbox> {
  const options = resolveOptions(propellerDefaults, opts);
  const store = new PropellerProductStore();
  const { handle } = await launchTarget('propeller', options, (core) => propellerHooks(options, store, core));
  const lookup = (lookupKey: LookupKey, key: string | number, source?: string) => findProduct(store, lookupKey, String(key), source);
  return {
    ...handle,
    credentials: { clientId: options.clientId, clientSecret: options.clientSecret, tokenUrl: `${handle.url}/oauth2/token` },
    env: {
      PROPELLER_API_URL: handle.url,
      PROPELLER_TOKEN_URL: `${handle.url}/oauth2/token`,
      PROPELLER_CLIENT_ID: options.clientId,
      PROPELLER_CLIENT_SECRET: options.clientSecret,
    },
    getProduct: lookup,
  };
}

function findProduct(
  store: PropellerProductStore,
  lookupKey: LookupKey,
  key: string,
  source: string | undefined,
): StoredProduct | undefined {
  if (lookupKey === 'id') return /^\d+$/.test(key) ? store.byId(Number(key)) : undefined;
  const id = source === undefined ? undefined : store.idOfSource(source, key);
  return id === undefined ? undefined : store.byId(id);
}

function propellerHooks(options: PropellerSandboxOptions, store: PropellerProductStore, core: TargetCore) {
  const tokens = new TokenIssuer('pp_');
  const schemas = { id: bulkRequestSchema('id', options.maxProducts), sourceId: bulkRequestSchema('sourceId', options.maxProducts) };
  let bulkInFlight = 0;

  const authorized =
    (handler: RouteHandler): RouteHandler =>
    (ctx) =>
      tokens.lookup(bearerToken(ctx.req))
        ? handler(ctx)
        : propellerError(401, 401, 'UnauthorizedException', ['Invalid or expired access token']);

  const routes: Route[] = [
    { method: 'POST', pattern: '/oauth2/token', handler: issueToken },
    { method: 'POST', pattern: '/v2/products/bulk/id', handler: authorized((ctx) => bulkUpsert(ctx, 'id')) },
    { method: 'POST', pattern: '/v2/products/bulk/sourceId', handler: authorized((ctx) => bulkUpsert(ctx, 'sourceId')) },
    { method: 'POST', pattern: '/v2/products/bulk/:lookupKey', handler: authorized((ctx) => invalidLookupKey(ctx.params.lookupKey)) },
    { method: 'GET', pattern: '/v2/products/:lookupKey/:key', handler: authorized(readProduct) },
  ];

  async function issueToken(ctx: RequestContext): Promise<SandboxReply> {
    const form = new URLSearchParams((await ctx.readBody(64 * 1024)).data?.toString('utf8') ?? '');
    const basic = basicCredentials(ctx.req);
    const clientId = form.get('client_id') ?? basic?.user;
    const clientSecret = form.get('client_secret') ?? basic?.password;
    if (form.get('grant_type') !== 'client_credentials') return { status: 400, body: { error: 'unsupported_grant_type' } };
    if (clientId !== options.clientId || clientSecret !== options.clientSecret) return { status: 401, body: { error: 'invalid_client' } };
    const { token } = tokens.issue(options.tokenTtlSeconds);
    const legacy = options.tokenResponseShape === 'legacy';
    return {
      status: 200,
      body: {
        access_token: token,
        expires_in: legacy ? String(options.tokenTtlSeconds) : options.tokenTtlSeconds,
        token_type: legacy ? 'BearerToken' : 'Bearer',
      },
    };
  }

  async function bulkUpsert(ctx: RequestContext, lookupKey: LookupKey): Promise<SandboxReply> {
    if (!options.load) return bulkUpsertNow(ctx, lookupKey);
    bulkInFlight++;
    try {
      const reply = await bulkUpsertNow(ctx, lookupKey);
      const { capacity, msPerProduct, slowdown } = options.load;
      const products = (reply.body as { total?: number }).total ?? 1;
      await new Promise((resolve) => setTimeout(resolve, msPerProduct * products * (1 + slowdown * Math.max(0, bulkInFlight - capacity))));
      return reply;
    } finally {
      bulkInFlight--;
    }
  }

  async function bulkUpsertNow(ctx: RequestContext, lookupKey: LookupKey): Promise<SandboxReply> {
    const received = await ctx.readBody(maxBodyBytes);
    if (!received.data) return propellerError(413, 413, 'PayloadTooLarge', ['Payload too large']);
    const parsed = parseJson(received.data);
    if (!parsed.ok) return propellerError(400, 10005, 'InvalidJSONPayload', [parsed.message]);
    const violations = validateJson(parsed.value, schemas[lookupKey]);
    if (violations.length > 0) return propellerError(400, 10007, 'SchemaValidationException', violations);

    const request = parsed.value as { products: ProductPayload[]; directives?: Array<{ operation: Directive; fields: string[] }> };
    const directives = readDirectives(request.directives);
    core.stats.countProducts(request.products.length);
    const data = request.products.map((product) => upsertItem(product, lookupKey, directives));
    if (options.shuffleResults) shuffleInPlace(data, hash32(options.seed, 'shuffle', ctx.requestId));
    return { status: 200, body: { data, messages: ['Completed'], total: data.length } };
  }

  function upsertItem(payload: ProductPayload, lookupKey: LookupKey, directives: Directives): BulkItemResult {
    // bulk/id creates a product under a new id when the given id does not exist (seed page).
    const key = lookupKey === 'id' ? (payload.id ?? 0) : payload.sourceId;
    const existingId = lookupKey === 'id' ? payload.id : store.idOfSource(payload.source, payload.sourceId);
    const existing = existingId === undefined ? undefined : store.byId(existingId);
    const action = existing ? 'update' : 'create';
    const failed = (error: string): BulkItemResult => ({ action, error, key, lookupKey, success: false });
    if (core.faults.productFails(`${payload.source}/${payload.sourceId}`)) {
      return failed('Product could not be saved because of a temporary error (sandbox fault); submit it again.');
    }
    const product = existing ? applyUpdate(existing, payload, directives) : createProduct(store.newId(), payload);
    const holder = store.idOfSource(product.source, product.sourceId);
    if (holder !== undefined && holder !== product.id) {
      return failed(`Product with sourceId ${product.sourceId} and source ${product.source} already exists.`);
    }
    store.save(product, existing);
    return { action, id: product.id, key, lookupKey, success: true };
  }

  function readProduct(ctx: RequestContext): SandboxReply {
    const lookupKey = ctx.params.lookupKey;
    const key = ctx.params.key ?? '';
    if (lookupKey !== 'id' && lookupKey !== 'sourceId') return invalidLookupKey(lookupKey);
    const source = ctx.query.get('source') ?? undefined;
    if (lookupKey === 'sourceId' && source === undefined) {
      return propellerError(400, 10017, 'PayloadValidationError', ['The source query parameter is required with lookup key sourceId']);
    }
    const product = findProduct(store, lookupKey, key, source);
    if (!product) return propellerError(404, 80006, 'ProductNotFound', [`Product with ${lookupKey} ${key} not found.`]);
    return { status: 200, body: { data: product, messages: [], total: 1 } };
  }

  return {
    routes,
    newRequestId: () => crypto.randomUUID(),
    notFound: () => propellerError(404, 10008, 'NotFound', ['Resource not found']),
    faultReply: (fault: 'rateLimited' | 500 | 502 | 503 | 504): SandboxReply => {
      if (fault === 'rateLimited') {
        const reply = propellerError(429, 429, 'TooManyRequestsException', ['Too many requests']);
        reply.headers = { 'Retry-After': core.faults.current.rateLimitRetryAfterSeconds };
        return reply;
      }
      if (fault === 502 || fault === 504) return gatewayErrorReply(fault);
      return fault === 503
        ? propellerError(503, 503, 'ServiceUnavailableException', ['Service temporarily unavailable'])
        : propellerError(500, 500, 'InternalServerErrorException', ['Internal server error']);
    },
    productsStored: () => store.size,
  };
}

function invalidLookupKey(lookupKey: string | undefined): SandboxReply {
  return propellerError(400, 10006, 'InvalidLookupKey', [`Invalid lookup key [${lookupKey ?? ''}]. Supported: id, sourceId`]);
}

/** Propeller's error envelope. */
function propellerError(status: number, code: number, type: string, messages: string[]): SandboxReply {
  return { status, body: { error: { code, status, type, messages, moreInfo: `https://www.propel.us/docs/errors/${code}` } } };
}

function shuffleInPlace<T>(items: T[], seed: number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = hash32(seed, i) % (i + 1);
    [items[i], items[j]] = [items[j] as T, items[i] as T];
  }
}
