/**
 * No duplicate submissions: the timeouts agree with each other, and a Voucherify attempt after one of
 * unknown outcome finds the earlier async action (against the real sandbox) instead of posting again.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { DEFAULT_HTTP_TIMEOUT_MS, HEARTBEAT_INTERVAL_MS, HEARTBEAT_TIMEOUT_MS, SUBMIT_START_TO_CLOSE_MS } from '../common/timeouts';
import { UNKNOWN_OUTCOME_RESENDS } from '../targets/propeller/api';
import { PROPELLER_REQUESTS_PER_CHUNK } from '../targets/propeller/manifest';
import { VoucherifyOptions } from '../common/import';
import { startVoucherifySandbox, type VoucherifySandbox } from '../sandbox/index';
import { connectVoucherify, earlierSend, sourceIdsOfReport } from '../targets/voucherify/api';
import { chunkId, chunkToSend, writeChunk } from '../activities/staging/files';
import { LocalFolderStore } from '../activities/staging/store';
import { tempDir } from './helpers';
import type { ChunkToSend, StagedItem } from '../targets/types';
import { activityDefaults } from '../workflows/import';

/** Chunks whose heads a submission read: a chunk read from staging decodes them only then (a cost on every product). */
let headsRead = 0;

const store = new LocalFolderStore(await tempDir('dedupe'));
let staged = 0;

/** Items as the asynchronous target gets them: staged as a chunk, then read back to be sent. */
async function chunkOfItems(items: readonly StagedItem[]): Promise<ChunkToSend> {
  const id = chunkId(0, staged++);
  await writeChunk(store, 'dedupe', id, [...items]);
  const chunk = await chunkToSend(store, 'dedupe', id);
  return {
    ...chunk,
    heads: () => {
      headsRead++;
      return chunk.heads();
    },
  };
}

test('the timeouts agree: beats come well inside the heartbeat timeout, our HTTP timeout ends before startToClose', () => {
  assert.equal(activityDefaults.heartbeatTimeout, HEARTBEAT_TIMEOUT_MS);
  // Temporal sends heartbeats at most every 80 % of the timeout: a beat every interval must fit under that.
  assert.ok(HEARTBEAT_INTERVAL_MS < 0.8 * HEARTBEAT_TIMEOUT_MS, `${HEARTBEAT_INTERVAL_MS} vs ${HEARTBEAT_TIMEOUT_MS}`);
  assert.ok(DEFAULT_HTTP_TIMEOUT_MS < SUBMIT_START_TO_CLOSE_MS, `${DEFAULT_HTTP_TIMEOUT_MS} vs ${SUBMIT_START_TO_CLOSE_MS}`);
  // Every request of a Propeller chunk (4 at most), each sent as often as its answers may fail to come, within one attempt.
  const sends = PROPELLER_REQUESTS_PER_CHUNK * (UNKNOWN_OUTCOME_RESENDS + 1);
  assert.ok(
    sends * DEFAULT_HTTP_TIMEOUT_MS < SUBMIT_START_TO_CLOSE_MS,
    `${sends} × ${DEFAULT_HTTP_TIMEOUT_MS} vs ${SUBMIT_START_TO_CLOSE_MS}`,
  );
});

test('an earlier send counts only for the same body and only when no HTTP answer came', () => {
  const sent = { sentAt: 1000, bodySha256: 'abc', resends: 1 };
  assert.deepEqual(earlierSend(sent, 'abc'), sent);
  assert.equal(earlierSend(sent, 'other'), undefined);
  assert.equal(earlierSend({ ...sent, answered: true }, 'abc'), undefined);
  assert.equal(earlierSend({ unknownOutcomeRetries: 2 }, 'abc'), undefined);
  assert.equal(earlierSend(undefined, 'abc'), undefined);
});

test('a report file gives its source_id column, quoted ids included', () => {
  assert.deepEqual(sourceIdsOfReport('found,updated,source_id,error\ntrue,true,a,\nfalse,true,"b,1",""\n'), ['a', 'b,1']);
  assert.equal(sourceIdsOfReport('no,such,column\n'), undefined);
});

let sandbox: VoucherifySandbox;
before(async () => {
  sandbox = await startVoucherifySandbox({ reportTtlSeconds: 3600 });
});
after(() => sandbox.close());

