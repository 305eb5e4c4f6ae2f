/**
 * docker-compose.yml can't be run here (no Docker engine), so it is validated the way
 * `docker compose config` does it: compose-go, built from the Go module proxy.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { tempDir } from './helpers';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '..');
const validator = path.join(root, '.tools', 'validate-compose');

const haveGo = await run('go', ['version']).then(
  () => true,
  () => false,
);
const skip = haveGo ? false : 'needs Go to build the Compose validator (compose-go); install Go to run it';

async function validate(file: string): Promise<{ ok: boolean; output: string }> {
  try {
    const { stdout } = await run(validator, [file]);
    return { ok: true, output: stdout };
  } catch (err) {
    return { ok: false, output: (err as { stderr?: string }).stderr ?? String(err) };
  }
}

test('docker-compose.yml is a valid Compose file with the temporal, sandbox and worker services', { skip, timeout: 300_000 }, async () => {
  await run('go', ['build', '-o', validator, '.'], { cwd: path.join(root, 'scripts', 'validate-compose') });
  const result = await validate(path.join(root, 'docker-compose.yml'));
  assert.ok(result.ok, result.output);
  assert.match(result.output, /sandbox/);
  assert.match(result.output, /temporal/);
  assert.match(result.output, /worker/);

  // The validator does reject a broken file: a depends_on condition that doesn't exist.
  const broken = path.join(await tempDir('compose'), 'docker-compose.yml');
  await writeFile(broken, (await readFile(path.join(root, 'docker-compose.yml'), 'utf8')).replace('service_healthy', 'service_healty'));
  const rejected = await validate(broken);
  assert.equal(rejected.ok, false);
  assert.match(rejected.output, /service_healty|condition/);
});
