/**
 * What the demo, the tests and the benchmarks need of each target (never the worker: the runtime-imports test holds it
 * to that): products to generate, the options a quick local run uses, and its simulator. Each target's folder
 * exports one from `dev.ts` by default, loaded by the target's name: a new target adds no line here.
 */
import type { CatalogOptions } from '../scripts/catalog';
import type { SandboxHandle } from '../sandbox';
import { defaultExport } from './folder';
import type { TargetName } from './manifests';

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

const loaded = new Map<string, Promise<DevTarget>>();

/** The target's dev module (targets/<name>/dev.ts, its default export), loaded once. */
export function devTarget(name: TargetName): Promise<DevTarget> {
  let dev = loaded.get(name);
  if (!dev) {
    const isDev = (value: unknown) => typeof (value as DevTarget | undefined)?.record === 'function';
    dev = defaultExport<DevTarget>(import(`./${name}/dev.ts`), `${name}/dev.ts`, 'DevTarget', isDev);
    loaded.set(name, dev);
  }
  return dev;
}
