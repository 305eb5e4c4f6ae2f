/**
 * HTTP shared by all targets: one got setup, one translation of HTTP errors into Temporal
 * failures (retryable or not, with the server's own retry delay), and an OAuth token cache.
 * Messages carry the status, method, path and the API's error body, never headers: tokens stay out.
 */
import { Context } from '@temporalio/activity';
import { ApplicationFailure, type MetricMeter, noopMetricMeter } from '@temporalio/common';
import got, { HTTPError, ParseError, RequestError, TimeoutError, type Got } from 'got';
import { recordRequest } from '../common/metrics';
import { z, ZodError } from 'zod';
import type { RequestLimiter } from './limiter';
import { joinedBytes } from '../common/joined-bytes';
import { HEARTBEAT_INTERVAL_MS } from '../common/timeouts';

export interface HttpOptions {
  /** The target's name: the `target` label of the request metrics. */
  target: string;
  baseUrl: string;
  /** Per-request timeout; a request that outlives it has an unknown outcome. */
  timeoutMs: number;
  /** Every request of this client (polls and token requests included) waits for this limiter first. */
  limiter?: RequestLimiter;
}

/** The running activity's meter (its requests are counted there); outside an activity (unit tests) nothing is counted. */
function meter(): MetricMeter {
  try {
    return Context.current().metricMeter;
  } catch {
    return noopMetricMeter;
  }
}

const seconds = (ms: number | undefined) => (ms === undefined ? undefined : ms / 1000);

export function createHttp({ target, baseUrl, timeoutMs, limiter }: HttpOptions): Got {
  return got.extend({
    hooks: {
      beforeRequest: limiter ? [async (options) => limiter.take(options.signal as AbortSignal | undefined)] : [],
      // Every answer once, whatever its status (an error status is thrown after these hooks); the time excludes the limiter's wait.
      afterResponse: [
        (response) => {
          recordRequest(meter(), target, response.statusCode, seconds(response.timings.phases.total));
          return response;
        },
      ],
      // Requests no afterResponse saw: no answer at all, or an answer that could not be read.
      beforeError: [
        (error) => {
          if (!(error instanceof HTTPError))
            recordRequest(meter(), target, error.response?.statusCode, seconds(error.timings?.phases.total));
          return error;
        },
      ],
    },
    prefixUrl: baseUrl.replace(/\/+$/, ''),
    timeout: { request: timeoutMs },
    // Temporal owns retries: it knows about attempts, backoff and the server's Retry-After.
    retry: { limit: 0 },
    throwHttpErrors: true,
    headers: { 'user-agent': 'bulkport/0.1 (+temporal)' },
  });
}

/** Products' bodies joined between a head and a tail, as bytes (common/joined-bytes.ts says why). */
export function joinedBody(head: string, bodies: readonly (string | Uint8Array)[], tail: string): Buffer {
  return joinedBytes(head, bodies.length, (i) => bodies[i]!, tail);
}

import { FailureType } from '../common/failure-types';

export { FailureType };

/** Where a target's connection settings come from, so a misconfiguration names the variable to fix. */
export interface TargetSettings {
  label: string;
  baseUrl: string;
  urlVariable: string;
  timeoutVariable: string;
}

/** Errors after which the request never reached the target. */
const NEVER_SENT = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN'];
/** Never-sent errors that a restarting target can cause for a moment: misconfigured only when they persist. */
const PERSISTENT_NEVER_SENT = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'];
/** TLS failures: a certificate does not fix itself between attempts either, but a retry costs little. */
const TLS_ERROR = /^(?:CERT_|UNABLE_TO_|DEPTH_ZERO_|SELF_SIGNED_|ERR_TLS_|ERR_SSL_|EPROTO$|HOSTNAME_MISMATCH|ERR_TLS_CERT_ALTNAME_INVALID)/;
/** Attempts of an activity before a persistent connection error counts as a misconfiguration, not a blip. */
export const MISCONFIGURED_AFTER_ATTEMPTS = 3;

