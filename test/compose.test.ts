/**
 * docker-compose.yml can't be run here (no Docker engine), so it is validated the way
 * `docker compose config` does it: compose-go, built from the Go module proxy. Then the resolved
 * project (`--json`) is checked for what the cluster needs to work as the README says.
 */
import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './helpers';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const validator = path.join(root, '.tools', 'validate-compose');
const composeFile = path.join(root, 'docker-compose.yml');

const haveGo = await run('go', ['version']).then(
  () => true,
  () => false,
);
const skip = haveGo ? false : 'needs Go to build the Compose validator (compose-go); install Go to run it';

async function validate(file: string, ...flags: string[]): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout } = await run(validator, [...flags, file], { maxBuffer: 16 * 1024 * 1024 });
    return { ok: true, output: stdout };
  } catch (err) {
    return { ok: false, output: (err as { stderr?: string }).stderr ?? String(err) };
  }
}

/** The file with `edit` applied, in a folder of its own. */
async function edited(edit: (text: string) => string): Promise<string> {
  const file = path.join(await tempDir('compose'), 'docker-compose.yml');
  await writeFile(file, edit(await readFile(composeFile, 'utf8')));
  return file;
}

interface Service {
  image?: string;
  build?: unknown;
  command?: string[];
  entrypoint?: string[];
  environment?: Record<string, string>;
  depends_on?: Record<string, { condition: string }>;
  deploy?: { replicas?: number };
  expose?: string[];
}

before(async () => {
  if (!skip) await run('go', ['build', '-o', validator, '.'], { cwd: path.join(root, 'scripts', 'validate-compose') });
});

test('docker-compose.yml is a valid Compose file, and the validator rejects broken ones', { skip, timeout: 300_000 }, async (t) => {
  const result = await validate(composeFile);
  assert.ok(result.ok, result.output);
  for (const service of ['postgresql', 'temporal', 'temporal-ui', 'minio', 'minio-bucket', 'sandbox', 'worker', 'cli'])
    assert.match(result.output, new RegExp(`\\b${service}\\b`));

  await t.test('a depends_on condition that does not exist', async () => {
    const rejected = await validate(await edited((text) => text.replace('service_healthy', 'service_healty')));
    assert.equal(rejected.ok, false);
    assert.match(rejected.output, /service_healty|condition/);
  });
  await t.test('a dependency on a service that does not exist', async () => {
    const rejected = await validate(
      await edited((text) => text.replace('      minio-bucket:\n        condition', '      minio-bukket:\n        condition')),
    );
    assert.equal(rejected.ok, false);
    assert.match(rejected.output, /minio-bukket/);
  });
});

test('the cluster: PostgreSQL, schema and search attributes set up first, workers on S3 staging with metrics', {
  skip,
  timeout: 300_000,
}, async () => {
  const resolved = await validate(composeFile, '--json');
  assert.ok(resolved.ok, resolved.output);
  const services = (JSON.parse(resolved.output) as { services: Record<string, Service> }).services;
  const service = (name: string) => {
    const s = services[name];
    assert.ok(s, `no service ${name}`);
    return s;
  };

  for (const [name, s] of Object.entries(services)) {
    for (const dependency of Object.keys(s.depends_on ?? {}))
      assert.ok(services[dependency], `${name} depends on ${dependency}, undefined`);
    // What isn't built here is pinned to a release, so a cluster comes up the same tomorrow.
    if (!s.build) assert.match(s.image ?? '', /:(?!latest$)[\w.-]+$/, `${name}'s image ${s.image} is not pinned`);
  }

  const temporal = service('temporal');
  assert.equal(temporal.environment?.DB, 'postgres12');
  assert.equal(temporal.depends_on?.['temporal-schema']?.condition, 'service_completed_successfully');
  assert.match(service('temporal-schema').command?.join(' ') ?? '', /update-schema .*postgresql\/v12/);
  // Search attributes come from common/search-attributes.ts through `bulkport setup`, after the namespace exists.
  const setup = service('bulkport-setup');
  assert.deepEqual(setup.command?.slice(-1), ['setup']);
  assert.equal(setup.depends_on?.['temporal-namespace']?.condition, 'service_completed_successfully');

  const worker = service('worker');
  assert.ok((worker.deploy?.replicas ?? 1) >= 2, `worker replicas: ${worker.deploy?.replicas}`);
  for (const needed of ['bulkport-setup', 'minio-bucket'])
    assert.equal(worker.depends_on?.[needed]?.condition, 'service_completed_successfully', `worker waits for ${needed}`);
  for (const name of ['worker', 'cli']) {
    const env = service(name).environment ?? {};
    const bucket = /^s3:\/\/([^/]+)\//.exec(env.BULKPORT_STAGING_URL ?? '')?.[1];
    assert.ok(bucket, `${name}: BULKPORT_STAGING_URL=${env.BULKPORT_STAGING_URL}`);
    assert.match(service('minio-bucket').command?.join(' ') ?? '', new RegExp(`mc mb .*/${bucket}\\b`), `the bucket ${bucket} is created`);
    assert.match(env.AWS_ENDPOINT_URL ?? '', /^http:\/\/minio:9000$/);
    for (const key of ['AWS_REGION', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY']) assert.ok(env[key], `${name}: ${key}`);
    assert.equal(env.AWS_ACCESS_KEY_ID, service('minio').environment?.MINIO_ROOT_USER, `${name} signs in to MinIO`);
  }
  // The image's services run node on a script: TypeScript through tsx, the worker as `npm run build` compiled it.
  const dockerfile = await readFile(path.join(root, 'Dockerfile'), 'utf8');
  const instruction = (name: string) => JSON.parse(new RegExp(`^${name} (\\[.*\\])$`, 'm').exec(dockerfile)?.[1] ?? '[]') as string[];
  assert.match(dockerfile, /^RUN npm run build$/m, 'the image builds dist/');
  for (const [name, s] of Object.entries(services).filter(([, s]) => s.build)) {
    const argv = [...(s.entrypoint ?? instruction('ENTRYPOINT')), ...(s.command ?? instruction('CMD'))];
    assert.equal(argv[0], 'node', `${name}: ${argv.join(' ')}`);
    const script = argv.find((arg) => /\.[jt]s$/.test(arg)) ?? '';
    if (script.endsWith('.ts')) assert.deepEqual(argv.slice(1, 3), ['--import', 'tsx'], `${name} runs ${script} through tsx`);
    else assert.ok(['dist/worker.js'].includes(script), `${name} runs ${script}, which npm run build does not write`);
  }
  assert.deepEqual(worker.entrypoint ?? instruction('ENTRYPOINT'), ['node']);
  assert.deepEqual(worker.command, ['dist/worker.js'], 'the workers run the built worker');

  const metrics = /^0\.0\.0\.0:(\d+)$/.exec(worker.environment?.BULKPORT_METRICS_ADDRESS ?? '');
  assert.ok(metrics, `BULKPORT_METRICS_ADDRESS=${worker.environment?.BULKPORT_METRICS_ADDRESS}`);
  assert.ok(worker.expose?.includes(metrics[1]!), `the metrics port ${metrics[1]} is exposed`);
});
