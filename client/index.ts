/**
 * The typed client: start an import and get its handle, or reach a running one.
 * Used by the CLI and by any service that triggers imports.
 */
import { createReadStream } from 'node:fs';
import { constants } from 'node:fs';
import { access, open, stat } from 'node:fs/promises';
import path from 'node:path';
import {
  Client,
  Connection,
  WorkflowExecutionAlreadyStartedError,
  type WorkflowHandle,
  type WorkflowHandleWithFirstExecutionRunId,
} from '@temporalio/client';
import { WorkflowIdReusePolicy, type Duration } from '@temporalio/common';
import { compileMapping } from '../activities/mapping';
import { binaryKindOf, detectFormat, isGzip, utf16Of } from '../activities/sources';
import { ImportInput, type ImportRequest } from '../common/import';
import { BulkImportRedriveOf, BulkImportStatus, BulkImportTarget } from '../common/search-attributes';
import { temporalConfigFromEnv, type TemporalConfig } from '../common/temporal-config';
import { clientInterceptors } from '../common/tracing';
import type { importCatalog, importIntoTargets, planCatalog } from '../workflows';
import { childImportId } from '../workflows/multi';

export { cancelSignal, pauseSignal, progressQuery, resumeSignal, setConcurrencyUpdate } from '../workflows/messages';
export type { ImportPlan, ImportProgress, ImportRequest, ImportSummary } from '../common/import';

export type ImportHandle = WorkflowHandle<typeof importCatalog>;
export type StartedImport = WorkflowHandleWithFirstExecutionRunId<typeof importCatalog>;

/** What a caller gives: the import id defaults to the workflow id. */
export type StartImportRequest = Omit<ImportRequest, 'importId'> & { importId?: string };

export interface StartImportOptions {
  /** Defaults to `import-<target>-<source name>-<timestamp>`, or the next free `…-2`, `…-3`. */
  workflowId?: string;
  taskQueue?: string;
  now?: Date;
  /**
   * Count a local JSONL or CSV file's records for the Web UI's summary (on by default): a file up to COUNT_EXACT_BYTES
   * is counted, a larger one's count estimated from its first bytes ("about …").
   */
  countRecords?: boolean;
  /** The records, when the caller knows them (a redrive, from the earlier report). */
  records?: number;
}

export async function connectClient(
  config: TemporalConfig = temporalConfigFromEnv(),
  options: { connectTimeout?: Duration } = {},
): Promise<Client> {
  const { address, tls, apiKey, metadata } = config;
  const connection = await Connection.connect({ address, tls, apiKey, metadata, ...options });
  // With OTEL_* set, a started import's trace begins here (common/tracing.ts).
  const interceptors = clientInterceptors();
  return new Client({ connection, namespace: config.namespace, ...(interceptors ? { interceptors } : {}) });
}

/** The source's file name as an id part: `catalog` for …/Catalog.jsonl?sig=…, at most 40 characters. */
export function sourceSlug(location: string): string {
  const name = path.basename(location.split('?')[0] ?? location).replace(/\.[^.]+$/, '');
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'source'
  );
}

/** A workflow id a person can read and sort: import-voucherify-catalog-20261123T101500Z. */
export function importWorkflowId(target: string, location: string, now = new Date(), kind: 'import' | 'plan' = 'import'): string {
  const slug = sourceSlug(location);
  const stamp = now
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
  return `${kind}-${target}-${slug}-${stamp}`;
}

/** How many default ids an import tries (`…Z`, `…Z-2`, …) before it reports the id as taken. */
const DEFAULT_ID_TRIES = 20;

/**
 * Starts a workflow under `given`, or else under the default id `base` or the next free one (`base-2`, `base-3`, …).
 * A default id names the source's file and the second: two imports of files of one name in the same second (two
 * scripts, two regions' products.jsonl) would otherwise share it, and the second fail as "already running". A given id
 * is never changed: its import is refused instead (ids are never reused).
 */
async function startUnderFreeId<T>(given: string | undefined, base: string, start: (id: string) => Promise<T>): Promise<T> {
  if (given !== undefined) return start(given);
  for (let n = 1; ; n++) {
    try {
      return await start(n === 1 ? base : `${base}-${n}`);
    } catch (err) {
      if (!(err instanceof WorkflowExecutionAlreadyStartedError) || n >= DEFAULT_ID_TRIES) throw err;
    }
  }
}

