/**
 * The `bulkport` command line: start imports, see where they stand, steer them, find them, get their reports. Built
 * here and run by client/cli.ts, so tests can inspect every command's help. Every command that names a run prints its
 * Web UI link; read commands take --json.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Command } from 'commander';
import { sandboxCommand } from '../../sandbox/command';
import { exitCodeHelp } from '../outcome';
import { importCommand } from './import';
import { retryCommand } from './redrive';
import { scheduleCommand } from './schedule';
import { listCommand, reportCommand, statusCommand, watchCommand } from './inspect';
import { cancelCommand, concurrencyCommand, pauseCommand, resumeCommand } from './steer';
import { cleanCommand, retentionCommand, setupCommand } from './setup';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// ---- the program -----------------------------------------------------------------------------

export function buildProgram(): Command {
  const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
  const program = new Command('bulkport')
    .description('Durable bulk imports of product catalogs into Voucherify and Propeller, orchestrated by Temporal')
    .version(version)
    .option('--address <host:port>', 'the Temporal frontend (default: TEMPORAL_ADDRESS or localhost:7233)')
    .option('--namespace <namespace>', 'the Temporal namespace (default: TEMPORAL_NAMESPACE or default)')
    .option('--ui-url <url>', 'the Web UI, for links (default: TEMPORAL_UI_URL or http://localhost:8233)')
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nConnection: as the Temporal CLI reads it (profile file TEMPORAL_CONFIG_FILE/TEMPORAL_PROFILE, TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE).\n' +
        'Temporal Cloud: set TEMPORAL_API_KEY, or TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (PEM paths).\n' +
        'Every command has --help. Start a local Temporal with `npm start` (demo) or `temporal server start-dev`.\n\n' +
        exitCodeHelp,
    );
  const commands = [
    importCommand(),
    retryCommand(),
    scheduleCommand(),
    statusCommand(),
    watchCommand(),
    pauseCommand(),
    resumeCommand(),
    cancelCommand(),
    concurrencyCommand(),
    listCommand(),
    reportCommand(),
    cleanCommand(),
    retentionCommand(),
    setupCommand(),
    sandboxCommand(),
  ];
  for (const command of commands) program.addCommand(command);
  return program;
}
