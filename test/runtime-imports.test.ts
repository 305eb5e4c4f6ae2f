/**
 * Dev tooling stays apart from what ships: the worker's runtime (its entry, and the workflow code it bundles) reaches
 * none of the sandbox, the targets' dev modules, the scripts, the benchmarks, the tests or @temporalio/testing. Read from esbuild's metafile of
 * each entry's static import graph, so a new import anywhere along it is caught.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { build } from 'esbuild';

const DEV_ONLY = [/^sandbox\//, /^scripts\//, /^bench\//, /^test\//, /^targets\/(.+\/)?dev\.ts$/, /@temporalio\/testing/];

async function importGraph(entry: string): Promise<string[]> {
  // Packages stay external, but their import paths still show in the metafile's imports.
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'node',
    format: 'esm',
    write: false,
    metafile: true,
    packages: 'external',
    logLevel: 'silent',
  });
  const inputs = result.metafile.inputs;
  return [...Object.keys(inputs), ...Object.values(inputs).flatMap((input) => input.imports.map((i) => i.path))];
}

for (const entry of ['workers/main.ts', 'workflows/index.ts']) {
  test(`${entry} reaches no dev tooling`, async () => {
    const graph = await importGraph(entry);
    assert.ok(graph.includes(entry), `the graph holds the entry itself: ${graph.slice(0, 5).join(', ')}`);
    const reached = graph.filter((file) => DEV_ONLY.some((pattern) => pattern.test(file)));
    assert.deepEqual([...new Set(reached)], [], `${entry} imports dev tooling`);
  });
}

test('@temporalio/testing is a dev dependency only', () => {
  const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as {
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  assert.equal(pkg.dependencies['@temporalio/testing'], undefined);
  assert.ok(pkg.devDependencies['@temporalio/testing']);
});
