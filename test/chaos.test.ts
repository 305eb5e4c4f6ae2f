/**
 * The chaos script's small variant (the full one is `npm run chaos`, written up in bench/README.md): 5,000 products
 * through 3 worker SIGKILLs, 1 restart of its own persistent dev server and a hostile sandbox, then a second import
 * with damaged chunk files. It starts its own server on another port, so it does not use the run's server.
 */
import { after, before, describe, test } from 'node:test';
import { rm } from 'node:fs/promises';
import assert from 'node:assert/strict';
import { runChaos, type ChaosResult, type Check } from '../scripts/chaos';

const small = {
  products: 5000,
  kills: 3,
  serverRestarts: 1,
  target: 'voucherify' as const,
  seed: 3,
  damage: true,
  damageProducts: 1000,
  timeoutMinutes: 12,
};

describe('chaos (small variant)', { timeout: 15 * 60_000 }, () => {
  let result: ChaosResult;
  before(async () => {
    result = await runChaos(small);
    for (const c of result.checks) console.error(`${c.ok ? 'PASS' : 'FAIL'}  [${c.phase}] ${c.name}: ${c.detail.slice(0, 300)}`);
  });

  // Logs, database and catalogs stay for a look when a check failed.
  after(async () => {
    if (result?.ok) await rm(result.workDir, { recursive: true, force: true });
  });

  const failures = (phase: Check['phase']) =>
    result.checks
      .filter((c) => c.phase === phase && !c.ok)
      .map((c) => `${c.name}: ${c.detail}`)
      .join('\n');

  test('kills, a server restart and a hostile target: one true row per line, the target holds exactly what succeeded', () => {
    const main = result.checks.filter((c) => c.phase === 'main');
    // Every check the script makes (8), so a check that silently disappeared would show.
    assert.equal(main.length, 8, `the main phase made ${main.length} checks:\n${main.map((c) => c.name).join('\n')}`);
    assert.equal(failures('main'), '');
    assert.equal(result.numbers.kills, small.kills);
    assert.equal(result.numbers.serverRestarts, small.serverRestarts);
  });

  test('damaged chunk files fail the import, naming each chunk, with a true report of what is known', () => {
    const damage = result.checks.filter((c) => c.phase === 'damage');
    assert.ok(damage.length >= 3, `the damage phase made ${damage.length} checks`);
    assert.equal(failures('damage'), '');
  });
});
