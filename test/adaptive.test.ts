/** The adaptive concurrency controller on its own: pure logic, no Temporal, no clock. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AdaptiveLimit, LATENCY_TOLERANCE } from '../workflows/adaptive';

const good = { latencyMsPerProduct: 2, failedAttempts: 0 };
const feed = (c: AdaptiveLimit, n: number, sample = good, ceiling = 32) => {
  for (let i = 0; i < n; i++) c.onChunk(sample, ceiling);
};

/** A simulated target: latency per product grows by `slowdown` for every chunk in flight beyond `capacity`. */
function simulate(capacity: number, slowdown: number, chunks: number, ceiling = 32): number {
  const c = new AdaptiveLimit();
  for (let i = 0; i < chunks; i++) {
    const inFlight = c.limit(ceiling);
    c.onChunk({ latencyMsPerProduct: 2 * (1 + slowdown * Math.max(0, inFlight - capacity)), failedAttempts: 0 }, ceiling);
  }
  return c.limit(ceiling);
}

describe('adaptive concurrency', () => {
  test('grows under steady latency, up to the ceiling and never past it', () => {
    const c = new AdaptiveLimit();
    assert.equal(c.limit(32), 1);
    feed(c, 5);
    assert.equal(c.limit(32), 6, 'slow start: one more per good chunk');
    feed(c, 200, good, 16);
    assert.equal(c.limit(16), 16);
    assert.ok(c.state.limit <= 17, 'the fractional limit stays next to the ceiling, so a raised ceiling is approached again');
  });

  test('halves on a chunk that met 429/5xx, then holds off further decreases for a round trip', () => {
    const c = new AdaptiveLimit({ limit: 16, slowStart: true, cooldown: 0 });
    c.onChunk({ latencyMsPerProduct: 2, failedAttempts: 1 }, 32);
    assert.equal(c.limit(32), 8);
    c.onCongestion(32);
    assert.equal(c.limit(32), 8, 'chunks sent under the old limit answer with the old congestion');
    feed(c, 8, { latencyMsPerProduct: 2, failedAttempts: 1 });
    assert.equal(c.limit(32), 4, 'after the cooldown a new congestion halves again');
    assert.equal(c.state.slowStart, false);
  });

  test('backs off when latency rises past the tolerance over the baseline, and not below it', () => {
    const c = new AdaptiveLimit({ limit: 10, slowStart: false, cooldown: 0 });
    feed(c, 1);
    const before = c.state.limit;
    c.onChunk({ latencyMsPerProduct: 2 * LATENCY_TOLERANCE * 0.99, failedAttempts: 0 }, 32);
    assert.ok(c.state.limit > before, 'within the tolerance it keeps growing');
    feed(c, 10, { latencyMsPerProduct: 2 * LATENCY_TOLERANCE * 1.1, failedAttempts: 0 });
    assert.ok(c.state.limit < before, 'past it, it backs off');
  });

  test('the decrease follows the latency excess: a far overshoot is undone in one step, at most by half', () => {
    const c = new AdaptiveLimit({ limit: 16, baselineMs: 2, recentMs: 12, slowStart: false, cooldown: 0 });
    c.onChunk({ latencyMsPerProduct: 12, failedAttempts: 0 }, 32);
    assert.equal(c.limit(32), 8);
    const slight = 2 * LATENCY_TOLERANCE * 1.05;
    const mild = new AdaptiveLimit({ limit: 20, baselineMs: 2, recentMs: slight, slowStart: false, cooldown: 0 });
    mild.onChunk({ latencyMsPerProduct: slight, failedAttempts: 0 }, 32);
    assert.equal(mild.limit(32), 18, 'a slight excess takes 10 % off');
  });

  test('a lowered ceiling is followed at once, and a decrease starts from it', () => {
    const c = new AdaptiveLimit({ limit: 20, slowStart: false, cooldown: 0 });
    assert.equal(c.limit(4), 4);
    c.onCongestion(4);
    assert.equal(c.limit(32), 2);
  });

  test('never below 1', () => {
    const c = new AdaptiveLimit({ limit: 2, slowStart: false, cooldown: 0 });
    for (let i = 0; i < 50; i++) c.onCongestion(32);
    assert.equal(c.limit(32), 1);
  });

  test('one slow answer among steady ones is noise: the limit keeps growing', () => {
    const c = new AdaptiveLimit({ limit: 10, slowStart: false, cooldown: 0 });
    feed(c, 5);
    const before = c.state.limit;
    c.onChunk({ latencyMsPerProduct: 2 * LATENCY_TOLERANCE * 1.5, failedAttempts: 0 }, 32);
    assert.ok(c.state.limit > before);
  });

  test('settles near the capacity of a target whose latency grows with load: not at the ceiling, not at 1', () => {
    for (const capacity of [4, 8, 12]) {
      const limit = simulate(capacity, 0.5, 2000);
      assert.ok(limit >= capacity - 2 && limit <= capacity + 1, `capacity ${capacity}: settled at ${limit}`);
    }
  });

  test('a state carried through continue-as-new gives the same limit', () => {
    const c = new AdaptiveLimit();
    feed(c, 7);
    const carried = new AdaptiveLimit(JSON.parse(JSON.stringify(c.state)));
    assert.equal(carried.limit(32), c.limit(32));
  });
});
