/** Looking after a namespace and a staging folder: `setup` registers the search attributes, `clean` removes ended imports' data. */
import path from 'node:path';
import { Command } from 'commander';
import { cleanStaging, parseAge } from '../clean';
import { registerSearchAttributes } from '../setup';
import { CliError } from './errors';
import { withTemporal } from './context';
import { printJson, say } from './output';

// ---- setup -----------------------------------------------------------------------------------

export function setupCommand(): Command {
  return new Command('setup')
    .description("Register bulkport's search attributes (BulkImportTarget, BulkImportStatus, counts) on the namespace; safe to run again")
    .option('--json', 'print what was added as JSON')
    .action(async (flags: { json?: boolean }, command: Command) =>
      withTemporal(command, async (ctx) => {
        const result = await registerSearchAttributes(ctx.client, ctx.config.namespace);
        if (flags.json) return printJson(result);
        say(
          `Namespace ${result.namespace}: ${result.added.length ? `added ${result.added.join(', ')}` : 'nothing to add'}${result.alreadyPresent.length ? `; already there: ${result.alreadyPresent.join(', ')}` : ''}`,
        );
        say(`Web UI: ${ctx.config.uiUrl}/namespaces/${encodeURIComponent(ctx.config.namespace)}/workflows`);
      }),
    );
}

export function cleanCommand(): Command {
  const mib = (bytes: number) => `${(bytes / 1_048_576).toFixed(1)} MiB`;
  return new Command('clean')
    .description('Remove what ended imports left in the staging folder: chunks and outcomes go, reports stay (never a running import)')
    .argument('[ids...]', 'only these imports (default: every import in the folder that Temporal says has ended)')
    .option('--older-than <age>', 'only imports that ended at least this long ago: 30m, 12h, 7d')
    .option('--reports', 'remove the reports (results, failed records) too')
    .option('--staging-dir <dir>', "the workers' staging folder (default: BULKPORT_STAGING_DIR or .bulkport/staging)")
    .option('--dry-run', 'say what would go, remove nothing')
    .option('--json', 'print JSON')
    .action(
      async (
        ids: string[],
        flags: { olderThan?: string; reports?: boolean; stagingDir?: string; dryRun?: boolean; json?: boolean },
        command: Command,
      ) => {
        const olderThanMs = flags.olderThan === undefined ? undefined : parseAge(flags.olderThan);
        if (flags.olderThan !== undefined && olderThanMs === undefined)
          throw new CliError(`--older-than ${flags.olderThan}: give a number and m, h or d, e.g. 7d`);
        const dir = path.resolve(flags.stagingDir ?? process.env.BULKPORT_STAGING_DIR ?? '.bulkport/staging');
        await withTemporal(command, async (ctx) => {
          const results = await cleanStaging({
            dir,
            client: ctx.client,
            reports: !!flags.reports,
            dryRun: !!flags.dryRun,
            ...(ids.length ? { ids } : {}),
            ...(olderThanMs !== undefined ? { olderThanMs } : {}),
          });
          if (flags.json) return printJson({ dir, dryRun: !!flags.dryRun, imports: results });
          const verb = flags.dryRun ? 'would remove' : 'removed';
          for (const r of results)
            say(
              r.skipped
                ? `${r.id}: kept (${r.skipped})`
                : `${r.id} (${r.status.toLowerCase()}): ${verb} ${r.removed.join(', ') || 'nothing'} (${mib(r.bytes)})`,
            );
          const freed = results.reduce((sum, r) => sum + r.bytes, 0);
          say(`${results.length ? '' : `No imports in ${dir}. `}${flags.dryRun ? 'Would free' : 'Freed'} ${mib(freed)} in ${dir}.`);
        });
      },
    );
}
