/**
 * Propeller's bulk product upsert: POST the chunk, get one answer per product in the response.
 * Connection settings and OAuth2 client credentials come from the worker's environment only.
 */
import { z } from 'zod';
import { HTTPError, type Got } from 'got';
import { jsonOrText } from '../../common/dotted';
import { type PropellerDirectives, type PropellerOptions, propellerRequestSize } from './manifest';
import { sourceOfKey } from './keys';
import { DEFAULT_HTTP_TIMEOUT_MS } from '../../common/timeouts';
import {
  createHttp,
  errorBody,
  heartbeatWhile,
  isUnknownOutcome,
  joinedBody,
  requireEnv,
  TokenCache,
  tokenOfAnswer,
  toFailure,
  withBearer,
  type TargetSettings,
} from '../http';
import { DEFAULT_MAX_RPS, limiterFromEnv } from '../limiter';
import type { ItemOutcome, SubmitItem, SynchronousApi } from '../types';
import { succeeded } from '../../common/outcome';

const label = 'Propeller';

/** Resends of one request whose answer never came, before the activity gives it to Temporal to retry. */
export const UNKNOWN_OUTCOME_RESENDS = 2;

const ItemResult = z.object({
  action: z.string().optional(),
  id: z.number().optional(),
  key: z.union([z.string(), z.number()]),
  lookupKey: z.string().optional(),
  success: z.boolean(),
  error: z.string().nullish(),
});
type ItemResult = z.infer<typeof ItemResult>;

const BulkAnswer = z.object({ data: z.array(ItemResult) });

/** `code` is documented as a string and shown as a number. */
const ErrorEnvelope = z.object({
  error: z.object({ code: z.union([z.number(), z.string()]), type: z.string().optional(), messages: z.array(z.string()).default([]) }),
});

/** What one bulk request came back with, as far as the chunk's products are concerned. */
export type BulkReply =
  | { kind: 'answered'; results: ItemResult[] }
  /** 10007: the request failed the API's schema; the messages are JSON pointers into it. */
  | { kind: 'schema-error'; messages: string[] }
  | { kind: 'too-large' }
  /** Any other 4xx about the request itself, with the API's error. */
  | { kind: 'rejected'; error: string };

/** A product of the chunk on its way: where its outcome goes and what Propeller will call it. */
export interface PendingProduct<T extends { key: string } = SubmitItem> {
  index: number;
  item: T;
  /** The `key` Propeller answers with: the sourceId, or the id as text. */
  answerKey: string;
}

/** The body around the products; directives in the documented array form. */
export function requestEnvelope(directives: PropellerDirectives): { head: string; tail: string } {
  const list: { operation: string; fields: string[] }[] = [];
  if (directives.skipIfNotEmpty?.length) list.push({ operation: 'skipIfNotEmpty', fields: directives.skipIfNotEmpty });
  if (directives.skipMoveOnUpdate) list.push({ operation: 'skipMoveOnUpdate', fields: [] });
  if (directives.mergeTranslationsOnUpdate) list.push({ operation: 'mergeTranslationsOnUpdate', fields: [] });
  return { head: '{"products":[', tail: list.length ? `],"directives":${JSON.stringify(list)}}` : ']}' };
}

// ---- what the answers mean -----------------------------------------------------------------

const productPointer = /^#\/products\/(\d+)(?:\/(\S*))?:\s*(.*)$/;
/** Pointers that name no product: the whole request ("#", "#/products"), or no pointer at all. */
const unlocatedPointer = /^#(?:\/products)?:|^[^#]/;

/**
 * Reads 10007 messages: those naming a product (`#/products/3/names/0: …`) by its index in the
 * request, those naming nothing in particular, and those about the rest of the request (directives).
 */
