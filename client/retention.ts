/**
 * Retention in a staging bucket: the bucket itself expires what imports left, by lifecycle rules that match the kind
 * each object was tagged with when it was written (activities/staging/files.ts `stagingKindOf`): chunks, outcomes and
 * plans (`data`) after one time, reports after a longer one; `owner.json` never (it claims the id). No process of
 * bulkport has to run for it. The rules count from each object's creation, in whole days (S3 has no finer unit).
 */
import {
  GetBucketLifecycleConfigurationCommand,
  type LifecycleRule,
  PutBucketLifecycleConfigurationCommand,
  S3ServiceException,
} from '@aws-sdk/client-s3';
import { STAGING_KIND_TAG, type StagingKind } from '../activities/staging/files';
import type { S3Store } from '../activities/staging/s3-store';

export interface Retention {
  /** Days after which chunks, outcomes and round plans are expired. */
  chunksDays: number;
  /** Days after which the report files are expired: at least chunksDays. */
  reportsDays: number;
}

const RULE_PREFIX = 'bulkport-';

/** The staging prefix's imports folder in the bucket: rules of stores under other prefixes are left alone. */
const importsPrefix = (store: S3Store) => store.objectKey('imports/x').slice(0, -1);

/** bulkport's rules for one staging prefix: one per kind that expires, and one for uploads that never completed. */
export function retentionRules(store: S3Store, retention: Retention): LifecycleRule[] {
  if (!Number.isInteger(retention.chunksDays) || retention.chunksDays < 1)
    throw new Error('chunks are kept at least 1 day, in whole days (S3 lifecycle rules count days)');
  if (!Number.isInteger(retention.reportsDays) || retention.reportsDays < retention.chunksDays)
    throw new Error('reports are kept in whole days, at least as long as the chunks');
  const prefix = importsPrefix(store);
  const expire = (kind: StagingKind, days: number): LifecycleRule => ({
    ID: `${RULE_PREFIX}${kind} ${prefix}`,
    Status: 'Enabled',
    Filter: { And: { Prefix: prefix, Tags: [{ Key: STAGING_KIND_TAG, Value: kind }] } },
    Expiration: { Days: days },
  });
  return [expire('data', retention.chunksDays), expire('report', retention.reportsDays)];
}

const ours = (store: S3Store) => (rule: LifecycleRule) => rule.ID?.startsWith(RULE_PREFIX) && rule.ID.endsWith(` ${importsPrefix(store)}`);

/** The bucket's lifecycle rules (none when it has no configuration). */
async function bucketRules(store: S3Store): Promise<LifecycleRule[]> {
  try {
    const answer = await store.client.send(new GetBucketLifecycleConfigurationCommand({ Bucket: store.bucket }));
    return answer.Rules ?? [];
  } catch (err) {
    if (err instanceof S3ServiceException && err.name === 'NoSuchLifecycleConfiguration') return [];
    throw err;
  }
}

/** Puts bulkport's rules for this staging prefix, replacing earlier ones of it and keeping every other rule of the bucket. */
export async function applyRetention(store: S3Store, retention: Retention): Promise<LifecycleRule[]> {
  const rules = retentionRules(store, retention);
  const others = (await bucketRules(store)).filter((rule) => !ours(store)(rule));
  await store.client.send(
    new PutBucketLifecycleConfigurationCommand({ Bucket: store.bucket, LifecycleConfiguration: { Rules: [...others, ...rules] } }),
  );
  return rules;
}

/** bulkport's rules for this staging prefix as the bucket holds them. */
export async function readRetention(store: S3Store): Promise<LifecycleRule[]> {
  return (await bucketRules(store)).filter(ours(store));
}
