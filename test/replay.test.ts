/**
 * Imports started by an earlier version finish on this one: histories recorded on earlier code are replayed against the
 * current workflow code, which must make the same decisions (patched() where it changed; docs/versioning.md).
 *
 * Histories are kept as binary protobuf (`History.encode(await handle.fetchHistory())`): the SDK's JSON reader needs
 * one copy of protobufjs where npm installs two. Every `*.binpb` in test/fixtures/histories is replayed:
 * - staged-before-submitting.binpb: a 2-chunk Propeller import with stub activities, recorded on 300a79f, when staging
 *   ran to its end before the first chunk was sent (it needs dbf054d's patched('stage-alongside'));
 * - staged-beside-the-window.binpb: the same on ff25367, staging followed by awaitStaged as chunks go out;
 * - voucherify-split-retry.<run>.binpb, voucherify-account-quota.1.binpb, propeller-pause-cancel.<run>.binpb: real
 *   imports (worker, sandboxes, every run of the chain), recorded by scripts/record-history.ts (its header says what
 *   each does) on the commit that added them (`git log -- test/fixtures/histories`);
 * - `*-before-<change>.*.binpb`: the same imports recorded on the code before that change (docs/versioning.md).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { defaultPayloadConverter } from '@temporalio/common';
import proto from '@temporalio/proto';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { bundleWorkflows, workflowCode } from '../workers/worker';
import { workerTracing } from '../common/tracing';

const fixtures = path.join(import.meta.dirname, 'fixtures', 'histories');
const bundle = process.env.BULKPORT_WORKFLOW_BUNDLE;
const { History } = proto.temporal.api.history.v1;
type Payload = proto.temporal.api.common.v1.IPayload;

// A replay worker per history: its state changes (5 INFO lines each) would bury the results.
Runtime.install({ logger: new DefaultLogger('WARN') });

const files = readdirSync(fixtures).filter((f) => f.endsWith('.binpb'));
const histories = new Map(files.map((f) => [f, History.decode(readFileSync(path.join(fixtures, f)))]));

// The bundle of a worker that does not trace (dist/workflow-bundle-untraced.js): the histories were recorded with the
// tracing interceptors, so this is a deploy that turns tracing off, or a cluster where only some workers trace.
const untraced = { workflowBundle: { code: await bundleWorkflows(undefined, { traced: false }) } };

for (const [file, history] of histories) {
  test(`${file}: an import recorded on earlier code replays on this code`, async () => {
    // With the tracing interceptors in the bundle, as a worker that traces runs them.
    await Worker.runReplayHistory({ ...workflowCode(bundle), sinks: workerTracing().sinks }, history, file.split('.')[0]);
  });
  test(`${file}: it replays as well on the bundle without the tracing interceptors`, async () => {
    await Worker.runReplayHistory({ ...untraced, sinks: workerTracing().sinks }, history, file.split('.')[0]);
  });
}

const value = (payload: Payload | null | undefined) => (payload ? defaultPayloadConverter.fromPayload<unknown>(payload) : undefined);

/** What the committed histories exercise, read from their events: each line one thing a deploy must not break. */
function coverage(): Set<string> {
  const seen = new Set<string>();
  for (const history of histories.values()) {
    const activities = new Map<string, string>();
    let staged = false;
    for (const event of history.events ?? []) {
      const started = event.workflowExecutionStartedEventAttributes;
      if (started) {
        const input = value(started.input?.payloads?.[0]) as { target?: string } | undefined;
        seen.add(`${started.workflowType?.name}${input?.target ? ` into ${input.target}` : ''}`);
      }
      const result = value(event.activityTaskCompletedEventAttributes?.result?.payloads?.[0]) as { kind?: string } | undefined;
      if (result?.kind === 'split') seen.add('a chunk split after a 413');
      if (/^plan retry round \d/.test(String(value(event.userMetadata?.summary) ?? ''))) seen.add('a retry round');
      if (event.workflowExecutionContinuedAsNewEventAttributes) seen.add('continue-as-new');
      const signal = event.workflowExecutionSignaledEventAttributes?.signalName;
      if (signal) seen.add(`signal ${signal}`);
      const sent = event.signalExternalWorkflowExecutionInitiatedEventAttributes?.signalName;
      if (sent) seen.add(`sent ${sent}`);
      const activity = event.activityTaskScheduledEventAttributes?.activityType?.name;
      if (activity) activities.set(String(event.eventId), activity);
      if (activity === 'messageQuotaCoordinator') seen.add(`activity ${activity}`);
      if (activity === 'messageQuotaCoordinator' && !staged && [...activities.values()].includes('stage'))
        seen.add("the first chunk's permit asked for while staging writes it");
      const done = event.activityTaskCompletedEventAttributes?.scheduledEventId;
      // Staging's first news, or its end.
      if (done && ['awaitStaged', 'stage'].includes(activities.get(String(done)) ?? '')) staged = true;
      const update = event.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.input?.name;
      if (update) seen.add(`update ${update}`);
      const completed = value(event.workflowExecutionCompletedEventAttributes?.result?.payloads?.[0]) as { status?: string } | undefined;
      if (completed?.status) seen.add(`an import ${completed.status}`);
    }
  }
  return seen;
}

test('the committed histories cover both targets, the coordinator told both ways, a split, a retry round, continue-as-new, pause/resume, an update and a cancel', () => {
  const seen = coverage();
  const wanted = [
    'importCatalog into voucherify',
    'importCatalog into propeller',
    'accountQuota into voucherify',
    // An import tells its coordinator by activity until it knows the coordinator's id, then by signal (quota-signals).
    'activity messageQuotaCoordinator',
    'sent quotaPermitRequest',
    'sent quotaPermitAnswer',
    // An import alone on its account is lent the coordinator's gate, and gives it back (permits.ts, account-quota.ts).
    'sent quotaLeaseReturn',
    // Asked for from the import's start, before staging's first news (first-permit-ahead).
    "the first chunk's permit asked for while staging writes it",
    'a chunk split after a 413',
    'a retry round',
    'continue-as-new',
    'signal pause',
    'signal resume',
    'signal cancel',
    'update setConcurrency',
    'an import completed',
    'an import cancelled',
  ];
  assert.deepEqual(
    wanted.filter((w) => !seen.has(w)),
    [],
    `seen: ${[...seen].join(', ')}`,
  );
});
