/**
 * Targets as the activities see them: bound to one import's options, and connected once per
 * worker process (so an OAuth token is shared by every activity of the process).
 */
import type { ImportInput, TargetName } from '../common/import';
import type { Targets } from '../targets';
import type { ChunkLimits, SendPlan, SubmitContext, Target, TargetApi } from '../targets/types';

export interface BoundTarget {
  name: TargetName;
  productSchema: Target['productSchema'];
  fromCsvRow(row: Record<string, string>): unknown;
  keyOf(product: unknown): string;
  csvKeyColumns: { columns: string[]; example: string };
  limits: ChunkLimits;
  envelopeBytes: number;
  /** Product requests a chunk with these keys takes, where that is not always one. */
  requestsFor?: (keys: string[]) => number;
  /** A dry run's plan, with the worker's rate caps. */
  planSend(staged: { chunks: number; requests: number }): SendPlan;
  /** Whose delta ledger this import reads and writes: the target, its account and the request shape (no secret). */
  deltaScope(): string;
}

export interface TargetRegistry {
  bind(input: ImportInput): BoundTarget;
  api(name: TargetName): TargetApi;
  /** The context a target's API calls need, for this import. */
  context(input: ImportInput, extra?: Omit<SubmitContext, 'options'>): SubmitContext;
}

export function createTargetRegistry(targets: Targets, env: NodeJS.ProcessEnv = process.env): TargetRegistry {
  const connected = new Map<TargetName, TargetApi>();
  const targetNamed = (name: TargetName): Target => {
    const target = targets[name] as Target | undefined;
    if (!target) throw new Error(`bulkport has no target named ${name}; known targets: ${Object.keys(targets).join(', ')}`);
    return target;
  };
  function apiOf(name: TargetName): TargetApi {
    let api = connected.get(name);
    if (!api) {
      api = targetNamed(name).connect(env) as TargetApi;
      connected.set(name, api);
    }
    return api;
  }
  return {
    bind(input) {
      // The discriminated union pairs each target with its own options; TypeScript can't follow that through a lookup.
      const target = targetNamed(input.target) as Target & {
        keyOf(p: unknown, o: unknown): string;
        csvKeyColumns(o: unknown): BoundTarget['csvKeyColumns'];
        limits(o: unknown): ChunkLimits;
        envelopeBytes(o: unknown): number;
        requestsFor?(keys: string[], o: unknown): number;
        planSend(staged: { chunks: number; requests: number }, o: unknown, env: NodeJS.ProcessEnv): SendPlan;
        requestShape?(o: unknown): string;
      };
      const { requestsFor } = target;
      return {
        name: target.name,
        productSchema: target.productSchema,
        fromCsvRow: target.fromCsvRow,
        keyOf: (product) => target.keyOf(product, input.options),
        csvKeyColumns: target.csvKeyColumns(input.options),
        limits: target.limits(input.options),
        envelopeBytes: target.envelopeBytes(input.options),
        ...(requestsFor ? { requestsFor: (keys: string[]) => requestsFor(keys, input.options) } : {}),
        planSend: (staged) => target.planSend(staged, input.options, env),
        deltaScope: () => [target.name, apiOf(target.name).account ?? '', target.requestShape?.(input.options) ?? ''].join('\n'),
      };
    },
    api: apiOf,
    context(input, extra = {}) {
      return { ...extra, options: input.options } as SubmitContext;
    },
  };
}
