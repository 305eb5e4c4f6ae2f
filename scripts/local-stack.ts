/**
 * All of bulkport on one machine, for the demo, the screenshot script and the import benchmark: the Temporal dev server
 * with its Web UI, every target's simulator (targets/dev.ts), a worker and a client, pointed at each other.
 */
import type { Client } from '@temporalio/client';
import { DefaultLogger } from '@temporalio/worker';
import { connectClient } from '../client';
import { temporalConfigFromEnv, type TemporalConfig } from '../common/temporal-config';
import type { TargetName } from '../common/import';
import type { CommonSandboxOptions, PropellerSandbox, SandboxHandle, VoucherifySandbox } from '../sandbox';
import { devTarget } from '../targets/dev';
import { manifests } from '../targets/manifests';
import { connectWorker, createImportWorker, installRuntime } from '../workers/worker';
import { startDevServer } from './dev-server';

export interface LocalStack {
  config: TemporalConfig;
  client: Client;
  /** Every target's simulator, by target name. */
  sandboxes: Record<TargetName, SandboxHandle>;
  voucherify: VoucherifySandbox;
  propeller: PropellerSandbox;
  shutdown(): Promise<void>;
}

export interface LocalStackOptions {
  log: (line: string) => void;
  /** Sandbox settings shared by every target (seed, faults). */
  sandbox?: Partial<Pick<CommonSandboxOptions, 'seed' | 'faults'>>;
  /** A target's own simulator settings: `{ voucherify: { productsPerSecond: 500 }, propeller: { load } }`. */
  sandboxOptions?: Partial<Record<TargetName, Record<string, unknown>>>;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  // As the worker installs it: BULKPORT_METRICS_ADDRESS serves the demo's metrics too.
  installRuntime({ logger: new DefaultLogger('WARN') });
  options.log('Starting the Temporal dev server and Web UI …');
  const server = await startDevServer({ ui: true, log: options.log });
  const uiPort = Number(server.address.split(':').pop()) + 1000;
  // The client, the worker and every link printed follow these.
  process.env.TEMPORAL_ADDRESS = server.address;
  process.env.TEMPORAL_UI_URL = `http://localhost:${uiPort}`;
  const config = temporalConfigFromEnv();

  const sandboxes = {} as Record<TargetName, SandboxHandle>;
  for (const { name } of manifests) {
    sandboxes[name] = await (await devTarget(name)).startSandbox({ ...options.sandbox, ...options.sandboxOptions?.[name] });
  }
  options.log(`Sandboxes: ${manifests.map((m) => `${m.title} ${sandboxes[m.name].url}`).join(', ')}`);

  const connection = await connectWorker(config);
  const worker = await createImportWorker({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    env: Object.assign({ ...process.env }, ...Object.values(sandboxes).map((s) => s.env)),
  });
  const workerRun = worker.run();
  const client = await connectClient(config);
  return {
    config,
    client,
    sandboxes,
    voucherify: sandboxes.voucherify as VoucherifySandbox,
    propeller: sandboxes.propeller as PropellerSandbox,
    async shutdown() {
      // The SDK already drains the worker on SIGINT/SIGTERM; a second shutdown() would throw and leave the server up.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun;
      await connection.close();
      await client.connection.close();
      await Promise.all(Object.values(sandboxes).map((s) => s.close()));
      await server.teardown();
    },
  };
}
