/**
 * All of bulkport on one machine, for the demo, the screenshot script and the import benchmark: the Temporal dev server
 * with its Web UI, both sandbox targets, a worker and a client, pointed at each other.
 */
import type { Client } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { connectClient } from '../client';
import { temporalConfigFromEnv, type TemporalConfig } from '../common/temporal-config';
import {
  startPropellerSandbox,
  startVoucherifySandbox,
  type PropellerSandbox,
  type VoucherifySandbox,
  type VoucherifySandboxOptions,
} from '../sandbox';
import type { PropellerLoad } from '../sandbox/propeller';
import { connectWorker, createImportWorker } from '../workers/worker';
import { startDevServer } from './dev-server';

export interface LocalStack {
  config: TemporalConfig;
  client: Client;
  voucherify: VoucherifySandbox;
  propeller: PropellerSandbox;
  shutdown(): Promise<void>;
}

export interface LocalStackOptions {
  log: (line: string) => void;
  /** Sandbox settings shared by both targets (seed, faults). */
  sandbox?: Pick<VoucherifySandboxOptions, 'seed' | 'faults'>;
  /** Speed of the Voucherify sandbox's async-action worker. */
  productsPerSecond?: number;
  /** A Propeller sandbox whose latency grows with load (bench/adaptive.ts). */
  propellerLoad?: PropellerLoad;
}

export async function startLocalStack(options: LocalStackOptions): Promise<LocalStack> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  options.log('Starting the Temporal dev server and Web UI …');
  const server = await startDevServer({ ui: true, log: options.log });
  const uiPort = Number(server.address.split(':').pop()) + 1000;
  // The client, the worker and every link printed follow these.
  process.env.TEMPORAL_ADDRESS = server.address;
  process.env.TEMPORAL_UI_URL = `http://localhost:${uiPort}`;
  const config = temporalConfigFromEnv();

  const voucherify = await startVoucherifySandbox({
    ...options.sandbox,
    ...(options.productsPerSecond ? { productsPerSecond: options.productsPerSecond } : {}),
  });
  const propeller = await startPropellerSandbox({ ...options.sandbox, ...(options.propellerLoad ? { load: options.propellerLoad } : {}) });
  options.log(`Sandboxes: Voucherify ${voucherify.url}, Propeller ${propeller.url}`);

  const connection = await connectWorker(config);
  const worker = await createImportWorker({
    connection,
    namespace: config.namespace,
    taskQueue: config.taskQueue,
    env: { ...process.env, ...voucherify.env, ...propeller.env },
  });
  const workerRun = worker.run();
  const client = await connectClient(config);
  return {
    config,
    client,
    voucherify,
    propeller,
    async shutdown() {
      // The SDK already drains the worker on SIGINT/SIGTERM; a second shutdown() would throw and leave the server up.
      if (worker.getState() === 'RUNNING') worker.shutdown();
      await workerRun;
      await connection.close();
      await client.connection.close();
      await Promise.all([voucherify.close(), propeller.close()]);
      await server.teardown();
    },
  };
}
