/**
 * Bad input at the command line: flags, environment, ids, and a task queue nobody polls. Each kind
 * asserts the exit code, a message naming the problem and the fix, and the report rows (or that
 * no report exists, when the import never ran).
 */
import { after, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { writeCatalog } from '../scripts/catalog';
import type { ImportStatus } from '../client/status';
import { ExitCode, useCliHarness, type CliRun, type ImportRun } from './cli-harness';
import { uniqueTaskQueue } from './helpers';

const h = useCliHarness('bad-input-cli');

/** Exit code 1, the message, and no report: the import never ran (or never got anywhere). */
function assertRefused(run: CliRun & Partial<ImportRun>, message: RegExp): void {
  const output = `${run.stdout}\n${run.stderr}`;
  assert.equal(run.code, ExitCode.failed, output);
  assert.match(output, message);
  assert.equal(run.rows, undefined, 'no report');
  assert.doesNotMatch(run.stdout, /^Started /m, 'nothing started');
}

let catalogFile: Promise<string> | undefined;
/** Three valid Voucherify products; the flags are what is wrong. */
const catalog = () =>
  (catalogFile ??= writeCatalog(`${h.dir}/three.jsonl`, { target: 'voucherify', count: 3, format: 'jsonl', keyPrefix: 'badcli' }));

/** A queue no worker polls, and imports started on it (terminated after the tests). */
const idleQueue = uniqueTaskQueue('no-worker');
const idleImports: string[] = [];
async function idleImport(name: string): Promise<string> {
  const id = `bad-cli-${name}-${Date.now()}`;
  idleImports.push(id);
  const started = await h.bulkport(['import', await catalog(), '--target', 'voucherify', '--id', id], { TEMPORAL_TASK_QUEUE: idleQueue });
  assert.equal(started.code, 0, started.stderr);
  return id;
}
after(async () => {
  await Promise.all(
    idleImports.map((id) =>
      h.t.client.workflow
        .getHandle(id)
        .terminate('test cleanup')
        .catch(() => undefined),
    ),
  );
});

const noWorker = () =>
  new RegExp(`No worker is polling task queue ${idleQueue} in namespace ${h.t.namespace}[\\s\\S]*npm run worker[\\s\\S]*--task-queue`);

describe('bad input at the command line', { concurrency: 3 }, () => {
  test('an unknown target', async () => {
    assertRefused(
      await h.importFile(await catalog(), 'shopify' as 'voucherify'),
      /argument 'shopify' is invalid\. Allowed choices are voucherify, propeller/,
    );
  });

  test('an unknown flag', async () => {
    assertRefused(
      await h.importFile(await catalog(), 'voucherify', ['--concurency', '3']),
      /unknown option '--concurency'[\s\S]*Did you mean --concurrency\?/,
    );
  });

  test('a flag of the other target', async () => {
    assertRefused(
      await h.importFile(await catalog(), 'voucherify', ['--chunk-size', '100']),
      /--chunk-size applies to --target propeller only: drop it, or use --target propeller/,
    );
  });

  test('--concurrency 0', async () => {
    assertRefused(
      await h.importFile(await catalog(), 'voucherify', ['--concurrency', '0']),
      /invalid import: --concurrency: must be at least 1 \(see bulkport import --help\)/,
    );
  });

  test('--concurrency above --max-concurrency', async () => {
    const run = await h.importFile(await catalog(), 'voucherify', ['--concurrency', '9', '--max-concurrency', '8']);
    assertRefused(run, /--concurrency 9 is above --max-concurrency 8: lower it, or raise --max-concurrency/);
  });

  test('--chunk-size 5000 (Propeller takes at most 2000)', async () => {
    assertRefused(
      await h.importFile(await catalog(), 'propeller', ['--chunk-size', '5000']),
      /invalid import: --chunk-size: must be at most 2,000 \(see bulkport import --help\)/,
    );
  });

  test('--chunk-bytes over 10,485,760', async () => {
    assertRefused(
      await h.importFile(await catalog(), 'voucherify', ['--chunk-bytes', '10485761']),
      /invalid import: --chunk-bytes: must be at most 10,485,760 \(see bulkport import --help\)/,
    );
  });

  test('--concurrency that is not a number', async () => {
    assertRefused(
      await h.importFile(await catalog(), 'voucherify', ['--concurrency', 'four']),
      /option '--concurrency <n>' argument 'four' is invalid\. expected a whole number/,
    );
  });

  test('an invalid --id', async () => {
    assertRefused(
      await h.importFile(await catalog(), 'voucherify', ['--id', 'my import!']),
      /invalid import: --id: letters, digits, "\.", "_" and "-" only/,
    );
  });

  test('a missing file', async () => {
    const run = await h.importFile(`${h.dir}/no-such-catalog.jsonl`, 'voucherify');
    assertRefused(run, /source file not found: \S+no-such-catalog\.jsonl: check the path/);
  });

  test('a folder instead of a file', async () => {
    assertRefused(await h.importFile(h.dir, 'voucherify'), /is a folder, not a file: pass the catalog file itself/);
  });

  test('an unreachable TEMPORAL_ADDRESS', async () => {
    const run = await h.importFile(await catalog(), 'voucherify', [], { TEMPORAL_ADDRESS: '127.0.0.1:1' });
    assertRefused(run, /Cannot reach Temporal at 127\.0\.0\.1:1[\s\S]*npm start[\s\S]*TEMPORAL_ADDRESS \(or --address\)/);
  });

  test('an unknown namespace', async () => {
    const run = await h.importFile(await catalog(), 'voucherify', [], { TEMPORAL_NAMESPACE: 'no-such-namespace' });
    assertRefused(
      run,
      /Namespace no-such-namespace does not exist on Temporal at \S+: create it \(`temporal operator namespace create no-such-namespace`\)/,
    );
  });

  test('an id already running', async () => {
    const id = await idleImport('taken');
    const run = await h.importFile(await catalog(), 'voucherify', ['--id', id], { TEMPORAL_TASK_QUEUE: idleQueue });
    assertRefused(
      run,
      new RegExp(`An import with id ${id} is already running\\. One import id names one import's data and report: choose another --id`),
    );
  });

  test('watch of an unknown id', async () => {
    const run = await h.bulkport(['watch', 'no-such-import']);
    assertRefused(run, new RegExp(`No import with id no-such-import in namespace ${h.t.namespace}`));
  });

  test('import --wait with no worker on the queue', async () => {
    const id = `bad-cli-wait-${Date.now()}`;
    idleImports.push(id);
    const started = Date.now();
    const run = await h.importFile(await catalog(), 'voucherify', ['--id', id, '--worker-timeout', '2'], {
      TEMPORAL_TASK_QUEUE: idleQueue,
    });
    assert.equal(run.code, ExitCode.failed, run.output);
    assert.match(run.stderr, noWorker());
    assert.match(run.stderr, /Gave up after \d+s \(--worker-timeout\)[\s\S]*bulkport watch/);
    assert.equal(run.rows, undefined, 'no report');
    assert.ok(Date.now() - started < 45_000, 'noticed within seconds');
  });

  test('import without --wait and no worker: started, with a warning', async () => {
    const id = `bad-cli-nowait-${Date.now()}`;
    idleImports.push(id);
    const run = await h.bulkport(['import', await catalog(), '--target', 'voucherify', '--id', id], { TEMPORAL_TASK_QUEUE: idleQueue });
    assert.equal(run.code, ExitCode.ok, run.stderr);
    assert.match(run.stdout, new RegExp(`Started ${id}`));
    assert.match(run.stderr, new RegExp(`Warning: ${noWorker().source}`));
  });

  test('watch with no worker', async () => {
    const id = await idleImport('watch');
    const run = await h.bulkport(['watch', id, '--worker-timeout', '2']);
    assert.equal(run.code, ExitCode.failed, run.stderr);
    assert.match(run.stderr, noWorker());
    assert.match(run.stderr, /Gave up after/);
  });

  test('watch --json with no worker', async () => {
    const id = await idleImport('watchjson');
    const run = await h.bulkport(['watch', id, '--json', '--worker-timeout', '2']);
    assert.equal(run.code, ExitCode.failed, run.stderr);
    assert.match(run.stderr, noWorker());
  });

  test('concurrency with no worker', async () => {
    const id = await idleImport('concurrency');
    const started = Date.now();
    const run = await h.bulkport(['concurrency', id, '2']);
    assert.equal(run.code, ExitCode.failed, run.stderr);
    assert.match(run.stderr, noWorker());
    assert.match(run.stderr, /The concurrency can only change while a worker runs the import/);
    assert.ok(Date.now() - started < 30_000, 'fails within seconds');
  });

  test('cancel --wait with no worker', async () => {
    const id = await idleImport('cancel');
    const run = await h.bulkport(['cancel', id, '--wait', '--worker-timeout', '2']);
    assert.equal(run.code, ExitCode.failed, run.stderr);
    assert.match(run.stdout, new RegExp(`Cancelling ${id}`));
    assert.match(run.stderr, noWorker());
  });

  test('pause with no worker: the signal is accepted, with a warning that nothing happens until a worker runs', async () => {
    const id = await idleImport('pause');
    const run = await h.bulkport(['pause', id]);
    assert.equal(run.code, ExitCode.ok, run.stderr);
    assert.match(run.stdout, new RegExp(`Paused ${id}`));
    assert.match(run.stderr, new RegExp(`Warning: ${noWorker().source}`));
  });

  test('status with no worker: says so in its progress error, and exits 0 (it could tell where the import stands)', async () => {
    const id = await idleImport('status');
    const run = await h.bulkport(['status', id, '--json']);
    assert.equal(run.code, ExitCode.ok, run.stderr);
    const status = JSON.parse(run.stdout) as ImportStatus;
    assert.equal(status.execution, 'RUNNING');
    assert.equal(status.progress, undefined);
    assert.match(status.progressError ?? '', noWorker());
  });

  test('--worker-timeout that is not a number of seconds', async () => {
    assertRefused(
      await h.bulkport(['watch', 'any', '--worker-timeout', 'soon']),
      /option '--worker-timeout <seconds>' argument 'soon' is invalid\. expected seconds/,
    );
  });
});

describe('exit codes of an import that ran', { concurrency: 2 }, () => {
  const outcomes = (run: ImportRun) => run.rows?.map((r) => `${r.line}:${r.outcome}`);

  test('every record succeeded: 0', async () => {
    const file = await writeCatalog(`${h.dir}/all-good.jsonl`, { target: 'voucherify', count: 4, format: 'jsonl', keyPrefix: 'exit0' });
    const run = await h.importFile(file, 'voucherify');
    assert.equal(run.code, ExitCode.ok, run.output);
    assert.deepEqual(outcomes(run), ['1:succeeded', '2:succeeded', '3:succeeded', '4:succeeded']);
  });

  test('some records invalid: 2', async () => {
    const file = await writeCatalog(`${h.dir}/some-bad.jsonl`, {
      target: 'voucherify',
      count: 4,
      format: 'jsonl',
      keyPrefix: 'exit2',
      invalidEvery: 2,
    });
    const run = await h.importFile(file, 'voucherify');
    assert.equal(run.code, ExitCode.partial, run.output);
    assert.deepEqual(outcomes(run), ['1:succeeded', '2:invalid', '3:succeeded', '4:invalid']);
    assert.doesNotMatch(run.stderr, /Nothing was imported|Import failed/);
  });

  test('every record invalid: 1, and it says nothing was imported', async () => {
    const file = await writeCatalog(`${h.dir}/all-bad.jsonl`, {
      target: 'voucherify',
      count: 3,
      format: 'jsonl',
      keyPrefix: 'exit1',
      invalidEvery: 1,
    });
    const run = await h.importFile(file, 'voucherify');
    assert.equal(run.code, ExitCode.failed, run.output);
    assert.match(run.stderr, /Nothing was imported: see why each record was refused in \S+invalid/);
    assert.deepEqual(outcomes(run), ['1:invalid', '2:invalid', '3:invalid']);
  });

  test('an empty catalog: 1, and it says the source holds no records', async () => {
    const run = await h.importFile(await h.file('empty.jsonl', ''), 'voucherify');
    assert.equal(run.code, ExitCode.failed, run.output);
    assert.match(
      run.stderr,
      /Import failed: Staging failed: the source \S+empty\.jsonl holds no records \(it is empty or blank\); check that it is the right file/,
    );
    assert.equal(run.rows, undefined, 'the import never got past staging: no report');
  });

  test('watch of an ended import exits with its code', async () => {
    const file = await writeCatalog(`${h.dir}/watched.jsonl`, {
      target: 'voucherify',
      count: 2,
      format: 'jsonl',
      keyPrefix: 'exitw',
      invalidEvery: 2,
    });
    const id = `bad-cli-ended-${Date.now()}`;
    const run = await h.importFile(file, 'voucherify', ['--id', id]);
    assert.equal(run.code, ExitCode.partial, run.output);
    const watched = await h.bulkport(['watch', id]);
    assert.equal(watched.code, ExitCode.partial, watched.stderr);
    assert.match(watched.stdout, /Import completed: 1 succeeded, 0 failed, 1 invalid of 2 read/);
  });
});
