/**
 * The quota as a resource: bulkport against a Voucherify sandbox with a small bulk quota, next to a bare
 * script that honours Retry-After (same chunks, same concurrency, POSTs only), both in one run, each on a
 * sandbox of its own behind a recording proxy. Per scenario:
 *
 * - calls used ÷ calls allowed in the windows the sandbox opened (a window opens at the first call after the last closed);
 * - 429s (requests into a closed window) per window, at most;
 * - chunks sent to a retry round (bulkport);
 * - time to the next window: from a window's end to the first call accepted in the next one (mean / max).
 *
 *   node --import tsx bench/quota.ts [2per20|1per60|1per10|all]
 */
import { readFile, writeFile } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { startImport } from '../client';
import { LocalFolderStore } from '../activities/staging/store';
import { writeCatalog } from '../scripts/catalog';
import { startDevServer } from '../scripts/dev-server';
import { NativeConnection } from '@temporalio/worker';
import { Client, Connection } from '@temporalio/client';
import { startVoucherifySandbox } from '../sandbox';
import { createImportWorker } from '../workers/worker';
import { tempDir } from '../test/helpers';

interface Scenario {
  name: string;
  limit: number;
  windowSeconds: number;
  chunks: number;
  concurrency: number;
  /** Imports (and bare scripts) into one account at once, sharing the chunks: 1 unless said. */
  imports?: number;
}
const scenarios: Scenario[] = [
  { name: '2per20', limit: 2, windowSeconds: 20, chunks: 8, concurrency: 4 },
  { name: '1per60', limit: 1, windowSeconds: 60, chunks: 3, concurrency: 2 },
  { name: '1per10', limit: 1, windowSeconds: 10, chunks: 16, concurrency: 8 },
  // Two imports into one account: bulkport's account coordinator against two bare scripts that know nothing of each other.
  { name: '2imports', limit: 2, windowSeconds: 20, chunks: 8, concurrency: 4, imports: 2 },
];
const PRODUCTS_PER_CHUNK = 10;
const BULK_PATH = '/v1/products/bulk/async';

interface Call {
  at: number;
  status: number;
}

