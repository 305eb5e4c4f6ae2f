import { parseArgs } from 'node:util';
import { httpRequest, jsonRequest, pollUntil, sleep } from '../sandbox/test-support';
import { startSandboxProcess } from './sandbox-process';

const { values } = parseArgs({
  options: {
    products: { type: 'string', default: '1000000' },
    'propeller-products': { type: 'string', default: '1000000' },
  },
});
const voucherifyProducts = Number(values.products);
const propellerProducts = Number(values['propeller-products']);
const maxBodyBytes = 10_485_760;
const mib = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MiB`;

type Row = [measure: string, result: string];
const oneGiB = 1024 * 1024 * 1024;
const settleSeconds = 15;

async function main(): Promise<void> {
  const rows: Row[] = [...(await benchVoucherify()), ...(await benchPropeller())];
  console.log('| measure | result |\n| --- | --- |');
  for (const [measure, result] of rows) console.log(`| ${measure} | ${result} |`);
}

/** Bodies filled up to the 10 MB limit, posted back to back, then processed FIFO. */
function benchVoucherify(): Promise<Row[]> {
  return benchTarget('voucherify', 'Voucherify', async (env, url) => {
    const appKeys = { 'x-app-id': env.VOUCHERIFY_APP_ID ?? '', 'x-app-token': env.VOUCHERIFY_APP_TOKEN ?? '' };
    const postLatencies: number[] = [];
    const actionIds: string[] = [];
    const started = Date.now();
    for (const body of voucherifyBodies(voucherifyProducts)) {
      const postStarted = performance.now();
      const answer = await httpRequest(`${url}/v1/products/bulk/async`, jsonRequest('POST', body, appKeys));
      postLatencies.push(performance.now() - postStarted);
      if (answer.status !== 202) throw new Error(`bulk POST answered ${answer.status}: ${answer.text.slice(0, 200)}`);
      actionIds.push(answer.json.async_action_id);
    }
    const lastAction = actionIds.at(-1) ?? '';
    await pollUntil(
      () => httpRequest(`${url}/v1/async-actions/${lastAction}`, { headers: appKeys }),
      (a) => a.json?.status === 'DONE',
      600_000,
      200,
    );
    const seconds = (Date.now() - started) / 1000;
    return (stats) => [
      [`Voucherify: ${actionIds.length} bulk requests, largest body`, `${stats.largestBodyBytes.toLocaleString('en')} bytes`],
      ['Voucherify: ~10 MB POST answered 202 (median / max)', `${ms(median(postLatencies))} / ${ms(Math.max(...postLatencies))}`],
      [`Voucherify: ${stats.productsStored.toLocaleString('en')} products posted and processed`, rate(voucherifyProducts, seconds)],
    ];
  });
}

/** Full 2000-product requests: creating the whole catalog, then updating part of it. */
function benchPropeller(): Promise<Row[]> {
  return benchTarget('propeller', 'Propeller', async (env, url) => {
    const token = await propellerToken(env);
    const post = async (products: unknown[]) => {
      const started = performance.now();
      const answer = await httpRequest(
        `${url}/v2/products/bulk/sourceId`,
        jsonRequest('POST', { products }, { authorization: `Bearer ${token}` }),
      );
      if (answer.status !== 200 || answer.json.total !== products.length)
        throw new Error(`bulk answered ${answer.status}: ${answer.text.slice(0, 200)}`);
      return performance.now() - started;
    };
    const createLatencies: number[] = [];
    const started = Date.now();
    for (let first = 0; first < propellerProducts; first += 2000) {
      createLatencies.push(
        await post(Array.from({ length: Math.min(2000, propellerProducts - first) }, (_, i) => propellerProduct(first + i))),
      );
    }
    const seconds = (Date.now() - started) / 1000;
    const updateLatencies: number[] = [];
    const updateRounds = Math.min(10, Math.floor(propellerProducts / 2000));
    for (let round = 0; round < updateRounds; round++)
      updateLatencies.push(await post(Array.from({ length: 2000 }, (_, i) => propellerProduct(round * 2000 + i, 'updated'))));
    return (stats) => [
      [
        `Propeller: 2000-product request creating products (median / p95 of ${createLatencies.length})`,
        `${ms(median(createLatencies))} / ${ms(percentile(createLatencies, 0.95))}`,
      ],
      [
        `Propeller: 2000-product request updating products (median / p95 of ${updateRounds})`,
        `${ms(median(updateLatencies))} / ${ms(percentile(updateLatencies, 0.95))}`,
      ],
      ['Propeller: largest 2000-product body', `${stats.largestBodyBytes.toLocaleString('en')} bytes`],
      [`Propeller: ${stats.productsStored.toLocaleString('en')} products stored`, rate(propellerProducts, seconds)],
    ];
  });
}

interface SandboxStatsAnswer {
  largestBodyBytes: number;
  productsStored: number;
  memory: Memory;
}

/** Runs one sandbox alone, loads it, and adds its memory before, during and after loading. */
async function benchTarget(
  only: 'voucherify' | 'propeller',
  label: string,
  load: (env: Record<string, string>, url: string) => Promise<(stats: SandboxStatsAnswer) => Row[]>,
): Promise<Row[]> {
  const sandbox = await startSandboxProcess(only);
  const url = (only === 'voucherify' ? sandbox.env.VOUCHERIFY_API_URL : sandbox.env.PROPELLER_API_URL) ?? '';
  const empty = await memoryOf(url);
  const sampler = sampleMemory(url);
  const describeLoad = await load(sandbox.env, url);
  const peakRss = await sampler.stop();
  const stats = (await httpRequest(`${url}/_sandbox/stats?gc=1`)).json as SandboxStatsAnswer;
  const settled = await settledMemory(url);
  await sandbox.stop();
  return [
    [`${label}: empty sandbox process (RSS / heap used)`, memory(empty)],
    ...describeLoad(stats),
    ...memoryRows(label, stats.productsStored.toLocaleString('en'), peakRss, stats.memory, settled),
  ];
}

interface Memory {
  rssBytes: number;
  heapUsedBytes: number;
}

function memoryRows(target: string, stored: string, peakRss: number, afterLoad: Memory, settled: Memory): Row[] {
  for (const [what, bytes] of [
    ['peak', peakRss],
    ['settled', settled.rssBytes],
  ] as const) {
    if (bytes >= oneGiB) throw new Error(`${target} sandbox ${what} RSS ${mib(bytes)} is not under 1 GiB`);
  }
  return [
    [`${target}: peak RSS while loading`, mib(peakRss)],
    [`${target}: holding ${stored} products, right after loading (RSS / heap used)`, memory(afterLoad)],
    [`${target}: holding ${stored} products, after ${settleSeconds} s idle (RSS / heap used)`, memory(settled)],
  ];
}

/** Polls the sandbox's own memory figures and keeps the highest RSS seen. */
function sampleMemory(url: string): { stop(): Promise<number> } {
  let peak = 0;
  let running = true;
  const loop = (async () => {
    while (running) {
      peak = Math.max(peak, (await memoryOf(url, false)).rssBytes);
      await sleep(250);
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return peak;
    },
  };
}

/** Memory once V8 has had time to hand back what loading used transiently. */
async function settledMemory(url: string): Promise<Memory> {
  await sleep(settleSeconds * 1000);
  return memoryOf(url);
}

/** JSON arrays of products, each as close to the 10 MB limit as whole products allow. */
function* voucherifyBodies(count: number): Generator<string> {
  let parts: string[] = [];
  let bytes = 2;
  for (let i = 0; i < count; i++) {
    const json = JSON.stringify(voucherifyProduct(i));
    const size = Buffer.byteLength(json);
    if (bytes + size + 1 > maxBodyBytes) {
      yield `[${parts.join(',')}]`;
      parts = [];
      bytes = 2;
    }
    parts.push(json);
    bytes += size + 1;
  }
  if (parts.length > 0) yield `[${parts.join(',')}]`;
}

function voucherifyProduct(i: number) {
  const n = String(i).padStart(7, '0');
  return {
    source_id: `sku-${n}`,
    name: `Product ${n} — cotton t-shirt`,
    price: 1000 + (i % 9000),
    attributes: ['color', 'size'],
    metadata: { brand: `Brand ${i % 50}`, category: `Category ${i % 20}`, ean: `590${n}123` },
    image_url: `https://images.example.com/p/${n}.png`,
  };
}