function describeSource(location: string): string {
  return /^https?:\/\//.test(location) ? new URL(location).pathname.split('/').pop() || location : path.basename(location);
}

const targetTitle = (name: string) => name[0]!.toUpperCase() + name.slice(1);

/** Whether the file's bytes are plain ASCII-compatible text, so that counting 0x0a bytes counts lines. */
async function countableText(file: string): Promise<boolean> {
  const handle = await open(file, 'r');
  try {
    const { buffer, bytesRead } = await handle.read(Buffer.alloc(4096), 0, 4096, 0);
    const head = buffer.subarray(0, bytesRead);
    return !isGzip(head) && utf16Of(head) === undefined && binaryKindOf(head) === undefined;
  } finally {
    await handle.close();
  }
}

/** A local catalog's records, counted (exact) or estimated from its first bytes (a large file). */
export interface RecordCount {
  records: number;
  exact: boolean;
}

/**
 * Files up to this size are counted whole; a larger one's count is estimated from its first COUNT_SAMPLE_BYTES. The
 * count comes before the workflow starts, so every import waits for it: a 27 MB file's took 74–153 ms (a 1.4 GB file's
 * 1.4–1.7 s, with it in the page cache), its estimate from 4 MiB 6–20 ms and 0.5 % high (201,000 for 200,000).
 */
export const COUNT_EXACT_BYTES = 16 * 2 ** 20;
export const COUNT_SAMPLE_BYTES = 4 * 2 ** 20;

/** Non-blank lines in a file's first `limit` bytes (whole lines only when it stops early), and the bytes they span. */
async function countLines(file: string, limit = Number.POSITIVE_INFINITY): Promise<{ lines: number; bytes: number }> {
  let lines = 0;
  let read = 0;
  let throughLastLine = 0;
  let hasContent = false; // the current line has a byte other than whitespace
  for await (const chunk of createReadStream(file, { end: Number.isFinite(limit) ? limit - 1 : undefined }) as AsyncIterable<Buffer>) {
    for (let start = 0; ; ) {
      const newline = chunk.indexOf(0x0a, start);
      const end = newline === -1 ? chunk.length : newline;
      // Usually stops at the line's first byte: the cost is per line, not per byte.
      for (let i = start; !hasContent && i < end; i++) hasContent = chunk[i] !== 0x20 && chunk[i] !== 0x09 && chunk[i] !== 0x0d;
      if (newline === -1) break;
      if (hasContent) lines++;
      hasContent = false;
      start = newline + 1;
      throughLastLine = read + start;
    }
    read += chunk.length;
  }
  const whole = read < limit;
  if (whole && hasContent) lines++;
  return { lines, bytes: whole ? read : throughLastLine };
}

/** Whether a count of 0x0a bytes counts this file's lines: not for JSON arrays, compressed or binary files, or UTF-16. */
async function countable(file: string, format: 'jsonl' | 'csv' | 'json', encoding?: string): Promise<boolean> {
  if (format === 'json') return false;
  // Single-byte legacy encodings keep 0x0a as the line break; UTF-16 and the like don't.
  if (encoding !== undefined && !/^(windows-12\d\d|iso-8859-\d+|latin1|ascii|us-ascii|utf-?8|cp125\d)$/i.test(encoding)) return false;
  return countableText(file);
}

/** A CSV's first line is its header, no record. */
const recordsIn = (lines: number, format: 'jsonl' | 'csv' | 'json') => (format === 'csv' ? Math.max(0, lines - 1) : lines);

/**
 * Records in a local JSONL file (non-blank lines) or CSV file (lines after the header; a quoted
 * field spanning lines makes this an estimate). Undefined for JSON arrays, whose records can't be
 * counted without parsing, and for files that are compressed, binary or in an encoding whose lines
 * aren't 0x0a bytes (the worker tells those apart). Looks at newlines and each line's first bytes only:
 * about a second per gigabyte.
 */
export async function countRecords(file: string, format: 'jsonl' | 'csv' | 'json', encoding?: string): Promise<number | undefined> {
  const whole = { exactBytes: Number.POSITIVE_INFINITY, sampleBytes: 0 };
  return (await countOrEstimateRecords(file, format, encoding, whole))?.records;
}

