/**
 * Finds or builds MinIO, the S3-compatible server the S3 tests and the S3 bench run against, with `go install` from
 * the Go module proxy (no other download). The binary is cached in `.tools/minio-<version>/` (git-ignored).
 */
import { execFile } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);

/**
 * MinIO tags its releases RELEASE.<date>, which Go modules cannot use: the module proxy knows it by pseudo-version.
 * This one (2026-02-12, the newest on the proxy) builds with Go 1.24+ as it is, with no GOFLAGS.
 */
export const MINIO_VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';

const projectRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const installedBinary = path.join(projectRoot, '.tools', `minio-${MINIO_VERSION}`, 'bin', 'minio');

async function works(binary: string): Promise<boolean> {
  try {
    await run(binary, ['--version']);
    return true;
  } catch {
    return false;
  }
}

/** Returns the path of a working `minio` binary (MINIO_PATH when set), building it into .tools/ when needed. */
export async function ensureMinio(log: (line: string) => void = (line) => console.error(line)): Promise<string> {
  const override = process.env.MINIO_PATH;
  if (override) {
    if (await works(override)) return override;
    throw new Error(`MINIO_PATH=${override} does not run; point it at a MinIO server binary or unset it.`);
  }
  if (await works(installedBinary)) return installedBinary;
  log(`Building MinIO ${MINIO_VERSION} with go install into ${path.dirname(installedBinary)} (about a minute or two, once) …`);
  await mkdir(path.dirname(installedBinary), { recursive: true });
  try {
    await run('go', ['install', `github.com/minio/minio@${MINIO_VERSION}`], {
      // GOTOOLCHAIN=local: build with the Go that is here rather than download another toolchain.
      env: { ...process.env, GOBIN: path.dirname(installedBinary), GOTOOLCHAIN: 'local' },
      maxBuffer: 64 * 1024 * 1024,
    });
  } catch (err) {
    const detail = ((err as { stderr?: string }).stderr ?? (err as Error).message).trim().split('\n').slice(-3).join('\n  ');
    throw new Error(
      [
        'Could not build MinIO, the S3-compatible server of the S3 tests:',
        `  ${detail}`,
        'It needs Go (1.24 or newer) and the Go module proxy. Or install MinIO yourself and set MINIO_PATH to the binary:',
        `  go install github.com/minio/minio@${MINIO_VERSION}`,
      ].join('\n'),
    );
  }
  if (await works(installedBinary)) return installedBinary;
  throw new Error(`MinIO was built, but ${installedBinary} does not run`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  ensureMinio()
    .then((binary) => console.log(binary))
    .catch((err: Error) => {
      console.error(err.message);
      process.exit(1);
    });
}
