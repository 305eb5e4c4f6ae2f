/**
 * The import's contract: what a client sends, what the workflow carries and what it returns.
 * Pure zod, so the same schemas validate at the client and at the workflow boundary.
 * Nothing here holds product data or credentials: the workflow sees references and counts only.
 */
import { z } from 'zod';
import type { TargetManifest } from '../targets/manifest';
import { type Manifests, manifests, type TargetName as ManifestName } from '../targets/manifests';
import { FieldMapping } from './mapping';

export { manifestOf } from '../targets/manifests';
export type TargetName = ManifestName;
export { VoucherifyOptions } from '../targets/voucherify/manifest';
export { PropellerDirectives, PropellerOptions } from '../targets/propeller/manifest';

export const targetNames = manifests.map((m) => m.name) as unknown as readonly [ManifestName, ...ManifestName[]];
export const TargetName = z.enum(targetNames);

export const sourceFormats = ['jsonl', 'csv', 'json'] as const;
export const SourceFormat = z.enum(sourceFormats);

export const ImportId = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, 'letters, digits, ".", "_" and "-" only (it names a staging folder)');

/** A workflow id as an import id: a schedule's runs are named `<schedule id>-<time>` with ":" in the time. */
export const importIdOf = (workflowId: string) => workflowId.replace(/[^A-Za-z0-9._-]/g, '-').slice(0, 128);

export const SourceRef = z.object({
  /** An absolute local path or an http(s) URL; the client makes relative paths absolute. */
  location: z.string().min(1),
  format: SourceFormat.optional(),
  /** A WHATWG encoding label for a source that isn't UTF-8 (windows-1252, latin1, shift_jis…). */
  encoding: z.string().min(1).max(40).optional(),
  /** CSV: the cell separator, one character. */
  delimiter: z.string().length(1).optional(),
  /** JSON: the dotted path of the records array inside a top-level object ("products", "data.items"). */
  recordsPath: z.string().min(1).max(200).optional(),
  /**
   * A redrive: the records of this ended import that did not succeed, read from its report in the staging store
   * (`location` then only names its failed-records file for people). Invalid ones only when asked, once fixed there.
   */
  redriveOf: z.object({ importId: z.string().min(1), includeInvalid: z.boolean().default(false) }).optional(),
});
export type SourceRef = z.infer<typeof SourceRef>;

const importBase = {
  importId: ImportId,
  source: SourceRef,
  /** Turns each source record into the target's product before validation (activities/mapping.ts). */
  mapping: FieldMapping.optional(),
};

/** One branch of the import's union: a target's name and its options, every default filled in. */
type BranchOf<M> =
  M extends TargetManifest<infer N, infer S>
    ? z.ZodObject<{
        importId: typeof ImportId;
        source: typeof SourceRef;
        mapping: z.ZodOptional<typeof FieldMapping>;
        target: z.ZodLiteral<N>;
        options: z.ZodDefault<z.ZodObject<S>>;
      }>
    : never;
type BranchesOf<T extends readonly unknown[]> = T extends readonly [infer H, ...infer R] ? [BranchOf<H>, ...BranchesOf<R>] : [];
type Branches = BranchesOf<Manifests>;

export const ImportInput = z
  .discriminatedUnion(
    'target',
    manifests.map((m) =>
      z.object({ ...importBase, target: z.literal(m.name), options: (m.options as z.ZodObject).default(m.options.parse({}) as never) }),
    ) as unknown as Branches,
  )
  .refine((input) => !input.mapping?.target || input.mapping.target === input.target, {
    path: ['mapping', 'target'],
    error: (issue) => {
      const input = issue.input as { target: string; mapping: FieldMapping };
      return `the mapping makes ${input.mapping.target} products, and this import goes to ${input.target}: use a mapping for ${input.target}`;
    },
  });
/** What callers pass: defaults may be left out. */
export type ImportRequest = z.input<typeof ImportInput>;
/** What the workflow works with: every default filled in. */
export type ImportInput = z.output<typeof ImportInput>;
export type ImportOptions = ImportInput['options'];

/** How each product ended up; counts always add up to `read`. */
export interface OutcomeCounts {
  succeeded: number;
  failed: number;
  /** Failed in a way that may pass: resubmitted in the next retry round. */
  retryable: number;
  /** Rejected by the target's own validation (Propeller's 10007) rather than ours. */
  invalid: number;
  /** Requests whose answer never came (timeouts, dropped connections) and were sent again. */
  unknownOutcomeRetries: number;
  /** Why a whole chunk failed or went to a retry round (polls that gave up, a submission that failed for good). */
  issue?: string;
}

/** Products a chunk's counts speak for (unknownOutcomeRetries counts requests, not products). */
export const productsIn = (counts: OutcomeCounts) => counts.succeeded + counts.failed + counts.retryable + counts.invalid;

export const zeroOutcomes = (): OutcomeCounts => ({ succeeded: 0, failed: 0, retryable: 0, invalid: 0, unknownOutcomeRetries: 0 });

