/**
 * What the installers of the test runner's binaries share (install-temporal.ts, install-minio.ts): a binary given by a
 * variable, a check that one runs, `go install` into `.tools/`, and running an installer as a script.
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const run = promisify(execFile);

export const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

export async function works(binary: string): Promise<boolean> {
  try {
    await run(binary, ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** The binary a variable names (e.g. TEMPORAL_CLI_PATH), if it is set; one that does not run is an error naming it. */
export async function fromVariable(variable: string, what: string): Promise<string | undefined> {
  const override = process.env[variable];
  if (!override) return undefined;
  if (await works(override)) return override;
  throw new Error(`${variable}=${override} does not run; point it at ${what} or unset it.`);
}

/** `go install <module>@<version>` with its binary put into `binary`'s folder. */
export async function goInstall(moduleAtVersion: string, binary: string, env: NodeJS.ProcessEnv = {}): Promise<void> {
  await mkdir(path.dirname(binary), { recursive: true });
  await run('go', ['install', moduleAtVersion], {
    env: { ...process.env, GOBIN: path.dirname(binary), ...env },
    maxBuffer: 64 * 1024 * 1024,
  });
}

/** Run as a script (`node --import tsx scripts/install-x.ts`): prints the binary's path, or why there is none. */
export function runWhenMain(moduleUrl: string, ensure: () => Promise<string>): void {
  if (!process.argv[1] || fileURLToPath(moduleUrl) !== path.resolve(process.argv[1])) return;
  ensure()
    .then((binary) => console.log(binary))
    .catch((err: Error) => {
      console.error(err.message);
      process.exit(1);
    });
}
