/**
 * The quota as a resource (issue 9, points 2 and 3): the gate's rule as pure logic, then against a real
 * Temporal server and the Voucherify sandbox with small bulk windows: a wait for the window spends no
 * attempt and survives a killed worker, and two workers on one queue never send into a closed window.
 */
import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import type { WorkflowHandle } from '@temporalio/client';
import { defaultPayloadConverter } from '@temporalio/common';
import { createImportWorker } from '../workers/worker';
import { LocalFolderStore } from '../activities/staging/store';
import { startImport } from '../client';
import { progressQuery } from '../workflows/messages';
import { QuotaGate } from '../workflows/quota';
import { PERMIT_LEASE_MS, permitAnswerSignal, permitRequestSignal } from '../workflows/account-quota';
import { quotaOf } from '../targets/http';
import { voucherifyQuotaHeaders } from '../targets/voucherify/quota-headers';
import { waitingText } from '../client/progress';
import type { VoucherifySandbox } from '../sandbox';
import { writeCatalog } from '../scripts/catalog';
import { eventually, spawnWorkerProcess, tempDir, useTemporal, uniqueTaskQueue } from './helpers';
import { onEnd, sandboxFor } from './harness';

const BULK = 'POST /v1/products/bulk/async';

describe('QuotaGate', () => {
  test('probes a window with one request, then sends what the answer says remains, and nothing while it is closed', () => {
    const gate = new QuotaGate({ probeFirst: true });
    assert.deepEqual(gate.decide(0), { send: true });
    gate.take(0);
    assert.deepEqual(gate.decide(1), { send: false }, 'no second request before the probe is answered');
    gate.answered(10, { bucket: 'bulk_api_calls', limit: 3, remaining: 2 });
    gate.take(11);
    gate.take(12);
    assert.deepEqual(gate.decide(13), { send: false }, 'the two remaining calls are out');
    gate.answered(20, { bucket: 'bulk_api_calls', limit: 3, remaining: 0, retryAtMs: 5000 });
    // A straggler of the closed window that reports an older count must not reopen it.
    gate.answered(21, { bucket: 'bulk_api_calls', limit: 3, remaining: 1 });
    assert.deepEqual(gate.decide(22), { send: false, until: 5000, bucket: 'bulk_api_calls', ceiling: false });
    assert.deepEqual(gate.decide(5000), { send: true }, 'the new window is probed');
    gate.take(5000);
    assert.deepEqual(gate.decide(5001), { send: false });
  });

  test('a 429 closes the gate until its Retry-After, never less than the floor; a target without quota headers is not metered', () => {
    const now = 1_000_000;
    const seen = quotaOf({ 'retry-after': '0', 'x-rate-limit-type': 'bulk_api_calls' }, 429, voucherifyQuotaHeaders, now);
    assert.deepEqual(seen, { bucket: 'bulk_api_calls', remaining: 0, retryAtMs: now + 500 });
    assert.equal(quotaOf({}, 200, voucherifyQuotaHeaders, now), undefined);
    assert.equal(quotaOf({ 'x-rate-limit-remaining': '3' }, 200, undefined, now), undefined, "another target's headers are not ours");
    const gate = new QuotaGate({ probeFirst: false });
    gate.take(now);
    gate.take(now);
    gate.answered(now, seen, true);
    assert.equal(gate.decide(now + 499).send, false);
    assert.deepEqual(gate.decide(now + 500), { send: false }, 'the other request is still out: its answer may tell more');
    gate.answered(now + 500, undefined, true);
    assert.deepEqual(gate.decide(now + 500), { send: true }, 'then one request probes the window');
  });

  test('learns where a window ends from where it started, closer than the whole seconds of X-Rate-Limit-Retry, and never early', () => {
    const gate = new QuotaGate({ probeFirst: true });
    // 1 call per 10 s; the sandbox's window starts at the first call, and its retry header is the end rounded up to a second.
    const answer = (sentAtMs: number) => {
      gate.take(sentAtMs);
      gate.answered(sentAtMs + 5, {
        bucket: 'bulk_api_calls',
        limit: 1,
        remaining: 0,
        retryAtMs: Math.ceil((sentAtMs + 10_000) / 1000) * 1000,
        sentAtMs,
      });
    };
    answer(1300);
    assert.equal(gate.state.closedUntil, 12_000, 'one window teaches no more than its header');
    answer(12_050);
    assert.equal(gate.state.closedUntil, 22_750, 'the least length seen (10.7 s) ends the next window before its rounded header');
    assert.ok(gate.state.closedUntil! >= 12_050 + 10_000, 'never before the true end');
    // A window found closed when probed at the learnt end: the account's windows follow another rule; the headers alone count.
    gate.take(22_750);
    gate.answered(22_760, { bucket: 'bulk_api_calls', remaining: 0, retryAtMs: 24_000 }, true);
    assert.equal(gate.state.windowMs, 0);
    assert.equal(gate.state.closedUntil, 24_000);
  });

  test('the CLI says what the import waits for and until when', () => {
    const until = new Date(Date.now() + 3600_000);
    const line = waitingText({ phase: 'submitting', waitingFor: { what: "Voucherify's bulk quota", until: until.toISOString() } });
    const day = until.toDateString() === new Date().toDateString() ? '' : ` on ${until.toDateString()}`;
    assert.equal(line, ` · waiting for Voucherify's bulk quota until ${until.toTimeString().slice(0, 8)}${day}`);
    assert.equal(
      waitingText({ phase: 'completed', waitingFor: { what: 'x', until: until.toISOString() } }),
      '',
      'an ended import waits for nothing',
    );
  });

  test('the ceiling spaces submissions to at most N per minute', () => {
    const gate = new QuotaGate({ probeFirst: false, maxPerMinute: 2 });
    for (const t of [0, 10]) {
      assert.equal(gate.decide(t).send, true);
      gate.take(t);
      gate.answered(t);
    }
    assert.deepEqual(gate.decide(20), { send: false, until: 60_000, bucket: 'ceiling', ceiling: true });
    assert.equal(gate.decide(60_000).send, true);
  });
});

