/**
 * The staging store from the command line (`clean`, `report`, `retention`): the folder or bucket the workers use, and
 * what a failing bucket call means in words that name the fix.
 */
import path from 'node:path';
import { LocalFolderStore, storeFromEnv, type StagingStore } from '../../activities/staging/store';
import { describeS3Failure, S3Store } from '../../activities/staging/s3-store';
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
  return { store, where: store instanceof S3Store ? store.url : store.root };
}

/** Runs `fn`, turning an S3 failure into a CliError that names the fix when the store is a bucket. */
export async function withStore<T>(store: StagingStore, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const problem = store instanceof S3Store ? describeS3Failure(err, store) : undefined;
    throw problem ? new CliError(problem) : err;
  }
}
