/**
 * Finds or builds MinIO, the S3-compatible server the S3 tests and the S3 bench run against, with `go install` from
 * the Go module proxy (no other download). The binary is cached in `.tools/minio-<version>/` (git-ignored).
 */
import path from 'node:path';
import { fromVariable, goInstall, projectRoot, runWhenMain, works } from './tools';

/**
 * MinIO tags its releases RELEASE.<date>, which Go modules cannot use: the module proxy knows it by pseudo-version.
 * This one (2026-02-12, the newest on the proxy) builds with Go 1.24+ as it is, with no GOFLAGS.
 */
export const MINIO_VERSION = 'v0.0.0-20260212201848-7aac2a2c5b7c';

const installedBinary = path.join(projectRoot, '.tools', `minio-${MINIO_VERSION}`, 'bin', 'minio');

/** Returns the path of a working `minio` binary (MINIO_PATH when set), building it into .tools/ when needed. */
export async function ensureMinio(log: (line: string) => void = (line) => console.error(line)): Promise<string> {
  const override = await fromVariable('MINIO_PATH', 'a MinIO server binary');
  if (override) return override;
  if (await works(installedBinary)) return installedBinary;
  log(`Building MinIO ${MINIO_VERSION} with go install into ${path.dirname(installedBinary)} (about a minute or two, once) …`);
  try {
    // GOTOOLCHAIN=local: build with the Go that is here rather than download another toolchain.
    await goInstall(`github.com/minio/minio@${MINIO_VERSION}`, installedBinary, { GOTOOLCHAIN: 'local' });
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

runWhenMain(import.meta.url, () => ensureMinio());
