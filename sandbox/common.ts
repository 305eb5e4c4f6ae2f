import { FaultInjector, type FaultOptions } from './faults';
import { startHttpSandbox, type TargetHooks } from './http';
import { StatsRecorder, type SandboxStats } from './stats';

export interface CommonSandboxOptions {
  /** Interface to listen on; loopback by default. */
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Drives every injected fault; the same seed gives the same faults. */
  seed: number;
  faults: Partial<FaultOptions>;
  /** No per-request log lines on stderr. */
  quiet: boolean;
}

export const commonDefaults: CommonSandboxOptions = { host: '127.0.0.1', port: 0, seed: 1, faults: {}, quiet: true };

export interface SandboxHandle {
  /** Base URL, without a trailing slash and without an API version segment. */
  url: string;
  /** Environment variables a worker would use to reach this sandbox. */
  env: Record<string, string>;
  stats(): SandboxStats;
  resetStats(): void;
  /** Replaces the fault profile; what is not given is switched off. */
  setFaults(faults: Partial<FaultOptions>): void;
  productCount(): number;
  close(): Promise<void>;
}

/** What a target gets to build its routes with before the server starts. */
export interface TargetCore {
  stats: StatsRecorder;
  faults: FaultInjector;
  /** The base URL; valid once the server listens. */
  baseUrl(): string;
}

/** Starts a target's server on the shared HTTP layer and wraps it in the common handle. */
export async function launchTarget(
  name: string,
  options: CommonSandboxOptions,
  buildHooks: (core: TargetCore) => TargetHooks,
): Promise<{ handle: Omit<SandboxHandle, 'env'>; core: TargetCore }> {
  const stats = new StatsRecorder();
  const faults = new FaultInjector(options.seed, options.faults, stats);
  let url = '';
  const core: TargetCore = { stats, faults, baseUrl: () => url };
  const hooks = buildHooks(core);
  const server = await startHttpSandbox({ name, host: options.host, port: options.port, quiet: options.quiet, stats, faults, hooks });
  url = server.url;
  return {
    core,
    handle: {
      url,
      stats: () => stats.snapshot(hooks.productsStored()),
      resetStats: () => stats.reset(),
      setFaults: (next) => faults.set(next),
      productCount: () => hooks.productsStored(),
      close: () => server.close(),
    },
  };
}

/** What a caller may pass: any option, and any part of a nested option object. */
export type SandboxOptionsInput<T> = { [K in keyof T]?: T[K] extends object ? Partial<T[K]> : T[K] };

/** Merges given options over defaults, one level deep for nested option objects. */
export function resolveOptions<T extends object>(defaults: T, given: SandboxOptionsInput<T> | undefined): T {
  const merged = { ...defaults } as Record<string, unknown>;
  for (const [key, value] of Object.entries(given ?? {})) {
    if (value === undefined) continue;
    const base = merged[key];
    const bothObjects = typeof base === 'object' && base !== null && typeof value === 'object' && value !== null;
    merged[key] = bothObjects ? { ...base, ...value } : value;
  }
  return merged as T;
}