const t = useTemporal();

/** Bulk-call answers of the sandbox by status. */
const bulkAnswers = (sandbox: VoucherifySandbox) => sandbox.stats().requests[BULK] ?? {};

/** submitChunk attempts beyond the first: each would be an attempt spent (a 429 must spend none). */
async function submitRetries(handle: WorkflowHandle): Promise<number> {
  const { events } = await handle.fetchHistory();
  const submits = new Set(
    events?.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'submitChunk').map((e) => String(e.eventId)),
  );
  return (events ?? []).filter((e) => {
    const started = e.activityTaskStartedEventAttributes;
    return started && submits.has(String(started.scheduledEventId)) && (started.attempt ?? 1) > 1;
  }).length;
}

/** How an import told its account's coordinator: messageQuotaCoordinator activities, and signals it sent itself (ok and failed). */
async function coordinatorMessages(
  handle: WorkflowHandle,
): Promise<{ activities: number; signals: number; failedSignals: number; requests: number; answers: number }> {
  const { events } = await handle.fetchHistory();
  const all = events ?? [];
  const messages = all.flatMap((e) => {
    const signal = e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName;
    if (signal) return [signal === 'quotaPermitRequest' ? 'request' : 'answer'];
    const scheduled = e.activityTaskScheduledEventAttributes;
    if (scheduled?.activityType?.name !== 'messageQuotaCoordinator') return [];
    const [arg] = scheduled.input?.payloads ?? [];
    const { message } = defaultPayloadConverter.fromPayload<{ message: { request?: unknown } }>(arg!);
    return [message.request ? 'request' : 'answer'];
  });
  return {
    activities: all.filter((e) => e.activityTaskScheduledEventAttributes?.activityType?.name === 'messageQuotaCoordinator').length,
    signals: all.filter((e) => e.externalWorkflowExecutionSignaledEventAttributes).length,
    failedSignals: all.filter((e) => e.signalExternalWorkflowExecutionFailedEventAttributes).length,
    requests: messages.filter((m) => m === 'request').length,
    answers: messages.filter((m) => m === 'answer').length,
  };
}

