/**
 * Work that waits while this process stages (activities/staging/busy.ts): a chunk's rows written ahead wait for staging
 * to end, and are not written at all once their action has ended first.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setImmediate as turn } from 'node:timers/promises';
import { afterStaging, asStaging } from '../activities/staging/busy';

/** What a promise has settled to so far, after the pending callbacks have run. */
async function settled<T>(promise: Promise<T>): Promise<T | 'pending'> {
  let value: T | 'pending' = 'pending';
  void promise.then((v) => {
    value = v;
  });
  await turn();
  return value;
}

/** A staging run that ends when told to, with `fail` as a failure. */
function staging() {
  let end!: (fail?: Error) => void;
  const run = asStaging(() => new Promise<void>((resolve, reject) => (end = (fail) => (fail ? reject(fail) : resolve()))));
  return { run: run.catch(() => undefined), end };
}

test('with no staging running, the work goes on at once', async () => {
  assert.equal(await settled(afterStaging().idle), true);
});

test('the work waits until every staging run has ended, by success or failure', async () => {
  const first = staging();
  const second = staging();
  const waiting = afterStaging();
  assert.equal(await settled(waiting.idle), 'pending');
  first.end(new Error('the source broke'));
  await first.run;
  assert.equal(await settled(waiting.idle), 'pending', 'one staging still runs');
  second.end();
  await second.run;
  assert.equal(await settled(waiting.idle), true);
  assert.equal(await settled(afterStaging().idle), true, 'nothing runs now');
});

test('skipped while staging runs, the work is not done, and staging ending later does not start it', async () => {
  const run = staging();
  const skipped = afterStaging();
  const kept = afterStaging();
  skipped.skip();
  assert.equal(await settled(skipped.idle), false);
  run.end();
  await run.run;
  assert.equal(await settled(skipped.idle), false);
  assert.equal(await settled(kept.idle), true, 'the other waiter is woken');
});
