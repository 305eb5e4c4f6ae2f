/**
 * One MinIO server on a free loopback port with a data folder of its own, for the S3 tests and the S3 bench.
 * Its credentials are made up per start: it holds nothing but test data and lives as long as the run.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ensureMinio } from './install-minio';

export interface MinioServer {
  pid: number;
  endpoint: string;
  accessKeyId: string;
  secretAccessKey: string;
  region: string;
  /** The variables an S3 client (the AWS SDK's default chain) reads to reach it. */
  awsEnv: Record<string, string>;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 5_000);
  await exited;
  clearTimeout(timer);
}

export async function startMinio(log: (line: string) => void = (line) => console.error(line)): Promise<MinioServer> {
  const binary = await ensureMinio(log);
  const dataDir = await mkdtemp(path.join(os.tmpdir(), 'bulkport-minio-'));
  const accessKeyId = `bulkport${randomBytes(4).toString('hex')}`;
  const secretAccessKey = randomBytes(18).toString('hex');
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  const output: string[] = [];
  const child = spawn(binary, ['server', '--quiet', '--address', `127.0.0.1:${port}`, dataDir], {
    env: { ...process.env, MINIO_ROOT_USER: accessKeyId, MINIO_ROOT_PASSWORD: secretAccessKey, MINIO_BROWSER: 'off' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  for (const stream of [child.stdout, child.stderr]) stream?.on('data', (chunk: Buffer) => output.push(chunk.toString()));
  const stop = async () => {
    await stopChild(child);
    await rm(dataDir, { recursive: true, force: true });
  };
  // Ready when its liveness endpoint answers (a loaded machine may take several seconds).
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`MinIO exited with ${child.exitCode} at start:\n${output.join('').slice(-2000)}`);
    }
    const live = await fetch(`${endpoint}/minio/health/live`).then(
      (r) => r.ok,
      () => false,
    );
    if (live) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`MinIO did not answer on ${endpoint} within 60 s:\n${output.join('').slice(-2000)}`);
    }
    await sleep(100);
  }
  const region = 'us-east-1';
  return {
    pid: child.pid ?? Number.NaN,
    endpoint,
    accessKeyId,
    secretAccessKey,
    region,
    awsEnv: { AWS_ENDPOINT_URL: endpoint, AWS_REGION: region, AWS_ACCESS_KEY_ID: accessKeyId, AWS_SECRET_ACCESS_KEY: secretAccessKey },
    stop,
  };
}