export function readSchemaMessages(
  messages: string[],
  products: number,
): { byProduct: Map<number, string[]>; unlocated: string[]; request: string[] } {
  const byProduct = new Map<number, string[]>();
  const unlocated: string[] = [];
  const request: string[] = [];
  for (const message of messages) {
    const match = productPointer.exec(message);
    const index = match ? Number(match[1]) : NaN;
    if (match && index < products) {
      const list = byProduct.get(index) ?? [];
      list.push(match[2] ? `${match[2]}: ${match[3]}` : (match[3] ?? ''));
      byProduct.set(index, list);
    } else if (match || unlocatedPointer.test(message)) unlocated.push(message);
    else request.push(message);
  }
  return { byProduct, unlocated, request };
}

/** Item errors that judge the product or its references; anything else may pass on a later try. */
const permanentItemError = /not found|already exists|multiple found|not permitted|invalid|required|duplicate/i;

function itemOutcome(result: ItemResult | undefined): ItemOutcome {
  if (!result) return { kind: 'retryable', error: "Propeller's answer has no result for this product" };
  if (result.success) return succeeded;
  const error = result.error || `${result.action ?? 'upsert'} failed without a message`;
  return { kind: permanentItemError.test(error) ? 'failed' : 'retryable', error };
}

const halves = <T>(list: T[]): T[][] => [list.slice(0, Math.ceil(list.length / 2)), list.slice(Math.ceil(list.length / 2))];

/**
 * Sends products (of one source) and settles each one's outcome into `outcomes`. A 10007 drops the
 * products its pointers name (invalid, with the API's messages) and sends the rest again; when no
 * product is named, the batch is halved until the bad ones stand alone. Answers are matched to
 * products by `key`, never by position.
 */
export async function settleProducts(
  products: PendingProduct[],
  send: (items: SubmitItem[]) => Promise<BulkReply>,
  outcomes: ItemOutcome[],
): Promise<void> {
  const queue = [products];
  for (let batch = queue.shift(); batch; batch = queue.shift()) {
    if (!batch.length) continue;
    const reply = await send(batch.map((p) => p.item));
    const settle = (list: PendingProduct[], outcome: ItemOutcome) => {
      for (const p of list) outcomes[p.index] = outcome;
    };
    if (reply.kind === 'answered') {
      const byKey = new Map<string, ItemResult>();
      for (const result of reply.results) if (!byKey.has(String(result.key))) byKey.set(String(result.key), result);
      for (const p of batch) outcomes[p.index] = itemOutcome(byKey.get(p.answerKey));
    } else if (reply.kind === 'rejected') {
      settle(batch, { kind: 'failed', error: reply.error });
    } else if (batch.length === 1) {
      const error =
        reply.kind === 'too-large' ? 'the product alone is larger than Propeller accepts in one request' : schemaError(reply.messages);
      settle(batch, { kind: 'invalid', error });
    } else if (reply.kind === 'too-large') {
      queue.unshift(...halves(batch));
    } else {
      const { byProduct, request } = readSchemaMessages(reply.messages, batch.length);
      if (byProduct.size) {
        for (const [i, messages] of byProduct) settle([batch[i]!], { kind: 'invalid', error: schemaError(messages) });
        queue.unshift(batch.filter((_, i) => !byProduct.has(i)));
      } else if (request.length) {
        // The request itself (its directives) is wrong: halving would only repeat it.
        settle(batch, { kind: 'failed', error: `Propeller rejected the request: ${schemaError(request)}` });
      } else {
        queue.unshift(...halves(batch));
      }
    }
  }
}

const schemaError = (messages: string[]) => `SchemaValidationException (10007): ${messages.join('; ') || 'no message'}`;

/** The replies a request can end with short of an exception: 10007, 413 and other 4xx about the request. */
function replyOfError(err: unknown): BulkReply | undefined {
  if (!(err instanceof HTTPError)) return undefined;
  const status = err.response.statusCode;
  if (status === 413) return { kind: 'too-large' };
  if (status === 400) {
    const envelope = ErrorEnvelope.safeParse(jsonOrText(errorBody(err)));
    if (envelope.success && String(envelope.data.error.code) === '10007')
      return { kind: 'schema-error', messages: envelope.data.error.messages };
  }
  // 401/403 stop the import, 404/405 mean a wrong API URL, 429 and 5xx are Temporal's to retry: those stay exceptions.
  if (status >= 400 && status < 500 && ![401, 403, 404, 405, 429].includes(status))
    return { kind: 'rejected', error: toFailure(err, label).message };
  return undefined;
}

