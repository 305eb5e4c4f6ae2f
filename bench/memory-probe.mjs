/**
 * What a worker's memory is made of, sampled from inside it: loaded into the worker with
 *
 *   WORKER_NODE_ARGS="--import ./bench/memory-probe.mjs" node --import tsx bench/memory.ts voucherify 1000000 1
 *
 * Every 250 ms each thread (`M`: the main thread, `W`: the workflow thread) appends its process.memoryUsage() to
 * MEMORY_PROBE_FILE (default /tmp/memory-probe.txt); at each new high of the process's RSS the main thread adds the
 * resident MB of its mappings by name (`anon`: V8's heaps and thread stacks, `[heap]`: glibc's, `node`, the SDK's
 * `index.node`). With MEMORY_PROBE_GC=1 (and `--expose-gc` in WORKER_NODE_ARGS) the main thread collects all garbage
 * before each sample: what is live, not what waits for a collection. A probe for benchmarks, not for a worker in use.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';

const out = process.env.MEMORY_PROBE_FILE ?? '/tmp/memory-probe.txt';
const started = Date.now();
const mb = (bytes) => Math.round(bytes / 1048576);
let highest = 0;

/** Resident MB by mapping name, largest first (Linux /proc). */
function mappings() {
  const byName = new Map();
  let name = 'anon';
  for (const line of readFileSync('/proc/self/smaps', 'utf8').split('\n')) {
    const mapping = /^[0-9a-f]+-[0-9a-f]+ \S+ \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (mapping) name = mapping[1] ? mapping[1].split('/').pop() : 'anon';
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss) byName.set(name, (byName.get(name) ?? 0) + Number(rss[1]));
  }
  return [...byName]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 6)
    .map(([n, kb]) => `${n}:${Math.round(kb / 1024)}`)
    .join(' ');
}

if (isMainThread) writeFileSync(out, '');
setInterval(() => {
  if (isMainThread && process.env.MEMORY_PROBE_GC === '1') globalThis.gc?.();
  const m = process.memoryUsage();
  let line = `${isMainThread ? 'M' : 'W'} ${((Date.now() - started) / 1000).toFixed(1)} rss ${mb(m.rss)} heapTotal ${mb(m.heapTotal)} heapUsed ${mb(m.heapUsed)} external ${mb(m.external)} arrayBuffers ${mb(m.arrayBuffers)}`;
  if (isMainThread && m.rss > highest + 5 * 1048576) {
    highest = m.rss;
    line += ` | ${mappings()}`;
  }
  appendFileSync(out, `${line}\n`);
}, 250).unref();
