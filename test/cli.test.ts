/**
 * The `bulkport` CLI as a user runs it: a child process pointed at the run's dev server, with a
 * worker and the Voucherify sandbox in this process.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connection } from '@temporalio/client';
import { buildProgram } from '../client/commands/program';
import type { ImportProgress, ImportSummary } from '../client';
import type { ImportStatus } from '../client/status';
import { startVoucherifySandbox, type VoucherifySandbox } from '../sandbox';
import { writeCatalog } from '../scripts/catalog';
import { eventually, startWorker, tempDir, temporal, type RunningWorker, type TemporalHarness } from './helpers';

const root = fileURLToPath(new URL('..', import.meta.url));

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

let t: TemporalHarness;
let sandbox: VoucherifySandbox;
let worker: RunningWorker;
before(async () => {
  t = await temporal();
  sandbox = await startVoucherifySandbox({ seed: 3, productsPerSecond: 2000 });
  worker = await startWorker(t, sandbox.env, 'cli');
});
after(async () => {
  await worker.stop();
  await sandbox.close();
  await t.close();
});

function bulkport(args: string[], env: NodeJS.ProcessEnv = {}): Promise<Run> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'client/cli.ts', ...args], {
    cwd: root,
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: (t.client.connection as Connection).options.address,
      TEMPORAL_NAMESPACE: t.namespace,
      TEMPORAL_TASK_QUEUE: worker.taskQueue,
      TEMPORAL_UI_URL: 'http://ui.test',
      ...env,
    },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => (stdout += String(d)));
  child.stderr.on('data', (d) => (stderr += String(d)));
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stdout, stderr })));
}

const importFlags = ['--target', 'voucherify', '--chunk-bytes', '15000', '--poll-interval-ms', '100', '--retry-backoff-ms', '100'];
const linkOf = (id: string) => `http://ui.test/namespaces/${t.namespace}/workflows/${id}`;

async function catalog(name: string, count: number): Promise<string> {
  return writeCatalog(path.join(await tempDir(name), `${name}.jsonl`), {
    target: 'voucherify',
    count,
    format: 'jsonl',
    invalidEvery: 60,
    keyPrefix: name,
  });
}

describe('bulkport CLI', () => {
  test('--help works for every command, and read commands offer --json', async () => {
    const names = buildProgram().commands.map((c) => c.name());
    for (const expected of ['import', 'status', 'watch', 'pause', 'resume', 'cancel', 'concurrency', 'list', 'report', 'setup', 'sandbox'])
      assert.ok(names.includes(expected), expected);
    const runs = await Promise.all([bulkport(['--help']), ...names.map((name) => bulkport([name, '--help']))]);
    assert.equal(runs[0]!.code, 0);
    for (const name of names) assert.match(runs[0]!.stdout, new RegExp(`\\n  ${name}\\b`), `${name} is listed`);
    for (const [i, name] of names.entries()) {
      const run = runs[i + 1]!;
      assert.equal(run.code, 0, `${name} --help: ${run.stderr}`);
      assert.match(run.stdout, new RegExp(`^Usage: bulkport ${name}`), name);
      if (['status', 'watch', 'list', 'report', 'setup'].includes(name)) assert.match(run.stdout, /--json/, `${name} has --json`);
    }
  });

  test('import --wait shows the summary; status --json of the finished import is its workflow result; report and list find it', async () => {
    const file = await catalog('clidone', 600);
    const id = `cli-done-${Date.now()}`;
    const imported = await bulkport(['import', file, ...importFlags, '--id', id, '--wait']);
    assert.equal(imported.code, 2, `10 invalid rows: partly imported. ${imported.stderr}`);
    assert.match(imported.stdout, new RegExp(`Started ${id}\\n  Import 600 products from clidone.jsonl into Voucherify`));
    assert.match(imported.stdout, /Import completed: 590 succeeded, 0 failed, 10 invalid of 600 read/);
    assert.match(imported.stdout, /Results: +\S+results\.csv/);
    assert.ok(imported.stdout.includes(`Web UI:         ${linkOf(id)}`), imported.stdout);

    const result: ImportSummary = await t.client.workflow.getHandle(id).result();
    const [json, human, report] = await Promise.all([
      bulkport(['status', id, '--json']),
      bulkport(['status', id]),
      bulkport(['report', id]),
    ]);
    assert.equal(json.code, 0, json.stderr);
    const status = JSON.parse(json.stdout) as ImportStatus;
    assert.deepEqual(status.summary, result);
    assert.equal(status.execution, 'COMPLETED');
    assert.equal(status.status, 'Completed');
    assert.ok(status.uiLink.startsWith(linkOf(id)));
    assert.match(human.stdout, /Import completed: 590 succeeded/);
    assert.match(human.stdout, /Web UI: +http/);

    assert.equal(report.code, 0, report.stderr);
    assert.equal(report.stdout, await readFile(result.files.resultsCsv, 'utf8'), 'report prints the results CSV');
    assert.equal(report.stdout.trimEnd().split('\n').length, 601);
    const out = await tempDir('cli-report');
    const copied = await bulkport(['report', id, '--out', out]);
    assert.equal(copied.code, 0, copied.stderr);
    assert.equal(await readFile(path.join(out, 'failed-records.jsonl'), 'utf8'), await readFile(result.files.failedRecords, 'utf8'));

    const listed = await eventually('the import in bulkport list', async () => {
      const list = await bulkport(['list', '--status', 'Completed', '--json', '--limit', '50']);
      return (JSON.parse(list.stdout) as { workflowId: string; succeeded: number; total: number }[]).find((row) => row.workflowId === id);
    });
    assert.deepEqual([listed.succeeded, listed.total], [result.counts.succeeded, result.counts.read]);
  });

  test('pause, concurrency, watch and cancel steer a running import', async () => {
    const slow = await startVoucherifySandbox({ seed: 3, productsPerSecond: 150 });
    const slowWorker = await startWorker(t, slow.env, 'cli-slow');
    try {
      // Far more than can be sent while the CLI processes start (slow on a loaded machine), so the cancel always leaves some unsent.
      const file = await catalog('clislow', 12_000);
      const started = await bulkport(['import', file, ...importFlags, '--json'], { TEMPORAL_TASK_QUEUE: slowWorker.taskQueue });
      assert.equal(started.code, 0, started.stderr);
      const id = (JSON.parse(started.stdout) as { workflowId: string }).workflowId;
      assert.match(id, /^import-voucherify-clislow-\d{8}T\d{6}Z$/, 'a readable default id');

      const watch = bulkport(['watch', id, '--json']);
      const paused = await bulkport(['pause', id]);
      assert.equal(paused.code, 0, paused.stderr);
      assert.match(paused.stdout, new RegExp(`Paused ${id}[\\s\\S]*Web UI: ${linkOf(id)}`));
      const progress = await eventually('status shows it paused', async () => {
        const s = JSON.parse((await bulkport(['status', id, '--json'])).stdout) as ImportStatus;
        return s.progress?.paused ? s.progress : undefined;
      });
      assert.equal(progress.concurrency, 4);

      const [rejected, changed] = await Promise.all([bulkport(['concurrency', id, '0']), bulkport(['concurrency', id, '3'])]);
      assert.equal(rejected.code, 1);
      assert.match(rejected.stderr, /Rejected: concurrency must be a whole number from 1 to 32; got 0/);
      assert.equal(changed.code, 0, changed.stderr);
      assert.match(changed.stdout, new RegExp(`Concurrency of ${id}: 4 → 3`));

      assert.equal((await bulkport(['resume', id])).code, 0);
      const cancelled = await bulkport(['cancel', id, '--reason', 'cli test', '--wait']);
      assert.equal(cancelled.code, 2, `cancelled with products left unsent: partly imported. ${cancelled.stderr}`);
      assert.match(
        cancelled.stdout,
        /Import cancelled \(cli test\): [\d,]+ succeeded, 0 failed, 200 invalid, [\d,]+ not submitted of 12,000 read/,
      );

      const watched = await watch;
      const lines = watched.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as ImportProgress & ImportStatus);
      assert.ok(lines.length >= 3, `watch printed progress (${lines.length} lines)`);
      assert.ok(
        lines.some((p) => p.paused),
        'watch saw the pause',
      );
      assert.equal(lines.at(-1)!.summary?.status, 'cancelled', 'and ended with the final status');
    } finally {
      await slowWorker.stop();
      await slow.close();
    }
  });

  test('a stopped import (the target refuses the credentials): status shows why, report still prints its results', async () => {
    const refusing = await startWorker(t, { ...sandbox.env, VOUCHERIFY_APP_TOKEN: 'wrong-token' }, 'cli-refused');
    try {
      const file = await catalog('clirefused', 120);
      const id = `cli-refused-${Date.now()}`;
      const imported = await bulkport(['import', file, ...importFlags, '--id', id, '--wait'], { TEMPORAL_TASK_QUEUE: refusing.taskQueue });
      assert.equal(imported.code, 1, 'a stopped import exits non-zero');
      assert.match(imported.stdout, /Import failed: .*(401|nauthori)/);
      const status = JSON.parse((await bulkport(['status', id, '--json'])).stdout) as ImportStatus;
      assert.deepEqual([status.execution, status.status], ['FAILED', 'Failed']);
      assert.equal(status.failure?.report?.counts.succeeded, 0);
      const report = await bulkport(['report', id, '--file', 'results-jsonl']);
      assert.equal(report.code, 0, report.stderr);
      const rows = report.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line) as { outcome: string });
      assert.equal(rows.length, 120);
      assert.deepEqual([...new Set(rows.map((r) => r.outcome))].sort(), ['invalid', 'not-submitted']);
    } finally {
      await refusing.stop();
    }
  });

  test('a failed import shows its root cause, not "Activity task failed", in the summary, status and status --json', async () => {
    const id = `cli-cause-${Date.now()}`;
    const url = `${sandbox.url}/no-such-catalog.jsonl`;
    const imported = await bulkport(['import', url, ...importFlags, '--id', id, '--wait']);
    assert.equal(imported.code, 1, imported.stderr);
    assert.match(
      imported.stdout,
      /Import failed: Staging failed: downloading the source \S+no-such-catalog\.jsonl failed with HTTP 404.*check that the URL is right/,
    );
    const [json, human] = await Promise.all([bulkport(['status', id, '--json']), bulkport(['status', id])]);
    const status = JSON.parse(json.stdout) as ImportStatus;
    assert.match(status.failure?.message ?? '', /failed with HTTP 404/);
    assert.equal(status.failure?.type, 'SourceError');
    assert.match(human.stdout, /Import failed: Staging failed: downloading the source .* HTTP 404.* \[SourceError\]/);
    for (const out of [imported.stdout, json.stdout, human.stdout]) assert.doesNotMatch(out, /Activity task failed/);
  });

  test('an unknown id or an unreachable Temporal exits 1 with a clear message', async () => {
    const missing = `no-such-import-${Date.now()}`;
    const runs = await Promise.all([
      ...['status', 'watch', 'pause', 'cancel', 'report'].map((command) => bulkport([command, missing])),
      bulkport(['concurrency', missing, '2']),
    ]);
    for (const run of runs) {
      assert.equal(run.code, 1);
      assert.equal(run.stderr.trim(), `bulkport: No import with id ${missing} in namespace ${t.namespace}`);
    }
    const down = await bulkport(['status', 'anything'], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /Cannot reach Temporal at 127\.0\.0\.1:1[\s\S]*npm start[\s\S]*temporal server start-dev/);
  });
});
