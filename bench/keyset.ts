/**
 * Staging's duplicate-key set alone: N distinct keys checked and added as staging does (`mayHave`, then `add`), a chunk
 * committed every 71,000 keys (a 10 MB Voucherify chunk), then every key looked up again (all present).
 *
 *   node --import tsx bench/keyset.ts [count=10000000]
 *
 * Prints the time of each pass, the bytes the set holds, and the process's peak RSS over its RSS before the first key.
 */
import { KeySet } from '../activities/staging/keyset';

const count = Number(process.argv[2] ?? 10_000_000);
const perChunk = 71_000;
const keyOf = (i: number) => `bench-${i}`;
let committed = 0;
// Committed chunks are never read: every key is distinct, and a hash match between distinct keys is counted instead.
let reads = 0;
const set = new KeySet({
  committed: () => committed,
  readChunk: async () => {
    reads++;
    return [];
  },
});
const mib = (bytes: number) => Math.round(bytes / 2 ** 20);
const baseline = process.memoryUsage().rss;
let started = performance.now();
let matches = 0;
for (let i = 0; i < count; i++) {
  const key = keyOf(i);
  if (set.mayHave(key)) {
    matches++;
    if ((await set.firstLine(key)) !== undefined) throw new Error(`${key} found before it was added`);
  }
  set.add(key, i + 1, Math.floor(i / perChunk));
  if (i % perChunk === perChunk - 1) committed++;
}
const addSeconds = (performance.now() - started) / 1000;
committed = Math.ceil(count / perChunk);
started = performance.now();
let found = 0;
for (let i = 0; i < count; i++) if (set.mayHave(keyOf(i))) found++;
const lookupSeconds = (performance.now() - started) / 1000;
if (found !== count) throw new Error(`${count - found} keys added and not found`);
console.log(
  JSON.stringify({
    keys: count,
    addSeconds: Number(addSeconds.toFixed(2)),
    lookupSeconds: Number(lookupSeconds.toFixed(2)),
    hashMatchesOfDistinctKeys: matches,
    chunkReads: reads,
    tableMiB: mib(set.tableBytes),
    peakRssOverBaselineMiB: mib(process.resourceUsage().maxRSS * 1024 - baseline),
  }),
);
