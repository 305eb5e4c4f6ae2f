/**
 * What an ended import means for a script: its exit code, and the root cause of a failure.
 * Pure functions, shared by every command that follows or reports an import.
 */
import type { ImportSummary, ReportFiles } from '../common/import';

/** Exit codes of `import --wait`, `watch` and `cancel --wait`; the table in `bulkport --help` and the README. */
export const ExitCode = {
  /** The import completed and every source record succeeded. */
  ok: 0,
  /** The import failed, never ran, or imported nothing (no record succeeded); also usage errors. */
  failed: 1,
  /** The import ended (completed or cancelled), some records succeeded, others are invalid, failed or not submitted. */
  partial: 2,
} as const;
export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode];

export const exitCodeHelp =
  'Exit codes (import --wait, watch, cancel --wait):\n' +
  '  0  the import completed and every source record succeeded (or was unchanged, with --skip-unchanged)\n' +
  '  2  it ended (completed or cancelled) and some records succeeded, but others are invalid, failed or not submitted\n' +
  '  1  it failed, never ran (bad flag, missing file, no worker, Temporal unreachable) or imported nothing\n' +
  '`status` exits 0 whenever it can tell where an import stands; `watch <id>` of an ended import exits with its code.\n' +
  '`import --dry-run`: 0 every record is valid, 2 some are invalid, 1 none is (or the dry run failed).';

export interface ImportFailure {
  /** The root cause: the deepest message of the failure chain, not "Activity task failed". */
  message: string;
  /** Its failure type (SourceError, Unauthorized, …) when it has one. */
  type?: string;
  /** A stopped import still writes its report. */
  report?: { files: ReportFiles; counts: Record<string, number> };
}

export interface ImportEnd {
  summary?: ImportSummary;
  failure?: ImportFailure;
}

/** The exit code of an ended import: see ExitCode. A cancel the user asked for is judged by what it imported. */
export function exitCodeOf(end: ImportEnd): ExitCode {
  const counts = end.summary?.counts;
  // Delta sync: an unchanged product is where it should be, as a succeeded one is.
  const upToDate = (counts?.succeeded ?? 0) + (counts?.unchanged ?? 0);
  if (!counts || upToDate === 0) return ExitCode.failed;
  return upToDate === counts.read ? ExitCode.ok : ExitCode.partial;
}

/** The shape of a Temporal failure this module reads (TemporalFailure and its subclasses). */
interface FailureLike {
  message?: string;
  name?: string;
  type?: string | null;
  details?: unknown[] | null;
  cause?: unknown;
}

const isFailure = (value: unknown): value is FailureLike => typeof value === 'object' && value !== null && 'message' in value;

function isReport(value: unknown): value is NonNullable<ImportFailure['report']> {
  return typeof value === 'object' && value !== null && 'files' in value && 'counts' in value;
}

/**
 * The root cause of a failed import: walks the cause chain (WorkflowFailedError → ApplicationFailure →
 * ActivityFailure → ApplicationFailure) to the deepest failure with a message, and picks up the report
 * that any link of the chain carries in its details.
 */
export function rootCause(err: unknown): ImportFailure {
  let message = err instanceof Error ? err.message : String(err);
  let type: string | undefined;
  let report: ImportFailure['report'];
  for (let link: unknown = err, depth = 0; isFailure(link) && depth < 20; link = link.cause, depth++) {
    if (link.message) {
      message = link.message;
      // The type of the failure whose message is shown: ApplicationFailure's own, else the class (TimeoutFailure, …).
      type = link.type ?? (link.name && !['Error', 'ApplicationFailure'].includes(link.name) ? link.name : undefined);
    }
    report ??= link.details?.find(isReport);
  }
  return { message, ...(type ? { type } : {}), ...(report ? { report } : {}) };
}
