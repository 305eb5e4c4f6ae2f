/**
 * `npm run worker`: runs the import task queue until SIGINT/SIGTERM, then finishes the
 * activities in hand and exits (the SDK's graceful shutdown).
 */
import { temporalConfigFromEnv } from '../common/temporal-config';
import { shutdownTracing } from '../common/tracing';
import { connectWorker, createImportWorker, installRuntime } from './worker';

installRuntime();
const config = temporalConfigFromEnv();
const connection = await connectWorker(config);
const worker = await createImportWorker({
  connection,
  namespace: config.namespace,
  taskQueue: config.taskQueue,
  workflowBundlePath: process.env.BULKPORT_WORKFLOW_BUNDLE,
});
const metrics = process.env.BULKPORT_METRICS_ADDRESS ? `, metrics at http://${process.env.BULKPORT_METRICS_ADDRESS}/metrics` : '';
console.error(`bulkport worker on ${config.address}, namespace ${config.namespace}, task queue ${config.taskQueue}${metrics}`);
try {
  await worker.run(); // the SDK shuts down gracefully on SIGINT/SIGTERM
} finally {
  await connection.close();
  await shutdownTracing();
}
