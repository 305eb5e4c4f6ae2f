/**
 * The staging store's contract, run against both stores: the local folder and a bucket on a real MinIO server.
 * What bulkport relies on: whole-or-nothing visibility, sorted one-folder listings by name prefix, folder removal,
 * a missing file reported as ENOENT (readers turn it into StagingDamaged "missing").
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { LocalFolderStore, type StagingStore, storeFromEnv } from '../activities/staging/store';
import { S3Store, parseS3Url } from '../activities/staging/s3-store';
import { readAllJsonLines, writeLines } from '../activities/staging/files';
import { tempDir } from './helpers';
import { testBucket } from './s3';

const stores: [string, () => Promise<StagingStore>][] = [
  ['LocalFolderStore', async () => new LocalFolderStore(await tempDir('store-contract'))],
  ['S3Store', async () => (await testBucket('contract')).store],
];

const readAll = async (store: StagingStore, key: string) => {
  const lines: string[] = [];
  for await (const line of store.readLines(key)) lines.push(line);
  return lines;
};

async function writeByLines(store: StagingStore, key: string, lines: Iterable<string>): Promise<void> {
  const writer = await store.createWriter(key);
  for (const line of lines) await writer.write(line);
  await writer.close();
}

/** Two bytes in each key. */
async function writeEach(store: StagingStore, keys: string[]): Promise<void> {
  for (const key of keys) await store.writeText!(key, 'x\n');
}

