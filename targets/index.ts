/**
 * The worker's targets: for each manifest in targets/manifests.ts (the one registry), the `Target` its folder's
 * `index.ts` exports by default. Loaded by name, so a new target adds no line here; a folder that lacks one fails the
 * worker's start, naming the file.
 */
import type { TargetName } from '../common/import';
import { defaultExport } from './folder';
import { manifests } from './manifests';
import type { Target } from './types';

export type Targets = { [T in TargetName]: Target<T> };

/** Every target bulkport can import into, by name. */
export async function loadTargets(): Promise<Targets> {
  const entries = await Promise.all(
    manifests.map(async ({ name }) => {
      const isTarget = (value: unknown) => (value as Target | undefined)?.name === name && typeof (value as Target).connect === 'function';
      // The path stays a template here: bundlers (the runtime-imports test's esbuild) follow it to every target's index.ts.
      return [
        name,
        await defaultExport<Target>(import(`./${name}/index.ts`), `${name}/index.ts`, `Target (name '${name}')`, isTarget),
      ] as const;
    }),
  );
  return Object.fromEntries(entries) as Targets;
}
