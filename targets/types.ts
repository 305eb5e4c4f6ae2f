/**
 * What the import needs from a target. Every target is one module of this shape; the workflow
 * and activities know targets only through it. Where targets really differ (an asynchronous
 * action to poll vs per-item answers; byte vs count limits) the types say so explicitly.
 */
import type { Readable } from 'node:stream';
import type { z } from 'zod';
import type { ItemOutcome } from '../common/outcome';
import type { ImportInput, TargetName } from '../common/import';
import type { QuotaSeen } from './http';

/** A product as staged: its source line, upsert key, original record and request-ready JSON. */
export interface StagedItem {
  line: number;
  key: string;
  /**
   * The record as read from the source (flat row for CSV), as JSON text, for the failed-records file: carried as it is
   * and parsed only by the report, for the rows it writes back.
   */
  rawJson: string;
  /** The product serialized exactly as it goes into the request body. */
  body: string;
}

/** What names a product of a chunk: its source line and its key. */
export type ItemHead = Pick<StagedItem, 'line' | 'key'>;

/**
 * A product as a synchronous target sends it: its body as the chunk file's own bytes (UTF-8) where the file holds them
 * plainly, so a body read to be sent is neither decoded nor encoded again; as text otherwise.
 */
export interface SubmitItem extends ItemHead {
  body: string | Uint8Array;
}

/**
 * A chunk as an asynchronous target sends it: its product count, its products' heads when asked for, and its request body
 * streamed from the staged file.
 */
export interface ChunkToSend {
  products: number;
  /** Read only when asked for: a submission that goes well needs only the count. */
  heads(): Promise<readonly ItemHead[]>;
  /** The products' bodies joined by commas between a head and a tail (`[` … `]`). */
  body(head: string, tail: string): ChunkBody;
}

/**
 * A request body of a chunk: its size and an identity known before a byte is sent, its bytes copied from the staged file
 * as they are read (never parsed, never held whole) each time it is opened.
 */
export interface ChunkBody {
  bytes: number;
  /** Names this body among the chunk's possible bodies (a later attempt sends the same one), not a hash of its bytes. */
  sha256: string;
  open(): Readable;
  /**
   * Why the last stream opened failed, when the staged file could not be read or was found damaged: a request whose body
   * failed was never whole, and this, not the request's error, is what the submission ends with.
   */
  readonly failed: Error | undefined;
}

/** How the target answered for one product: `common/outcome.ts` has the vocabulary. */
export type { ItemOutcome };

export interface ChunkLimits {
  maxItems: number;
  /**
   * Chunks grow to maxItems by steps: chunk i holds at most `items` × (1 + ⌊i ÷ every⌋) products. A target whose chunk
   * is several requests (Propeller) starts with one-request chunks, so a small catalog still fills the window.
   */
  ramp?: { items: number; every: number };
  /** Serialized request body bytes, when the target limits them. */
  maxBodyBytes?: number;
  /** Ends the message for one product alone over maxBodyBytes: "over --chunk-bytes 2,048 (…): raise --chunk-bytes …". */
  tooLarge?: string;
}

type OptionsOf<T extends TargetName> = Extract<ImportInput, { target: T }>['options'];

/** The pure half: schema, keys and limits. Safe for the client; no I/O, no credentials. */
export interface TargetSchema<T extends TargetName = TargetName> {
  name: T;
  /** A product as the target's bulk endpoint takes it: the single source of truth for its type. */
  productSchema: z.ZodType;
  /** Turns a flat CSV row (dotted headers such as `metadata.color`) into a record for productSchema. */
  fromCsvRow(row: Record<string, string>): unknown;
  /**
   * The CSV columns keyOf needs, and a header to suggest when they are missing (it names the key columns first). keyOf
   * reads nothing but the top-level fields they name: staging keeps only those of a JSON line it does not parse
   * (targets/as-given-text.ts), and test/as-given.test.ts holds both targets to it.
   */
  csvKeyColumns(options: OptionsOf<T>): { columns: string[]; example: string };
  /** The upsert key; unique within an import and how answers are matched back to products. */
  keyOf(product: unknown, options: OptionsOf<T>): string;
  limits(options: OptionsOf<T>): ChunkLimits;
  /** Bytes the request adds around the comma-joined items. */
  envelopeBytes(options: OptionsOf<T>): number;
}

