/**
 * What the workflow, the client and the CLI know of a target: its name, its options (with their CLI help) and the
 * traits the import plans with. Pure zod, no I/O: safe in the workflow bundle. Each target folder has one
 * (`targets/<name>/manifest.ts`), listed in `targets/manifests.ts`.
 */
import type { z } from 'zod';

/** A flag that sets an option to a fixed value, for options whose default is on (`--isolated-quota`: shareQuota false). */
export interface SwitchFlag {
  flag: string;
  sets: unknown;
  help: string;
}

export interface TargetManifest<N extends string = string, S extends z.ZodRawShape = z.ZodRawShape> {
  name: N;
  /** How users know it: "Voucherify". */
  title: string;
  /** Its import options: the common ones (`common/options.ts`) and its own; `.describe()` gives each its CLI help. */
  options: z.ZodObject<S>;
  /** Options set by a switch rather than a flag of their own name. */
  switches?: Partial<Record<keyof S & string, SwitchFlag>>;
  /** Bulk calls are metered by a quota whose headers the first call reads before more are sent. */
  probesQuota: boolean;
  /** Answers are synchronous, so their latency is our load: the window may adapt (`adaptiveConcurrency`). */
  adaptive: boolean;
}

/** Keeps the literal name and the options' exact shape in the manifest's type. */
export function defineManifest<const N extends string, S extends z.ZodRawShape>(m: TargetManifest<N, S>): TargetManifest<N, S> {
  return m;
}