// ---- the connection ------------------------------------------------------------------------

interface SubmitHeartbeat {
  unknownOutcomeRetries: number;
  /** A request was in flight at the last beat: if the attempt died then, the next one sends it again. */
  sending?: boolean;
  /** Requests of the chunk answered but not kept yet: if the attempt died, their answers died with it. */
  answered?: number;
}

/** A count from an earlier attempt's heartbeat, which may be of any version: anything else counts 0. */
const heartbeatCount = (n: unknown) => (typeof n === 'number' && Number.isInteger(n) && n >= 0 ? n : 0);

/**
 * Unknown outcomes carried from the earlier attempt, plus one if it died with a request in flight, plus the requests
 * whose answers it lost: each is sent again, its outcome unknown to this attempt.
 */
const carriedUnknownOutcomes = (details: unknown) => {
  const d = details as Partial<SubmitHeartbeat> | undefined;
  return heartbeatCount(d?.unknownOutcomeRetries) + (d?.sending ? 1 : 0) + heartbeatCount(d?.answered);
};

export function connectPropeller(env: NodeJS.ProcessEnv): SynchronousApi<'propeller'> {
  const settings = requireEnv(
    env,
    ['PROPELLER_API_URL', 'PROPELLER_TOKEN_URL', 'PROPELLER_CLIENT_ID', 'PROPELLER_CLIENT_SECRET'] as const,
    'Set them to your API host (e.g. https://api.helice.cloud), its token URL (…/oauth2/token) and your client credentials, or run `bulkport sandbox` and use the values it prints.',
  );
  const http: Got = createHttp({
    target: 'propeller',
    baseUrl: settings.PROPELLER_API_URL,
    timeoutMs: Number(env.PROPELLER_TIMEOUT_MS ?? DEFAULT_HTTP_TIMEOUT_MS),
    limiter: limiterFromEnv(env, 'PROPELLER_MAX_RPS', DEFAULT_MAX_RPS.propeller),
  });
  const where: TargetSettings = {
    label,
    baseUrl: settings.PROPELLER_API_URL,
    urlVariable: 'PROPELLER_API_URL',
    timeoutVariable: 'PROPELLER_TIMEOUT_MS',
  };
  const tokenLabel = `${label}'s token endpoint`;
  const tokenWhere: TargetSettings = {
    ...where,
    label: tokenLabel,
    baseUrl: settings.PROPELLER_TOKEN_URL,
    urlVariable: 'PROPELLER_TOKEN_URL',
  };
  const tokens = new TokenCache(async () => {
    const form = {
      grant_type: 'client_credentials',
      client_id: settings.PROPELLER_CLIENT_ID,
      client_secret: settings.PROPELLER_CLIENT_SECRET,
    };
    try {
      return tokenOfAnswer(await http.post(settings.PROPELLER_TOKEN_URL, { prefixUrl: '', form }).json(), label);
    } catch (err) {
      // The token URL is a setting of its own: its failures name it, not the API URL.
      throw toFailure(err, tokenLabel, tokenWhere);
    }
  });

  return {
    mode: 'synchronous',
    account: `${settings.PROPELLER_API_URL.replace(/\/+$/, '')}|${settings.PROPELLER_CLIENT_ID}`,
    async submit(items, ctx) {
      const { options, signal } = ctx;
      const heartbeat: SubmitHeartbeat = { unknownOutcomeRetries: carriedUnknownOutcomes(ctx.lastHeartbeat) };
      if ((ctx.lastHeartbeat as Partial<SubmitHeartbeat> | undefined)?.sending) {
        // Harmless with lookupKey sourceId (an upsert), but counted and said.
        console.warn(`[${label}] the earlier attempt ended with a request in flight: its products are sent again`);
      }
      const envelope = requestEnvelope(options.directives);
      const path = `v2/products/bulk/${options.lookupKey}`;

      /**
       * Every answer that never came is counted and the request sent again: the endpoint upserts.
       * With lookupKey id that holds for ids Propeller knows: bulk/id creates a product whose id it
       * doesn't know under a new id, so a resend then meets "already exists" or makes a second one.
       */
      const post = async (body: Buffer, token: string): Promise<unknown> => {
        for (let resends = 0; ; resends++) {
          try {
            heartbeat.sending = true;
            ctx.heartbeat?.(heartbeat);
            const request = http
              .post(path, { headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body, signal })
              .json();
            const answer = await heartbeatWhile(ctx.heartbeat, () => heartbeat, request);
            heartbeat.sending = false;
            ctx.heartbeat?.(heartbeat);
            return answer;
          } catch (err) {
            heartbeat.sending = false;
            ctx.heartbeat?.(heartbeat);
            if (!isUnknownOutcome(err) || signal?.aborted) throw err;
            heartbeat.unknownOutcomeRetries++;
            // Carried to the activity's next attempt if this one gives up.
            ctx.heartbeat?.(heartbeat);
            if (resends >= UNKNOWN_OUTCOME_RESENDS) throw err;
          }
        }
      };
      const send = async (batch: SubmitItem[]): Promise<BulkReply> => {
        const body = joinedBody(
          envelope.head,
          batch.map((item) => item.body),
          envelope.tail,
        );
        try {
          return { kind: 'answered', results: BulkAnswer.parse(await withBearer(tokens, (token) => post(body, token))).data };
        } catch (err) {
          const reply = replyOfError(err);
          if (reply) return reply;
          throw toFailure(err, label, where);
        }
      };

      const outcomes: ItemOutcome[] = new Array(items.length);
      const { answered } = ctx;
      let fresh = 0;
      try {
        for (const group of requestGroups(items, options)) {
          // Answered for an earlier attempt, which kept the outcomes when it failed: not sent again.
          if (answered && group.every((p) => answered[p.index])) {
            for (const p of group) outcomes[p.index] = answered[p.index]!;
            continue;
          }
          await settleProducts(group, send, outcomes);
          heartbeat.answered = ++fresh;
        }
      } catch (err) {
        // The next attempt sends only what had no answer: the quota's window or a backoff lies between. The failure
        // itself is what the workflow must see (a 429's quota above all): one in keeping only costs those resends.
        if (fresh && ctx.keep) {
          try {
            await ctx.keep(outcomes);
            heartbeat.answered = 0;
            ctx.heartbeat?.(heartbeat);
          } catch (keepErr) {
            console.warn(`[${label}] could not keep the outcomes of ${fresh} answered request(s): they are sent again`, keepErr);
          }
        }
        throw err;
      }
      return { outcomes, unknownOutcomeRetries: heartbeat.unknownOutcomeRetries };
    },
  };
}

