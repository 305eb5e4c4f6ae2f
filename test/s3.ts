/**
 * The S3 tests' bucket: the MinIO server scripts/test.ts started for the run (BULKPORT_TEST_S3_*), reached the way
 * bulkport reaches any bucket, through the AWS variables and the SDK's default chain. Each call makes a fresh bucket.
 */
import { randomBytes } from 'node:crypto';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import assert from 'node:assert/strict';
import type { ResultRow } from '../activities/report';
import { reportKey } from '../activities/staging/files';
import { S3Store } from '../activities/staging/s3-store';
import type { ImportSummary } from '../client';
import type { CatalogOptions } from '../scripts/catalog';
import { checkRows, type Sandbox } from '../scripts/chaos';

/** The AWS variables that reach the run's MinIO; they are also set in this process, for the stores made here. */
export function testS3Env(): Record<string, string> {
  const endpoint = process.env.BULKPORT_TEST_S3_ENDPOINT;
  if (!endpoint) throw new Error('No S3 server for this test: run it through scripts/test.ts (a file named *s3* starts MinIO)');
  const env = {
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: process.env.BULKPORT_TEST_S3_REGION ?? 'us-east-1',
    AWS_ACCESS_KEY_ID: process.env.BULKPORT_TEST_S3_ACCESS_KEY_ID ?? '',
    AWS_SECRET_ACCESS_KEY: process.env.BULKPORT_TEST_S3_SECRET_ACCESS_KEY ?? '',
  };
  Object.assign(process.env, env);
  return env;
}

export interface TestBucket {
  bucket: string;
  /** `s3://bucket/prefix`, as BULKPORT_STAGING_URL takes it. */
  url: string;
  store: S3Store;
  env: Record<string, string>;
}

/** A new bucket on the run's MinIO, and a store under `prefix` in it. */
export async function testBucket(name: string, prefix = 'staging'): Promise<TestBucket> {
  const env = testS3Env();
  const bucket = `${name}-${randomBytes(4).toString('hex')}`.toLowerCase();
  const url = `s3://${bucket}/${prefix}`;
  const store = S3Store.fromUrl(url, env);
  await store.client.send(new CreateBucketCommand({ Bucket: bucket }));
  return { bucket, url, store, env };
}

/** The import's report, read from the bucket, is true line by line: every check of the chaos script holds. */
export async function assertReportTrue(o: {
  bucket: TestBucket;
  id: string;
  sandbox: Sandbox;
  catalog: CatalogOptions;
  summary: ImportSummary;
}) {
  const rows = (await o.bucket.store.readText(reportKey(o.id, 'results.jsonl')))
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as ResultRow);
  const checks = checkRows({ phase: 'main', target: 'voucherify', sandbox: o.sandbox, catalog: o.catalog, rows, summary: o.summary });
  assert.equal(checks.length, 5);
  assert.deepEqual(
    checks.filter((c) => !c.ok).map((c) => `${c.name}: ${c.detail}`),
    [],
  );
}
