/**
 * Runs `bulkport` as a user does, in a child process, against the run's dev server, both sandboxes
 * and a worker in this process. Bad-input tests use it to check the three things a user sees:
 * the exit code, the message, and the report's rows.
 */
import { after, before } from 'node:test';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Connection } from '@temporalio/client';
import type { ResultRow } from '../activities/report';
import type { ImportStatus } from '../client/status';
import { startPropellerSandbox, startVoucherifySandbox, type PropellerSandbox, type VoucherifySandbox } from '../sandbox';
import { readJsonl, startWorker, tempDir, temporal, type RunningWorker, type TemporalHarness } from './helpers';

const root = fileURLToPath(new URL('..', import.meta.url));

export interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** One report row, as results.jsonl holds it. */
export type ReportRow = ResultRow;

export interface ImportRun extends CliRun {
  /** The final status that `import --wait --json` prints, when it got that far. */
  status?: ImportStatus;
  /** The rows of results.jsonl, when the import wrote a report. */
  rows?: ReportRow[];
  /** stdout and stderr together, for matching a message wherever it was printed. */
  output: string;
}

export interface CliHarness {
  t: TemporalHarness;
  voucherify: VoucherifySandbox;
  propeller: PropellerSandbox;
  worker: RunningWorker;
  /** A scratch folder of this file's tests. */
  dir: string;
  /** `bulkport <args>` with the harness's Temporal, namespace and task queue unless `env` says otherwise. */
  bulkport(args: string[], env?: NodeJS.ProcessEnv): Promise<CliRun>;
  /** `bulkport import <file> --target <target> --wait --json <flags>`, plus what it left behind. */
  importFile(file: string, target: 'voucherify' | 'propeller', flags?: string[], env?: NodeJS.ProcessEnv): Promise<ImportRun>;
  /** Writes `content` to a file of that name in the scratch folder and returns its path. */
  file(name: string, content: string | Buffer): Promise<string>;
}

/** Fast settings so a bad-input case takes a second or two, not the defaults' minutes of backoff. */
export const fastFlags = ['--poll-interval-ms', '100', '--retry-backoff-ms', '100'];

/** The file's CLI harness, set up before its tests and torn down after them. */
export function useCliHarness(
  name: string,
  sandboxOptions: {
    voucherify?: Parameters<typeof startVoucherifySandbox>[0];
    propeller?: Parameters<typeof startPropellerSandbox>[0];
  } = {},
): CliHarness {
  const h = {} as CliHarness;
  before(async () => {
    h.t = await temporal();
    h.voucherify = await startVoucherifySandbox({ seed: 5, productsPerSecond: 5000, ...sandboxOptions.voucherify });
    h.propeller = await startPropellerSandbox({ seed: 5, ...sandboxOptions.propeller });
    h.worker = await startWorker(h.t, { ...h.voucherify.env, ...h.propeller.env }, name);
    h.dir = await tempDir(name);
  });
  after(async () => {
    await h.worker?.stop();
    await h.voucherify?.close();
    await h.propeller?.close();
    await h.t?.close();
  });
  h.bulkport = (args, env = {}) => runCli(h, args, env);
  h.importFile = async (file, target, flags = [], env = {}) => {
    const run = await runCli(h, ['import', file, '--target', target, '--wait', '--json', ...fastFlags, ...flags], env);
    const result: ImportRun = { ...run, output: `${run.stdout}\n${run.stderr}` };
    const json = lastJsonObject(run.stdout);
    if (json && 'workflowId' in json) result.status = json as unknown as ImportStatus;
    const resultsJsonl = result.status?.summary?.files.resultsJsonl ?? result.status?.failure?.report?.files.resultsJsonl;
    if (resultsJsonl) result.rows = await readJsonl<ReportRow>(resultsJsonl).catch(() => undefined);
    return result;
  };
  h.file = async (fileName, content) => {
    const file = path.join(h.dir, fileName);
    await writeFile(file, content);
    return file;
  };
  return h;
}

function runCli(h: CliHarness, args: string[], env: NodeJS.ProcessEnv): Promise<CliRun> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'client/cli.ts', ...args], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TEMPORAL_ADDRESS: (h.t.client.connection as Connection).options.address,
      TEMPORAL_NAMESPACE: h.t.namespace,
      TEMPORAL_TASK_QUEUE: h.worker.taskQueue,
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

/** The last top-level JSON object in a command's output (`--wait --json` prints exactly one). */
function lastJsonObject(text: string): Record<string, unknown> | undefined {
  const start = text.lastIndexOf('\n{') >= 0 ? text.lastIndexOf('\n{') + 1 : text.startsWith('{') ? 0 : -1;
  if (start < 0) return undefined;
  try {
    return JSON.parse(text.slice(start)) as Record<string, unknown>;
  } catch {
    return undefined;
  }
}

/** Exit codes of `import --wait`, `watch` and `cancel --wait`, as documented in `bulkport --help` and the README. */
export const ExitCode = {
  /** The import completed and every source record succeeded. */
  ok: 0,
  /** The import failed, never ran, or imported nothing; also a usage error. */
  failed: 1,
  /** The import ended and some records succeeded, but others are invalid, failed or were not submitted. */
  partial: 2,
} as const;
