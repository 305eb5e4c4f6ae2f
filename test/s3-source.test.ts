/**
 * A catalog read from a bucket (`s3://bucket/key`) with the worker's AWS settings, as a recurring sync of a bucket
 * object does: the object is streamed, a missing one is a SourceError naming it.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { WorkflowFailedError } from '@temporalio/client';
import { writeCatalog } from '../scripts/catalog';
import { rootCause } from '../client/outcome';
import { tempDir, useTemporal } from './helpers';
import { importsFor, sandboxFor } from './harness';
import { testBucket } from './s3';

const t = useTemporal();

describe('a source in a bucket', () => {
  test('s3://bucket/key is imported from the object; a missing key fails naming it', async (ctx) => {
    const bucket = await testBucket('source', 'catalogs');
    const sandbox = await sandboxFor(ctx, 'propeller', { seed: 2 });
    const imports = await importsFor(ctx, t, { ...sandbox.env, ...bucket.env }, 's3-source');
    const file = await writeCatalog(path.join(await tempDir('s3-source'), 'catalog.jsonl'), {
      target: 'propeller',
      count: 800,
      format: 'jsonl',
      invalidEvery: 100,
      keyPrefix: 's3src',
    });
    await bucket.store.writeText('nightly.jsonl', await readFile(file, 'utf8'));
    const location = `${bucket.url}/nightly.jsonl`;
    const { summary } = await imports.run({ target: 'propeller', source: { location } }, 's3-source');
    assert.deepEqual([summary.counts.read, summary.counts.succeeded, summary.counts.invalid], [800, 792, 8]);
    assert.equal(sandbox.stats().productsReceived, 792);

    const missing = await imports.start({ target: 'propeller', source: { location: `${bucket.url}/gone.jsonl` } }, 's3-missing');
    const err = await missing.result().catch((e: unknown) => e);
    assert.ok(err instanceof WorkflowFailedError);
    assert.match(rootCause(err).message, /no source object s3:\/\/.*\/catalogs\/gone\.jsonl: check the bucket and the key/);
  });
});