/** The activity attempt this code runs in; 1 outside an activity (unit tests). */
function currentAttempt(): number {
  try {
    return Context.current().info.attempt;
  } catch {
    return 1;
  }
}

function misconfigured(settings: TargetSettings, what: string, check: string, details?: unknown[]): ApplicationFailure {
  return ApplicationFailure.create({
    message: `${settings.label} at ${settings.baseUrl} ${what}: check ${check} in the worker's environment`,
    type: FailureType.misconfigured,
    nonRetryable: true,
    ...(details ? { details } : {}),
  });
}

const MAX_BODY_IN_MESSAGE = 2000;

/**
 * Retry delays. No delay is "at once": a server's "retry now" (Retry-After: 0, an X-Rate-Limit-Retry already past, no
 * header at all) still waits at least RETRY_FLOOR_MS, and every delay gets jitter so that chunks failing together don't
 * come back together. A server error backs off exponentially with the attempt whatever the headers say; a quota's
 * window (a 429's Retry-After) is honoured to the second, with a jitter of at most RETRY_JITTER_CAP_MS on top.
 */
export const RETRY_FLOOR_MS = 500;
export const RETRY_BACKOFF = { initialMs: 1000, coefficient: 2, maxMs: 120_000 } as const;
const RETRY_JITTER_CAP_MS = 250;

/**
 * How a target names its quota in its answers' headers, beyond the standard Retry-After (lower-case names). A target
 * that meters calls says so in its own folder (`targets/voucherify/quota-headers.ts`); without one, only Retry-After
 * counts and no answer carries a quota.
 */
export interface QuotaHeaders {
  /** Epoch seconds from which calls are allowed again. */
  retryAt: string;
  limit: string;
  remaining: string;
  /** Names the bucket an answer (a 429 at least) speaks of. */
  bucket: string;
  /** Buckets that retrying cannot refill (a billing cycle's quota): a 429 on them stops the import. */
  exhaustedBuckets: readonly string[];
}

type Headers = Record<string, string | string[] | undefined>;

/** The server's own delay, when it gives one: Retry-After seconds, else the target's retry-at header (epoch seconds). */
export function serverDelayMs(headers: Headers, now = Date.now(), names?: QuotaHeaders): number | undefined {
  const retryAfter = Number(headers['retry-after']);
  if (headers['retry-after'] !== undefined && Number.isFinite(retryAfter) && retryAfter >= 0) return retryAfter * 1000;
  if (!names) return undefined;
  const retryAt = Number(headers[names.retryAt]);
  if (Number.isFinite(retryAt) && retryAt > 0) return Math.max(0, retryAt * 1000 - now);
  return undefined;
}

export interface RetryDelayInput {
  /** 1 for the first failure in a row. */
  attempt: number;
  /** What the server asked for, if anything. */
  serverDelayMs?: number;
  /** A quota's answer (429): the server's delay is the plan; otherwise exponential backoff is the plan. */
  rateLimited?: boolean;
  /** The backoff's ceiling, RETRY_BACKOFF.maxMs unless given. */
  maxMs?: number;
  random?: () => number;
}

/** The delay before the next try: never below RETRY_FLOOR_MS, always jittered. Pure. */
export function retryDelay(input: RetryDelayInput): number {
  const { attempt, serverDelayMs: server, rateLimited = false, maxMs = RETRY_BACKOFF.maxMs, random = Math.random } = input;
  const backoff = Math.min(maxMs, RETRY_BACKOFF.initialMs * RETRY_BACKOFF.coefficient ** Math.max(0, attempt - 1));
  // "Equal jitter": half the backoff fixed, half random, so the delay still grows with every attempt.
  const jitteredBackoff = backoff / 2 + (random() * backoff) / 2;
  const planned = rateLimited && server !== undefined ? server : Math.max(server ?? 0, jitteredBackoff);
  const base = Math.max(RETRY_FLOOR_MS, planned);
  return Math.round(base + random() * Math.min(RETRY_JITTER_CAP_MS, base / 10));
}

