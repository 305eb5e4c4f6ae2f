/**
 * The import's books (workflows/ledger.ts) as pure arithmetic: the invariant submitted = succeeded + failed + rejected +
 * awaitingRetry + inFlight through rounds, splits and lost chunks, and the rate and ETA from the last minute's samples.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { zeroOutcomes, type OutcomeCounts } from '../common/import';
import { emptyCounters, ImportLedger } from '../workflows/ledger';

const counts = (c: Partial<OutcomeCounts>): OutcomeCounts => ({ ...zeroOutcomes(), ...c });
const fresh = () => new ImportLedger({ counters: emptyCounters(), samples: [] });

test('the books balance through an asynchronous chunk, a synchronous one, a retry round and the end', () => {
  const ledger = fresh();
  ledger.addChunks(3);
  // An accepted action: 10 products in flight, one resend of unknown outcome.
  ledger.beginSubmission(10, 0);
  ledger.inFlightStarted(10, 1);
  assert.deepEqual([ledger.counters.submitted, ledger.counters.inFlight, ledger.counters.unknownOutcomeRetries], [10, 10, 1]);
  assert.equal(ledger.imbalance(), undefined);
  ledger.settle(counts({ succeeded: 6, retryable: 3, invalid: 1 }), 10, true, 1_000);
  // A synchronous chunk answered at once.
  ledger.settleAnswered(counts({ succeeded: 4, failed: 1 }), 0, 2_000);
  assert.deepEqual(
    { ...ledger.counters },
    {
      submitted: 15,
      succeeded: 10,
      failed: 1,
      rejected: 1,
      awaitingRetry: 3,
      inFlight: 0,
      unknownOutcomeRetries: 1,
      chunksTotal: 3,
      chunksDone: 2,
    },
  );
  assert.equal(ledger.imbalance(), undefined);
  // Round 1 resends the 3: they leave awaitingRetry, submitted stays (they were submitted once already).
  ledger.addChunks(1);
  ledger.settleAnswered(counts({ succeeded: 2, retryable: 1 }), 1, 3_000);
  assert.deepEqual([ledger.counters.submitted, ledger.counters.succeeded, ledger.counters.awaitingRetry], [15, 12, 1]);
  assert.equal(ledger.imbalance(), undefined);
  // No round left: what waits for one has failed.
  ledger.closeRetries();
  assert.deepEqual([ledger.counters.failed, ledger.counters.awaitingRetry, ledger.finished], [2, 0, 15]);
  assert.equal(ledger.imbalance(), undefined);
});

test('a chunk lost in flight leaves the books unbalanced by its products, and says so', () => {
  const ledger = fresh();
  ledger.beginSubmission(5, 0);
  ledger.inFlightStarted(5);
  ledger.inFlightLost(5);
  ledger.chunkWithoutOutcome();
  assert.match(ledger.imbalance() ?? '', /submitted 5 ≠ succeeded \+ failed \+ rejected \+ awaitingRetry \+ inFlight = 0/);
});

test('the issue of a chunk that failed as a whole is kept with its time', () => {
  const ledger = fresh();
  ledger.settleAnswered(
    counts({ retryable: 2, issue: 'chunk r0-000001 (2 products) was set aside for a retry round: 503' }),
    0,
    Date.UTC(2026, 10, 24, 1, 2, 3),
  );
  assert.deepEqual(ledger.state.lastIssue, {
    message: 'chunk r0-000001 (2 products) was set aside for a retry round: 503',
    at: '2026-11-24T01:02:03.000Z',
  });
});

test('rate and ETA: products finished per second over the last minute, from the newest sample at least a minute old', () => {
  const ledger = fresh();
  assert.equal(ledger.throughput(0), 0);
  assert.equal(ledger.etaSeconds(100, 0), null, 'no rate, no ETA');
  ledger.recordSample(0);
  for (let s = 1; s <= 90; s++) ledger.settleAnswered(counts({ succeeded: 10 }), 0, s * 1000);
  // 10 products a second throughout.
  assert.equal(ledger.throughput(90_000), 10);
  assert.equal(ledger.etaSeconds(1000, 90_000), 10, '100 products left at 10 a second');
  // Older samples are dropped, all but the newest one before the minute.
  assert.ok(ledger.state.samples.length <= 62, `${ledger.state.samples.length} samples kept`);
  assert.ok(ledger.state.samples[0]![0] <= 30_000);
});

test('the summary takes products from the report and chunks, resends and rounds from the books', () => {
  const ledger = fresh();
  ledger.addChunks(4);
  ledger.beginSubmission(10, 0);
  ledger.inFlightStarted(10, 2);
  const files = { resultsJsonl: 'r.jsonl', resultsCsv: 'r.csv', failedRecords: 'f.jsonl', invalidRows: 'i.jsonl' };
  const summary = ledger.summary({
    input: { importId: 'imp', target: 'voucherify', source: { location: '/c.jsonl' }, options: {} } as never,
    stage: { read: 12, valid: 11, invalid: 1, chunks: 4 },
    report: { files, counts: { invalid: 2, succeeded: 8, failed: 1, notSubmitted: 1 } },
    round: 2,
    runs: 3,
    stopped: true,
    cancelReason: 'enough',
    startedAt: 1_000,
    finishedAt: 61_000,
  });
  assert.deepEqual(summary.counts, {
    read: 12,
    valid: 11,
    invalid: 2,
    succeeded: 8,
    failed: 1,
    notSubmitted: 1,
    unknownOutcomeRetries: 2,
    chunks: 4,
    retryRounds: 2,
  });
  assert.deepEqual([summary.status, summary.cancelReason, summary.timings.durationMs, summary.runs], ['cancelled', 'enough', 60_000, 3]);
});
