/** Looking after a namespace and a staging store: `setup` registers the search attributes, `clean` removes ended imports' data. */
import { Command } from 'commander';
import type { LifecycleRule } from '@aws-sdk/client-s3';
import { S3Store } from '../../activities/staging/s3-store';
import { cleanStaging, parseAge } from '../clean';
import { applyRetention, readRetention } from '../retention';
import { registerSearchAttributes } from '../setup';
import { CliError } from './errors';
import { withTemporal } from './context';
import { printJson, say } from './output';
import { type StagingFlags, stagingDirHelp, stagingStoreOf, stagingUrlHelp, withStore } from './staging';

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
    .description('Remove what ended imports left in the staging store: chunks and outcomes go, reports stay (never a running import)')
    .argument('[ids...]', 'only these imports (default: every import in the store that Temporal says has ended)')
    .option('--older-than <age>', 'only imports that ended at least this long ago: 30m, 12h, 7d')
    .option('--reports', 'remove the reports (results, failed records) too')
    .option('--staging-dir <dir>', stagingDirHelp)
    .option('--staging-url <url>', stagingUrlHelp)
    .option('--dry-run', 'say what would go, remove nothing')
    .option('--json', 'print JSON')
    .action(
      async (
        ids: string[],
        flags: StagingFlags & { olderThan?: string; reports?: boolean; dryRun?: boolean; json?: boolean },
        command: Command,
      ) => {
        const olderThanMs = flags.olderThan === undefined ? undefined : parseAge(flags.olderThan);
        if (flags.olderThan !== undefined && olderThanMs === undefined)
          throw new CliError(`--older-than ${flags.olderThan}: give a number and m, h or d, e.g. 7d`);
        const { store, where: dir } = stagingStoreOf(flags);
        await withTemporal(command, async (ctx) => {
          const results = await withStore(store, () =>
            cleanStaging({
              store,
              client: ctx.client,
              reports: !!flags.reports,
              dryRun: !!flags.dryRun,
              ...(ids.length ? { ids } : {}),
              ...(olderThanMs !== undefined ? { olderThanMs } : {}),
            }),
          );
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

// ---- retention -------------------------------------------------------------------------------

/** The staging bucket the flags or the environment name; retention is a bucket's own lifecycle, so a folder is refused. */
function stagingBucketOf(flags: StagingFlags): S3Store {
  const { store } = stagingStoreOf(flags);
  if (!(store instanceof S3Store))
    throw new CliError(
      'Retention rules live in a staging bucket: set BULKPORT_STAGING_URL (or --staging-url). For a folder, run `bulkport clean --older-than 7d` from cron.',
    );
  return store;
}

const ruleLine = (rule: LifecycleRule) =>
  `${rule.ID}: objects tagged ${rule.Filter?.And?.Tags?.map((t) => `${t.Key}=${t.Value}`).join(', ')} expire ${rule.Expiration?.Days} day(s) after they were written`;

export function retentionCommand(): Command {
  const days = (flag: string, text: string) => {
    const ms = parseAge(text);
    if (ms === undefined || ms % 86_400_000 !== 0)
      throw new CliError(`${flag} ${text}: give whole days, e.g. 7d (S3 lifecycle rules count days)`);
    return ms / 86_400_000;
  };
  const retention = new Command('retention').description(
    "How long a staging bucket keeps imports' data: lifecycle rules by the kind each object was tagged with (chunks and outcomes, reports)",
  );
  retention
    .command('apply')
    .description("Put the staging bucket's lifecycle rules: chunks and outcomes expire after --chunks, reports after --reports")
    .requiredOption(
      '--chunks <age>',
      'days to keep chunks, outcomes and round plans, from when each was written (longer than your longest import): 7d',
    )
    .requiredOption('--reports <age>', 'days to keep the reports (results, failed records): 30d, at least --chunks')
    .option('--staging-url <url>', stagingUrlHelp)
    .option('--json', 'print the rules as JSON')
    .action(async (flags: StagingFlags & { chunks: string; reports: string; json?: boolean }) => {
      const store = stagingBucketOf(flags);
      const wanted = { chunksDays: days('--chunks', flags.chunks), reportsDays: days('--reports', flags.reports) };
      const rules = await withStore(store, () => applyRetention(store, wanted));
      if (flags.json) return printJson({ bucket: store.bucket, url: store.url, rules });
      say(`Lifecycle rules of ${store.url}:`);
      for (const rule of rules) say(`  ${ruleLine(rule)}`);
      say('owner.json files stay (they claim the import ids). `bulkport clean` removes ended imports at once.');
    });
  retention
    .command('show')
    .description("bulkport's lifecycle rules in the staging bucket")
    .option('--staging-url <url>', stagingUrlHelp)
    .option('--json', 'print the rules as JSON')
    .action(async (flags: StagingFlags & { json?: boolean }) => {
      const store = stagingBucketOf(flags);
      const rules = await withStore(store, () => readRetention(store));
      if (flags.json) return printJson({ bucket: store.bucket, url: store.url, rules });
      if (!rules.length) say(`No bulkport retention rules in ${store.url}: its staging data stays until \`bulkport clean\`.`);
      for (const rule of rules) say(ruleLine(rule));
    });
  return retention;
}
