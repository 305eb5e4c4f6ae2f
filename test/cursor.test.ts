/** The window's chunk order on its own: pure, no Temporal. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ChunkCursor, type CursorState } from '../workflows/cursor';

const fresh = (): CursorState => ({ round: 0, roundChunks: 0, nextChunk: 0, pendingParts: [] });
const drain = (c: ChunkCursor) => {
  const ids: string[] = [];
  while (c.hasNext()) ids.push(c.take());
  return ids;
};

test("a round's chunks in order; split halves and chunks put back go out before the next one", () => {
  const c = new ChunkCursor(fresh());
  assert.equal(c.hasNext(), false, 'nothing before staging');
  c.startRound(0, 3);
  const first = c.take();
  c.split([`${first}.0`, `${first}.1`]);
  assert.equal(c.take(), 'r0-000000.0');
  c.putBack('r0-000000.0');
  assert.deepEqual(drain(c), ['r0-000000.0', 'r0-000000.1', 'r0-000001', 'r0-000002']);
});

test('a retry round starts from its first chunk; the state carried through continue-as-new resumes where it stopped', () => {
  const state = fresh();
  const c = new ChunkCursor(state);
  c.startRound(0, 2);
  drain(c);
  c.startRound(1, 3);
  assert.equal(c.round, 1);
  assert.equal(c.take(), 'r1-000000');
  const carried = new ChunkCursor(JSON.parse(JSON.stringify(state)) as CursorState);
  assert.deepEqual(drain(carried), ['r1-000001', 'r1-000002']);
});