const options = VoucherifyOptions.parse({ pollIntervalMs: 50 });
const chunk = (prefix: string, n = 3): StagedItem[] =>
  Array.from({ length: n }, (_, i) => ({
    line: i + 1,
    key: `${prefix}-${i}`,
    rawJson: '{}',
    body: JSON.stringify({ source_id: `${prefix}-${i}` }),
  }));
const posts = () => sandbox.stats().requests['POST /v1/products/bulk/async'] ?? {};

/** One attempt of the submission: what it heartbeated last is what the next attempt gets. */
async function attempt(api: ReturnType<typeof connectVoucherify>, items: StagedItem[], lastHeartbeat?: unknown) {
  let beat: unknown = lastHeartbeat;
  try {
    const answer = await api.submit(await chunkOfItems(items), { options, lastHeartbeat, heartbeat: (d) => (beat = d) });
    return { answer, beat };
  } catch (error) {
    return { error, beat };
  }
}

test('an answer that never came: the next attempt finds the earlier action among others and posts nothing', async () => {
  const api = connectVoucherify(sandbox.env);
  sandbox.resetStats();
  sandbox.setFaults({ dropAfterApplyRate: 1 });
  headsRead = 0;
  const first = await attempt(api, chunk('lost'));
  assert.ok(first.error, 'the first attempt saw no answer');
  sandbox.setFaults({});
  // Another chunk's action, created after ours: the lookup must not take it for ours.
  const other = await attempt(api, chunk('other'));
  assert.ok(other.answer?.accepted);
  assert.equal(headsRead, 0, 'a first send needs no keys');
  const second = await attempt(api, chunk('lost'), first.beat);
  assert.equal(headsRead, 1, 'the lookup of the earlier action reads the keys');
  assert.ok(second.answer?.accepted && other.answer?.accepted);
  assert.notEqual(second.answer.actionId, other.answer.actionId);
  assert.equal(second.answer.resends, 0);
  assert.deepEqual(posts(), { dropped: 1, 202: 1 }, 'one POST per chunk');
});

test('the earlier action is found past the first page of the list (120 actions created after it)', async () => {
  const api = connectVoucherify(sandbox.env);
  sandbox.resetStats();
  sandbox.setFaults({ dropAfterApplyRate: 1 });
  const first = await attempt(api, chunk('buried'));
  assert.ok(first.error, 'the first attempt saw no answer');
  sandbox.setFaults({});
  for (let i = 0; i < 120; i++) assert.ok((await attempt(api, chunk(`later${i}`, 1))).answer?.accepted);
  const second = await attempt(api, chunk('buried'), first.beat);
  assert.ok(second.answer?.accepted);
  assert.equal(second.answer.resends, 0, 'found, not sent again');
  assert.deepEqual(posts(), { dropped: 1, 202: 120 }, 'no second POST of the chunk');
  assert.equal(sandbox.stats().requests['GET /v1/async-actions']?.[200], 2, 'two pages of the list');
});

test('no earlier action holds exactly the chunk: it is sent again once, and the resend is counted', async () => {
  const api = connectVoucherify(sandbox.env);
  sandbox.resetStats();
  const sentAt = Date.now();
  // A send that never reached the target: nothing was created after it.
  const second = await attempt(api, chunk('never'), { sentAt, bodySha256: await earlierBody(chunk('never')), resends: 0 });
  assert.ok(second.answer?.accepted);
  assert.equal(second.answer.resends, 1);
  assert.equal((second.beat as { resends: number }).resends, 1, 'carried to a later attempt');
  assert.deepEqual(posts(), { 202: 1 });
});

test('an earlier attempt that got an HTTP answer (503) is posted again without a lookup', async () => {
  const api = connectVoucherify(sandbox.env);
  sandbox.resetStats();
  sandbox.setFaults({ serverErrorRate: 1 });
  const first = await attempt(api, chunk('answered'));
  sandbox.setFaults({});
  assert.ok(first.error);
  const second = await attempt(api, chunk('answered'), first.beat);
  assert.ok(second.answer?.accepted);
  assert.equal(second.answer.resends, 0);
  assert.equal(sandbox.stats().requests['GET /v1/async-actions'], undefined, 'no lookup');
});

/** What names the body of a chunk of these items (a send of it recorded it). */
async function earlierBody(items: StagedItem[]): Promise<string> {
  return (await chunkOfItems(items)).body('[', ']').sha256;
}
