/**
 * The staging thread's entry (stage-thread-client.ts starts it): stages one import with its own staging store and
 * target registry, and reports to the activity in messages.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadTargets } from '../targets';
import { createStage, type StageContext } from './stage';
import type { StageThreadData, ThreadMessage } from './stage-thread-client';
import { toThreadError } from './stage-thread-client';
import { storeAt } from './staging/store';
import { createTargetRegistry } from './targets';

const data = workerData as StageThreadData;
const post = (message: ThreadMessage) => parentPort?.postMessage(message);
const ctx: StageContext = {
  attempt: data.attempt,
  heartbeatDetails: data.heartbeatDetails,
  ...(data.workflowExecution ? { workflowExecution: data.workflowExecution } : {}),
  // A cancel terminates the thread: nothing here is waited for.
  signal: new AbortController().signal,
  heartbeat: (details) => post({ type: 'heartbeat', details }),
  log: (level, message, attrs) => post({ type: 'log', level, message, ...(attrs ? { attrs } : {}) }),
};

try {
  const stage = createStage(storeAt(data.storeRoot), createTargetRegistry(await loadTargets(), data.env));
  post({ type: 'done', result: await stage(data.input, ctx) });
} catch (err) {
  post({ type: 'failed', error: toThreadError(err) });
}
