/** Where imports stand: `status`, `watch`, `list` and `report`. */
import { copyFile, mkdir } from 'node:fs/promises';
import { createReadStream, existsSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Command, Option } from 'commander';
import { targetNames, type ImportProgress, type ReportFiles } from '../../common/import';
import { BulkImportFailed, BulkImportStatus, BulkImportSucceeded, BulkImportTarget, BulkImportTotal } from '../../common/search-attributes';
import { exitCodeHelp, exitCodeOf } from '../outcome';
import { followImport, progressLines, summaryLines } from '../progress';
import { findImport, importStatus, type ImportStatus } from '../status';
import { CliError } from './errors';
import { followAndReport, idCommand, warnProblem, withTemporal, type WaitFlags } from './context';
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
    async (ctx, id, flags) => printStatus(await importStatus(ctx.client, ctx.config, id), flags.json),
  ).option('--json', 'print the status as JSON ({ progress } while running, { summary } when completed)');
}

export function watchCommand(): Command {
  const description = 'Follow an import with live progress bars until it ends (Ctrl-C stops watching, not the import)';
  return idCommand<WaitFlags>('watch', description, async (ctx, id, flags) => {
    const { handle, description } = await findImport(ctx.client, id);
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

export function reportCommand(): Command {
  return idCommand<{ file: string; out?: string; json?: boolean }>(
    'report',
    'The result files of an ended import: prints one (the results CSV by default) or copies them all with --out',
    async (ctx, id, flags) => {
      const status = await importStatus(ctx.client, ctx.config, id);
      const report = status.summary ? { files: status.summary.files, counts: status.summary.counts } : status.failure?.report;
      if (!report) {
        const why =
          status.execution === 'RUNNING'
            ? 'is still running; its report is written when it ends'
            : `ended without a report (${status.failure?.message})`;
        throw new CliError(`Import ${id} ${why}.\nWeb UI: ${status.uiLink}`);
      }
      const files = Object.entries(report.files) as [keyof ReportFiles, string][];
      const missing = files.filter(([, file]) => !existsSync(file)).map(([, file]) => file);
      if (flags.json) return printJson({ workflowId: id, ...report, uiLink: status.uiLink });
      if (missing.length === files.length) {
        throw new CliError(
          `The report is in the worker's staging store (${path.dirname(files[0]![1])}), which is not reachable from here: run this where BULKPORT_STAGING_DIR is.`,
        );
      }
      if (flags.out) {
        await mkdir(flags.out, { recursive: true });
        for (const [, file] of files.filter(([, f]) => existsSync(f))) {
          await copyFile(file, path.join(flags.out, path.basename(file)));
          say(path.join(flags.out, path.basename(file)));
        }
        say(`Web UI: ${status.uiLink}`);
        return;
      }
      // Stdout carries the file alone, ready to pipe; the link goes to stderr.
      const file = report.files[reportFileChoices[flags.file]!];
      if (!existsSync(file)) throw new CliError(`${file} does not exist`);
      await pipeline(createReadStream(file), process.stdout, { end: false });
      process.stderr.write(`Web UI: ${status.uiLink}\n`);
    },
  )
    .addOption(new Option('--file <which>', 'which file to print').choices(Object.keys(reportFileChoices)).default('results'))
    .option('--out <dir>', 'copy every report file into this folder instead')
    .option('--json', 'print the file paths and counts as JSON');
}