/** What an answer says about the account's quota: Voucherify's X-Rate-Limit-* headers, and Retry-After on a 429. */
export interface QuotaSeen {
  /** `bulk_api_calls`, `api_calls`, or `requests` when the target names no bucket. */
  bucket: string;
  limit?: number;
  remaining?: number;
  /** Epoch ms from which calls are allowed again; only when the bucket is empty. */
  retryAtMs?: number;
  /** Epoch ms when the request this answers was sent, for the planner to learn where windows start. */
  sentAtMs?: number;
}

/**
 * Reads the quota headers of any answer (not only of a 429); undefined when there are none. A 429
 * empties the bucket whatever its headers say, until Retry-After (else X-Rate-Limit-Retry), floored.
 */
export function quotaOf(
  headers: Headers,
  status: number,
  names: QuotaHeaders | undefined,
  now = Date.now(),
  bucketOfEndpoint = 'requests',
): QuotaSeen | undefined {
  const num = (name: string) => (headers[name] === undefined || headers[name] === '' ? undefined : Number(headers[name]));
  const limit = names && num(names.limit);
  let remaining = names && num(names.remaining);
  if (status !== 429 && limit === undefined && remaining === undefined) return undefined;
  if (status === 429) remaining = 0;
  // Voucherify names the bucket on a 429 only; other answers carry the quota of the bucket their endpoint draws from.
  const named = names && headers[names.bucket];
  const bucket = typeof named === 'string' ? named : bucketOfEndpoint;
  const seen: QuotaSeen = { bucket, ...(Number.isFinite(limit) ? { limit } : {}), ...(Number.isFinite(remaining) ? { remaining } : {}) };
  if (remaining === 0) seen.retryAtMs = now + Math.max(RETRY_FLOOR_MS, serverDelayMs(headers, now, names) ?? 0);
  return seen;
}

function describeRequest(err: RequestError): string {
  const url = err.options?.url;
  const path = url instanceof URL ? url.pathname : typeof url === 'string' ? new URL(url).pathname : '';
  return `${err.options?.method ?? 'request'} ${path}`;
}

/** The API's error body as text, for messages and failure details. */
export function errorBody(err: HTTPError): string {
  const body = err.response.body;
  const text = typeof body === 'string' ? body : Buffer.isBuffer(body) ? body.toString('utf8') : JSON.stringify(body);
  return text.length > MAX_BODY_IN_MESSAGE ? `${text.slice(0, MAX_BODY_IN_MESSAGE)}…` : text;
}

export function isHttpStatus(err: unknown, status: number): err is HTTPError {
  return err instanceof HTTPError && err.response.statusCode === status;
}

/**
 * Turns a got error into an ApplicationFailure: 429 and 5xx are retried after the server's
 * Retry-After (else X-Rate-Limit-Retry); 4xx are final and carry the API's body; a request whose
 * answer never came is retried and marked as of unknown outcome.
 */
