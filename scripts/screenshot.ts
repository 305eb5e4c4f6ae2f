/**
 * Makes the README's pictures of an import in the Temporal Web UI: starts the dev server with its
 * UI, the sandboxes and a worker, runs an import of a generated catalog, and photographs the
 * running workflow's pages with headless Chromium (Debian's `chromium`, installed with apt-get
 * when missing; no browser is downloaded from anywhere else). Not part of `npm test`.
 *
 *   node --import tsx scripts/screenshot.ts [--count 120000]   → docs/web-ui.png, docs/web-ui-timeline.png
 *
 * Chromium is driven over the DevTools protocol rather than with `--screenshot`: the Web UI keeps
 * long-polling a running workflow, so `--virtual-time-budget` never runs out, and a fixed
 * real-time wait is what lets the page render.
 */
import { spawn, execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startImport } from '../client';
import { finished } from '../client/progress';
import { workflowUiLink } from '../common/temporal-config';
import { cancelSignal, progressQuery } from '../workflows/messages';
import { writeCatalog } from './catalog';
import { startLocalStack } from './local-stack';

// Node 20 has a WebSocket client only behind a flag (Node 22 always): run again with it.
if (typeof (globalThis as { WebSocket?: unknown }).WebSocket === 'undefined') {
  const child = spawn(process.execPath, ['--experimental-websocket', ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  child.on('exit', (code) => process.exit(code ?? 1));
  await new Promise(() => {});
}

const { values: args } = parseArgs({ options: { count: { type: 'string', default: '120000' } } });
const log = (line: string) => console.error(line);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function findChromium(): string | undefined {
  for (const name of ['chromium', 'chromium-browser']) {
    try {
      return execFileSync('which', [name], { encoding: 'utf8' }).trim();
    } catch {
      // not this one
    }
  }
  return undefined;
}

function ensureChromium(): string {
  const found = findChromium();
  if (found) return found;
  log("Chromium is missing: installing Debian's chromium package …");
  try {
    execFileSync('apt-get', ['update'], { stdio: 'inherit' });
    execFileSync('apt-get', ['install', '-y', 'chromium'], {
      stdio: 'inherit',
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    });
  } catch {
    throw new Error('Could not install chromium; run `sudo apt-get update && sudo apt-get install -y chromium` and try again.');
  }
  const installed = findChromium();
  if (!installed) throw new Error('chromium is still not on PATH after apt-get install');
  return installed;
}

interface MinimalWebSocket {
  onopen: (() => void) | null;
  onerror: ((e: unknown) => void) | null;
  onmessage: ((e: { data: unknown }) => void) | null;
  send(data: string): void;
  close(): void;
}

/** A DevTools protocol session over one WebSocket: send a command, get its result. */
async function devtools(url: string) {
  const ws = new (globalThis as unknown as { WebSocket: new (url: string) => MinimalWebSocket }).WebSocket(url);
  const pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  let lastId = 0;
  ws.onmessage = ({ data }) => {
    const message = JSON.parse(String(data)) as { id?: number; result?: Record<string, unknown>; error?: { message: string } };
    const waiting = message.id === undefined ? undefined : pending.get(message.id);
    if (!waiting) return; // an event
    pending.delete(message.id!);
    if (message.error) waiting.reject(new Error(message.error.message));
    else waiting.resolve(message.result ?? {});
  };
  await new Promise<void>((resolve, reject) => {
    ws.onopen = resolve;
    ws.onerror = reject;
  });
  return {
    send(method: string, params: Record<string, unknown> = {}): Promise<Record<string, unknown>> {
      const id = ++lastId;
      ws.send(JSON.stringify({ id, method, params }));
      return new Promise((resolve, reject) => pending.set(id, { resolve, reject }));
    },
    close: () => ws.close(),
  };
}

/** Opens each page in headless Chromium, gives the Web UI (a JS app) time to render, saves a PNG. */
async function screenshots(chromium: string, shots: { url: string; out: string; height: number }[], renderMs = 8000): Promise<void> {
  const profile = await mkdtemp(path.join(os.tmpdir(), 'bulkport-chromium-'));
  const flags = [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--hide-scrollbars',
  ];
  const browser = spawn(chromium, [...flags, `--user-data-dir=${profile}`, '--remote-debugging-port=0', 'about:blank'], {
    stdio: 'ignore',
  });
  try {
    // Chromium writes its port here once it listens.
    let port: string | undefined;
    for (let i = 0; i < 300 && !port; i++) {
      port = (await readFile(path.join(profile, 'DevToolsActivePort'), 'utf8').catch(() => '')).split('\n')[0] || undefined;
      if (!port) await sleep(100);
    }
    if (!port) throw new Error('Chromium did not open its DevTools port within 30 s');
    const targets = (await (await fetch(`http://127.0.0.1:${port}/json/list`)).json()) as { type: string; webSocketDebuggerUrl: string }[];
    const page = targets.find((t) => t.type === 'page');
    if (!page) throw new Error('Chromium has no page to drive');
    const cdp = await devtools(page.webSocketDebuggerUrl);
    await cdp.send('Page.enable');
    for (const shot of shots) {
      await cdp.send('Emulation.setDeviceMetricsOverride', { width: 1400, height: shot.height, deviceScaleFactor: 1, mobile: false });
      await cdp.send('Page.navigate', { url: shot.url });
      await sleep(renderMs);
      const { data } = await cdp.send('Page.captureScreenshot', { format: 'png' });
      await mkdir(path.dirname(path.resolve(shot.out)), { recursive: true });
      await writeFile(shot.out, Buffer.from(String(data), 'base64'));
      log(`Saved ${shot.out}`);
    }
    cdp.close();
  } finally {
    // The profile can go once Chromium has stopped writing to it.
    if (browser.exitCode === null) await new Promise((resolve) => browser.once('exit', resolve).kill());
    await rm(profile, { recursive: true, force: true });
  }
}

const chromium = ensureChromium();
const count = Number(args.count);
// A slow sandbox, so the import is still running (with its live details) when the pictures are taken.
const stack = await startLocalStack({ log, sandboxOptions: { voucherify: { productsPerSecond: Math.max(500, Math.round(count / 150)) } } });
let exitCode = 0;
try {
  const catalog = await writeCatalog(path.resolve('.bulkport/screenshot/catalog.jsonl'), {
    target: 'voucherify',
    count,
    format: 'jsonl',
    invalidEvery: 2000,
    keyPrefix: 'shot',
  });
  const handle = await startImport(stack.client, {
    target: 'voucherify',
    source: { location: catalog },
    options: { chunkBytes: 500_000, pollIntervalMs: 250 },
  });
  const run = workflowUiLink(stack.config, handle.workflowId, handle.firstExecutionRunId);
  log(`Import started: ${run}`);
  // About a third done: counts, rate and ETA are all on the page.
  for (;;) {
    const p = await handle.query(progressQuery);
    if (p.valid > 0 && finished(p) >= p.valid / 3) break;
    await sleep(500);
  }
  await screenshots(chromium, [
    // Summary and live progress (current details); then the timeline, tall enough to show chunk activities by name.
    { url: `${run}/user-metadata`, out: 'docs/web-ui.png', height: 860 },
    { url: `${run}/timeline`, out: 'docs/web-ui-timeline.png', height: 1500 },
  ]);
  await handle.signal(cancelSignal, 'screenshots taken');
  await handle.result();
} catch (err) {
  log(err instanceof Error ? (err.stack ?? err.message) : String(err));
  exitCode = 1;
} finally {
  await stack.shutdown();
}
process.exit(exitCode);