/**
 * A coordinator run's lease timers (a permit's lease is PERMIT_LEASE_MS; the quota's windows here last seconds), and
 * how many messages (requests and answers) it took.
 */
async function leaseTimersOf(run: { workflowId: string; runId: string }): Promise<{ leaseTimers: number; messages: number }> {
  const { events } = await t.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
  const all = events ?? [];
  const seconds = (d: { seconds?: unknown } | null | undefined) => Number(d?.seconds ?? 0);
  return {
    leaseTimers: all.filter((e) => seconds(e.timerStartedEventAttributes?.startToFireTimeout) > PERMIT_LEASE_MS / 2000).length,
    messages: all.filter((e) => e.workflowExecutionSignaledEventAttributes).length,
  };
}

/**
 * A coordinator run's lease traffic: grants that lent its gate, recalls it sent (and how many failed: the holder had
 * ended), and the gates given back to it.
 */
async function leasesOf(run: {
  workflowId: string;
  runId: string;
}): Promise<{ lent: number; recalls: number; failedRecalls: number; returns: number }> {
  const { events } = await t.client.workflow.getHandle(run.workflowId, run.runId).fetchHistory();
  const all = events ?? [];
  const sent = (name: string) => all.filter((e) => e.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName === name);
  return {
    lent: sent('quotaPermitGrant').filter((e) => {
      const [arg] = e.signalExternalWorkflowExecutionInitiatedEventAttributes!.input?.payloads ?? [];
      return defaultPayloadConverter.fromPayload<{ lease?: unknown }>(arg!).lease !== undefined;
    }).length,
    recalls: sent('quotaLeaseRecall').length,
    failedRecalls: all.filter((e) => e.signalExternalWorkflowExecutionFailedEventAttributes).length,
    returns: all.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'quotaLeaseReturn').length,
  };
}

/** The account coordinators' runs on a task queue. */
async function coordinatorRuns(taskQueue: string): Promise<{ workflowId: string; runId: string }[]> {
  const runs: { workflowId: string; runId: string }[] = [];
  for await (const w of t.client.workflow.list({ query: `WorkflowType = 'accountQuota' AND TaskQueue = '${taskQueue}'` }))
    runs.push({ workflowId: w.workflowId, runId: w.runId });
  return runs;
}

async function catalogOf(name: string, count: number): Promise<{ dir: string; file: string }> {
  const dir = await tempDir(name);
  return {
    dir,
    file: await writeCatalog(path.join(dir, 'catalog.jsonl'), { target: 'voucherify', count, format: 'jsonl', keyPrefix: name }),
  };
}

/** An import worker in this process on `taskQueue`, running until `stop`. */
async function localWorker(sandbox: VoucherifySandbox, taskQueue: string, stagingDir: string) {
  const worker = await createImportWorker({
    connection: t.connection,
    namespace: t.namespace,
    taskQueue,
    env: sandbox.env,
    store: new LocalFolderStore(stagingDir),
    workflowBundlePath: process.env.BULKPORT_WORKFLOW_BUNDLE,
  });
  const run = worker.run();
  return {
    async stop() {
      worker.shutdown();
      await run;
    },
  };
}

/** One worker in this process, one in a process of its own, on one queue: the activities of an import run on either. */
async function twoWorkers(sandbox: VoucherifySandbox, taskQueue: string, stagingDir: string) {
  const local = await localWorker(sandbox, taskQueue, stagingDir);
  const other = spawnWorkerProcess({ targetEnv: sandbox.env, taskQueue, stagingDir });
  return {
    async stop() {
      await local.stop();
      await other.kill();
    },
  };
}

/**
 * One account with a small bulk quota, two catalogs (`counts` products), two workers on a new queue, and `start(i)`,
 * which starts an import of catalog i (chunks of 10, four in flight) with no ceiling of its own.
 */
