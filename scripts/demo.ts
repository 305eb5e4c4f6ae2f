/**
 * `npm start`: the whole of bulkport on one machine, no credentials needed. Starts the Temporal
 * dev server with its Web UI, both sandbox targets and a worker, imports a generated catalog with
 * live progress bars, and prints the summary and the Web UI link. In a terminal it keeps
 * everything up until Ctrl-C so the run can be explored in the Web UI and with the CLI;
 * otherwise (CI, pipes) it exits after the summary.
 *
 *   npm start -- --target propeller --count 50000
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startImport } from '../client';
import { followImport, summaryLines } from '../client/progress';
import { targetNames, type TargetName } from '../common/import';
import { devTarget } from '../targets/dev';
import { workflowUiLink } from '../common/temporal-config';
import { writeCatalog } from './catalog';
import { startLocalStack } from './local-stack';

const { values: args } = parseArgs({
  options: {
    target: { type: 'string', default: 'voucherify' },
    count: { type: 'string', default: '20000' },
    help: { type: 'boolean', short: 'h' },
  },
});
if (args.help) {
  console.log(
    `Usage: npm start -- [--target ${targetNames.join('|')}] [--count 20000]\nImports a generated catalog into a local sandbox through a local Temporal dev server.`,
  );
  process.exit(0);
}
const target = args.target as TargetName;
const count = Number(args.count);
if (!targetNames.includes(target) || !Number.isInteger(count) || count < 1) {
  console.error(`--target must be one of ${targetNames.join(', ')}, and --count a positive whole number`);
  process.exit(2);
}

const say = (line: string) => console.log(line);

// A few transient product failures, so the demo shows a retry round.
const stack = await startLocalStack({ log: say, sandbox: { seed: 42, faults: { productFailureRate: 0.01 } } });
const { client, config } = stack;

const catalog = await writeCatalog(path.resolve('.bulkport/demo', `catalog-${target}.jsonl`), {
  target,
  count,
  format: 'jsonl',
  invalidEvery: 1000,
  keyPrefix: 'demo',
});
say(`Catalog: ${count.toLocaleString('en-US')} generated products (every 1000th invalid on purpose) in ${catalog}`);

const options = (await devTarget(target)).demoOptions;
const handle = await startImport(client, { target, source: { location: catalog }, options } as never);
const link = workflowUiLink(config, handle.workflowId);
say(`Import started: ${link}\n`);

// Live bars in a terminal, a line every few seconds otherwise.
const outcome = await followImport(client, handle);
say('');
summaryLines(outcome, link).forEach(say);

if (process.stdout.isTTY && !process.env.CI) {
  say('\nThe dev server, its Web UI and the sandboxes stay up; press Ctrl-C to stop. Meanwhile, in another terminal:');
  say(`  TEMPORAL_ADDRESS=${config.address} TEMPORAL_UI_URL=${config.uiUrl} npm run bulkport -- list`);
  await new Promise<void>((resolve) => process.once('SIGINT', resolve));
}
await stack.shutdown();
process.exit(outcome.summary?.status === 'completed' ? 0 : 1);