/**
 * A local file's records as countRecords counts them, for a file up to `exactBytes`; beyond, its first `sampleBytes`'
 * records per byte times its size, to three significant digits.
 */
export async function countOrEstimateRecords(
  file: string,
  format: 'jsonl' | 'csv' | 'json',
  encoding?: string,
  limits: { exactBytes: number; sampleBytes: number } = { exactBytes: COUNT_EXACT_BYTES, sampleBytes: COUNT_SAMPLE_BYTES },
): Promise<RecordCount | undefined> {
  if (!(await countable(file, format, encoding))) return undefined;
  const { size } = await stat(file);
  const exact = size <= limits.exactBytes;
  const sample = await countLines(file, exact ? Number.POSITIVE_INFINITY : limits.sampleBytes);
  const records = recordsIn(sample.lines, format);
  if (exact) return { records, exact };
  // A sample without a whole record tells nothing.
  if (records === 0) return undefined;
  const estimate = (records * size) / sample.bytes;
  const unit = 10 ** Math.max(0, Math.floor(Math.log10(estimate)) - 2);
  return { records: Math.round(estimate / unit) * unit, exact: false };
}

/** "Import 120,000 products from catalog.jsonl into Voucherify", or without the count when it isn't known. */
export function importTitle(target: string, location: string, count?: RecordCount): string {
  const what = count === undefined ? '' : `${count.exact ? '' : 'about '}${count.records.toLocaleString('en-US')} products from `;
  return `Import ${what}${describeSource(location)} into ${targetTitle(target)}`;
}

/** Thrown before anything starts when the source can't be what the import reads. */
export class SourceNotFoundError extends Error {}

