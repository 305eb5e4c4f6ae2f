// `bulkport sandbox`: both simulators on loopback until SIGINT/SIGTERM.
import { Command, InvalidArgumentError, Option } from 'commander';
import { defaultFaults, type FaultOptions } from './faults';
import { propellerDefaults, startPropellerSandbox } from './propeller';
import type { SandboxHandle } from './common';
import { startVoucherifySandbox, voucherifyDefaults } from './voucherify';

/** Fault flags are named after the FaultOptions keys, so commander's camelCase gives the keys back. */
const faultFlagHelp: Record<keyof FaultOptions, string> = {
  serverErrorRate: 'share of requests answered 500/502/503/504 without being applied (0..1)',
  rateLimitBurstRate: 'chance that a request starts a burst of injected 429s (0..1)',
  rateLimitBurstLength: 'requests answered 429 in each injected burst',
  rateLimitRetryAfterSeconds: 'Retry-After sent with injected 429s',
  slowRate: 'share of requests whose answer is held back --slow-ms while the request is applied (0..1)',
  slowMs: 'delay of a slow answer; pick one above the client timeout to simulate timeouts',
  dropAfterApplyRate: 'share of requests applied and then answered by closing the connection (0..1)',
  productFailureRate: 'share of products that fail (Voucherify result.errors, Propeller success:false) (0..1)',
  productFailureAttempts: 'submissions a failing product fails before it is accepted',
  actionFailureRate: 'Voucherify: share of async actions that end FAILED part-way (0..1)',
};

type SandboxCommandOptions = FaultOptions & {
  host: string;
  voucherifyPort: number;
  propellerPort: number;
  only?: 'voucherify' | 'propeller';
  seed: number;
  appId: string;
  appToken: string;
  productsPerSecond: number;
  resultShape: 'current' | 'legacy';
  reportTtlSeconds: number;
  bulkPerHour: number;
  callsPerMinute: number;
  bulkWindowSeconds: number;
  callsWindowSeconds: number;
  oauthTokenTtlSeconds: number;
  maxBodyBytes: number;
  clientId: string;
  clientSecret: string;
  tokenTtlSeconds: number;
  tokenShape: 'current' | 'legacy';
  maxProducts: number;
  shuffleResults: boolean;
  quiet: boolean;
};

export const defaultPorts = { voucherify: 4010, propeller: 4020 };