function propellerProduct(i: number, variant = 'created') {
  const n = String(i).padStart(7, '0');
  return {
    sourceId: `sku-${n}`,
    source: 'ERP',
    language: 'EN',
    names: [{ language: 'EN', value: `Product ${n} ${variant}` }],
    sku: `SKU-${n}`,
    price: (1000 + (i % 9000)) / 100,
    supplier: `Supplier ${i % 30}`,
    supplierCode: `SUP-${n}`,
    descriptions: [{ language: 'EN', value: 'A cotton t-shirt.' }],
  };
}

async function propellerToken(env: Record<string, string>): Promise<string> {
  const body = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: env.PROPELLER_CLIENT_ID ?? '',
    client_secret: env.PROPELLER_CLIENT_SECRET ?? '',
  });
  const answer = await httpRequest(env.PROPELLER_TOKEN_URL ?? '', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: body.toString(),
  });
  return answer.json.access_token;
}

async function memoryOf(url: string, collectGarbage = true): Promise<Memory> {
  return (await httpRequest(`${url}/_sandbox/stats${collectGarbage ? '?gc=1' : ''}`)).json.memory;
}

const memory = (m: Memory) => `${mib(m.rssBytes)} / ${mib(m.heapUsedBytes)}`;

const ms = (value: number) => `${Math.round(value)} ms`;
const rate = (products: number, seconds: number) =>
  `${seconds.toFixed(1)} s (${Math.round(products / seconds).toLocaleString('en')} products/s)`;
const median = (values: number[]) => percentile(values, 0.5);
function percentile(values: number[], share: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))] ?? Number.NaN;
}

await main();