async function twoCatalogs(ctx: TestContext, name: string, quotas: Record<string, number>, counts: [number, number]) {
  const sandbox = await sandboxFor(ctx, 'voucherify', { quotas });
  const catalogs = [await catalogOf(`${name}-a`, counts[0]), await catalogOf(`${name}-b`, counts[1])];
  const taskQueue = uniqueTaskQueue(name);
  const workers = await twoWorkers(sandbox, taskQueue, path.join(catalogs[0]!.dir, 'staging'));
  onEnd(ctx, () => workers.stop());
  const options = { pollIntervalMs: 100, retryBackoffMs: 100, maxItemsPerChunk: 10, concurrency: 4 };
  const start = (i: 0 | 1) =>
    startImport(
      t.client,
      { target: 'voucherify' as const, source: { location: catalogs[i]!.file }, options },
      { taskQueue, workflowId: `${name}-${i}-${Date.now()}` },
    );
  return { sandbox, taskQueue, start };
}

describe('Voucherify import against a small bulk quota', () => {
  test('waits for the window durably: a worker killed during the wait, and the import resumes at the window with no extra 429', async (ctx) => {
    const windowSeconds = 6;
    const sandbox = await sandboxFor(ctx, 'voucherify', { quotas: { bulkPerHour: 1, bulkWindowSeconds: windowSeconds } });
    const { dir, file } = await catalogOf('quota-wait', 30);
    const taskQueue = uniqueTaskQueue('quota-wait');
    const worker = () => spawnWorkerProcess({ targetEnv: sandbox.env, taskQueue, stagingDir: path.join(dir, 'staging') });
    let running = worker();
    onEnd(ctx, () => running.kill());
    // Once the worker polls (a process starting takes seconds), someone else's call empties the bucket: the import's probe meets the closed window.
    await eventually(
      'the worker polling',
      async () => {
        const queue = await t.client.workflowService.describeTaskQueue({
          namespace: t.namespace,
          taskQueue: { name: taskQueue },
          taskQueueType: 1,
        });
        return (queue.pollers?.length ?? 0) > 0;
      },
      120_000,
    );
    const env = sandbox.env as Record<string, string>;
    const other = await fetch(`${sandbox.url}/v1/products/bulk/async`, {
      method: 'POST',
      headers: { 'x-app-id': env.VOUCHERIFY_APP_ID!, 'x-app-token': env.VOUCHERIFY_APP_TOKEN!, 'content-type': 'application/json' },
      body: JSON.stringify([{ source_id: 'someone-else', name: 'x' }]),
    });
    assert.equal(other.status, 202);
    const options = { pollIntervalMs: 100, retryBackoffMs: 100, maxItemsPerChunk: 10, concurrency: 3 };
    const request = { target: 'voucherify' as const, source: { location: file }, options };
    const handle = await startImport(t.client, request, { taskQueue, workflowId: `quota-wait-${Date.now()}` });
    const waiting = await eventually(
      'the import waiting for the window',
      async () => {
        const p = await handle.query(progressQuery).catch(() => undefined);
        return p?.waitingFor ? p : undefined;
      },
      120_000,
    );
    assert.equal(waiting.waitingFor!.what, "Voucherify's bulk quota");
    assert.ok(Date.parse(waiting.waitingFor!.until) > Date.parse(waiting.asOf), 'it waits for a time to come');
    await running.kill();
    running = worker();
    const summary = await handle.result();

    assert.equal(summary.status, 'completed');
    assert.equal(summary.counts.succeeded, 30);
    assert.equal(summary.counts.retryRounds, 0, 'no retry round because of the quota');
    assert.deepEqual(
      bulkAnswers(sandbox),
      { 202: 4, 429: 1 },
      'one 429 (the probe into the window someone else used), then one call a window',
    );
    assert.equal(await submitRetries(handle), 0, 'no attempt spent on the 429');
  });

  test('two workers on one queue share the pacing: never a request into a closed window', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', { quotas: { bulkPerHour: 2, bulkWindowSeconds: 4 } });
    const { dir, file } = await catalogOf('quota-shared', 60);
    const taskQueue = uniqueTaskQueue('quota-shared');
    const stagingDir = path.join(dir, 'staging');
    const workers = await twoWorkers(sandbox, taskQueue, stagingDir);
    onEnd(ctx, () => workers.stop());
    const options = { pollIntervalMs: 100, retryBackoffMs: 100, maxItemsPerChunk: 10, concurrency: 4 };
    const request = { target: 'voucherify' as const, source: { location: file }, options };
    const handle = await startImport(t.client, request, { taskQueue, workflowId: `quota-shared-${Date.now()}` });
    const summary = await handle.result();
    assert.equal(summary.counts.succeeded, 60);
    assert.equal(summary.counts.retryRounds, 0);
    // Four chunks may be in flight, but the quota allows two a window: the gate holds the rest back.
    assert.deepEqual(bulkAnswers(sandbox), { 202: 6 });
    assert.equal(await submitRetries(handle), 0);
    // Alone on the account, the import was lent the account's gate: it paced itself by it, and gave it back at the end.
    const [run, ...others] = await coordinatorRuns(taskQueue);
    assert.equal(others.length, 0);
    assert.deepEqual(await leasesOf(run!), { lent: 1, recalls: 0, failedRecalls: 0, returns: 1 });
    const told = await coordinatorMessages(handle);
    // The chunks that asked before the lease came (four may at once) took their permits from it too.
    assert.ok(
      told.requests >= 1 && told.requests <= 4,
      `a request, or one for each chunk the window took before the lease (${told.requests})`,
    );
  });
  test('two imports into one account, on two workers, permit by permit: one coordinator paces both, never a request into a closed window', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', { quotas: { bulkPerHour: 2, bulkWindowSeconds: 4 } });
    const first = await catalogOf('quota-two-a', 40);
    const second = await catalogOf('quota-two-b', 40);
    const taskQueue = uniqueTaskQueue('quota-two');
    const stagingDir = path.join(first.dir, 'staging');
    const workers = await twoWorkers(sandbox, taskQueue, stagingDir);
    onEnd(ctx, () => workers.stop());
    // A ceiling of their own (far above two calls in four seconds) keeps both on permits: the coordinator lends its gate
    // to no import with a ceiling. The lease has a test of its own below.
    const options = { pollIntervalMs: 100, retryBackoffMs: 100, maxItemsPerChunk: 10, concurrency: 4, maxSubmitsPerMinute: 600 };
    const start = (file: string, name: string) =>
      startImport(
        t.client,
        { target: 'voucherify' as const, source: { location: file }, options },
        { taskQueue, workflowId: `${name}-${Date.now()}` },
      );
    const handles = await Promise.all([start(first.file, 'quota-two-a'), start(second.file, 'quota-two-b')]);
    const summaries = await Promise.all(handles.map((h) => h.result()));
    for (const summary of summaries) {
      assert.equal(summary.counts.succeeded, 40);
      assert.equal(summary.counts.retryRounds, 0, 'no retry round because of the quota');
    }
    // Eight chunks at two calls a window: each import alone would probe every window the other one had used.
    assert.deepEqual(bulkAnswers(sandbox), { 202: 8 }, 'every call into an open window, none answered 429');
    for (const handle of handles) {
      assert.equal(await submitRetries(handle), 0);
      // Four chunks: a request and an answer each (with a ceiling, no permit is asked for ahead). Requests made before the
      // coordinator's id came back go by activity; each answer comes after its permit, so by signal.
      const told = await coordinatorMessages(handle);
      assert.equal(told.requests, 4, 'a request a chunk');
      assert.equal(told.answers, told.requests, 'every request answered: its chunk sent, or the permit given back');
      assert.ok(told.signals >= 4, `every answer by signal (${told.signals} signals)`);
      assert.equal(told.failedSignals, 0);
    }
    const runs = await coordinatorRuns(taskQueue);
    const coordinators = runs.map((r) => r.workflowId);
    assert.equal(coordinators.length, 1, 'one coordinator for the account');
    // Its permits' leases are watched by one timer, not one started and cancelled at each message.
    const { leaseTimers, messages } = await leaseTimersOf(runs[0]!);
    assert.ok(messages >= 16, `a request and an answer a chunk (${messages} messages)`);
    assert.equal(leaseTimers, 1, 'one lease timer for all the messages');
    assert.match(coordinators[0]!, /^quota-voucherify-[0-9a-f]{16}$/, 'named by a hash: no URL, application id or key in it');
  });

  test("an import alone is lent the account's gate; a second import's request recalls it, and the two share the windows", async (ctx) => {
    const { sandbox, taskQueue, start } = await twoCatalogs(ctx, 'quota-lease', { bulkPerHour: 2, bulkWindowSeconds: 4 }, [60, 20]);
    const a = await start(0);
    // Its first window's two calls answered: the first import sends on its lease (six chunks take three windows).
    await eventually('the first window used', async () => ((bulkAnswers(sandbox)[202] ?? 0) >= 2 ? true : undefined), 60_000);
    const b = await start(1);
    const summaries = await Promise.all([a, b].map((h) => h.result()));
    assert.deepEqual(
      summaries.map((s) => s.counts.succeeded),
      [60, 20],
    );
    assert.deepEqual(bulkAnswers(sandbox), { 202: 8 }, 'every call into an open window, none answered 429');
    const [run, ...others] = await coordinatorRuns(taskQueue);
    assert.equal(others.length, 0, 'one coordinator for the account');
    const leases = await leasesOf(run!);
    assert.ok(leases.lent >= 1, 'the first import was lent the gate');
    assert.ok(leases.recalls >= 1, "the second import's request recalled it");
    assert.equal(leases.failedRecalls, 0);
    assert.equal(leases.returns, leases.lent, 'every lease given back');
    const told = await coordinatorMessages(a);
    assert.ok(told.requests >= 2, `after the recall, the first import asked the coordinator again (${told.requests} requests)`);
  });

  test("a lease whose import has ended: the next import's request finds it so, and the gate comes back at once", async (ctx) => {
    const { sandbox, taskQueue, start } = await twoCatalogs(ctx, 'quota-gone', { bulkPerHour: 1, bulkWindowSeconds: 3 }, [40, 20]);
    const a = await start(0);
    // One call a window: four chunks take four windows, on the lease the first import was lent.
    await eventually('the first import sending', async () => ((bulkAnswers(sandbox)[202] ?? 0) >= 1 ? true : undefined), 60_000);
    await a.terminate('test: an import that ends holding the lease');
    const b = await start(1);
    const summary = await b.result();
    assert.equal(summary.status, 'completed');
    assert.equal(summary.counts.succeeded, 20);
    const [run, ...others] = await coordinatorRuns(taskQueue);
    assert.equal(others.length, 0);
    const leases = await leasesOf(run!);
    assert.equal(leases.recalls, 1, "the second import's request recalled the lease");
    assert.equal(leases.failedRecalls, 1, 'to an import that had ended');
    assert.equal(leases.lent, 2, 'the gate came back, and was lent to the second import, then alone');
    assert.equal(leases.returns, 1, 'which gave it back at its end');
    // What the ended import learnt went with it: at most one probe into the window it used.
    assert.ok((bulkAnswers(sandbox)[429] ?? 0) <= 1, JSON.stringify(bulkAnswers(sandbox)));
  });

  test('a lease granted for a request its import had given up: the give-back brings the gate home, with no recall', async (ctx) => {
    const sandbox = await sandboxFor(ctx, 'voucherify', {});
    const taskQueue = uniqueTaskQueue('quota-given-up');
    const worker = await localWorker(sandbox, taskQueue, await tempDir('quota-given-up'));
    // Two running workflows in the place of imports: they take no grant and answer no recall, as an import that has
    // given up its request takes no grant (and one that ends as it hears the recall answers none).
    const holders = await Promise.all(
      ['a', 'b'].map((k) =>
        t.client.workflow.start('accountQuota', { taskQueue, workflowId: `${taskQueue}-${k}`, args: [{ target: 'voucherify' as const }] }),
      ),
    );
    onEnd(ctx, async () => {
      await Promise.all(holders.map((h) => h.terminate('test over').catch(() => undefined)));
      await worker.stop();
    });
    const request = (i: number) => ({
      requestId: `${taskQueue}-r${i}`,
      workflowId: holders[i]!.workflowId,
      lease: { runId: holders[i]!.firstExecutionRunId },
    });
    const coordinator = await t.client.workflow.signalWithStart('accountQuota', {
      taskQueue,
      workflowId: `${taskQueue}-coordinator`,
      args: [{ target: 'voucherify' as const }],
      signal: permitRequestSignal,
      signalArgs: [request(0)],
    });
    onEnd(ctx, () => coordinator.terminate('test over').catch(() => undefined));
    const run = { workflowId: coordinator.workflowId, runId: coordinator.signaledRunId };
    await eventually('the gate lent', async () => ((await leasesOf(run)).lent === 1 ? true : undefined), 15_000);
    // The first import gives its request back (it had stopped waiting before the grant came); the second asks.
    await coordinator.signal(permitAnswerSignal, { requestId: request(0).requestId, failed: true });
    await coordinator.signal(permitRequestSignal, request(1));
    // Without the give-back ending the lease, the second would wait for a recall's answer: a permit's lease (31 min).
    await eventually('the gate lent to the second', async () => ((await leasesOf(run)).lent === 2 ? true : undefined), 15_000);
    assert.equal((await leasesOf(run)).recalls, 0, 'no recall: the gate came back with the give-back');
  });

  test('a coordinator that ends while an import waits for its permit: the request is sent again within a minute, which starts a new coordinator', {
    timeout: 240_000,
  }, async (ctx) => {
    // One bulk call a 20 s window: the first chunk's probe empties it, and the second chunk's request waits in the coordinator.
    const sandbox = await sandboxFor(ctx, 'voucherify', { quotas: { bulkPerHour: 1, bulkWindowSeconds: 20 } });
    const { dir, file } = await catalogOf('quota-restart', 20);
    const taskQueue = uniqueTaskQueue('quota-restart');
    const workers = await twoWorkers(sandbox, taskQueue, path.join(dir, 'staging'));
    onEnd(ctx, () => workers.stop());
    // A ceiling keeps the import on permits (an import alone would be lent the gate, and wait for no coordinator).
    const options = { pollIntervalMs: 100, retryBackoffMs: 100, maxItemsPerChunk: 10, concurrency: 1, maxSubmitsPerMinute: 600 };
    const request = { target: 'voucherify' as const, source: { location: file }, options };
    const handle = await startImport(t.client, request, { taskQueue, workflowId: `quota-restart-${Date.now()}` });
    await eventually(
      'the second chunk waiting for the window',
      async () => (await handle.query(progressQuery).catch(() => undefined))?.waitingFor,
      60_000,
    );
    const [first] = await coordinatorRuns(taskQueue);
    await t.client.workflow.getHandle(first!.workflowId, first!.runId).terminate('test: the coordinator ends while an import waits');

    const summary = await handle.result();
    assert.equal(summary.status, 'completed');
    assert.equal(summary.counts.succeeded, 20);
    const told = await coordinatorMessages(handle);
    assert.equal(told.failedSignals, 1, 'the request sent again met the ended coordinator');
    assert.equal(told.activities, 2, 'the first request started the coordinator, the one sent again started it anew');
    const runs = await coordinatorRuns(taskQueue);
    assert.equal(runs.length, 2, 'the ended coordinator and the new one');
    assert.equal(new Set(runs.map((r) => r.workflowId)).size, 1, 'under the same workflow id');
    // The new coordinator knew nothing of the window; by the time it probed, the window had reopened.
    assert.deepEqual(bulkAnswers(sandbox), { 202: 2 });
  });
});
