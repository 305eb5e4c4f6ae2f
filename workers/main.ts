/**
 * `npm run worker`: runs the import task queue until SIGINT/SIGTERM, then finishes the
 * activities in hand and exits (the SDK's graceful shutdown).
 */
import { temporalConfigFromEnv } from '../common/temporal-config';
import { shutdownTracing, tracesExporterOf } from '../common/tracing';
import { S3Store } from '../activities/staging/s3-store';
import { storeFromEnv } from '../activities/staging/store';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { BUNDLE_FILES, connectWorker, createImportWorker, installRuntime } from './worker';

/**
 * The compiled worker (`npm run build`: dist/worker.js) runs a workflow bundle built beside it: the one without the
 * tracing interceptors unless tracing is on (a dist/ built before there were two has only the traced one). Sources
 * bundle at start.
 */
function prebuiltBundle(): string | undefined {
  if (process.env.BULKPORT_WORKFLOW_BUNDLE) return process.env.BULKPORT_WORKFLOW_BUNDLE;
  if (import.meta.url.endsWith('.ts')) return undefined;
  const beside = (file: string) => fileURLToPath(new URL(`./${file}`, import.meta.url));
  const traced = tracesExporterOf(process.env) !== undefined;
  return [...(traced ? [] : [beside(BUNDLE_FILES.untraced)]), beside(BUNDLE_FILES.traced)].find((file) => existsSync(file));
}

installRuntime();
const config = temporalConfigFromEnv();
const store = storeFromEnv();
// A bucket that cannot be used stops the worker at once, naming the variable to fix, rather than failing every import.
if (store instanceof S3Store) {
  try {
    await store.check();
  } catch (err) {
    console.error(`bulkport worker: ${(err as Error).message}`);
    process.exit(1);
  }
}
const bundle = prebuiltBundle();
const connection = await connectWorker(config);
const worker = await createImportWorker({
  store,
  connection,
  namespace: config.namespace,
  taskQueue: config.taskQueue,
  workflowBundlePath: bundle,
});
const metrics = process.env.BULKPORT_METRICS_ADDRESS ? `, metrics at http://${process.env.BULKPORT_METRICS_ADDRESS}/metrics` : '';
console.error(
  `bulkport worker on ${config.address}, namespace ${config.namespace}, task queue ${config.taskQueue}, staging in ${store instanceof S3Store ? store.url : store.root}, workflows ${bundle ? `from ${bundle}` : 'bundled at start'}${metrics}`,
);
try {
  await worker.run(); // the SDK shuts down gracefully on SIGINT/SIGTERM
} finally {
  await connection.close();
  await shutdownTracing();
}
