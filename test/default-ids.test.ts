/**
 * Default import ids name the source's file and the second. Two imports of files of one name started in the same
 * second (two scripts, two regions' products.jsonl) each get an id of their own; a chosen id is never changed. No worker
 * polls the task queue: only the starts are tested, against the run's real Temporal server.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { WorkflowExecutionAlreadyStartedError, type WorkflowHandle } from '@temporalio/client';
import { startImport, startMultiImport } from '../client';
import { tempDir, temporal, type TemporalHarness } from './helpers';

let t: TemporalHarness;
let dir: string;
const started: WorkflowHandle[] = [];
before(async () => {
  t = await temporal();
  dir = await tempDir('default-ids');
});
after(async () => {
  await Promise.all(started.map((h) => h.terminate('test over').catch(() => {})));
  await t.close();
});

/** products.jsonl in a folder of its own. */
async function productsIn(folder: string): Promise<string> {
  await mkdir(path.join(dir, folder), { recursive: true });
  const file = path.join(dir, folder, 'products.jsonl');
  await writeFile(file, '{"source_id":"a","name":"A"}\n');
  return file;
}

/** The importId the workflow was started with (its first argument). */
async function importIdOf(handle: WorkflowHandle): Promise<string> {
  const { events } = await handle.fetchHistory();
  const data = events?.[0]?.workflowExecutionStartedEventAttributes?.input?.payloads?.[0]?.data;
  return (JSON.parse(Buffer.from(data ?? []).toString()) as { importId: string }).importId;
}

test('two imports of files of one name in the same second get ids of their own; a chosen id is refused when taken', async () => {
  const now = new Date('2026-12-06T06:01:02.345Z');
  const taskQueue = `default-ids-${process.pid}`;
  const options = { now, taskQueue };
  const request = (file: string) => ({ target: 'voucherify' as const, source: { location: file } });
  const [eu, us] = [await productsIn('eu'), await productsIn('us')];

  const first = await startImport(t.client, request(eu), options);
  const second = await startImport(t.client, request(us), options);
  started.push(first, second);
  const base = 'import-voucherify-products-20261206T060102Z';
  assert.deepEqual([first.workflowId, second.workflowId], [base, `${base}-2`]);
  assert.deepEqual([await importIdOf(first), await importIdOf(second)], [base, `${base}-2`], 'each import id is its workflow id');

  // Several targets: the parent's default id too, and the import id its children derive theirs from.
  const targets = [{ target: 'voucherify' as const }, { target: 'propeller' as const }];
  const multi = await Promise.all([eu, us].map((file) => startMultiImport(t.client, { source: { location: file }, targets }, options)));
  started.push(...multi);
  const multiBase = 'import-voucherify-propeller-products-20261206T060102Z';
  assert.deepEqual(multi.map((h) => h.workflowId).sort(), [multiBase, `${multiBase}-2`]);
  for (const h of multi) assert.equal(await importIdOf(h), h.workflowId);

  // A chosen id names one import: it is refused, not changed.
  await assert.rejects(startImport(t.client, request(us), { ...options, workflowId: base }), WorkflowExecutionAlreadyStartedError);
});