export function sandboxCommand(): Command {
  const vf = voucherifyDefaults;
  const pp = propellerDefaults;
  const command = new Command('sandbox')
    .description(
      'Run local simulators of the Voucherify and Propeller bulk APIs on loopback, with seeded fault injection. ' +
        'Prints their URLs, credentials and the environment a worker needs; stops on Ctrl-C (SIGINT) or SIGTERM. ' +
        'Counters: GET <url>/_sandbox/stats.',
    )
    .option('--host <host>', 'interface both servers listen on', vf.host)
    .option('--voucherify-port <port>', 'port of the Voucherify sandbox (0: any free port)', nonNegativeInteger, defaultPorts.voucherify)
    .option('--propeller-port <port>', 'port of the Propeller sandbox (0: any free port)', nonNegativeInteger, defaultPorts.propeller)
    .addOption(new Option('--only <target>', 'start only one of the two sandboxes').choices(['voucherify', 'propeller']))
    .option('--quiet', 'no per-request log lines on stderr', false)
    .option('--seed <n>', 'seed of every injected fault: the same seed replays the same faults', nonNegativeInteger, vf.seed);
  for (const [key, help] of Object.entries(faultFlagHelp) as Array<[keyof FaultOptions, string]>) {
    const isRate = key.endsWith('Rate');
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)} <${isRate ? 'rate' : 'n'}>`;
    command.option(flag, help, isRate ? rate : nonNegativeNumber, defaultFaults[key]);
  }
  return command
    .option('--app-id <id>', 'Voucherify: accepted X-App-Id', vf.appId)
    .option('--app-token <token>', 'Voucherify: accepted X-App-Token', vf.appToken)
    .option('--products-per-second <n>', 'Voucherify: speed of the async-action worker', positiveNumber, vf.productsPerSecond)
    .addOption(
      new Option('--result-shape <shape>', 'Voucherify: async action result, today\'s or the pre-Aug-2024 "results" list')
        .choices(['current', 'legacy'])
        .default(vf.resultShape),
    )
    .option('--report-ttl-seconds <n>', "Voucherify: how long a finished action's report URL works", positiveNumber, vf.reportTtlSeconds)
    .option(
      '--bulk-per-hour <n>',
      'Voucherify: bulk calls per bulk window (documented plans: 1 to 50)',
      nonNegativeInteger,
      vf.quotas.bulkPerHour,
    )
    .option(
      '--calls-per-minute <n>',
      'Voucherify: other calls per calls window (documented: 100 Business, 2000 Organization)',
      nonNegativeInteger,
      vf.quotas.callsPerMinute,
    )
    .option('--bulk-window-seconds <n>', 'Voucherify: length of the bulk quota window', positiveNumber, vf.quotas.bulkWindowSeconds)
    .option('--calls-window-seconds <n>', 'Voucherify: length of the calls quota window', positiveNumber, vf.quotas.callsWindowSeconds)
    .option(
      '--oauth-token-ttl-seconds <n>',
      'Voucherify: lifetime of tokens from POST /v1/oauth/token',
      positiveNumber,
      vf.oauthTokenTtlSeconds,
    )
    .option('--max-body-bytes <n>', 'Voucherify: largest bulk body accepted; one byte more gets 413', positiveNumber, vf.maxBodyBytes)
    .option('--client-id <id>', 'Propeller: OAuth2 client id', pp.clientId)
    .option('--client-secret <secret>', 'Propeller: OAuth2 client secret', pp.clientSecret)
    .option('--token-ttl-seconds <n>', 'Propeller: lifetime of access tokens (30 minutes documented)', positiveNumber, pp.tokenTtlSeconds)
    .addOption(
      new Option('--token-shape <shape>', 'Propeller: token answer, current or the older gateway\'s (expires_in string, "BearerToken")')
        .choices(['current', 'legacy'])
        .default(pp.tokenResponseShape),
    )
    .option('--max-products <n>', 'Propeller: products allowed per bulk request', positiveNumber, pp.maxProducts)
    .option('--shuffle-results', 'Propeller: answer bulk items in a seeded order instead of input order', false)
    .action(async (options: SandboxCommandOptions) => {
      const started = await startSandboxes(options);
      printSummary(started);
      await new Promise<void>((resolve) => {
        process.once('SIGINT', () => resolve());
        process.once('SIGTERM', () => resolve());
      });
      await Promise.all(started.map(({ sandbox }) => sandbox.close()));
      console.log('sandbox stopped');
    });
}

interface Started {
  name: string;
  sandbox: SandboxHandle;
  credentials: string;
}

async function startSandboxes(o: SandboxCommandOptions): Promise<Started[]> {
  const faults = Object.fromEntries(
    Object.keys(faultFlagHelp).map((key) => [key, o[key as keyof FaultOptions]]),
  ) as unknown as FaultOptions;
  const common = { host: o.host, seed: o.seed, faults, quiet: o.quiet };
  const started: Started[] = [];
  if (o.only !== 'propeller') {
    const sandbox = await startVoucherifySandbox({
      ...common,
      port: o.voucherifyPort,
      appId: o.appId,
      appToken: o.appToken,
      productsPerSecond: o.productsPerSecond,
      resultShape: o.resultShape,
      reportTtlSeconds: o.reportTtlSeconds,
      quotas: {
        bulkPerHour: o.bulkPerHour,
        callsPerMinute: o.callsPerMinute,
        bulkWindowSeconds: o.bulkWindowSeconds,
        callsWindowSeconds: o.callsWindowSeconds,
      },
      oauthTokenTtlSeconds: o.oauthTokenTtlSeconds,
      maxBodyBytes: o.maxBodyBytes,
    });
    started.push({ name: 'Voucherify', sandbox, credentials: `X-App-Id: ${o.appId}  X-App-Token: ${o.appToken}` });
  }
  if (o.only !== 'voucherify') {
    const sandbox = await startPropellerSandbox({
      ...common,
      port: o.propellerPort,
      clientId: o.clientId,
      clientSecret: o.clientSecret,
      tokenTtlSeconds: o.tokenTtlSeconds,
      tokenResponseShape: o.tokenShape,
      maxProducts: o.maxProducts,
      shuffleResults: o.shuffleResults,
    });
    started.push({
      name: 'Propeller',
      sandbox,
      credentials: `client_id: ${o.clientId}  client_secret: ${o.clientSecret}  token URL: ${sandbox.url}/oauth2/token`,
    });
  }
  return started;
}

function printSummary(started: Started[]): void {
  for (const { name, sandbox, credentials } of started) {
    console.log(`${name} sandbox: ${sandbox.url}`);
    console.log(`  credentials: ${credentials}`);
    console.log(`  stats:       ${sandbox.url}/_sandbox/stats`);
  }
  console.log('\nEnvironment for a worker:');
  for (const { sandbox } of started) for (const [name, value] of Object.entries(sandbox.env)) console.log(`export ${name}=${value}`);
  console.log('\nStop with Ctrl-C.');
}

function nonNegativeInteger(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError('expected an integer >= 0');
  return n;
}

function nonNegativeNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('expected a number >= 0');
  return n;
}

function positiveNumber(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('expected a number > 0');
  return n;
}

function rate(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('expected a rate between 0 and 1');
  return n;
}