/** A proxy in front of a sandbox that notes when each bulk POST arrived and how it was answered. */
async function recordingProxy(target: string): Promise<{ url: string; calls: Call[]; close(): Promise<void> }> {
  const calls: Call[] = [];
  const upstream = new URL(target);
  const server = http.createServer((req, res) => {
    const at = Date.now();
    const forward = http.request(
      { host: upstream.hostname, port: upstream.port, path: req.url, method: req.method, headers: req.headers },
      (answer) => {
        if (req.method === 'POST' && req.url?.startsWith(BULK_PATH)) calls.push({ at, status: answer.statusCode ?? 0 });
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    forward.on('error', () => res.destroy());
    req.pipe(forward);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return { url: `http://127.0.0.1:${port}`, calls, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/** The windows as the sandbox opened them, from the calls it saw, and what each measure says about them. */
function judge(calls: Call[], s: Scenario) {
  const windowMs = s.windowSeconds * 1000;
  const windows: { start: number; accepted: number; rejected: number }[] = [];
  for (const call of [...calls].sort((a, b) => a.at - b.at)) {
    const current = windows.at(-1);
    if (!current || call.at >= current.start + windowMs) windows.push({ start: call.at, accepted: 0, rejected: 0 });
    const w = windows.at(-1)!;
    if (call.status === 202) w.accepted++;
    else if (call.status === 429) w.rejected++;
  }
  const lateness = windows.slice(1).map((w, i) => (w.start - (windows[i]!.start + windowMs)) / 1000);
  const accepted = windows.reduce((sum, w) => sum + w.accepted, 0);
  // By the clock too: the calls the quota allowed from the first window's start to the last one's, late starts included.
  const span = windows.length ? (windows.at(-1)!.start - windows[0]!.start) / windowMs + 1 : 1;
  return {
    accepted,
    usedOfAllowed: `${((accepted / (windows.length * s.limit)) * 100).toFixed(0)} % (by the clock ${((accepted / (span * s.limit)) * 100).toFixed(1)} %)`,
    windows: windows.length,
    max429PerWindow: Math.max(0, ...windows.map((w) => w.rejected)),
    total429: windows.reduce((sum, w) => sum + w.rejected, 0),
    nextWindowMeanS: lateness.length ? Number((lateness.reduce((a, b) => a + b, 0) / lateness.length).toFixed(2)) : 0,
    nextWindowMaxS: lateness.length ? Number(Math.max(...lateness).toFixed(2)) : 0,
  };
}

/** The bare script: `concurrency` loops take chunks off one list, POST each, and sleep Retry-After on a 429. */
async function bare(url: string, env: Record<string, string>, bodies: string[], concurrency: number): Promise<void> {
  const headers = { 'x-app-id': env.VOUCHERIFY_APP_ID!, 'x-app-token': env.VOUCHERIFY_APP_TOKEN!, 'content-type': 'application/json' };
  const queue = [...bodies];
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let body = queue.shift(); body !== undefined; body = queue.shift()) {
        for (;;) {
          const answer = await fetch(`${url}${BULK_PATH}`, { method: 'POST', headers, body });
          await answer.arrayBuffer();
          if (answer.status === 202) break;
          if (answer.status !== 429) throw new Error(`bare script: ${answer.status}`);
          await new Promise((r) => setTimeout(r, Number(answer.headers.get('retry-after') ?? 1) * 1000));
        }
      }
    }),
  );
}

async function main(): Promise<void> {
  const which = process.argv[2] ?? 'all';
  const server = await startDevServer();
  const connection = await NativeConnection.connect({ address: server.address });
  const client = new Client({ connection: await Connection.connect({ address: server.address }) });
  const rows: string[] = [];
  for (const s of scenarios.filter((x) => which === 'all' || x.name === which)) {
    const quotas = { bulkPerHour: s.limit, bulkWindowSeconds: s.windowSeconds };
    const [ours, theirs] = await Promise.all([startVoucherifySandbox({ quotas }), startVoucherifySandbox({ quotas })]);
    const [oursProxy, theirsProxy] = await Promise.all([recordingProxy(ours.url), recordingProxy(theirs.url)]);
    const dir = await tempDir(`bench-quota-${s.name}`);
    const count = s.chunks * PRODUCTS_PER_CHUNK;
    const file = await writeCatalog(path.join(dir, 'catalog.jsonl'), { target: 'voucherify', count, format: 'jsonl', keyPrefix: s.name });
    const all = (await readFile(file, 'utf8')).split('\n').filter(Boolean);
    // Each import (and each bare script) gets its share of the chunks.
    const imports = s.imports ?? 1;
    const share = Math.ceil(s.chunks / imports) * PRODUCTS_PER_CHUNK;
    const files: string[] = [];
    const bodies: string[][] = [];
    for (let k = 0; k < imports; k++) {
      const lines = all.slice(k * share, (k + 1) * share);
      files.push(path.join(dir, `catalog-${k}.jsonl`));
      await writeFile(files[k]!, `${lines.join('\n')}\n`);
      bodies.push([]);
      for (let i = 0; i < lines.length; i += PRODUCTS_PER_CHUNK) bodies[k]!.push(`[${lines.slice(i, i + PRODUCTS_PER_CHUNK).join(',')}]`);
    }

    const taskQueue = `bench-quota-${s.name}-${Date.now()}`;
    const worker = await createImportWorker({
      connection,
      namespace: 'default',
      taskQueue,
      env: { ...ours.env, VOUCHERIFY_API_URL: oursProxy.url },
      store: new LocalFolderStore(path.join(dir, 'staging')),
    });
    const running = worker.run();
    const options = { maxItemsPerChunk: PRODUCTS_PER_CHUNK, concurrency: s.concurrency, pollIntervalMs: 500 };
    const started = Date.now();
    const [summaries] = await Promise.all([
      Promise.all(
        files.map((location, k) =>
          startImport(client, { target: 'voucherify', source: { location }, options }, { taskQueue, workflowId: `${taskQueue}-${k}` }).then(
            (h) => h.result(),
          ),
        ),
      ),
      Promise.all(bodies.map((own) => bare(theirsProxy.url, theirs.env, own, s.concurrency))),
    ]);
    const summary = {
      counts: {
        retryRounds: Math.max(...summaries.map((x) => x.counts.retryRounds)),
        succeeded: summaries.reduce((sum, x) => sum + x.counts.succeeded, 0),
      },
    };
    const seconds = ((Date.now() - started) / 1000).toFixed(0);
    worker.shutdown();
    await running;
    const b = judge(oursProxy.calls, s);
    const r = judge(theirsProxy.calls, s);
    const label = `${s.limit} per ${s.windowSeconds} s, ${s.chunks} chunks, concurrency ${s.concurrency}${imports > 1 ? `, ${imports} imports at once` : ''}`;
    const cells = (j: ReturnType<typeof judge>) =>
      `${j.accepted} / ${j.windows} windows · ${j.usedOfAllowed} · ${j.max429PerWindow} (${j.total429} in all) · ${j.nextWindowMeanS} / ${j.nextWindowMaxS} s`;
    rows.push(`| ${label} | bulkport | ${cells(b)} | ${summary.counts.retryRounds} rounds, ${summary.counts.succeeded} ok |`);
    rows.push(`| ${label} | bare script | ${cells(r)} | – |`);
    console.error(`${s.name}: done in ${seconds} s`, JSON.stringify({ bulkport: b, bare: r }));
    await Promise.all([oursProxy.close(), theirsProxy.close(), ours.close(), theirs.close()]);
  }
  console.log(
    '| quota | client | accepted / windows · used ÷ allowed · max 429 per window (all) · next window late, mean / max | retry rounds |',
  );
  console.log('| --- | --- | --- | --- |');
  for (const row of rows) console.log(row);
  await connection.close();
  await server.teardown();
}

await main();
