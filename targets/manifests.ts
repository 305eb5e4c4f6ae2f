/**
 * The one registry of targets: every target bulkport knows, as the workflow and the CLI see it (pure, safe in the
 * workflow bundle). A new target adds its manifest here; `TargetName` follows, and the worker (targets/index.ts) and
 * the tools (targets/dev.ts) load the rest of its folder by its name.
 */
import { propellerManifest } from './propeller/manifest';
import { voucherifyManifest } from './voucherify/manifest';

export const manifests = [voucherifyManifest, propellerManifest] as const;

export type Manifests = typeof manifests;
export type TargetName = Manifests[number]['name'];

export function manifestOf(name: string): Manifests[number] {
  const manifest = manifests.find((m) => m.name === name);
  if (!manifest) throw new Error(`bulkport has no target named ${name}; known targets: ${manifests.map((m) => m.name).join(', ')}`);
  return manifest;
}
