/**
 * The import worker: workflows from the bundle (or source), activities bound to the staging
 * store and to target connections from the environment.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleWorkflowCode, NativeConnection, Runtime, type RuntimeOptions, Worker, type WorkerOptions } from '@temporalio/worker';
import { createActivities } from '../activities';
import { LocalFolderStore, storeFromEnv, type StagingStore } from '../activities/staging/store';
import { S3Store } from '../activities/staging/s3-store';
import { createTargetRegistry } from '../activities/targets';
import { loadTargets } from '../targets';
import type { TemporalConfig } from '../common/temporal-config';
import { HEARTBEAT_INTERVAL_MS } from '../common/timeouts';
import { workerTracing, workflowInterceptorModules } from '../common/tracing';
import { HISTOGRAM_BUCKETS } from '../common/metrics';
import { limitWorkflowThreads } from './workflow-thread';

export const workflowsPath = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../workflows/index.ts');

type Logger = NonNullable<Parameters<typeof bundleWorkflowCode>[0]['logger']>;
const quietBundler: Logger = { log() {}, trace() {}, debug() {}, info() {}, warn: console.warn, error: console.error };

const spanIdsModule = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../workflows/span-ids.ts');

/**
 * Tracing's ids in workflows without Math.random (workflows/span-ids.ts says why), in every bundle. The bundle's source
 * map keeps its mappings (stack traces name our files and lines) but not the sources, which the SDK sends only with
 * `showStackTraceSources` (off): the bundle is half the size, and the workflow thread's heap about 10 MB smaller.
 * The code loses its comments and blanks, and non-ASCII characters are escaped: the main thread and the workflow thread
 * each hold the bundle as a string, 0.9 MB of one-byte characters instead of 1.8 million two-byte ones (a single
 * character beyond Latin-1, such as a dash in a comment, makes V8 store all of it in UTF-16). Nothing is renamed or
 * rewritten. A 1M Voucherify import's high-water fell by about 15 MB (bench/README.md). Legal comments go to a
 * `.LICENSE.txt` the SDK does not keep.
 */
const webpackConfigHook: NonNullable<Parameters<typeof bundleWorkflowCode>[0]['webpackConfigHook']> = (config) => ({
  ...config,
  devtool: 'inline-nosources-source-map',
  optimization: {
    ...config.optimization,
    minimize: true,
    minimizeOptions: {
      javascript: { compress: false, mangle: false, format: { ascii_only: true, comments: false } },
    },
  },
  plugins: [
    ...(config.plugins ?? []),
    {
      apply(compiler) {
        new compiler.webpack.NormalModuleReplacementPlugin(/[\\/]RandomIdGenerator(\.js)?$/, spanIdsModule).apply(compiler);
      },
    },
  ],
});

/**
 * The workflow bundle: the workflows, and the tracing interceptors (common/tracing.ts) unless `traced` is false. A worker
 * that does not trace runs the bundle without them: their spans would be dropped, and making them cost its workflow
 * thread a quarter of its CPU (bench/README.md, "A workflow bundle without tracing"). Either bundle replays the other's
 * histories: the interceptors add headers and spans, never commands (test/replay.test.ts).
 */
export async function bundleWorkflows(logger: Logger = quietBundler, { traced = true } = {}): Promise<string> {
  const interceptors = interceptorModules(traced);
  return (await bundleWorkflowCode({ workflowsPath, workflowInterceptorModules: interceptors, logger, webpackConfigHook })).code;
}

const interceptorModules = (traced: boolean) => (traced ? workflowInterceptorModules : []);

/** `npm run build`'s bundles beside dist/worker.js: with the tracing interceptors, and without them. */
export const BUNDLE_FILES = { traced: 'workflow-bundle.js', untraced: 'workflow-bundle-untraced.js' } as const;