/** A URL as it is; a local path made absolute, after checking that it names a readable file. */
export async function checkSource(location: string): Promise<string> {
  // A URL or a bucket object is the worker's to reach.
  if (/^(https?|s3):\/\//.test(location)) return location;
  const file = path.resolve(location);
  const info = await stat(file).catch(() => undefined);
  const relative = path.isAbsolute(location) ? '' : ` (a relative path is taken from ${process.cwd()})`;
  if (!info) throw new SourceNotFoundError(`source file not found: ${file}: check the path${relative}`);
  if (info.isDirectory())
    throw new SourceNotFoundError(`${file} is a folder, not a file: pass the catalog file itself (one import per file)`);
  if (!info.isFile()) throw new SourceNotFoundError(`${file} is not a regular file: pass a catalog file or an http(s) URL`);
  await access(file, constants.R_OK).catch(() => {
    throw new SourceNotFoundError(`${file} is not readable by this user: fix its permissions (chmod) or run as its owner`);
  });
  return file;
}

/**
 * Validates the request as the workflow will, makes a local source path absolute and checks
 * that it exists, then starts the import.
 */
export async function startImport(client: Client, request: StartImportRequest, options: StartImportOptions = {}): Promise<StartedImport> {
  return startWorkflowOf<typeof importCatalog>(client, 'importCatalog', request, options);
}

/** A dry run: the same checks, then a workflow that stages and plans and sends nothing (its id defaults to `plan-…`). */
export async function startDryRun(
  client: Client,
  request: StartImportRequest,
  options: StartImportOptions = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof planCatalog>> {
  return startWorkflowOf<typeof planCatalog>(client, 'planCatalog', request, options);
}

/**
 * Checks what a worker will check of the source, so that one it could not read fails before anything starts, and
 * counts a local file's records for the Web UI's summary (undefined where that cannot be told cheaply).
 */
async function checkedSource(source: ImportInput['source'], options: StartImportOptions): Promise<RecordCount | undefined> {
  const { location, recordsPath, delimiter, redriveOf } = source;
  const format = detectFormat(location, source.format);
  if (recordsPath !== undefined && format !== 'json')
    throw new Error(`--records-path applies to a JSON source only; ${location} is ${format}`);
  if (delimiter !== undefined && format !== 'csv') throw new Error(`--delimiter applies to a CSV source only; ${location} is ${format}`);
  return options.countRecords !== false && !/^(https?|s3):\/\//.test(location) && !redriveOf
    ? await countOrEstimateRecords(location, format, source.encoding)
    : options.records === undefined
      ? undefined
      : { records: options.records, exact: true };
}

/** One catalog into several targets (workflows/multi.ts): each target's request checked as a child will check it. */
export async function startMultiImport(
  client: Client,
  request: { source: StartImportRequest['source']; targets: Omit<StartImportRequest, 'source' | 'importId'>[] },
  options: StartImportOptions = {},
): Promise<WorkflowHandleWithFirstExecutionRunId<typeof importIntoTargets>> {
  const location = await checkSource(request.source.location);
  const names = request.targets.map((t) => t.target);
  const baseId = importWorkflowId(names.join('-'), location, options.now);
  const source = { ...request.source, location };
  const inputs = request.targets.map((t) =>
    ImportInput.parse({ ...t, source, importId: childImportId(options.workflowId ?? baseId, t.target) }),
  );
  for (const input of inputs) if (input.mapping) compileMapping(input.mapping);
  const records = await checkedSource(inputs[0]!.source, options);
  const title = importTitle(names.map(targetTitle).join(' and '), location, records);
  return startUnderFreeId(options.workflowId, baseId, (workflowId) =>
    client.workflow.start<typeof importIntoTargets>('importIntoTargets', {
      taskQueue: options.taskQueue ?? temporalConfigFromEnv().taskQueue,
      workflowId,
      workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
      args: [{ importId: workflowId, source, targets: request.targets }],
      staticSummary: title,
      typedSearchAttributes: [
        { key: BulkImportTarget, value: names.join(',') },
        { key: BulkImportStatus, value: 'Running' },
      ],
    }),
  );
}

async function startWorkflowOf<W extends typeof importCatalog | typeof planCatalog>(
  client: Client,
  workflowType: 'importCatalog' | 'planCatalog',
  request: StartImportRequest,
  options: StartImportOptions,
): Promise<WorkflowHandleWithFirstExecutionRunId<W>> {
  const dryRun = workflowType === 'planCatalog';
  const { redriveOf } = request.source;
  // A redrive's records are in the workers' staging store, which the worker checks.
  const location = redriveOf ? request.source.location : await checkSource(request.source.location);
  const baseId = importWorkflowId(request.target, location, options.now, dryRun ? 'plan' : 'import');
  const input = ImportInput.parse({
    ...request,
    importId: request.importId ?? options.workflowId ?? baseId,
    source: { ...request.source, location },
  });
  // A mapping's expressions compile here as staging compiles them: a bad one throws (MappingError, naming the field) before anything starts.
  if (input.mapping) compileMapping(input.mapping);
  const records = await checkedSource(input.source, options);
  const title = redriveOf
    ? `Retry ${records === undefined ? 'the' : records.records.toLocaleString('en-US')} products of ${redriveOf.importId} that did not succeed, into ${targetTitle(input.target)}`
    : importTitle(input.target, location, records);
  return startUnderFreeId(
    options.workflowId,
    baseId,
    (workflowId) =>
      client.workflow.start<W>(workflowType, {
        taskQueue: options.taskQueue ?? temporalConfigFromEnv().taskQueue,
        workflowId,
        // One import id names one import's data and report: an id is never reused, even after its import ended.
        workflowIdReusePolicy: WorkflowIdReusePolicy.REJECT_DUPLICATE,
        // The import id is the workflow's unless the caller chose one.
        args: [request.importId === undefined ? { ...input, importId: workflowId } : input] as Parameters<W>,
        staticSummary: dryRun ? `Dry run: ${title[0]!.toLowerCase()}${title.slice(1)}` : title,
        staticDetails: `**Source** \`${location}\`\n\n**Options** \`${JSON.stringify(input.options)}\``,
        typedSearchAttributes: [
          { key: BulkImportTarget, value: input.target },
          { key: BulkImportStatus, value: dryRun ? 'Planning' : 'Staging' },
          ...(redriveOf ? [{ key: BulkImportRedriveOf, value: redriveOf.importId }] : []),
        ],
      }) as Promise<WorkflowHandleWithFirstExecutionRunId<W>>,
  );
}

export function getImport(client: Client, workflowId: string): ImportHandle {
  return client.workflow.getHandle<typeof importCatalog>(workflowId);
}
