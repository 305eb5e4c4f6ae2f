/**
 * Span and trace ids for the tracing interceptors inside workflows, replacing OpenTelemetry's RandomIdGenerator in the
 * workflow bundle (workers/worker.ts). That one draws on Math.random, which in a workflow is the seeded generator that
 * `uuid4()` also draws on: adding tracing to the bundle shifted every later uuid4 of a running import, and an account
 * permit's request id (workflows/permits.ts) no longer matched the grant in its history. These ids come from the run id
 * and a counter instead; they are only ever written into headers, which replay does not compare.
 */
import { workflowInfo } from '@temporalio/workflow';

let issued = 0;

/** 32 bits of cyrb53's mixing over the text, seeded. */
function mix(text: string, seed: number): number {
  let h1 = 0xdeadbeef ^ seed;
  let h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ ch, 2654435761);
    h2 = Math.imul(h2 ^ ch, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507) ^ Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  return h1 >>> 0;
}

function idOf(bytes: number): string {
  const seed = `${workflowInfo().runId}:${++issued}`;
  let hex = '';
  for (let i = 0; i < bytes / 4; i++) hex += mix(seed, i).toString(16).padStart(8, '0');
  // An all-zero id is invalid in OpenTelemetry.
  return /^0+$/.test(hex) ? `${hex.slice(0, -1)}1` : hex;
}

export class RandomIdGenerator {
  generateTraceId = (): string => idOf(16);
  generateSpanId = (): string => idOf(8);
}