/**
 * Worker options for the workflows: a prebuilt bundle (bundleWorkflows), or the sources bundled the same way at start,
 * with the tracing interceptors when `traced`.
 */
export function workflowCode(
  bundlePath: string | undefined,
  traced = true,
): Pick<WorkerOptions, 'workflowBundle' | 'workflowsPath' | 'interceptors' | 'bundlerOptions'> {
  if (bundlePath) return { workflowBundle: { codePath: bundlePath } };
  return { workflowsPath, interceptors: { workflowModules: interceptorModules(traced) }, bundlerOptions: { webpackConfigHook } };
}

export interface ImportWorkerOptions {
  connection: NativeConnection;
  namespace: string;
  taskQueue: string;
  /** Target URLs and credentials; the process environment by default. */
  env?: NodeJS.ProcessEnv;
  store?: StagingStore;
  /** A prebuilt bundle (tests build one per run); otherwise the workflows are bundled at start. */
  workflowBundlePath?: string;
  tuning?: Pick<WorkerOptions, 'maxConcurrentActivityTaskExecutions' | 'maxCachedWorkflows'>;
  /**
   * Staging in a thread of its own (unset: as BULKPORT_STAGE_THREAD=1 says; off without it): faster only where a core is
   * free (10–25 % for 1M Voucherify products once; on two cores shared with the target, no gain: bench/README.md), at a
   * second heap's memory (about 250 MB more at peak).
   */
  stageInThread?: boolean;
}

export async function createImportWorker(options: ImportWorkerOptions): Promise<Worker> {
  const env = options.env ?? process.env;
  const store = options.store ?? storeFromEnv(env);
  // A thread rebuilds the store from its folder or bucket URL; a store it cannot rebuild stages inline.
  const location = store instanceof LocalFolderStore ? store.root : store instanceof S3Store ? store.url : undefined;
  const inThread = (options.stageInThread ?? env.BULKPORT_STAGE_THREAD === '1') && location !== undefined;
  const thread = inThread ? { storeRoot: location, env } : undefined;
  const tracing = workerTracing();
  // Bundled at start, the workflows get the tracing interceptors only where their spans go somewhere.
  const code = workflowCode(options.workflowBundlePath, tracing.interceptors !== undefined);
  limitWorkflowThreads();
  return Worker.create({
    connection: options.connection,
    namespace: options.namespace,
    taskQueue: options.taskQueue,
    ...code,
    interceptors: { ...code.interceptors, ...tracing.interceptors },
    sinks: tracing.sinks,
    activities: createActivities(store, createTargetRegistry(await loadTargets(), env), thread),
    maxConcurrentActivityTaskExecutions: 40,
    // A cancel reaches an activity in a heartbeat's answer: this bounds how late (waiting polls heartbeat this often too).
    maxHeartbeatThrottleInterval: HEARTBEAT_INTERVAL_MS,
    ...options.tuning,
  });
}

/**
 * The process's SDK runtime, installed before any connection: with BULKPORT_METRICS_ADDRESS (host:port) it serves the
 * SDK's metrics and bulkport's own (common/metrics.ts) at http://<address>/metrics for Prometheus. Without it the
 * default runtime comes up on first use and nothing is exported.
 */
export function installRuntime({ env = process.env, logger }: { env?: NodeJS.ProcessEnv; logger?: RuntimeOptions['logger'] } = {}): void {
  const bindAddress = env.BULKPORT_METRICS_ADDRESS;
  if (!bindAddress && !logger) return;
  Runtime.install({
    ...(logger ? { logger } : {}),
    ...(bindAddress ? { telemetryOptions: { metrics: { prometheus: { bindAddress, histogramBucketOverrides: HISTOGRAM_BUCKETS } } } } : {}),
  });
}

export async function connectWorker(config: TemporalConfig): Promise<NativeConnection> {
  const { address, tls, apiKey, metadata } = config;
  return NativeConnection.connect({ address, tls, apiKey, metadata });
}
