/**
 * Imports started by an earlier version finish on this one: histories recorded on earlier code (stub activities) are
 * replayed against the current workflow code, which must make the same decisions (patched() where it changed).
 *
 * Histories are kept as binary protobuf (`History.encode(await handle.fetchHistory())`): the SDK's JSON reader needs
 * one copy of protobufjs where npm installs two.
 * Each is scripts/record-history.ts's 2-chunk Propeller import with stub activities, recorded on the code named:
 * - staged-before-submitting.binpb: 300a79f, when staging ran to its end before the first chunk was sent;
 * - staged-beside-the-window.binpb: the commit that added this test, staging followed by awaitStaged as chunks go out.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import proto from '@temporalio/proto';
import { Worker } from '@temporalio/worker';
import { workflowsPath } from '../workers/worker';

const fixtures = path.join(import.meta.dirname, 'fixtures', 'histories');
const bundle = process.env.BULKPORT_WORKFLOW_BUNDLE;

const histories = [
  ['staged-before-submitting.binpb', 'staged-before-submitting'],
  ['staged-beside-the-window.binpb', 'staged-beside-the-window'],
] as const;

for (const [file, workflowId] of histories) {
  test(`${file}: an import recorded on earlier code replays on this code`, async () => {
    const history = proto.temporal.api.history.v1.History.decode(await readFile(path.join(fixtures, file)));
    await Worker.runReplayHistory(bundle ? { workflowBundle: { codePath: bundle } } : { workflowsPath }, history, workflowId);
  });
}
