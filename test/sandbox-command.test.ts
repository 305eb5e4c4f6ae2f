import assert from 'node:assert/strict';
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { describe, test } from 'node:test';
import { sandboxCommand } from '../sandbox/command';
import { httpRequest, jsonRequest } from '../sandbox/test-support';

const commandModule = fileURLToPath(new URL('../sandbox/command.ts', import.meta.url));
const repoRoot = fileURLToPath(new URL('..', import.meta.url));

/** Runs `bulkport sandbox <args>` the way the CLI will: a process of its own. */
function runSandboxCommand(args: string[]): ChildProcessWithoutNullStreams {
  const script = `import { sandboxCommand } from ${JSON.stringify(commandModule)}; await sandboxCommand().parseAsync(process.argv.slice(1), { from: 'user' });`;
  return spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', ...args], { cwd: repoRoot });
}

/** Stdout up to the marker; the stream stays open (the command still writes on exit). */
function outputUntil(child: ChildProcessWithoutNullStreams, marker: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let output = '';
    child.stdout.on('data', (chunk) => {
      output += String(chunk);
      if (output.includes(marker)) resolve(output);
    });
    child.once('exit', () => reject(new Error(`the command ended before printing ${JSON.stringify(marker)}: ${output}`)));
  });
}

describe('bulkport sandbox', () => {
  test('--help explains every flag', () => {
    const command = sandboxCommand();
    const help = command.helpInformation();
    assert.ok(command.options.length >= 30);
    for (const option of command.options) {
      assert.ok(option.description.length > 10, `${option.long} has a description`);
      assert.ok(help.includes(option.flags), `${option.flags} is in --help`);
    }
    for (const flag of [
      '--voucherify-port',
      '--propeller-port',
      '--seed',
      '--server-error-rate',
      '--products-per-second',
      '--bulk-per-hour',
      '--calls-per-minute',
      '--token-ttl-seconds',
      '--result-shape',
    ]) {
      assert.ok(help.includes(flag), flag);
    }
  });

  test('starts both sandboxes, prints URLs, credentials and worker env, applies flags, and stops on SIGTERM', async () => {
    const child = runSandboxCommand(['--voucherify-port', '0', '--propeller-port', '0', '--seed', '7', '--bulk-per-hour', '1', '--quiet']);
    try {
      const output = await outputUntil(child, 'Stop with Ctrl-C.');
      const env = Object.fromEntries([...output.matchAll(/^export (\w+)=(.*)$/gm)].map((m) => [m[1], m[2]]));
      assert.deepEqual(Object.keys(env).sort(), [
        'PROPELLER_API_URL',
        'PROPELLER_CLIENT_ID',
        'PROPELLER_CLIENT_SECRET',
        'PROPELLER_TOKEN_URL',
        'VOUCHERIFY_API_URL',
        'VOUCHERIFY_APP_ID',
        'VOUCHERIFY_APP_TOKEN',
      ]);
      assert.match(output, /Voucherify sandbox: http:\/\/127\.0\.0\.1:\d+/);
      assert.match(output, /X-App-Token: sandbox-app-token/);

      const appKeys = { 'x-app-id': env.VOUCHERIFY_APP_ID ?? '', 'x-app-token': env.VOUCHERIFY_APP_TOKEN ?? '' };
      const bulk = () =>
        httpRequest(`${env.VOUCHERIFY_API_URL}/v1/products/bulk/async`, jsonRequest('POST', [{ source_id: 'cli-1' }], appKeys));
      assert.equal((await bulk()).status, 202);
      assert.equal((await bulk()).status, 429, '--bulk-per-hour 1 is in force');

      const token = await httpRequest(env.PROPELLER_TOKEN_URL ?? '', {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({
          grant_type: 'client_credentials',
          client_id: env.PROPELLER_CLIENT_ID ?? '',
          client_secret: env.PROPELLER_CLIENT_SECRET ?? '',
        }).toString(),
      });
      assert.equal(token.status, 200);
      const stats = await httpRequest(`${env.PROPELLER_API_URL}/_sandbox/stats`);
      assert.equal(stats.json.requests['POST /oauth2/token']['200'], 1);

      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      assert.equal(code, 0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  test('rejects a rate outside 0..1', async () => {
    const child = runSandboxCommand(['--server-error-rate', '2', '--voucherify-port', '0', '--propeller-port', '0']);
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += String(chunk)));
    const [code] = await once(child, 'exit');
    assert.notEqual(code, 0);
    assert.match(stderr, /between 0 and 1/);
  });
});
