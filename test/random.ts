/**
 * Seeded randomness for tests that draw many cases: the same cases on every run, so that a failure can be replayed.
 *
 * MINSTD (Park and Miller): the state times 48,271 stays below 2^53, so every step is exact in a double. The classic
 * `x * 1103515245 + 12345` is not: its products reach 2^61, the low bits are lost, and `x % 6` came out even 99.6 % of
 * the time, so a test drawing characters by index never drew half of them.
 */
export function seededRandom(seed: number): { int(n: number): number; unit(): number } {
  let state = seed % 2_147_483_647 || 1;
  const next = () => {
    state = (state * 48_271) % 2_147_483_647;
    return state;
  };
  return {
    /** An integer in [0, n). */
    int: (n) => next() % n,
    /** A number in [0, 1). */
    unit: () => (next() - 1) / 2_147_483_646,
  };
}
