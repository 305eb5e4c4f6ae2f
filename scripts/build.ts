/**
 * `npm run build`: the worker as it should run in production, in `dist/`:
 * - `dist/worker.js`: workers/main.ts compiled to one ES module (packages stay in node_modules);
 * - `dist/stage-thread.js`: the staging thread's entry (BULKPORT_STAGE_THREAD=1), which the worker starts beside itself;
 * - `dist/workflow-bundle.js` and `dist/workflow-bundle-untraced.js`: the workflow bundle (bundleWorkflows) with the
 *   tracing interceptors and without them; dist/worker.js runs the first where tracing is on, else the second, unless
 *   BULKPORT_WORKFLOW_BUNDLE names another.
 * No TypeScript is compiled at run time and no workflow is bundled at start: an idle worker holds about half the
 * memory it does under `npm run worker` (bench/README.md, "The worker's memory").
 */
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE_FILES, bundleWorkflows } from '../workers/worker';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
export const distDir = path.join(root, 'dist');

export async function buildDist(outDir = distDir): Promise<void> {
  await rm(outDir, { recursive: true, force: true });
  await mkdir(outDir, { recursive: true });
  await build({
    entryPoints: { worker: path.join(root, 'workers/main.ts'), 'stage-thread': path.join(root, 'activities/stage-thread.ts') },
    outdir: outDir,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'linked',
    logLevel: 'warning',
  });
  for (const traced of [true, false]) {
    const file = traced ? BUNDLE_FILES.traced : BUNDLE_FILES.untraced;
    await writeFile(path.join(outDir, file), await bundleWorkflows(undefined, { traced }));
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await buildDist();
  console.error(`Built ${path.relative(process.cwd(), distDir) || '.'}/worker.js, stage-thread.js and the workflow bundles`);
}
