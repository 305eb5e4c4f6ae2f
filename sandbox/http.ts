// The small HTTP layer both simulators share: routing, body reading with a byte
// limit, fault injection around the handler, stats, and `GET /_sandbox/stats`.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FaultInjector, RequestFaults } from './faults';
import type { StatsRecorder } from './stats';

export interface SandboxReply {
  status: number;
  /** Sent as JSON unless it is a string. */
  body?: unknown;
  contentType?: string;
  headers?: Record<string, string | number>;
}

export interface ReceivedBody {
  /** Every byte the client sent, including those past the limit. */
  bytes: number;
  /** Absent when the body was larger than the limit given to readBody. */
  data?: Buffer;
}

export interface RequestContext {
  readonly req: http.IncomingMessage;
  readonly method: string;
  readonly path: string;
  readonly query: URLSearchParams;
  readonly params: Record<string, string>;
  readonly requestId: string;
  /** Route label used in stats, e.g. "GET /v1/products/:productId". */
  readonly endpoint: string;
  /** Reads the whole body, keeping at most maxBytes of it (the rest is drained). */
  readBody(maxBytes?: number): Promise<ReceivedBody>;
  /** Scratch space a target fills for its own hooks (e.g. the quota to report). */
  readonly state: Record<string, unknown>;
}

export type RouteHandler = (ctx: RequestContext) => SandboxReply | Promise<SandboxReply>;

export interface Route {
  method: 'GET' | 'POST';
  /** Path with `:name` segments, e.g. "/v1/async-actions/:asyncActionId". */
  pattern: string;
  handler: RouteHandler;
  /** False for routes that are not part of the simulated API: no faults, no target hooks. */
  api?: boolean;
  /** False keeps the route out of the request counters (reading stats must not change them). */
  counted?: boolean;
}

export interface TargetHooks {
  routes: Route[];
  newRequestId(): string;
  notFound(ctx: RequestContext): SandboxReply;
  /** The answer for an injected 429 or 5xx, in the target's own shape. */
  faultReply(fault: 'rateLimited' | 500 | 502 | 503 | 504, ctx: RequestContext): SandboxReply;
  /** Last touch on every API answer (e.g. rate-limit headers). */
  decorate?(ctx: RequestContext, reply: SandboxReply): void;
  productsStored(): number;
  onClose?(): void;
}

export interface HttpSandboxConfig {
  name: string;
  host: string;
  port: number;
  quiet: boolean;
  stats: StatsRecorder;
  faults: FaultInjector;
  hooks: TargetHooks;
}

export interface HttpSandbox {
  url: string;
  close(): Promise<void>;
}

const unmatchedEndpoint = '(unmatched)';