export function toFailure(err: unknown, targetLabel: string, settings?: TargetSettings, names?: QuotaHeaders): Error {
  if (settings) {
    const wrong = misconfiguration(err, settings);
    if (wrong) return wrong;
  }
  if (err instanceof HTTPError) {
    const status = err.response.statusCode;
    const headers = err.response.headers;
    const message = `${targetLabel} answered ${status} to ${describeRequest(err)}: ${errorBody(err)}`;
    const details = [{ status, body: errorBody(err) }];
    if (status === 429) {
      const bucket = names && headers[names.bucket];
      if (typeof bucket === 'string' && names?.exhaustedBuckets.includes(bucket)) {
        return ApplicationFailure.create({
          message: `${message} (the billing-cycle quota is used up; retrying cannot help)`,
          type: FailureType.quotaExhausted,
          nonRetryable: true,
          details,
        });
      }
      const nextRetryDelay = retryDelay({
        attempt: currentAttempt(),
        serverDelayMs: serverDelayMs(headers, Date.now(), names),
        rateLimited: true,
      });
      // The quota seen travels with the failure: the submit activity turns it into a durable wait, not a spent attempt.
      const quota = quotaOf(headers, status, names);
      return ApplicationFailure.create({ message, type: FailureType.rateLimited, details: [{ ...details[0], quota }], nextRetryDelay });
    }
    if (status >= 500) {
      const nextRetryDelay = retryDelay({ attempt: currentAttempt(), serverDelayMs: serverDelayMs(headers, Date.now(), names) });
      return ApplicationFailure.create({ message, type: FailureType.serverError, details, nextRetryDelay });
    }
    if (status === 401 || status === 403) {
      return ApplicationFailure.create({
        message: `${message}. Check the credentials in the worker's environment.`,
        type: FailureType.unauthorized,
        nonRetryable: true,
        details,
      });
    }
    return ApplicationFailure.create({ message, type: FailureType.rejected, nonRetryable: true, details });
  }
  if (err instanceof RequestError) {
    const neverSent = NEVER_SENT.includes(err.code);
    return ApplicationFailure.create({
      message: `${targetLabel}: ${describeRequest(err)} failed (${err.code}): ${err.message}`,
      type: neverSent ? FailureType.network : FailureType.unknownOutcome,
      nextRetryDelay: retryDelay({ attempt: currentAttempt() }),
    });
  }
  return err instanceof Error ? err : new Error(String(err));
}

/**
 * A target that cannot be the API it is configured as: 404/405 on an endpoint bulkport must
 * find (a wrong base URL), an answer that is not the API's JSON, at once; a refused connection,
 * an unknown host, a TLS failure or no answer in time only once the activity has tried
 * MISCONFIGURED_AFTER_ATTEMPTS times, so a target restarting for a second is still retried.
 */
export function misconfiguration(err: unknown, settings: TargetSettings, attempt = currentAttempt()): ApplicationFailure | undefined {
  const persistent = attempt >= MISCONFIGURED_AFTER_ATTEMPTS;
  const attempts = `on ${attempt} attempts`;
  if (err instanceof HTTPError) {
    const status = err.response.statusCode;
    if (status !== 404 && status !== 405) return undefined;
    const details = [{ status, body: errorBody(err) }];
    return misconfigured(settings, `answered ${status} to ${describeRequest(err)}, an endpoint of its API`, settings.urlVariable, details);
  }
  if (err instanceof ParseError) {
    const type = err.response?.headers['content-type'] ?? 'no content type';
    return misconfigured(settings, `answered ${describeRequest(err)} with something other than JSON (${type})`, settings.urlVariable);
  }
  if (err instanceof ZodError) {
    const fields = err.issues
      .slice(0, 3)
      .map((issue) => `${issue.path.join('.') || '(answer)'}: ${issue.message}`)
      .join('; ');
    return misconfigured(settings, `answered in a shape bulkport doesn't know (${fields})`, settings.urlVariable);
  }
  if (!(err instanceof RequestError) || !persistent) return undefined;
  if (err instanceof TimeoutError) {
    // The request may have been applied: the workflow records such a chunk as failed, not as never sent.
    const check = `${settings.timeoutVariable} (or ${settings.urlVariable})`;
    return misconfigured(settings, `gave no answer to ${describeRequest(err)} in time ${attempts}`, check, [{ unknownOutcome: true }]);
  }
  if (err.code === 'ECONNREFUSED')
    return misconfigured(settings, `refused the connection (ECONNREFUSED) ${attempts}`, settings.urlVariable);
  if (PERSISTENT_NEVER_SENT.includes(err.code))
    return misconfigured(settings, `could not be reached (${err.code}) ${attempts}`, settings.urlVariable);
  if (TLS_ERROR.test(err.code))
    return misconfigured(settings, `failed the TLS handshake (${err.code}: ${err.message}) ${attempts}`, settings.urlVariable);
  return undefined;
}

/** True for errors after which the request may have been applied although no answer came. */
export function isUnknownOutcome(err: unknown): boolean {
  return err instanceof RequestError && !(err instanceof HTTPError) && !(err instanceof ParseError) && !NEVER_SENT.includes(err.code);
}

