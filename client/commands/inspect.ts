/** Where imports stand: `status`, `watch`, `list` and `report`. */
import { mkdir } from 'node:fs/promises';
import { createReadStream, createWriteStream, existsSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import { targetNames, type ImportProgress, type ReportFiles } from '../../common/import';
import { BulkImportFailed, BulkImportStatus, BulkImportSucceeded, BulkImportTarget, BulkImportTotal } from '../../common/search-attributes';
import { childImportId } from '../../workflows/multi';
import { exitCodeHelp, exitCodeOf } from '../outcome';
import { followImport, progressLines, summaryLines } from '../progress';
import { findImport, importStatus, type ImportStatus } from '../status';
import { CliError } from './errors';
import { S3Store } from '../../activities/staging/s3-store';
import { parseAge } from '../clean';
import { withStore } from './staging';
import { followAndReport, followMultiAndReport, idCommand, warnProblem, withTemporal, type WaitFlags } from './context';
import { integer, interruptSignal, printJson, printTable, say, workerTimeoutOption } from './output';

// ---- status and watch ----------------------------------------------------------------------

function statusLines(s: ImportStatus): string[] {
  const lines = [`${s.workflowId}  ${s.status ?? '?'} (${s.execution.toLowerCase()})`];
  if (s.title) lines.push(`  ${s.title}`);
  lines.push(`  started ${s.startTime}${s.closeTime ? `, closed ${s.closeTime}` : ''}`);
  if (s.progress) lines.push(...progressLines(s.progress, s.stagingRead).map((l) => `  ${l}`));
  if (s.progressError) lines.push(`  ${s.progressError}`);
  if (s.summary?.redriveOf) lines.push(`  retries the records of ${s.summary.redriveOf} that did not succeed`);
  for (const r of s.redrives ?? []) lines.push(`  retried by ${r.workflowId} (${r.status ?? '?'})`);
  if (s.summary || s.failure) return [...lines, ...summaryLines(s, s.uiLink)];
  return [...lines, `Web UI: ${s.uiLink}`];
}

const printStatus = (status: ImportStatus, json?: boolean) => {
  if (json) printJson(status);
  else for (const line of statusLines(status)) say(line);
};

export function statusCommand(): Command {
  return idCommand<{ json?: boolean }>(
    'status',
    'Where an import stands: progress while it runs, its summary once it has ended',
    async (ctx, id, flags) => {
      const { description } = await findImport(ctx.client, id);
      if (description.type !== 'importIntoTargets') return printStatus(await importStatus(ctx.client, ctx.config, id), flags.json);
      // An import into several targets: its children's statuses (their ids follow from its targets).
      const targets = description.typedSearchAttributes.get(BulkImportTarget)?.split(',') ?? [];
      const children = await Promise.all(targets.map((t) => importStatus(ctx.client, ctx.config, childImportId(id, t))));
      if (flags.json) return printJson({ workflowId: id, execution: description.status.name, children });
      say(
        `${id}  ${description.typedSearchAttributes.get(BulkImportStatus) ?? '?'} (${description.status.name.toLowerCase()}): one import per target`,
      );
      for (const child of children) for (const line of statusLines(child)) say(`  ${line}`);
    },
  ).option('--json', 'print the status as JSON ({ progress } while running, { summary } when completed)');
}

export function watchCommand(): Command {
  const description = 'Follow an import with live progress bars until it ends (Ctrl-C stops watching, not the import)';
  return idCommand<WaitFlags>('watch', description, async (ctx, id, flags) => {
    const { handle, description } = await findImport(ctx.client, id);
    if (description.type === 'importIntoTargets') {
      process.exitCode = await followMultiAndReport(ctx, id, flags);
      return;
    }
    if (description.status.name !== 'RUNNING') {
      // An ended import: its status, and the exit code it ended with.
      const status = await importStatus(ctx.client, ctx.config, id);
      printStatus(status, flags.json);
      if (flags.json) warnProblem(status);
      process.exitCode = exitCodeOf(status);
      return;
    }
    if (!flags.json) {
      say(`Web UI: ${ctx.link(id)}`);
      process.exitCode = await followAndReport(ctx, id, flags);
      return;
    }
    // One JSON document a line: each progress answer, then the final status.
    const result = await followImport(ctx.client, handle, {
      signal: interruptSignal(),
      workerTimeoutMs: flags.workerTimeout * 1000,
      onProgress: (p: ImportProgress) => say(JSON.stringify(p)),
    });
    if (result.detached) {
      process.exitCode = 130;
      return;
    }
    say(JSON.stringify(await importStatus(ctx.client, ctx.config, id)));
    warnProblem(result);
    process.exitCode = exitCodeOf(result);
  })
    .option('--json', 'print each progress answer as a JSON line, then the final status')
    .addOption(workerTimeoutOption())
    .addHelpText('after', `\n${exitCodeHelp}\nAn import that has already ended: its status, and the exit code it ended with.`);
}

// ---- list ------------------------------------------------------------------------------------

interface ListFlags {
  limit: number;
  status?: string;
  target?: string;
  query?: string;
  json?: boolean;
}

const quoteValue = (value: string) => `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;

export function listQuery(flags: Pick<ListFlags, 'status' | 'target' | 'query'>): string {
  const parts = [`WorkflowType = 'importCatalog'`];
  if (flags.status) parts.push(`${BulkImportStatus.name} = ${quoteValue(flags.status)}`);
  if (flags.target) parts.push(`${BulkImportTarget.name} = ${quoteValue(flags.target)}`);
  if (flags.query) parts.push(`(${flags.query})`);
  return parts.join(' AND ');
}

export function listCommand(): Command {
  return new Command('list')
    .description('Recent imports, from Temporal visibility: status, target and counts')
    .option('-n, --limit <n>', 'how many', integer, 20)
    .option('--status <status>', 'only these: Staging, Running, Paused, Cancelling, Reporting, Completed, Cancelled, Failed')
    .addOption(new Option('--target <target>', 'only imports into this target').choices(targetNames))
    .option('--query <visibility-query>', 'and this visibility query, e.g. "BulkImportFailed > 0"')
    .option('--json', 'print the list as JSON')
    .action(async (flags: ListFlags, command: Command) =>
      withTemporal(command, async (ctx) => {
        const query = listQuery(flags);
        const rows: Record<string, string | number | undefined>[] = [];
        const seen = new Set<string>();
        // Every run of a continued-as-new import is listed; the newest comes first.
        for await (const run of ctx.client.workflow.list({ query })) {
          if (seen.has(run.workflowId)) continue;
          seen.add(run.workflowId);
          const attr = run.typedSearchAttributes;
          rows.push({
            workflowId: run.workflowId,
            status: attr.get(BulkImportStatus) ?? run.status.name,
            execution: run.status.name,
            target: attr.get(BulkImportTarget),
            total: attr.get(BulkImportTotal),
            succeeded: attr.get(BulkImportSucceeded),
            failed: attr.get(BulkImportFailed),
            startTime: run.startTime.toISOString(),
            closeTime: run.closeTime?.toISOString(),
            uiLink: ctx.link(run.workflowId),
          });
          if (rows.length >= flags.limit) break;
        }
        const listLink = `${ctx.config.uiUrl}/namespaces/${encodeURIComponent(ctx.config.namespace)}/workflows?query=${encodeURIComponent(query)}`;
        if (flags.json) return printJson(rows);
        if (!rows.length) say('No imports found.');
        else printTable(rows, ['workflowId', 'status', 'target', 'total', 'succeeded', 'failed', 'startTime']);
        say(`Web UI: ${listLink}`);
      }),
    );
}

// ---- report ----------------------------------------------------------------------------------

const reportFileChoices: Record<string, keyof ReportFiles> = {
  results: 'resultsCsv',
  'results-jsonl': 'resultsJsonl',
  failed: 'failedRecords',
  invalid: 'invalidRows',
};

/** A report file where the worker wrote it: a path in the staging folder, or an s3:// URL in the staging bucket. */
interface ReportFile {
  location: string;
  name: string;
  exists(): Promise<boolean>;
  open(): Promise<NodeJS.ReadableStream>;
  link?(expiresInSeconds: number): Promise<string>;
}

function reportFile(location: string): ReportFile {
  if (!location.startsWith('s3://')) {
    return {
      location,
      name: path.basename(location),
      exists: async () => existsSync(location),
      open: async () => createReadStream(location),
    };
  }
  const { store, key } = S3Store.forObject(location);
  const call = <T>(fn: () => Promise<T>) => withStore(store, fn);
  return {
    location,
    name: path.posix.basename(key),
    exists: () => call(() => store.exists(key)),
    open: () => call(() => store.open(key)),
    link: (expiresIn) => call(() => store.presign(key, expiresIn)),
  };
}

/** SigV4 presigned links live at most 7 days. */
const MAX_LINK_SECONDS = 7 * 86_400;

interface ReportFlags {
  file: string;
  out?: string;
  json?: boolean;
  links?: boolean;
  expiresIn: string;
}

export function reportCommand(): Command {
  return idCommand<ReportFlags>(
    'report',
    'The result files of an ended import (from the staging folder or bucket): prints one (the results CSV by default), copies them all with --out, or prints download links with --links',
    async (ctx, id, flags) => {
      const expiresMs = parseAge(flags.expiresIn);
      if (!expiresMs || expiresMs > MAX_LINK_SECONDS * 1000)
        throw new CliError(`--expires-in ${flags.expiresIn}: give 30m, 12h or up to 7d`);
      const status = await importStatus(ctx.client, ctx.config, id);
      const report = status.summary ? { files: status.summary.files, counts: status.summary.counts } : status.failure?.report;
      if (!report) {
        const why =
          status.execution === 'RUNNING'
            ? 'is still running; its report is written when it ends'
            : `ended without a report (${status.failure?.message})`;
        throw new CliError(`Import ${id} ${why}.\nWeb UI: ${status.uiLink}`);
      }
      const files = (Object.entries(report.files) as [keyof ReportFiles, string][]).map(([which, location]) => ({
        which,
        file: reportFile(location),
      }));
      if (flags.json && !flags.links) return printJson({ workflowId: id, ...report, uiLink: status.uiLink });
      const present = [];
      for (const entry of files) if (await entry.file.exists()) present.push(entry);
      if (!present.length) {
        const first = files[0]!.file.location;
        throw new CliError(
          first.startsWith('s3://')
            ? `The report is no longer in the staging bucket (${path.posix.dirname(first)}): retention or \`bulkport clean --reports\` removed it.`
            : `The report is in the worker's staging store (${path.dirname(first)}), which is not reachable from here: run this where BULKPORT_STAGING_DIR is.`,
        );
      }
      if (flags.links) {
        const links: Record<string, string> = {};
        for (const { which, file } of present) {
          if (!file.link) throw new CliError(`${file.location} is a local file: --links needs a staging bucket (BULKPORT_STAGING_URL)`);
          links[which] = await file.link(expiresMs / 1000);
        }
        if (flags.json) return printJson({ workflowId: id, ...report, links, expiresAt: new Date(Date.now() + expiresMs).toISOString() });
        for (const { which, file } of present) say(`${file.name}: ${links[which]}`);
        say(`The links work until ${new Date(Date.now() + expiresMs).toISOString()}. Web UI: ${status.uiLink}`);
        return;
      }
      if (flags.out) {
        await mkdir(flags.out, { recursive: true });
        for (const { file } of present) {
          await pipeline(await file.open(), createWriteStream(path.join(flags.out, file.name)));
          say(path.join(flags.out, file.name));
        }
        say(`Web UI: ${status.uiLink}`);
        return;
      }
      // Stdout carries the file alone, ready to pipe; the link goes to stderr.
      const file = reportFile(report.files[reportFileChoices[flags.file]!]);
      if (!(await file.exists())) throw new CliError(`${file.location} does not exist`);
      await pipeline(await file.open(), process.stdout, { end: false });
      process.stderr.write(`Web UI: ${status.uiLink}\n`);
    },
  )
    .addOption(new Option('--file <which>', 'which file to print').choices(Object.keys(reportFileChoices)).default('results'))
    .option('--out <dir>', 'copy every report file into this folder instead')
    .option('--links', 'print a download link for each report file instead (presigned; staging bucket only)')
    .option('--expires-in <age>', 'how long --links work: 30m, 12h, up to 7d', '24h')
    .option('--json', 'print the file paths and counts as JSON (with --links: the links too)');
}