export async function startHttpSandbox(config: HttpSandboxConfig): Promise<HttpSandbox> {
  const { stats, faults, hooks } = config;
  const closing = new AbortController();
  const routes: Route[] = [
    ...hooks.routes,
    {
      method: 'GET',
      pattern: '/_sandbox/stats',
      api: false,
      counted: false,
      handler: (ctx) => {
        // Lets a benchmark measure retained memory rather than garbage.
        if (ctx.query.get('gc') === '1') (globalThis as { gc?: () => void }).gc?.();
        return { status: 200, body: stats.snapshot(hooks.productsStored()) };
      },
    },
  ];

  const server = http.createServer((req, res) => {
    handleRequest(req, res).catch((error: unknown) => {
      if (!config.quiet) console.error(`[${config.name}] unhandled`, error);
      if (!res.headersSent) res.writeHead(500).end();
      else res.destroy();
    });
  });

  async function handleRequest(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = Date.now();
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = req.method ?? 'GET';
    const match = matchRoute(routes, method, url.pathname);
    const ctx = createContext(req, url, method, match, hooks.newRequestId(), stats);
    const isApi = match !== undefined && match.route.api !== false;
    const fault: RequestFaults | undefined = isApi ? faults.decideRequest() : undefined;

    let reply: SandboxReply;
    if (!match) reply = hooks.notFound(ctx);
    else if (fault?.rateLimited) reply = hooks.faultReply('rateLimited', ctx);
    else if (fault?.serverErrorStatus) reply = hooks.faultReply(fault.serverErrorStatus, ctx);
    else {
      try {
        reply = await match.route.handler(ctx);
      } catch (error) {
        if (!config.quiet) console.error(`[${config.name}] ${ctx.endpoint} failed`, error);
        reply = hooks.faultReply(500, ctx);
      }
    }
    // Answer only once the client has sent everything, so it never sees a reset mid-upload.
    await ctx.readBody(0).catch(() => undefined);
    if (match?.route.api !== false) hooks.decorate?.(ctx, reply);
    if (fault && fault.delayMs > 0) await sleep(fault.delayMs, undefined, { signal: closing.signal }).catch(() => undefined);

    const counted = match?.route.counted !== false;
    if (fault?.dropAfterApply) {
      stats.countRequest(ctx.endpoint, 'dropped');
      req.socket.destroy();
      log('dropped');
      return;
    }
    writeReply(res, reply, ctx.requestId);
    if (counted) stats.countRequest(ctx.endpoint, reply.status);
    log(String(reply.status));

    function log(outcome: string): void {
      if (!config.quiet) console.error(`[${config.name}] ${method} ${url.pathname} ${outcome} ${Date.now() - started}ms`);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(config.port, config.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const hostForUrl = config.host.includes(':') ? `[${config.host}]` : config.host;

  return {
    url: `http://${hostForUrl}:${port}`,
    close: async () => {
      closing.abort();
      hooks.onClose?.();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

interface RouteMatch {
  route: Route;
  params: Record<string, string>;
}

function matchRoute(routes: Route[], method: string, pathname: string): RouteMatch | undefined {
  const segments = pathname.split('/');
  for (const route of routes) {
    if (route.method !== method) continue;
    const patternSegments = route.pattern.split('/');
    if (patternSegments.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const matches = patternSegments.every((expected, i) => {
      const actual = segments[i] ?? '';
      if (expected.startsWith(':')) {
        if (actual === '') return false;
        params[expected.slice(1)] = safeDecode(actual);
        return true;
      }
      return expected === actual;
    });
    if (matches) return { route, params };
  }
  return undefined;
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    return segment;
  }
}

function createContext(
  req: http.IncomingMessage,
  url: URL,
  method: string,
  match: RouteMatch | undefined,
  requestId: string,
  stats: StatsRecorder,
): RequestContext {
  let body: Promise<ReceivedBody> | undefined;
  return {
    req,
    method,
    path: url.pathname,
    query: url.searchParams,
    params: match?.params ?? {},
    requestId,
    endpoint: `${method} ${match?.route.pattern ?? unmatchedEndpoint}`,
    state: {},
    readBody(maxBytes = Number.POSITIVE_INFINITY) {
      body ??= readBody(req, maxBytes).then((received) => {
        stats.noteBodySize(received.bytes);
        return received;
      });
      return body;
    },
  };
}

function readBody(req: http.IncomingMessage, maxBytes: number): Promise<ReceivedBody> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let bytes = 0;
    req.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      if (bytes <= maxBytes) chunks.push(chunk);
      else chunks.length = 0;
    });
    req.once('end', () => resolve(bytes <= maxBytes ? { bytes, data: Buffer.concat(chunks, bytes) } : { bytes }));
    req.once('error', reject);
    req.once('close', () => {
      if (!req.complete) reject(new Error('client went away before sending the whole body'));
    });
  });
}

function writeReply(res: http.ServerResponse, reply: SandboxReply, requestId: string): void {
  if (res.destroyed) return;
  const isText = typeof reply.body === 'string';
  const payload = reply.body === undefined ? '' : isText ? (reply.body as string) : JSON.stringify(reply.body);
  res.writeHead(reply.status, {
    'content-type': reply.contentType ?? (isText ? 'text/plain; charset=utf-8' : 'application/json; charset=utf-8'),
    'content-length': Buffer.byteLength(payload),
    'x-request-id': requestId,
    ...reply.headers,
  });
  res.end(payload);
}

/** Decodes a JSON body, telling a syntax error apart from a good value. */
export function parseJson(data: Buffer): { ok: true; value: unknown } | { ok: false; message: string } {
  try {
    return { ok: true, value: JSON.parse(data.toString('utf8')) };
  } catch (error) {
    return { ok: false, message: error instanceof Error ? error.message : String(error) };
  }
}

/** Credentials from `Authorization: Basic …`, if present and well-formed. */
export function basicCredentials(req: http.IncomingMessage): { user: string; password: string } | undefined {
  const header = req.headers.authorization;
  if (!header?.startsWith('Basic ')) return undefined;
  const decoded = Buffer.from(header.slice(6), 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  return { user: decodeURIComponent(decoded.slice(0, colon)), password: decodeURIComponent(decoded.slice(colon + 1)) };
}

export function bearerToken(req: http.IncomingMessage): string | undefined {
  const header = req.headers.authorization;
  return header?.startsWith('Bearer ') ? header.slice(7).trim() : undefined;
}

/** Issues and checks opaque bearer tokens with a lifetime and a scope. */
export class TokenIssuer {
  private readonly tokens = new Map<string, { expiresAtMs: number; scope: string }>();

  constructor(private readonly prefix: string) {}

  issue(lifetimeSeconds: number, scope = ''): { token: string; expiresAtMs: number } {
    this.forgetExpired();
    const token = `${this.prefix}${crypto.randomUUID().replaceAll('-', '')}`;
    const expiresAtMs = Date.now() + lifetimeSeconds * 1000;
    this.tokens.set(token, { expiresAtMs, scope });
    return { token, expiresAtMs };
  }

  /** The token's grant while it is valid. */
  lookup(token: string | undefined): { scope: string } | undefined {
    const grant = token === undefined ? undefined : this.tokens.get(token);
    return grant && Date.now() < grant.expiresAtMs ? grant : undefined;
  }

  private forgetExpired(): void {
    const now = Date.now();
    for (const [token, grant] of this.tokens) if (grant.expiresAtMs <= now) this.tokens.delete(token);
  }
}

/** Whether a value is a plain JSON object (not an array, not null). */
export function isJsonObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** What an overloaded gateway in front of either API answers: HTML, not JSON. */
export function gatewayErrorReply(status: 502 | 504): SandboxReply {
  const title = status === 502 ? '502 Bad Gateway' : '504 Gateway Time-out';
  return {
    status,
    body: `<html><head><title>${title}</title></head><body><center><h1>${title}</h1></center></body></html>\n`,
    contentType: 'text/html',
  };
}
