/**
 * The staging store from the command line (`clean`, `report`, `retention`): the folder or bucket the workers use, and
 * what a failing bucket call means in words that name the fix.
 */
import path from 'node:path';
import { LocalFolderStore, storeFromEnv, type StagingStore } from '../../activities/staging/store';
import type { S3ServiceException } from '@aws-sdk/client-s3';
import { S3Store } from '../../activities/staging/s3-store';
import { CliError } from './errors';

export interface StagingFlags {
  stagingDir?: string;
  stagingUrl?: string;
}

export const stagingDirHelp = "the workers' staging folder (default: BULKPORT_STAGING_DIR or .bulkport/staging)";
export const stagingUrlHelp = "the workers' staging bucket, s3://bucket/prefix (default: BULKPORT_STAGING_URL)";

/** The store the flags name, else the environment's (as the worker chooses it), and where it is, for messages. */
export function stagingStoreOf(flags: StagingFlags): { store: StagingStore; where: string } {
  const store = flags.stagingDir
    ? new LocalFolderStore(path.resolve(flags.stagingDir))
    : flags.stagingUrl
      ? storeFromEnv({ ...process.env, BULKPORT_STAGING_URL: flags.stagingUrl })
      : storeFromEnv(process.env);
  return { store, where: store instanceof S3Store ? store.url : (store as LocalFolderStore).root };
}

/** An S3 call's failure as what to do about it; other errors as they are. */
export function s3Problem(err: unknown, store: S3Store): unknown {
  if (!(err instanceof Error)) return err;
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL ?? 'AWS S3';
  const name = err.name;
  const code = (err as NodeJS.ErrnoException).code;
  if (name === 'CredentialsProviderError')
    return new CliError(
      `No credentials for the staging bucket ${store.bucket}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) as the workers have them.`,
    );
  if (/Region is missing/i.test(err.message)) return new CliError(`No region for the staging bucket ${store.bucket}: set AWS_REGION.`);
  if (name === 'NoSuchBucket')
    return new CliError(
      `Bucket ${store.bucket} does not exist at ${endpoint}: check BULKPORT_STAGING_URL (or --staging-url) and AWS_ENDPOINT_URL.`,
    );
  // A HEAD request's 403 has no body to name the reason: the SDK calls it UnknownError.
  if (
    ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied'].includes(name) ||
    (err as S3ServiceException).$metadata?.httpStatusCode === 403
  )
    return new CliError(
      `${endpoint} refused the credentials for bucket ${store.bucket} (${name === 'UnknownError' ? '403' : name}): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`,
    );
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || name === 'TimeoutError')
    return new CliError(`Cannot reach the S3 endpoint ${endpoint} (${code ?? name}): check AWS_ENDPOINT_URL.`);
  return err;
}

/** Runs `fn`, turning an S3 failure into a CliError that names the fix when the store is a bucket. */
export async function withStore<T>(store: StagingStore, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    throw store instanceof S3Store ? s3Problem(err, store) : err;
  }
}