for (const [name, make] of stores) {
  describe(`${name} keeps the staging store's contract`, () => {
    test('written lines and texts read back; a missing key is ENOENT; exists follows', async () => {
      const store = await make();
      await writeByLines(store, 'imports/a/chunks/r0-000000.jsonl', ['{"n":1}', '{"n":2}']);
      await store.writeText!('imports/a/meta.json', 'one\ntwo\n');
      assert.deepEqual(await readAll(store, 'imports/a/chunks/r0-000000.jsonl'), ['{"n":1}', '{"n":2}']);
      assert.equal(await store.readText!('imports/a/chunks/r0-000000.jsonl'), '{"n":1}\n{"n":2}\n');
      assert.deepEqual(await readAll(store, 'imports/a/meta.json'), ['one', 'two']);
      // A file in pieces of bytes (as staging writes chunks) is the pieces in order; its bytes read back as they are.
      await store.writeText!('imports/a/pieces.jsonl', [Buffer.from('{"n":"ü"}\n{"n"'), Buffer.from(':2}\n')]);
      assert.equal(await store.readText!('imports/a/pieces.jsonl'), '{"n":"ü"}\n{"n":2}\n');
      assert.equal((await store.readBytes!('imports/a/pieces.jsonl')).toString(), '{"n":"ü"}\n{"n":2}\n');
      assert.equal(await store.exists('imports/a/meta.json'), true);
      assert.equal(await store.exists('imports/a/nothing.json'), false);
      await assert.rejects(store.readText!('imports/a/nothing.json'), { code: 'ENOENT' });
      await assert.rejects(readAll(store, 'imports/a/nothing.json'), { code: 'ENOENT' });
      // Sealed files through the readers bulkport uses: a missing one is named as such.
      await writeLines(store, 'imports/a/rounds/r1.json', ['{"chunks":3}']);
      assert.deepEqual(await readAllJsonLines(store, 'imports/a/rounds/r1.json'), [{ chunks: 3 }]);
      await assert.rejects(readAllJsonLines(store, 'imports/a/rounds/r2.json'), /rounds\/r2\.json is damaged \(missing\)/);
      assert.throws(() => store.locate('../outside'), /escapes the store/);
    });

    test("list names one folder's entries that start with a base, files and folders, sorted", async () => {
      const store = await make();
      await writeEach(store, [
        'imports/b/outcomes/r1-000000.jsonl',
        'imports/b/outcomes/r0-000010.jsonl',
        'imports/b/outcomes/r0-000002.0.jsonl',
        'imports/b/outcomes/r0-000002.jsonl',
        'imports/b/outcomes/x.jsonl',
        'imports/b/outcomes/r0-deeper/inside.jsonl',
        'imports/b/outcomesque/r0-000000.jsonl',
        'imports/bb/owner.json',
      ]);
      // By name, as JavaScript sorts: the split halves `.0` before their parent, a folder among the files.
      const round0 = ['r0-000002.0.jsonl', 'r0-000002.jsonl', 'r0-000010.jsonl', 'r0-deeper'].map((n) => `imports/b/outcomes/${n}`);
      assert.deepEqual(await store.list('imports/b/outcomes/r0-'), round0);
      assert.deepEqual(await store.list('imports/b/outcomes/r'), [...round0, 'imports/b/outcomes/r1-000000.jsonl']);
      assert.deepEqual(await store.list('imports/b'), ['imports/b', 'imports/bb']);
      assert.deepEqual(await store.list('imports/none/chunks/r'), []);
    });

    test('remove takes a folder and all in it, not its namesakes', async () => {
      const store = await make();
      await writeEach(store, [
        'imports/c/chunks/r0-000000.jsonl',
        'imports/c/report/results.csv',
        'imports/c/owner.json',
        'imports/c2/owner.json',
      ]);
      await store.remove('imports/c/chunks');
      assert.deepEqual(await store.list('imports/c/'), ['imports/c/owner.json', 'imports/c/report']);
      assert.deepEqual(await store.list('imports/c/r'), ['imports/c/report']);
      assert.equal((await store.usage('imports/c'))?.bytes, 4);
      assert.equal((await store.usage('imports/c/owner.json'))?.bytes, 2);
      assert.ok(Math.abs(Date.now() - (await store.usage('imports/c'))!.modifiedMs) < 60_000);
      assert.equal(await store.usage('imports/c/chunks'), undefined);
      await store.remove('imports/c');
      assert.deepEqual(await store.list('imports/c'), ['imports/c2']);
      await store.remove('imports/never-there');
    });

    test('a file being written is invisible until closed, and an aborted one never appears', async () => {
      const store = await make();
      const key = 'imports/d/report/results.jsonl';
      const writer = await store.createWriter(key);
      // More than one upload part (8 MB) of an S3 writer, so parts are on the server already.
      const line = 'y'.repeat(1023);
      for (let i = 0; i < 9 * 1024; i++) await writer.write(line);
      assert.equal(await store.exists(key), false);
      assert.deepEqual(await store.list('imports/d/report/r'), []);
      await assert.rejects(store.readText!(key), { code: 'ENOENT' });
      await writer.close();
      assert.equal(await store.exists(key), true);
      const aborted = await store.createWriter('imports/d/report/results.csv');
      await aborted.write('half');
      await aborted.abort();
      assert.deepEqual(await store.list('imports/d/report/r'), [key]);
    });

    test('lines as text and as bytes go in the order written, byte for byte', async () => {
      const store = await make();
      const key = 'imports/f/report/results.csv';
      const writer = await store.createWriter(key);
      await writer.write('line,key');
      // Rows copied from a staging file: a view of its bytes, with UTF-8 that must not be decoded and encoded again.
      const kept = Buffer.from('xx1,ü-1\n2,"a,b"\nyy');
      await writer.writeBytes(kept.subarray(2, kept.length - 2));
      await writer.write('3,k3');
      await writer.writeBytes(Buffer.from('4,k4\n'));
      await writer.close();
      assert.deepEqual(await store.readBytes!(key), Buffer.from('line,key\n1,ü-1\n2,"a,b"\n3,k3\n4,k4\n'));
    });

    test('a large file goes in parts and reads back byte for byte', async () => {
      const store = await make();
      const key = 'imports/e/report/results.jsonl';
      const expected = createHash('sha256');
      const lines = Array.from({ length: 20_000 }, (_, i) => `{"line":${i},"pad":"${'z'.repeat(1000 + (i % 97))}"}`);
      for (const l of lines) expected.update(`${l}\n`);
      await writeByLines(store, key, lines); // about 21 MB: three 8 MB parts
      const text = await store.readText!(key);
      assert.equal(createHash('sha256').update(text).digest('hex'), expected.digest('hex'));
      let n = 0;
      for await (const l of store.readLines(key)) assert.equal(l, lines[n++]);
      assert.equal(n, lines.length);
    });
  });
}