/** Chunk ids sort in processing order: r<round>-<index, zero-padded>, then .0/.1 for the halves of a split. */
export function chunkIdOf(round: number, index: number): string {
  return `r${round}-${String(index).padStart(6, '0')}`;
}

export interface StageResult {
  read: number;
  valid: number;
  invalid: number;
  chunks: number;
  /** With delta sync: products the target already holds as they are (read = valid + invalid + unchanged). */
  unchanged?: number;
}

export type ImportPhase = 'staging' | 'submitting' | 'waiting-to-retry' | 'reporting' | 'completed' | 'cancelled';

export interface ImportProgress {
  importId: string;
  target: TargetName;
  phase: ImportPhase;
  paused: boolean;
  cancelRequested: boolean;
  /** Why it was cancelled, when the canceller said. */
  cancelReason?: string;
  startedAt: string;
  /**
   * The workflow time these figures refer to. A query doesn't advance workflow time, so while
   * nothing happens (paused, a slow action) `asOf` stays at the last event.
   */
  asOf: string;
  /** Records read so far, and how many were valid or invalid: final once staging has ended. */
  read: number;
  valid: number;
  invalid: number;
  /** The source is still being read (round 0's chunks are sent as they are staged). */
  staging?: boolean;
  /** Products handed to the target at least once: submitted = succeeded + failed + rejected + awaitingRetry + inFlight. */
  submitted: number;
  succeeded: number;
  failed: number;
  /** Rejected by the target's own validation. */
  rejected: number;
  awaitingRetry: number;
  inFlight: number;
  unknownOutcomeRetries: number;
  chunks: { total: number; inFlight: number; done: number };
  retryRound: number;
  /** The user's setting: the window's size, or its ceiling when adaptive. */
  concurrency: number;
  /** With adaptive concurrency, the limit in effect now (at most `concurrency`). */
  adaptiveLimit?: number;
  /** Products finished (succeeded, failed or rejected) per second over the last minute. */
  throughputPerSecond: number;
  /** Seconds left at that rate, when it can be told (not while paused, staging or waiting to retry). */
  etaSeconds: number | null;
  runNumber: number;
  /** What submissions wait for and until when (ISO): `{ what: "Voucherify's bulk quota", until }`; absent when nothing waits. */
  waitingFor?: { what: string; until: string };
  /** The latest chunk that failed or went to a retry round as a whole, and why (ISO time): the report has it per product. */
  lastIssue?: { message: string; at: string };
}

export interface ReportFiles {
  resultsJsonl: string;
  resultsCsv: string;
  failedRecords: string;
  invalidRows: string;
}

export interface ImportSummary {
  importId: string;
  target: TargetName;
  status: 'completed' | 'cancelled';
  /** Given with the cancel signal, or "cancelled through Temporal". */
  cancelReason?: string;
  source: string;
  counts: {
    read: number;
    valid: number;
    /** Rejected before or by the target's validation; never retried. */
    invalid: number;
    succeeded: number;
    failed: number;
    /** Left unsent because the import was cancelled or stopped. */
    notSubmitted: number;
    /** Delta sync: not sent, as the target already holds them as they are. */
    unchanged?: number;
    unknownOutcomeRetries: number;
    chunks: number;
    retryRounds: number;
  };
  timings: { startedAt: string; finishedAt: string; durationMs: number };
  files: ReportFiles;
  runs: number;
  /** The ended import whose records this one sent again (`bulkport retry`). */
  redriveOf?: string;
}

/** What a dry run found and what sending would take; nothing was sent. */
export interface ImportPlan {
  importId: string;
  target: TargetName;
  source: string;
  /** `unchanged` with delta sync: products that would not be sent, as the target holds them already. */
  counts: { read: number; valid: number; invalid: number; unchanged?: number };
  /** The first invalid rows, as the report would list them. */
  firstErrors: { line: number; key?: string; error: string }[];
  /** Every invalid row, to fix before the import. */
  invalidRows: string;
  chunks: number;
  /** Product requests at least (a retry, a split or a 429 adds more), and the other calls the import makes. */
  requests: number;
  otherCalls: { what: string; count: number }[];
  /** The largest of the known limits' bounds: the time sending takes at least. */
  estimate: { seconds: number; why: string } | null;
  bounds: { seconds: number; why: string }[];
  notes: string[];
}

/** `concurrency 4`, or `concurrency 6 (adaptive, ceiling 16)`. */
export function concurrencyText(p: Pick<ImportProgress, 'concurrency' | 'adaptiveLimit'>): string {
  return p.adaptiveLimit === undefined
    ? `concurrency ${p.concurrency}`
    : `concurrency ${p.adaptiveLimit} (adaptive, ceiling ${p.concurrency})`;
}

/** 42s, 3m 05s, 2h 10m: for ETAs and durations, in the workflow's details and the CLI alike. */
export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m ${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h ${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}
