/**
 * `npm run worker`: runs the import task queue until SIGINT/SIGTERM, then finishes the
 * activities in hand and exits (the SDK's graceful shutdown).
 */
import { temporalConfigFromEnv } from '../common/temporal-config';
import { connectWorker, createImportWorker } from './worker';

const config = temporalConfigFromEnv();
const connection = await connectWorker(config);
const worker = await createImportWorker({
  connection,
  namespace: config.namespace,
  taskQueue: config.taskQueue,
  workflowBundlePath: process.env.BULKPORT_WORKFLOW_BUNDLE,
});
console.error(`bulkport worker on ${config.address}, namespace ${config.namespace}, task queue ${config.taskQueue}`);
try {
  await worker.run(); // the SDK shuts down gracefully on SIGINT/SIGTERM
} finally {
  await connection.close();
}