describe('S3Store in a bucket', () => {
  test('objects are tagged by kind, so lifecycle rules can keep reports longer than chunks', async () => {
    const { store, bucket } = await testBucket('tags');
    await writeLines(store, 'imports/t/chunks/r0-000000.jsonl', ['{}']);
    await writeByLines(store, 'imports/t/report/results.csv', ['a,b']);
    await writeLines(store, 'imports/t/owner.json', ['{}']);
    const tagOf = async (key: string) =>
      (await store.client.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: store.objectKey(key) }))).TagSet;
    assert.deepEqual(await tagOf('imports/t/chunks/r0-000000.jsonl'), [{ Key: 'bulkport-kind', Value: 'data' }]);
    assert.deepEqual(await tagOf('imports/t/report/results.csv'), [{ Key: 'bulkport-kind', Value: 'report' }]);
    assert.deepEqual(await tagOf('imports/t/owner.json'), [{ Key: 'bulkport-kind', Value: 'owner' }]);
    assert.equal(store.locate('imports/t/owner.json'), `s3://${bucket}/staging/imports/t/owner.json`);
  });

  test('remove deletes more than one DeleteObjects batch (1,000 keys)', async () => {
    const { store } = await testBucket('batches');
    const keys = Array.from({ length: 1_010 }, (_, i) => `imports/many/outcomes/r0-${String(i).padStart(6, '0')}.jsonl`);
    for (let i = 0; i < keys.length; i += 50) await Promise.all(keys.slice(i, i + 50).map((k) => store.writeText(k, 'x\n')));
    assert.equal((await store.list('imports/many/outcomes/r')).length, keys.length, 'a listing pages past 1,000 keys');
    await store.remove('imports/many');
    assert.deepEqual(await store.list('imports/many/outcomes/r'), []);
  });

  test('storeFromEnv: BULKPORT_STAGING_URL chooses the bucket, a folder stays the default', () => {
    assert.ok(storeFromEnv({ BULKPORT_STAGING_DIR: '/tmp/x' }) instanceof LocalFolderStore);
    const s3 = storeFromEnv({ BULKPORT_STAGING_URL: 's3://my-bucket/some/prefix/', BULKPORT_STAGING_DIR: '/tmp/x' });
    assert.ok(s3 instanceof S3Store);
    assert.equal(s3.locate('imports/i/owner.json'), 's3://my-bucket/some/prefix/imports/i/owner.json');
    assert.deepEqual(parseS3Url('s3://b'), { bucket: 'b', prefix: '' });
    assert.throws(() => storeFromEnv({ BULKPORT_STAGING_URL: 'gs://b/p' }), /only s3:\/\/bucket\/prefix/);
  });

  test('a worker that stages in a folder never loads the AWS SDK (about 24 MB of memory); an S3 store loads it', () => {
    // In a process of its own: this one loaded the SDK for MinIO.
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
    const script = `
      import { createRequire } from 'node:module';
      const loaded = () => Object.keys(createRequire(import.meta.url).cache).some((k) => k.includes('@aws-sdk/client-s3'));
      const { storeFromEnv } = await import(${JSON.stringify(path.join(root, 'activities/staging/store.ts'))});
      await import(${JSON.stringify(path.join(root, 'workers/worker.ts'))});
      storeFromEnv({ BULKPORT_STAGING_DIR: '/tmp/x' });
      const folder = loaded();
      storeFromEnv({ BULKPORT_STAGING_URL: 's3://b/p', AWS_REGION: 'us-east-1' });
      console.log(JSON.stringify({ folder, s3: loaded() }));`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: root, encoding: 'utf8' });
    assert.deepEqual(JSON.parse(out.trim().split('\n').at(-1)!), { folder: false, s3: true });
  });
});
