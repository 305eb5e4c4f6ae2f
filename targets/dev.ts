/**
 * What the demo, the tests and the benchmarks need of each target (never the worker: the runtime-imports test holds it
 * to that): products to generate, the options a quick local run uses, and its simulator.
 */
import type { CatalogOptions } from '../scripts/catalog';
import type { SandboxHandle } from '../sandbox';
import type { TargetName } from './manifests';
import { propellerDev } from './propeller/dev';
import { voucherifyDev } from './voucherify/dev';

export interface DevTarget {
  /** Product i of a generated catalog, deterministic; every `invalidEvery`-th one is invalid for the target's schema. */
  record(i: number, o: CatalogOptions): Record<string, unknown>;
  /** Options for the demo against the local sandbox. */
  demoOptions: Record<string, unknown>;
  /** Options for bench/import.ts; `chunk` is its chunk-size argument (bytes or products, as the target counts). */
  benchOptions(chunk?: number): Record<string, unknown>;
  /** Starts its local simulator (sandbox/), whose `env` points a worker at it; options as the simulator takes them. */
  startSandbox(options: Record<string, unknown>): Promise<SandboxHandle>;
}

export const devTargets: { [T in TargetName]: DevTarget } = { voucherify: voucherifyDev, propeller: propellerDev };
