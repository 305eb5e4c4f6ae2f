/**
 * Pacing as pure logic: retry delays (floor, jitter, backoff), the request limiter, and the poll schedule's bound.
 * The same behaviours against the sandbox are in pace-import.test.ts.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RETRY_BACKOFF, RETRY_FLOOR_MS, retryDelay } from '../targets/http';
import { RequestLimiter } from '../targets/limiter';
import { ActionPace, firstPollDelay, formatDuration, nextPollDelay, POLL_GROWTH } from '../activities/poll-schedule';
import { seededRandom } from './random';

const seeded = (seed: number) => seededRandom(seed).unit;

test('no retry delay is below the floor, and delays are jittered', () => {
  const random = seeded(7);
  for (const server of [undefined, 0, -0, 100, 499]) {
    for (const rateLimited of [false, true]) {
      const delays = Array.from({ length: 200 }, () => retryDelay({ attempt: 1, serverDelayMs: server, rateLimited, random }));
      assert.ok(Math.min(...delays) >= RETRY_FLOOR_MS, `server ${server}, 429 ${rateLimited}: ${Math.min(...delays)}`);
      assert.ok(new Set(delays).size > 20, `jittered: ${new Set(delays).size} distinct delays of 200`);
    }
  }
  // The extremes of the generator: still at least the floor.
  assert.ok(retryDelay({ attempt: 1, serverDelayMs: 0, random: () => 0 }) >= RETRY_FLOOR_MS);
  assert.ok(retryDelay({ attempt: 1, serverDelayMs: 0, rateLimited: true, random: () => 0 }) >= RETRY_FLOOR_MS);
});

test('a server error backs off with the attempt even when the server says "now"; a 429 waits for its window', () => {
  const low = () => 0;
  const delays = [1, 2, 3, 4, 5, 6, 7, 8, 9].map((attempt) => retryDelay({ attempt, serverDelayMs: 0, random: low }));
  for (let i = 1; i < delays.length; i++) assert.ok(delays[i]! >= delays[i - 1]!, `grows: ${delays}`);
  assert.ok(delays[6]! >= 30_000, `the 7th attempt waits half a minute or more: ${delays}`);
  assert.ok(
    delays.every((d) => d <= RETRY_BACKOFF.maxMs * 1.1),
    `capped: ${delays}`,
  );
  // A later server delay wins over the backoff; a 429's window is kept to the second (+ ≤ 250 ms jitter).
  assert.ok(retryDelay({ attempt: 1, serverDelayMs: 20_000, random: low }) >= 20_000);
  const quota = retryDelay({ attempt: 8, serverDelayMs: 3000, rateLimited: true, random: () => 0.999 });
  assert.ok(quota >= 3000 && quota <= 3250, `${quota}`);
});

test('the limiter lets a burst through, then one request per 1/rate, in arrival order', async () => {
  let now = 0;
  const limiter = new RequestLimiter(5, 2, () => now);
  const order: number[] = [];
  const takes = [0, 1, 2, 3].map((i) => limiter.take().then(() => order.push(i)));
  await Promise.resolve();
  await new Promise((resolve) => setImmediate(resolve));
  assert.deepEqual(order, [0, 1], 'the burst of 2 passes at once');
  now = 200; // one token at 5 per second
  await new Promise((resolve) => setTimeout(resolve, 250));
  assert.deepEqual(order, [0, 1, 2]);
  now = 400;
  await Promise.all(takes);
  assert.deepEqual(order, [0, 1, 2, 3]);
});

test('a limiter wait ends when its signal aborts, and does not block the callers behind it', async () => {
  const limiter = new RequestLimiter(1, 1);
  await limiter.take();
  const controller = new AbortController();
  const aborted = limiter.take(controller.signal);
  controller.abort(new Error('cancelled'));
  await assert.rejects(aborted, /cancelled/);
  await limiter.take(); // served about a second later, not never
});

test('the first poll comes when the action could be done, never before pollIntervalMs', () => {
  assert.equal(firstPollDelay(1000, undefined, 2000), 2000, 'nothing observed yet: the option');
  assert.equal(firstPollDelay(1000, 10, 2000), 10_000, '1000 products at 10 ms each');
  assert.equal(firstPollDelay(10, 10, 2000), 2000, 'the option is a floor');
  assert.equal(firstPollDelay(1_000_000, 10, 2000), 60_000, 'a wrong estimate costs at most a minute');
});

test('an unfinished action is polled when the wait has grown by a quarter, sooner when its progress says so', () => {
  const base = { firstMs: 1000, floorMs: 500, polls: 1, elapsedMs: 8000, progress: 0, runningForMs: 0 };
  // Queued for 8 s: the next poll at 10 s; never sooner than the floor.
  assert.equal(nextPollDelay({ ...base, status: 'ENQUEUED' }), 2000);
  assert.equal(nextPollDelay({ ...base, elapsedMs: 1000, status: 'ENQUEUED' }), 500);
  assert.equal(nextPollDelay({ ...base, status: 'IN_PROGRESS' }), 2000, 'running at 0 %: as queued');
  // Running for 8 s, 80 % done: about 2 s left.
  assert.equal(nextPollDelay({ ...base, polls: 5, elapsedMs: 40_000, status: 'IN_PROGRESS', progress: 80, runningForMs: 8000 }), 2000);
  // 1 % after 4 s says 396 s are left: never later than a quarter of the wait (8 s) for all that.
  assert.equal(nextPollDelay({ ...base, status: 'IN_PROGRESS', progress: 1, runningForMs: 4000 }), 2000);
});

/**
 * Simulates polling an action that finishes after `doneAt` ms under a status script (queued until `runsFrom`, then
 * running with a linear progress, or at 0 % where the target reports none); returns the polls and the wait.
 */