/**
 * Propeller answers `key` = the sourceId alone and asks for one source per request, so products
 * are sent in requests per source of the chunk (nearly always one source), of `chunkSize` each. Within a source the
 * sourceId is unique, because staging rejects duplicate (source, sourceId) keys. Only keys are read: the dry run's
 * plan counts the requests of a chunk's keys with it.
 */
export function requestGroups<T extends { key: string }>(
  items: readonly T[],
  options: Pick<PropellerOptions, 'lookupKey' | 'chunkSize' | 'maxItemsPerChunk'>,
): PendingProduct<T>[][] {
  const groups = new Map<string, PendingProduct<T>[]>();
  items.forEach((item, index) => {
    // The key was made of the product's id, or of its source and sourceId (keyOf): read from it, not from the body.
    const [group, answerKey] = options.lookupKey === 'id' ? ['', item.key] : sourceOfKey(item.key);
    const list = groups.get(group) ?? [];
    list.push({ index, item, answerKey });
    groups.set(group, list);
  });
  // A chunk holds several requests' worth (PROPELLER_REQUESTS_PER_CHUNK): each source's products in requests of chunkSize.
  const size = propellerRequestSize(options);
  return [...groups.values()].flatMap((list) =>
    Array.from({ length: Math.ceil(list.length / size) }, (_, i) => list.slice(i * size, (i + 1) * size)),
  );
}
