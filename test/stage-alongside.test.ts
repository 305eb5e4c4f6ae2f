/**
 * Round 0's chunks are sent while staging still reads the source: the workflow with stub activities (the first chunk
 * goes out before staging ends; staging failing after chunks went out stops the import with a report), and the real
 * stage activity in Temporal's mock activity environment (its progress file, and what it seals when the source breaks).
 */
import assert from 'node:assert/strict';
import { appendFile, cp, readdir, readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { describe, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { ApplicationFailure } from '@temporalio/common';
import { Context } from '@temporalio/activity';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { QuotaMessage } from '../activities/quota';
import { createReportActivities, type ResultRow } from '../activities/report';
import { createStageActivities } from '../activities/stage';
import {
  chunkId,
  type ImportMeta,
  metaKey,
  readAllJsonLines,
  readChunk,
  removeLeftovers,
  type StagedSoFar,
  stagedKey,
  writeLines,
} from '../activities/staging/files';
import { LocalFolderStore } from '../activities/staging/store';
import { createTargetRegistry } from '../activities/targets';
import { type ImportHandle, progressQuery } from '../client';
import { ImportInput, type ImportProgress, type StageResult } from '../common/import';
import { STAGE_ATTEMPTS } from '../common/timeouts';
import { writeCatalog } from '../scripts/catalog';
import { loadTargets } from '../targets';
import { eventually, readJsonl, tempDir } from './helpers';
import { counts, failureOf, report, runWith, staged, t, type ReportRequest } from './workflow-stubs';
import { type AccountQuotaArgs, permitAnswerSignal, permitRequestSignal } from '../workflows/account-quota';
import { AHEAD_HELD_MS } from '../workflows/permits';

const soFar = (chunks: number): StagedSoFar => ({ chunks, read: chunks * 2, valid: chunks * 2, invalid: 0, done: false });

describe('staging beside the window (stub activities)', { concurrency: 2, timeout: 60_000 }, () => {
  test('the first chunks go out while staging runs; the rest when it ends, and every chunk once', async () => {
    const sent: { chunkId: string; whileStaging: boolean }[] = [];
    let staging = true;
    let progressWhileStaging: ImportProgress | undefined;
    const outcome = await runWith(
      'alongside',
      {
        // Staging ends only once a chunk it committed has been sent: the window did not wait for it.
        stage: async () => {
          await eventually('a chunk sent while staging', () => sent.length > 0 || undefined, 20_000);
          // Long enough for the progress query below to see staging still running.
          await sleep(1500);
          staging = false;
          return staged(5);
        },
        awaitStaged: async ({ after }: { after: number }) => {
          await sleep(50);
          return soFar(Math.max(after, 2));
        },
        submitChunk: async ({ chunkId }: { chunkId: string }) => {
          sent.push({ chunkId, whileStaging: staging });
          return { kind: 'completed', counts: counts({ succeeded: 2 }) };
        },
        writeReport: async () => ({ ...report, counts: { invalid: 0, succeeded: 10, failed: 0, notSubmitted: 0 } }),
      },
      {},
      async (handle) => {
        progressWhileStaging = await eventually('progress showing chunks sent while staging', async () => {
          const p = await handle.query(progressQuery);
          return p.staging && p.chunks.done > 0 ? p : undefined;
        });
      },
    );
    assert.equal(outcome.failure, undefined);
    assert.deepEqual(
      sent.map((s) => s.chunkId),
      ['r0-000000', 'r0-000001', 'r0-000002', 'r0-000003', 'r0-000004'],
    );
    assert.deepEqual(
      sent.slice(0, 2).map((s) => s.whileStaging),
      [true, true],
      'the chunks staged first were sent before staging ended',
    );
    assert.equal(outcome.summary?.counts.succeeded, 10);
    assert.equal(progressWhileStaging?.phase, 'submitting');
    assert.equal(progressWhileStaging?.read, 4, "staging's counts so far");
    assert.equal(progressWhileStaging?.etaSeconds, null, 'no ETA before the total is known');
  });

  /**
   * An import into a shared account with the real coordinator (reached as messageQuotaCoordinator reaches it,
   * signal-with-start; one that never lends its gate) and stub activities: staging commits a chunk `gapsMs[i]` after the news of the one before, and
   * ends 300 ms after the last was sent. With `grantFirst`, the news of a chunk also waits (10 s at most) until the
   * import has a grant for each chunk so far, its own included: a loaded machine's coordinator may take longer than the gap,
   * and the test asks whether the permit was asked for ahead, not how fast it came. Returns how many submissions were
   * scheduled right on the news of their chunk, with no grant between (their permit had come while staging wrote
   * them), and the coordinator's messages.
   */
  async function aheadImport(
    name: string,
    gapsMs: number[],
    options: Record<string, unknown> = {},
    grantFirst = false,
    stageFails = false,
  ) {
    const chunks = gapsMs.length;
    const coordinator = `quota-${name}-${Date.now()}`;
    const sent: string[] = [];
    let handle: ImportHandle | undefined;
    const outcome = await runWith(
      name,
      {
        stage: async () => {
          if (stageFails) {
            // Once the first chunk's permit has come: the import holds it when staging fails.
            await sleep(gapsMs[0]! / 2);
            throw ApplicationFailure.create({ type: 'SourceError', message: 'the source is gone', nonRetryable: true });
          }
          await eventually('every chunk sent', () => sent.length === chunks || undefined, 30_000);
          await sleep(300);
          return staged(chunks);
        },
        awaitStaged: async ({ after }: { after: number }) => {
          await sleep(gapsMs[after] ?? 400);
          if (grantFirst) {
            const ctx = Context.current();
            const ownHistory = ctx.client.workflow.getHandle(ctx.info.workflowExecution!.workflowId);
            const grants = async () =>
              ((await ownHistory.fetchHistory()).events ?? []).filter(
                (e) => e.workflowExecutionSignaledEventAttributes?.signalName === 'quotaPermitGrant',
              ).length;
            for (const until = Date.now() + 10_000; Date.now() < until && (await grants()) <= after; ) await sleep(100);
          }
          return soFar(Math.min(chunks, after + 1));
        },
        messageQuotaCoordinator: async ({ message }: { message: QuotaMessage }) => {
          const ctx = Context.current();
          const start = {
            workflowId: coordinator,
            taskQueue: ctx.info.taskQueue,
            // A coordinator that lends its gate would lend it to this import, alone on its account: no permit to ask for ahead.
            args: [{ target: 'voucherify' as const, lends: false }] as [AccountQuotaArgs],
          };
          await (message.request
            ? ctx.client.workflow.signalWithStart('accountQuota', { ...start, signal: permitRequestSignal, signalArgs: [message.request] })
            : ctx.client.workflow.signalWithStart('accountQuota', { ...start, signal: permitAnswerSignal, signalArgs: [message.answer] }));
          return coordinator;
        },
        submitChunk: async ({ chunkId }: { chunkId: string }) => {
          sent.push(chunkId);
          return { kind: 'completed', counts: counts({ succeeded: 2 }) };
        },
        writeReport: async () => ({ ...report, counts: { invalid: 0, succeeded: chunks * 2, failed: 0, notSubmitted: 0 } }),
      },
      // Room in the window whenever a chunk is taken: a permit is asked for ahead after each one.
      { shareQuota: true, concurrency: 4, ...options },
      async (h) => {
        handle = h;
      },
    );
    if (stageFails) assert.match(failureOf(outcome).message, /the source is gone/);
    else {
      assert.equal(outcome.failure, undefined);
      assert.equal(outcome.summary?.counts.succeeded, chunks * 2);
    }
    const importEvents = (await handle!.fetchHistory()).events ?? [];
    const names = new Map(
      importEvents
        .filter((e) => e.activityTaskScheduledEventAttributes)
        .map((e) => [String(e.eventId), e.activityTaskScheduledEventAttributes!.activityType!.name]),
    );
    let lastNews: 'staged' | 'grant' | undefined;
    let onNews = 0;
    for (const e of importEvents) {
      const completed = e.activityTaskCompletedEventAttributes;
      if (completed && names.get(String(completed.scheduledEventId)) === 'awaitStaged') lastNews = 'staged';
      if (e.workflowExecutionSignaledEventAttributes?.signalName === 'quotaPermitGrant') lastNews = 'grant';
      if (e.activityTaskScheduledEventAttributes?.activityType?.name === 'submitChunk') {
        if (lastNews === 'staged') onNews++;
        lastNews = undefined;
      }
    }
    const events = (await t.client.workflow.getHandle(coordinator).fetchHistory()).events ?? [];
    const signals = (signal: string) => events.filter((e) => e.workflowExecutionSignaledEventAttributes?.signalName === signal).length;
    return { onNews, requests: signals('quotaPermitRequest'), answers: signals('quotaPermitAnswer') };
  }

  test("an account's import asks for each chunk's permit while staging writes it, the first's from its start, and gives back the one no chunk took", async () => {
    const { onNews, requests, answers } = await aheadImport('alongside-ahead', [400, 400, 400, 400, 400], {}, true);
    assert.equal(onNews, 5, `every chunk sent on its news, its permit already there, the first's asked for at the start (${onNews} of 5)`);
    // Every request the coordinator had was answered: the chunks' permits by their answers, the one left over given back.
    assert.equal(requests, 6, 'a permit a chunk, and one asked for after the last chunk');
    assert.equal(answers, 6, 'each request answered');
  });

  test("staging that fails before the first chunk: the first chunk's permit, asked for at the start, is given back", async () => {
    const { requests, answers } = await aheadImport('alongside-no-chunk', [4000], {}, false, true);
    assert.deepEqual([requests, answers], [1, 1], 'the permit asked for at the start, and given back');
  });

  test('a permit held ahead longer than AHEAD_HELD_MS is given back when its chunk comes, and the chunk asks anew', async () => {
    const { requests, answers } = await aheadImport('alongside-stale', [400, AHEAD_HELD_MS + 1500]);
    assert.equal(requests, 4, "the first chunk's, the one held too long, the second chunk's own, and one after it");
    assert.equal(answers, 4, 'each request answered: the stale permit and the last one given back');
  });

  test('an import with its own ceiling of submissions a minute asks for no permit ahead', async () => {
    const { onNews, requests, answers } = await aheadImport('alongside-ceiling', [400, 400, 400], { maxSubmitsPerMinute: 600 });
    assert.equal(onNews, 0, 'every chunk waited for its own grant');
    assert.deepEqual([requests, answers], [3, 3], 'a request and an answer a chunk');
  });

  test('staging failing after chunks were sent: the import stops with its cause, and the report covers them', async () => {
    const reported: ReportRequest[] = [];
    const sent: string[] = [];
    const outcome = await runWith('alongside-fails', {
      stage: async () => {
        await eventually('a chunk sent while staging', () => sent.length > 0 || undefined, 20_000);
        throw ApplicationFailure.create({ type: 'SourceError', message: 'line 9 is not valid UTF-8', nonRetryable: true });
      },
      awaitStaged: async () => {
        await sleep(50);
        return soFar(1);
      },
      submitChunk: async ({ chunkId }: { chunkId: string }) => {
        sent.push(chunkId);
        return { kind: 'completed', counts: counts({ succeeded: 2 }) };
      },
      writeReport: async (req) => {
        reported.push(req as ReportRequest);
        return report;
      },
    });
    const failure = failureOf(outcome);
    assert.equal(failure.type, 'ImportStopped');
    assert.match(failure.message, /^Staging failed: line 9 is not valid UTF-8 \(import stopped; report: \/tmp\/stub\/results\.jsonl\)$/);
    assert.equal(outcome.searchStatus, 'Failed');
    assert.deepEqual(sent, ['r0-000000']);
    assert.equal(reported.length, 1, 'the report was written for the products sent');
  });
});

const targets = createTargetRegistry(await loadTargets(), {});

describe('the stage activity beside the window', { concurrency: 1 }, () => {
  const setUp = async (name: string) => {
    const dir = await tempDir(name);
    const store = new LocalFolderStore(path.join(dir, 'staging'));
    const activities = createStageActivities(store, targets);
    return { dir, store, activities };
  };
  const inputFor = (importId: string, location: string) =>
    ImportInput.parse({ importId, target: 'voucherify', source: { location }, options: { chunkBytes: 20_000 } });
  const inMock = (importId: string, attempt = 1, heartbeatDetails?: unknown) =>
    new MockActivityEnvironment({ attempt, heartbeatDetails, workflowExecution: { workflowId: importId, runId: 'run-1' } });

  test('awaitStaged answers once more chunks are committed, and at once when staging has ended', async () => {
    const { dir, activities } = await setUp('await-staged');
    const file = await writeCatalog(path.join(dir, 'c.jsonl'), { target: 'voucherify', count: 500, format: 'jsonl', keyPrefix: 'aw' });
    const input = inputFor('await-staged', file);
    const before = (await inMock(input.importId).run(activities.awaitStaged, {
      importId: input.importId,
      after: 0,
      batchMs: 0,
    })) as StagedSoFar;
    assert.deepEqual(before, { chunks: 0, read: 0, valid: 0, invalid: 0, done: false }, 'nothing staged: it answers after its wait');
    const result = (await inMock(input.importId).run(activities.stage, input)) as StageResult;
    const after = (await inMock(input.importId).run(activities.awaitStaged, {
      importId: input.importId,
      after: 1000,
      batchMs: 0,
    })) as StagedSoFar;
    assert.deepEqual(after, { chunks: result.chunks, read: 500, valid: 500, invalid: 0, done: true, firstChunkBytes: 1_000_000 });
    assert.ok(result.chunks > 3, `several chunks (${result.chunks})`);
  });

  test('awaitStaged in the worker that stages hears of a chunk as its progress is written, not at its next poll', async () => {
    const { dir, store } = await setUp('await-news');
    // Polls a minute apart: only the news can answer within the test.
    const activities = createStageActivities(store, targets, undefined, 60_000);
    const file = await writeCatalog(path.join(dir, 'c.jsonl'), { target: 'voucherify', count: 500, format: 'jsonl', keyPrefix: 'an' });
    const input = inputFor('await-news', file);
    const started = Date.now();
    const waiting = inMock(input.importId).run(activities.awaitStaged, { importId: input.importId, after: 0, batchMs: 0 });
    // The first read (nothing staged yet) is behind it before staging begins.
    await sleep(200);
    await inMock(input.importId).run(activities.stage, input);
    const news = (await waiting) as StagedSoFar;
    assert.ok(news.chunks >= 1, `chunks committed (${news.chunks})`);
    assert.ok(Date.now() - started < 30_000, `answered on the news, ${Date.now() - started} ms after the call`);
  });

  test('chunks committed in a burst are announced within moments while the source stalls, not at the next commit', async () => {
    const { dir, store, activities } = await setUp('trailing-progress');
    const file = await writeCatalog(path.join(dir, 'c.jsonl'), { target: 'voucherify', count: 1000, format: 'jsonl', keyPrefix: 'tp' });
    const body = await readFile(file);
    // About 5 chunks of 20 KB at once, then nothing until the test has looked.
    let burst = 0;
    for (let line = 0; line < 750; line++) burst = body.indexOf(0x0a, burst) + 1;
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'content-length': String(body.length) });
      res.write(body.subarray(0, burst));
      void released.then(() => res.end(body.subarray(burst)));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/c.jsonl`;
      const input = inputFor('trailing-progress', url);
      const staging = inMock(input.importId).run(activities.stage, input) as Promise<StageResult>;
      const progress = async () =>
        (await store.exists(stagedKey(input.importId)))
          ? (await readAllJsonLines<StagedSoFar>(store, stagedKey(input.importId)))[0]
          : undefined;
      // Every chunk cut from the burst but the one still being filled. Without the trailing write, only the first was
      // announced (at once, as a first chunk is) until the source went on.
      const announced = await eventually(
        "the burst's chunks announced",
        async () => {
          const soFar = await progress();
          return soFar && soFar.chunks >= 4 ? soFar : undefined;
        },
        10_000,
      ).finally(release);
      assert.equal(announced.done, false, 'announced while the source stalled');
      const result = await staging;
      assert.equal(result.valid, 1000);
      assert.deepEqual(await progress(), {
        chunks: result.chunks,
        read: 1000,
        valid: 1000,
        invalid: 0,
        done: true,
        firstChunkBytes: 1_000_000,
      });
    } finally {
      release();
      server.close();
    }
  });

  test("a later attempt removes the files a killed one left half written, and only its own round's", async () => {
    const { dir, store, activities } = await setUp('leftovers');
    const file = await writeCatalog(path.join(dir, 'c.jsonl'), { target: 'voucherify', count: 300, format: 'jsonl', keyPrefix: 'lo' });
    const input = inputFor('leftovers', file);
    const folder = path.join(store.root, 'imports', input.importId);
    // As a worker killed mid-chunk leaves them (the local store's temporary names), beside files others are writing.
    const left = ['chunks/r0-000004.jsonl.4242.7.tmp', 'heads/r0-000004.jsonl.4242.8.tmp', 'invalid.jsonl.4242.1.tmp'];
    const others = ['chunks/r0-000001.0.jsonl.5151.2.tmp', 'chunks/r1-000000.jsonl.5151.3.tmp', 'report/results.csv.5151.4.tmp'];
    for (const name of [...left, ...others]) await store.writeText(`imports/${input.importId}/${name}`, 'half');
    const tmpIn = async (sub: string) =>
      (await readdir(path.join(folder, sub)).catch(() => [])).filter((f) => f.endsWith('.tmp')).map((f) => path.posix.join(sub, f));
    const allTmp = async () => [...(await tmpIn('.')), ...(await tmpIn('chunks')), ...(await tmpIn('heads')), ...(await tmpIn('report'))];

    const result = (await inMock(input.importId, 2).run(activities.stage, input)) as StageResult;
    assert.equal(result.valid, 300);
    assert.deepEqual((await allTmp()).map((f) => f.replace(/^\.\//, '')).sort(), [...others].sort());
    // A retry round's attempt removes its own round's alone.
    assert.equal(await removeLeftovers(store, input.importId, 1), 1);
    assert.deepEqual((await allTmp()).sort(), ['chunks/r0-000001.0.jsonl.5151.2.tmp', 'report/results.csv.5151.4.tmp']);
    // The report's attempt removes what an earlier one left in its folder.
    const { writeReport } = createReportActivities(store);
    await inMock(input.importId).run(writeReport, { input, lastRound: 0 });
    assert.deepEqual(await allTmp(), ['chunks/r0-000001.0.jsonl.5151.2.tmp']);
  });

  test('a source that breaks for good mid-way: what was read is sealed, and the report has a row for every record read', async () => {
    const { dir, store, activities } = await setUp('seal-incomplete');
    // Far more than one 64 KiB read before the broken byte, so records are staged before the error.
    const file = await writeCatalog(path.join(dir, 'c.jsonl'), { target: 'voucherify', count: 2000, format: 'jsonl', keyPrefix: 'si' });
    await appendFile(file, Buffer.from('{"source_id":"\xff"}\n', 'latin1'));
    const input = inputFor('seal-incomplete', file);
    await assert.rejects(inMock(input.importId).run(activities.stage, input), (err: ApplicationFailure) => {
      assert.equal(err.type, 'SourceError');
      assert.equal(err.nonRetryable, true);
      return true;
    });
    const [meta] = await readAllJsonLines<ImportMeta>(store, metaKey(input.importId));
    assert.match(meta?.incomplete ?? '', /not valid UTF-8/);
    const read = meta!.counts!.read;
    assert.ok(read > 0 && read < 2001, `some records read before the break (${read})`);
    const chunkFiles = (await readdir(path.join(store.root, 'imports', input.importId, 'chunks'))).filter((f) => f.endsWith('.jsonl'));
    assert.equal(chunkFiles.length, meta!.counts!.chunks, 'the partial last chunk was written too');
    const [progress] = await readAllJsonLines<StagedSoFar>(store, stagedKey(input.importId));
    assert.equal(progress?.done, true);
    assert.equal(progress?.chunks, meta!.counts!.chunks);

    const { writeReport } = createReportActivities(store);
    const written = (await inMock(input.importId).run(writeReport, { input, lastRound: 0 })) as Awaited<ReturnType<typeof writeReport>>;
    const rows = await readJsonl<ResultRow>(written.files.resultsJsonl);
    assert.equal(rows.length, read, 'one row per record read');
    assert.deepEqual(new Set(rows.map((r) => r.outcome)), new Set(['not-submitted']));
  });

  test('in a thread of its own, staging writes the same chunks, heartbeats, and fails and is cancelled as inline', async () => {
    const { dir, store, activities } = await setUp('stage-thread');
    const threaded = createStageActivities(store, targets, { storeRoot: store.root, env: {} });
    const file = await writeCatalog(path.join(dir, 'c.jsonl'), {
      target: 'voucherify',
      count: 3000,
      format: 'jsonl',
      keyPrefix: 'th',
      invalidEvery: 100,
    });
    const inline = (await inMock('inline').run(activities.stage, inputFor('inline', file))) as StageResult;
    const env = inMock('threaded');
    const beats: unknown[] = [];
    env.on('heartbeat', (d: unknown) => beats.push(d));
    const result = (await env.run(threaded.stage, inputFor('threaded', file))) as StageResult;
    assert.deepEqual(result, inline);
    assert.ok(result.chunks > 3 && result.invalid > 0, `several chunks and invalid rows (${JSON.stringify(result)})`);
    assert.ok(beats.length > 0, 'heartbeats came from the thread');
    for (let i = 0; i < result.chunks; i++) {
      const read = (id: string) => readFile(path.join(store.root, 'imports', id, 'chunks', `${chunkId(0, i)}.jsonl`), 'utf8');
      assert.equal(await read('threaded'), await read('inline'), `chunk ${i} is byte for byte the same`);
    }
    // A source error crosses as one: its type, and retried or not as inline.
    await assert.rejects(
      inMock('threaded-404').run(threaded.stage, inputFor('threaded-404', path.join(dir, 'absent.jsonl'))),
      (err: ApplicationFailure) => {
        assert.equal(err.type, 'SourceError');
        assert.match(err.message, /^source file not found/);
        assert.equal(err.nonRetryable, true);
        return true;
      },
    );
    // A cancel ends the thread and the activity with Temporal's cancellation.
    const big = await writeCatalog(path.join(dir, 'big.jsonl'), { target: 'voucherify', count: 200_000, format: 'jsonl', keyPrefix: 'tb' });
    const cancelling = inMock('threaded-cancel');
    const staging = cancelling.run(threaded.stage, inputFor('threaded-cancel', big));
    await eventually('staging under way', () => store.exists(stagedKey('threaded-cancel')).then((yes) => yes || undefined), 20_000);
    cancelling.cancel();
    await assert.rejects(staging, (err: Error) => err.name === 'CancelledFailure');
  });

  test('the first chunk is cut at 1 MB, the others at the limit; an earlier attempt that cut it like the others is followed', async () => {
    const { dir, store, activities } = await setUp('first-chunk');
    const file = await writeCatalog(path.join(dir, 'c.jsonl'), { target: 'voucherify', count: 12_000, format: 'jsonl', keyPrefix: 'fc' });
    /** Each chunk's request body in bytes (the products' bodies, and a comma between two). */
    const bodies = async (importId: string) => {
      const input = ImportInput.parse({ importId, target: 'voucherify', source: { location: file } });
      const heartbeat = importId.endsWith('resumed') ? { chunksCommitted: 1 } : undefined;
      const result = (await inMock(importId, 1, heartbeat).run(activities.stage, input)) as StageResult;
      return Promise.all(
        Array.from({ length: result.chunks }, async (_, i) => {
          const items = await readChunk(store, importId, chunkId(0, i));
          return items.reduce((n, item) => n + Buffer.byteLength(item.body) + 1, -1);
        }),
      );
    };
    const fresh = await bodies('first-chunk-fresh');
    assert.equal(fresh.length, 2, `a short first chunk, then the rest (${fresh})`);
    assert.ok(fresh[0]! <= 1_000_000 && fresh[0]! > 990_000, `the first one just under 1 MB (${fresh[0]})`);
    // An earlier attempt's progress file without the rule: written by a version that cut every chunk alike.
    await writeLines(store, stagedKey('first-chunk-older'), [JSON.stringify({ chunks: 1, read: 10, valid: 10, invalid: 0, done: false })]);
    const older = await bodies('first-chunk-older');
    assert.deepEqual(older, [fresh[0]! + 1 + fresh[1]!], 'one chunk, cut as the earlier attempt cut it');
    // Chunks committed (the heartbeat says) by a version that wrote no progress file at all: its chunk stands, and so does its cut.
    const chunksOf = (importId: string) => path.join(store.root, 'imports', importId, 'chunks');
    await cp(chunksOf('first-chunk-older'), chunksOf('first-chunk-resumed'), { recursive: true });
    assert.deepEqual(await bodies('first-chunk-resumed'), older);
  });

  test('a download that breaks: an attempt that will be retried seals nothing; the last one seals what it read', async () => {
    const { dir, store, activities } = await setUp('seal-last-attempt');
    const file = await writeCatalog(path.join(dir, 'c.jsonl'), { target: 'voucherify', count: 2000, format: 'jsonl', keyPrefix: 'sl' });
    const body = await readFile(file);
    // Sends the first half of the catalog, then resets the connection.
    const server = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/x-ndjson', 'content-length': String(body.length) });
      res.write(body.subarray(0, body.length / 2), () => setTimeout(() => res.socket?.destroy(), 50));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/c.jsonl`;
      const input = inputFor('seal-last-attempt', url);
      const failed = (attempt: number) =>
        assert.rejects(inMock(input.importId, attempt).run(activities.stage, input), (err: ApplicationFailure) => {
          assert.equal(err.type, 'SourceError');
          assert.equal(err.nonRetryable, attempt === STAGE_ATTEMPTS, `attempt ${attempt}: retried unless it is the last`);
          return true;
        });
      await failed(1);
      assert.equal(await store.exists(metaKey(input.importId)), false, 'a retried attempt leaves no meta: the next one stages again');
      await failed(STAGE_ATTEMPTS);
      const [meta] = await readAllJsonLines<ImportMeta>(store, metaKey(input.importId));
      assert.ok(meta?.incomplete, 'the last attempt sealed what it read');
      assert.ok(meta.counts!.read > 0 && meta.counts!.read < 2000, `part of the catalog (${meta.counts!.read} records)`);
    } finally {
      server.close();
    }
  });
});