function simulate(
  doneAt: number,
  runsFrom: number,
  firstMs: number,
  /** 'slow': 1 % until it is done, as a progress that says nothing. */
  reportsProgress: boolean | 'slow' = true,
): { polls: number; waited: number } {
  let t = firstMs;
  let polls = 0;
  let notRunningAt = 0;
  for (;;) {
    polls++;
    if (t >= doneAt) return { polls, waited: t };
    const running = t >= runsFrom;
    if (!running) notRunningAt = t;
    const linear = Math.floor(((t - runsFrom) / (doneAt - runsFrom)) * 100);
    const progress = !running || reportsProgress === false ? 0 : reportsProgress === 'slow' ? 1 : linear;
    const delay = nextPollDelay({
      firstMs,
      floorMs: 50,
      polls,
      elapsedMs: t,
      status: running ? 'IN_PROGRESS' : 'ENQUEUED',
      progress,
      runningForMs: t - notRunningAt,
    });
    t += delay;
  }
}

test('polls per action stay at or below 1 + log_1.25(wait ÷ first interval), whatever the action does', () => {
  const random = seeded(42);
  for (let i = 0; i < 2000; i++) {
    const firstMs = 50 + Math.floor(random() * 5000);
    const doneAt = Math.floor(random() * 3_600_000);
    const runsFrom = Math.floor(random() * doneAt);
    const { polls, waited } = simulate(doneAt, runsFrom, firstMs, random() < 0.5);
    // Each delay is rounded to the millisecond: up to half a millisecond a poll is not the schedule's.
    assert.ok(
      polls <= 1 + Math.log((waited + polls) / firstMs) / Math.log(POLL_GROWTH) + 1e-9,
      `first ${firstMs}, done ${doneAt}, runs ${runsFrom}: ${polls} polls in ${waited} ms`,
    );
  }
});

test('an action is found at most a quarter of its wait after it finished, whatever its progress says', () => {
  // The window holds its chunk until then: a late poll is time the target sits idle (10M products with doublings: 20 s at a time).
  const random = seeded(11);
  for (let i = 0; i < 3000; i++) {
    const firstMs = 50 + Math.floor(random() * 5000);
    const doneAt = Math.floor(random() * 600_000);
    const { waited } = simulate(doneAt, Math.floor(random() * doneAt), firstMs, [true, false, 'slow'][i % 3] as boolean | 'slow');
    const bound = Math.max(firstMs, doneAt * POLL_GROWTH, doneAt + 50);
    assert.ok(waited <= bound + 1e-6, `first ${firstMs}, done at ${doneAt}: found at ${waited}, bound ${bound}`);
  }
  // With doublings, an action done just after a poll at 8 s was found at 16 s.
  assert.ok(simulate(8001, 0, 1000, false).waited <= 8001 * POLL_GROWTH);
});

test('an action found finished at its first poll only bounds the pace: it never sets an estimate, and it halves one', () => {
  const pace = new ActionPace();
  // A 3,000-product first chunk found done at a 200 ms first poll: it says nothing of a 30,000-product chunk's time.
  pace.observe('voucherify', 3000, 200, true);
  assert.equal(pace.estimate('voucherify'), undefined);
  assert.equal(firstPollDelay(30_000, pace.estimate('voucherify'), 200), 200);
  // Measured over several polls: an estimate (0.1 ms a product); a first poll finding done halves it (or its bound, if lower).
  pace.observe('voucherify', 10_000, 1000);
  assert.equal(pace.estimate('voucherify'), 0.1);
  pace.observe('voucherify', 10_000, 5000, true);
  assert.equal(pace.estimate('voucherify'), 0.05);
  pace.observe('voucherify', 10_000, 200, true);
  assert.equal(pace.estimate('voucherify'), 0.01);
});

test('one slow action does not hold every later first poll at the cap: actions found done bring the estimate down', () => {
  const pace = new ActionPace();
  // A 330-product action that took 3 minutes (a stalled queue) sets the pace: the next first poll waits the cap, 60 s.
  pace.observe('voucherify', 330, 180_000);
  let first = firstPollDelay(330, pace.estimate('voucherify'), 250);
  assert.equal(first, 60_000);
  // The queue is fast again: every action is done by its first poll, and the first polls come sooner each time.
  const delays: number[] = [];
  for (let i = 0; i < 12; i++) {
    pace.observe('voucherify', 330, first + 50, true);
    first = firstPollDelay(330, pace.estimate('voucherify'), 250);
    delays.push(first);
  }
  assert.ok(
    delays.every((d, i) => i === 0 || d <= delays[i - 1]!),
    `never later: ${delays}`,
  );
  assert.equal(delays.at(-1), 250, `back at the poll interval: ${delays}`);
});

test('durations in messages', () => {
  assert.equal(formatDuration(600_000), '10m 00s');
  assert.equal(formatDuration(45_000), '45s');
});