export interface SubmitContext<T extends TargetName = TargetName> {
  options: OptionsOf<T>;
  signal?: AbortSignal;
  /** Called with what the activity should heartbeat while a long request runs. */
  heartbeat?: (details?: unknown) => void;
  /** What an earlier attempt of the same activity last heartbeated, when this one is a retry. */
  lastHeartbeat?: unknown;
  /** A synchronous target's chunk: outcomes an earlier attempt kept, by product index; their requests are not sent again. */
  answered?: readonly (ItemOutcome | undefined)[];
  /** A synchronous target's chunk of several requests: keeps the outcomes of those answered when the attempt fails. */
  keep?: (outcomes: readonly (ItemOutcome | undefined)[]) => Promise<void>;
}

type SubmitAnswer = ({ accepted: true; actionId: string; quota?: QuotaSeen } | { accepted: false; reason: 'too-large' }) & {
  resends: number;
};

/** The target takes the chunk and works on it later; the answer says where to ask. */
export interface AsyncActionApi<T extends TargetName = TargetName> {
  mode: 'async-action';
  /** Names the account whose quota the calls use (a URL and an application id, never a secret); imports into it share a coordinator. */
  account?: string;
  /**
   * `resends` counts sends of this chunk after an attempt of unknown outcome (this attempt's included) whose
   * earlier action could not be found; an action found is polled instead and is no resend. `quota`: what the
   * answer's headers said about the account's quota, for the workflow to plan the next calls with.
   */
  submit(chunk: ChunkToSend, ctx: SubmitContext<T>): Promise<SubmitAnswer>;
  poll(actionId: string, ctx: SubmitContext<T>): Promise<ActionPoll>;
}

export type ActionPoll =
  | { finished: false; status: string; progress: number }
  | {
      finished: true;
      status: string;
      outcomeOf(item: ItemHead): ItemOutcome;
      /** Every product of the action succeeded: `outcomeOf` says so whatever the item (no need to read them). */
      allSucceeded?: boolean;
    };

/** The target answers each product within the request. */
export interface SynchronousApi<T extends TargetName = TargetName> {
  mode: 'synchronous';
  /** Names the account the products go to (a URL and a client id, never a secret): delta sync keeps a ledger per account. */
  account?: string;
  /**
   * One outcome per item, in the order of `items`, matched by key (never by position in the answer).
   * `unknownOutcomeRetries` counts requests sent again because their answer never came, including
   * those of earlier attempts that the target carried over through `lastHeartbeat`.
   */
  submit(items: SubmitItem[], ctx: SubmitContext<T>): Promise<{ outcomes: ItemOutcome[]; unknownOutcomeRetries: number }>;
}

export type TargetApi<T extends TargetName = TargetName> = AsyncActionApi<T> | SynchronousApi<T>;

/**
 * What a dry run can tell about sending the staged chunks without asking the target: the calls at least, and the
 * limits that bound the time. A retry, a split or a 429 only add to both.
 */
export interface SendPlan {
  /** Calls besides the product requests that the import makes at least (Voucherify's polls, a token). */
  otherCalls: { what: string; count: number }[];
  /** Each known limit's lower bound on the time to send everything; the estimate is the largest. */
  bounds: { seconds: number; why: string }[];
  /** What only the target's answers tell (a plan's quota, its processing time). */
  notes: string[];
}

/** A whole target: its schema plus a factory for its API client from the worker's environment. */
export interface Target<T extends TargetName = TargetName> extends TargetSchema<T> {
  /** Reads base URL and credentials from the environment; throws naming the missing variables. */
  connect(env: NodeJS.ProcessEnv): TargetApi<T>;
  /**
   * What besides a product's body decides what the target makes of it (Propeller's lookup key and directives): delta
   * sync keeps a ledger per account and shape, so a change of these sends everything again.
   */
  requestShape?(options: OptionsOf<T>): string;
  /** Product requests one chunk takes, from its keys, where that is not one (Propeller: one per source). */
  requestsFor?(keys: string[], options: OptionsOf<T>): number;
  /** A dry run's plan for `chunks` chunks in `requests` product requests, from the options and the rate caps alone. */
  planSend(staged: { chunks: number; requests: number }, options: OptionsOf<T>, env: NodeJS.ProcessEnv): SendPlan;
}
