/**
 * Span and trace ids for the tracing interceptors inside workflows, replacing OpenTelemetry's RandomIdGenerator in the
 * workflow bundle (workers/worker.ts). That one draws on Math.random, which in a workflow is the seeded generator that
 * `uuid4()` also draws on: adding tracing to the bundle shifted every later uuid4 of a running import, and an account
 * permit's request id (workflows/permits.ts) no longer matched the grant in its history. These ids come from the run id
 * and a counter instead; they are only ever written into headers, which replay does not compare.
 */
import { workflowInfo } from '@temporalio/workflow';
import { cyrb64 } from '../activities/staging/keyset';

let issued = 0;
const words = new Uint32Array(2);

function idOf(bytes: number): string {
  const seed = `${workflowInfo().runId}:${++issued}`;
  let hex = '';
  // 64 bits a hash: the key set's (pure, no imports), over the run id, the counter and the part.
  for (let i = 0; i < bytes / 8; i++) {
    cyrb64(`${seed}:${i}`, words);
    hex += words[0]!.toString(16).padStart(8, '0') + words[1]!.toString(16).padStart(8, '0');
  }
  // An all-zero id is invalid in OpenTelemetry.
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}

export class RandomIdGenerator {
  generateTraceId = (): string => idOf(16);
  generateSpanId = (): string => idOf(8);
}
