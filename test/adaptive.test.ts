/** The adaptive concurrency controller on its own: pure logic, no Temporal, no clock. */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { AdaptiveLimit, LATENCY_TOLERANCE, type Send } from '../workflows/adaptive';

const good = { latencyMsPerProduct: 2, failedAttempts: 0 };
const feed = (c: AdaptiveLimit, n: number, sample = good, ceiling = 32) => {
  for (let i = 0; i < n; i++) c.onChunk(sample, ceiling);
};

/**
 * A simulated target, in simulated time: a chunk's latency per product grows by `slowdown` for every chunk in flight
 * beyond `capacity` when it is sent, and answers come back in the order they finish, so answers to chunks sent under an
 * old limit arrive after the limit changed, as they do for real. Returns the limits in effect, one per send.
 */
function simulate(capacity: number, slowdown: number, chunks: number, ceiling = 32): number[] {
  const c = new AdaptiveLimit();
  const inFlight: { done: number; latency: number; sent: Send }[] = [];
  const limits: number[] = [];
  let now = 0;
  for (let started = 0; started < chunks || inFlight.length > 0; ) {
    while (started < chunks && inFlight.length < c.limit(ceiling)) {
      const latency = 2 * (1 + slowdown * Math.max(0, inFlight.length + 1 - capacity));
      const sent = c.send(ceiling);
      limits.push(sent.limit);
      inFlight.push({ done: now + latency, latency, sent });
      started++;
    }
    inFlight.sort((a, b) => a.done - b.done);
    const answer = inFlight.shift()!;
    now = answer.done;
    c.onChunk({ latencyMsPerProduct: answer.latency, failedAttempts: 0 }, ceiling, answer.sent);
  }
  return limits;
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

  test('halves on a chunk that met 429/5xx; answers to chunks sent before that are not heeded, later ones are', () => {
    const c = new AdaptiveLimit({ limit: 16, slowStart: true });
    const before = Array.from({ length: 16 }, () => c.send(32));
    c.onChunk({ latencyMsPerProduct: 2, failedAttempts: 1 }, 32, before[0]);
    assert.equal(c.limit(32), 8);
    for (const sent of before.slice(1)) c.onChunk({ latencyMsPerProduct: 2, failedAttempts: 1 }, 32, sent);
    c.onCongestion(32, before[15]);
    assert.equal(c.limit(32), 8, 'chunks sent under the old limit answer with the old congestion');
    c.onChunk({ latencyMsPerProduct: 2, failedAttempts: 1 }, 32, c.send(32));
    assert.equal(c.limit(32), 4, 'a chunk sent after the decrease that meets congestion halves again');
    assert.equal(c.state.slowStart, false);
  });

  test('a decrease starts from the limit the congested chunk was sent under, not from what slow start grew to since', () => {
    const c = new AdaptiveLimit({ limit: 8, baselineMs: 2, slowStart: true });
    const sent = c.send(32);
    c.state.limit = 18;
    c.onChunk({ latencyMsPerProduct: 2, failedAttempts: 1 }, 32, sent);
    assert.equal(c.limit(32), 4);
  });

  test('backs off when latency rises past the tolerance over the baseline, and not below it', () => {
    const c = new AdaptiveLimit({ limit: 10, slowStart: false });
    feed(c, 1);
    const before = c.state.limit;
    c.onChunk({ latencyMsPerProduct: 2 * LATENCY_TOLERANCE * 0.99, failedAttempts: 0 }, 32);
    assert.ok(c.state.limit > before, 'within the tolerance it keeps growing');
    feed(c, 10, { latencyMsPerProduct: 2 * LATENCY_TOLERANCE * 1.1, failedAttempts: 0 });
    assert.ok(c.state.limit < before, 'past it, it backs off');
  });

  test('the decrease follows the latency excess: a far overshoot is undone in one step, at most by half', () => {
    const c = new AdaptiveLimit({ limit: 16, baselineMs: 2, recentMs: 12, slowStart: false });
    c.onChunk({ latencyMsPerProduct: 12, failedAttempts: 0 }, 32);
    assert.equal(c.limit(32), 8);
    const slight = 2 * LATENCY_TOLERANCE * 1.05;
    const mild = new AdaptiveLimit({ limit: 20, baselineMs: 2, recentMs: slight, slowStart: false });
    mild.onChunk({ latencyMsPerProduct: slight, failedAttempts: 0 }, 32);
    assert.equal(mild.limit(32), 18, 'a slight excess takes 10 % off');
  });

  test('a lowered ceiling is followed at once, and a decrease starts from it', () => {
    const c = new AdaptiveLimit({ limit: 20, slowStart: false });
    assert.equal(c.limit(4), 4);
    c.onCongestion(4);
    assert.equal(c.limit(32), 2);
  });

  test('never below 1', () => {
    const c = new AdaptiveLimit({ limit: 2, slowStart: false });
    for (let i = 0; i < 50; i++) c.onCongestion(32);
    assert.equal(c.limit(32), 1);
  });

  test('one slow answer among steady ones is noise: the limit keeps growing', () => {
    const c = new AdaptiveLimit({ limit: 10, slowStart: false });
    feed(c, 5);
    const before = c.state.limit;
    c.onChunk({ latencyMsPerProduct: 2 * LATENCY_TOLERANCE * 1.5, failedAttempts: 0 }, 32);
    assert.ok(c.state.limit > before);
  });

  test('settles near the capacity of a target whose latency grows with load: not at the ceiling, not at 1', () => {
    for (const capacity of [4, 8, 12]) {
      const limits = simulate(capacity, 0.5, 2000);
      const late = limits.slice(limits.length / 2);
      const mean = late.reduce((a, b) => a + b, 0) / late.length;
      assert.ok(mean >= capacity - 1.5 && mean <= capacity + 1.5, `capacity ${capacity}: mean limit ${mean.toFixed(1)} late on`);
      assert.ok(Math.min(...limits.slice(100)) >= capacity / 2, `capacity ${capacity}: after the search it never fell below half`);
    }
  });

  test('a state carried through continue-as-new gives the same limit', () => {
    const c = new AdaptiveLimit();
    feed(c, 7);
    const carried = new AdaptiveLimit(JSON.parse(JSON.stringify(c.state)));
    assert.equal(carried.limit(32), c.limit(32));
  });
});