export interface Token {
  value: string;
  expiresAt: number;
}

/**
 * An OAuth2 client-credentials answer. Gateways differ: `expires_in` comes as a number or as a
 * numeric string, `token_type` as "Bearer" or "BearerToken"; the token is always sent as Bearer.
 */
const TokenAnswer = z.object({
  access_token: z.string().min(1),
  expires_in: z.union([z.number().positive(), z.string().regex(/^\d+$/).transform(Number)]),
  token_type: z.string().optional(),
});

/** Reads a token answer; a shape we don't know fails naming the fields, never echoing the token. */
export function tokenOfAnswer(answer: unknown, targetLabel: string, now = Date.now()): Token {
  const parsed = TokenAnswer.safeParse(answer);
  if (!parsed.success) {
    const fields = parsed.error.issues.map((issue) => `${issue.path.join('.') || '(answer)'}: ${issue.message}`).join('; ');
    throw ApplicationFailure.nonRetryable(
      `${targetLabel}'s token endpoint answered in a shape bulkport doesn't know (${fields})`,
      FailureType.unauthorized,
    );
  }
  return { value: parsed.data.access_token, expiresAt: now + parsed.data.expires_in * 1000 };
}

/**
 * One token per worker process, fetched on first use, renewed a margin before it expires and
 * once more when the API says 401 (the server may have revoked it early). The margin is at most
 * a tenth of the token's lifetime, so short-lived tokens are still used for most of it.
 */
export class TokenCache {
  private current?: Token & { renewAt: number };
  private pending?: Promise<Token>;

  constructor(
    private readonly fetchToken: () => Promise<Token>,
    private readonly renewMarginMs = 60_000,
  ) {}

  async get(): Promise<string> {
    if (this.current && this.current.renewAt > Date.now()) return this.current.value;
    return (await this.renew()).value;
  }

  /** Drops the token; concurrent callers share one renewal. */
  invalidate(value?: string): void {
    if (!value || this.current?.value === value) this.current = undefined;
  }

  private renew(): Promise<Token> {
    this.pending ??= this.fetchToken()
      .then((token) => {
        const lifetime = token.expiresAt - Date.now();
        this.current = { ...token, renewAt: token.expiresAt - Math.min(this.renewMarginMs, lifetime / 10) };
        return token;
      })
      .finally(() => (this.pending = undefined));
    return this.pending;
  }
}

/**
 * Heartbeats while a long request runs, so a synchronous answer that takes minutes isn't taken
 * for a dead worker; the details are read at each beat, so they can change meanwhile.
 */
export async function heartbeatWhile<T>(
  heartbeat: ((details?: unknown) => void) | undefined,
  details: () => unknown,
  work: Promise<T>,
  intervalMs = HEARTBEAT_INTERVAL_MS,
): Promise<T> {
  if (!heartbeat) return work;
  const timer = setInterval(() => heartbeat(details()), intervalMs);
  try {
    return await work;
  } finally {
    clearInterval(timer);
  }
}

/** Runs a request with a bearer token, renewing the token once if the API answers 401. */
export async function withBearer<T>(tokens: TokenCache, request: (token: string) => Promise<T>): Promise<T> {
  const token = await tokens.get();
  try {
    return await request(token);
  } catch (err) {
    if (!isHttpStatus(err, 401)) throw err;
    tokens.invalidate(token);
    return request(await tokens.get());
  }
}

/** Reads required settings, naming every missing variable at once; no retry can make them appear. */
export function requireEnv<K extends string>(env: NodeJS.ProcessEnv, names: readonly K[], hint: string): Record<K, string> {
  const missing = names.filter((name) => !env[name]);
  if (missing.length)
    throw ApplicationFailure.nonRetryable(`Missing ${missing.join(', ')} in the worker's environment. ${hint}`, FailureType.misconfigured);
  return Object.fromEntries(names.map((name) => [name, env[name] as string])) as Record<K, string>;
}
