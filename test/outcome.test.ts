/** The outcome vocabulary: outcome lines of this version and of the one before it read the same, and the report's words. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { reportOutcomeOf, storedOutcome } from '../common/outcome';

test('an outcome file written before the upgrade ({ok, retryable, invalid}) reads in the words of today', () => {
  assert.deepEqual(storedOutcome({ line: 1, key: 'a', ok: true }), { kind: 'succeeded' });
  assert.deepEqual(storedOutcome({ ok: false, retryable: true, error: 'HTTP 503' }), { kind: 'retryable', error: 'HTTP 503' });
  assert.deepEqual(storedOutcome({ ok: false, retryable: false, invalid: true, error: 'bad' }), { kind: 'invalid', error: 'bad' });
  assert.deepEqual(storedOutcome({ ok: false, retryable: false, error: '404' }), { kind: 'failed', error: '404' });
});

test("today's lines read as written, and an unknown kind is not taken for a success", () => {
  for (const kind of ['retryable', 'invalid', 'failed'] as const)
    assert.deepEqual(storedOutcome({ kind, error: 'e' }), { kind, error: 'e' });
  assert.deepEqual(storedOutcome({ kind: 'succeeded' }), { kind: 'succeeded' });
  assert.equal(storedOutcome({ kind: 'bogus', error: 'x' }).kind, 'failed');
});

test('in the report, a product still retryable when the rounds ran out has failed; the rest keep their word', () => {
  assert.equal(reportOutcomeOf({ kind: 'retryable', error: 'HTTP 503' }), 'failed');
  assert.equal(reportOutcomeOf({ kind: 'invalid', error: 'bad' }), 'invalid');
  assert.equal(reportOutcomeOf({ kind: 'succeeded' }), 'succeeded');
});
