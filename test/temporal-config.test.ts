/**
 * Connection settings as the Temporal CLI reads them (@temporalio/envconfig): a profile file, the variables over it,
 * bulkport 0.1's names as deprecated aliases, and no secret in what is printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { temporalConfigFromEnv, withAliases } from '../common/temporal-config';
import { tempDir } from './helpers';

// A HOME without a profile file, so the machine's own ~/.config/temporalio/temporal.toml never leaks in.
const bare = async () => ({ HOME: await tempDir('home') });

async function profileFile(): Promise<string> {
  const file = path.join(await tempDir('profile'), 'temporal.toml');
  await writeFile(
    file,
    [
      '[profile.default]',
      'address = "default.example:7233"',
      '',
      '[profile.cloud]',
      'address = "ns.acct.tmprl.cloud:7233"',
      'namespace = "ns.acct"',
      'api_key = "secret-api-key"',
      '',
    ].join('\n'),
  );
  return file;
}

test('defaults without a profile or variables: the local dev server', async () => {
  const config = temporalConfigFromEnv(await bare());
  assert.deepEqual(
    { address: config.address, namespace: config.namespace, taskQueue: config.taskQueue, tls: config.tls, apiKey: config.apiKey },
    { address: 'localhost:7233', namespace: 'default', taskQueue: 'bulkport-imports', tls: undefined, apiKey: undefined },
  );
});

test('TEMPORAL_PROFILE picks a profile of TEMPORAL_CONFIG_FILE; an API key turns TLS on; the variables win over the file', async () => {
  const file = await profileFile();
  const cloud = temporalConfigFromEnv({ ...(await bare()), TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'cloud' });
  assert.equal(cloud.address, 'ns.acct.tmprl.cloud:7233');
  assert.equal(cloud.namespace, 'ns.acct');
  assert.equal(cloud.apiKey, 'secret-api-key');
  assert.equal(cloud.tls, true);
  const byDefault = temporalConfigFromEnv({ ...(await bare()), TEMPORAL_CONFIG_FILE: file });
  assert.equal(byDefault.address, 'default.example:7233');
  const overridden = temporalConfigFromEnv({
    ...(await bare()),
    TEMPORAL_CONFIG_FILE: file,
    TEMPORAL_PROFILE: 'cloud',
    TEMPORAL_ADDRESS: 'other:7233',
  });
  assert.equal(overridden.address, 'other:7233');
  assert.equal(overridden.namespace, 'ns.acct');
});

test('a missing profile file or profile is named; a certificate without its key is refused', async () => {
  assert.throws(
    () => temporalConfigFromEnv({ TEMPORAL_CONFIG_FILE: '/nonexistent/temporal.toml' }),
    /TEMPORAL_CONFIG_FILE names \/nonexistent\/temporal\.toml, which does not exist/,
  );
  const file = await profileFile();
  assert.throws(
    () => temporalConfigFromEnv({ ...{ HOME: '/nonexistent' }, TEMPORAL_CONFIG_FILE: file, TEMPORAL_PROFILE: 'staging' }),
    /Profile 'staging' not found/,
  );
  assert.throws(
    () => temporalConfigFromEnv({ HOME: '/nonexistent', TEMPORAL_TLS_CLIENT_CERT_PATH: '/x.pem' }),
    /Set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH/,
  );
});

test('TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY still work for this release, with a warning naming the new variables', async () => {
  const dir = await tempDir('pem');
  const [cert, key] = [path.join(dir, 'client.pem'), path.join(dir, 'client.key')];
  await writeFile(cert, 'CERT');
  await writeFile(key, 'KEY');
  const warnings: string[] = [];
  const mapped = withAliases({ TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key, TEMPORAL_TLS_CLIENT_KEY_PATH: '/explicit.key' }, (m) =>
    warnings.push(m),
  );
  assert.equal(mapped.TEMPORAL_TLS_CLIENT_CERT_PATH, cert);
  assert.equal(mapped.TEMPORAL_TLS_CLIENT_KEY_PATH, '/explicit.key', 'a new name set explicitly wins');
  assert.deepEqual(
    warnings.map((w) => /set (\S+) instead/.exec(w)?.[1]),
    ['TEMPORAL_TLS_CLIENT_CERT_PATH', 'TEMPORAL_TLS_CLIENT_KEY_PATH'],
  );
  // Through the whole path: the PEM files are read as the client certificate pair.
  const config = temporalConfigFromEnv({ HOME: '/nonexistent', TEMPORAL_TLS_CERT: cert, TEMPORAL_TLS_KEY: key });
  const pair = (config.tls as { clientCertPair?: { crt: Buffer; key: Buffer } }).clientCertPair;
  assert.deepEqual([Buffer.from(pair!.crt).toString(), Buffer.from(pair!.key).toString()], ['CERT', 'KEY']);
});
