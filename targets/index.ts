/**
 * The worker's targets: for each manifest in targets/manifests.ts (the one registry), the `Target` its folder's
 * `index.ts` exports by default. Loaded by name, so a new target adds no line here; a folder that lacks one fails the
 * worker's start, naming the file.
 */
import type { TargetName } from '../common/import';
import { manifests } from './manifests';
import type { Target } from './types';

export type Targets = { [T in TargetName]: Target<T> };

const isTarget = (value: unknown, name: string): value is Target =>
  typeof value === 'object' && value !== null && (value as Target).name === name && typeof (value as Target).connect === 'function';

/** Every target bulkport can import into, by name. */
export async function loadTargets(): Promise<Targets> {
  const entries = await Promise.all(
    manifests.map(async ({ name }) => {
      const module = (await import(`./${name}/index.ts`)) as { default?: unknown };
      if (!isTarget(module.default, name)) {
        throw new Error(`targets/${name}/index.ts must export its Target (name '${name}') as default: see "Adding a target" in the README`);
      }
      return [name, module.default] as const;
    }),
  );
  return Object.fromEntries(entries) as Targets;
}
