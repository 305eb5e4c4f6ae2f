/**
 * `npm test`: one Temporal dev server and one workflow bundle for the whole run, then node's
 * own test runner over test/*.test.ts (or the files named on the command line).
 * Test files find both through TEMPORAL_ADDRESS and BULKPORT_WORKFLOW_BUNDLE. When a test file named `*s3*` is in the
 * run, one MinIO server too (built on first use), found through BULKPORT_TEST_S3_ENDPOINT, _ACCESS_KEY_ID,
 * _SECRET_ACCESS_KEY and _REGION; it creates no bucket: each test makes its own.
 */
import { spawn } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { startDevServer } from './dev-server';
import { bundleWorkflows } from '../workers/worker';
import { type MinioServer, startMinio } from './minio-server';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

async function main(): Promise<number> {
  const requested = process.argv.slice(2);
  const files = requested.length
    ? requested
    : (await readdir(path.join(root, 'test')))
        .filter((f) => f.endsWith('.test.ts'))
        .sort()
        .map((f) => path.join('test', f));

  const env = await startDevServer({ log: (line) => console.error(line) });
  let minio: MinioServer | undefined;
  try {
    // Only for the S3 tests: the rest of the suite neither waits for it nor pays its memory.
    if (files.some((f) => /s3/i.test(path.basename(f)))) minio = await startMinio((line) => console.error(line));
    const outDir = path.join(root, '.test-output');
    await mkdir(outDir, { recursive: true });
    const bundlePath = path.join(outDir, 'workflow-bundle.js');
    await writeFile(bundlePath, await bundleWorkflows());

    const child = spawn(process.execPath, ['--import', 'tsx', '--test', '--test-reporter=spec', '--test-concurrency=2', ...files], {
      cwd: root,
      stdio: 'inherit',
      env: {
        ...process.env,
        TEMPORAL_ADDRESS: env.address,
        TEMPORAL_NAMESPACE: env.namespace ?? 'default',
        BULKPORT_WORKFLOW_BUNDLE: bundlePath,
        ...(minio
          ? {
              BULKPORT_TEST_S3_ENDPOINT: minio.endpoint,
              BULKPORT_TEST_S3_ACCESS_KEY_ID: minio.accessKeyId,
              BULKPORT_TEST_S3_SECRET_ACCESS_KEY: minio.secretAccessKey,
              BULKPORT_TEST_S3_REGION: minio.region,
            }
          : {}),
      },
    });
    return await new Promise<number>((resolve) => child.on('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))));
  } finally {
    await minio?.stop();
    await env.teardown();
  }
}

main().then(
  (code) => process.exit(code),
  (err: Error) => {
    console.error(err.stack ?? err.message);
    process.exit(1);
  },
);
