/** `bulkport import`'s option flags come from the option schemas: every option has one, and a new target's appear. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { z } from 'zod';
import { commonOptions } from '../common/options';
import type { TargetName } from '../common/import';
import { buildFlags, optionFlags, optionsFromFlags } from '../client/commands/target-flags';
import { defineManifest, type TargetManifest } from '../targets/manifest';
import { manifests } from '../targets/manifests';

const flagNamed = (long: string, flags = optionFlags) => flags.find((f) => f.option.long === long);

describe('option flags made from the schemas', () => {
  test("every option of every target has a flag, a nested object's fields each their own", () => {
    for (const m of manifests as readonly TargetManifest[]) {
      for (const [key, schema] of Object.entries(m.options.shape)) {
        const inner = (schema as unknown as { def: { innerType?: { shape?: object } } }).def.innerType?.shape;
        const paths = inner ? Object.keys(inner).map((k) => `${key}.${k}`) : [key];
        for (const path of paths) {
          const flag = optionFlags.find((f) => f.path.join('.') === path && f.targets.includes(m.name as TargetName));
          assert.ok(flag, `${m.name}: ${path} has a flag`);
        }
      }
    }
  });

  test('flags become options: nested paths, switches, and defaults left to the schema', () => {
    const options = optionsFromFlags('propeller', { concurrency: 3, chunkSize: 200, skipIfNotEmpty: ['name'], fixedConcurrency: true });
    assert.deepEqual(options, { concurrency: 3, chunkSize: 200, directives: { skipIfNotEmpty: ['name'] }, adaptiveConcurrency: false });
    assert.deepEqual(optionsFromFlags('voucherify', { isolatedQuota: true }), { shareQuota: false });
    assert.deepEqual(optionsFromFlags('voucherify', {}), {});
  });

  test('a flag of another target is an error that names the target it belongs to', () => {
    assert.throws(
      () => optionsFromFlags('voucherify', { chunkSize: 10 }),
      /--chunk-size applies to --target propeller only: drop it, or use --target propeller/,
    );
    assert.throws(() => optionsFromFlags('propeller', { isolatedQuota: true }), /--isolated-quota applies to --target voucherify only/);
  });

  test("help says whose a flag is, and each target's default where it differs from the common one", () => {
    assert.match(flagNamed('--concurrency')!.option.description, /\(default 4; Propeller: 16\)$/);
    assert.match(flagNamed('--chunk-bytes')!.option.description, /^Voucherify: .*\(default 10,000,000\)$/);
    assert.deepEqual(flagNamed('--lookup-key')!.option.argChoices, ['sourceId', 'id']);
  });

  test('a new target brings its own flags, and shares the common ones, with nothing restated', () => {
    const acme = defineManifest({
      name: 'acme',
      title: 'Acme',
      options: z.object({
        ...commonOptions,
        batchSize: z.number().int().default(50).describe('items per batch'),
        adaptiveConcurrency: z.boolean().default(true),
      }),
      // The same switch as Propeller's: one flag, taken by both (commander refuses a flag twice).
      switches: { adaptiveConcurrency: { flag: 'fixed-concurrency', sets: false, help: 'keep the window fixed' } },
      probesQuota: false,
      adaptive: true,
    });
    const flags = buildFlags([...(manifests as readonly TargetManifest[]), acme]);
    assert.equal(flagNamed('--batch-size', flags)?.option.description, 'Acme: items per batch (default 50)');
    assert.ok(flagNamed('--retry-rounds', flags)?.targets.includes('acme' as TargetName));
    assert.deepEqual(optionsFromFlags('acme' as TargetName, { batchSize: 10, retryRounds: 1 }, flags), { batchSize: 10, retryRounds: 1 });
    const longs = flags.map((f) => f.option.long);
    assert.deepEqual(longs.length, new Set(longs).size, 'no flag twice');
    assert.deepEqual(flagNamed('--fixed-concurrency', flags)?.targets, ['propeller', 'acme']);
  });
});
