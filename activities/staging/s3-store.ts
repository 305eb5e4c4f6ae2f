/**
 * The staging store in an S3-compatible bucket (`BULKPORT_STAGING_URL=s3://bucket/prefix`), so that the workers of one
 * import need share no disk. Endpoint, region and credentials come from the AWS SDK's own default chain (AWS_* variables,
 * profiles, instance roles): nothing of them passes through bulkport's inputs, results or logs.
 */
import path from 'node:path';
import { PassThrough, pipeline, Readable } from 'node:stream';
import readline from 'node:readline';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import type { GetObjectCommandOutput, S3Client, S3ClientConfig, S3ServiceException } from '@aws-sdk/client-s3';
import { stagingKindOf, STAGING_KIND_TAG } from './files';
import { type StagingStore, type StoreWriter, splitListPrefix, writeAll } from './store';

/**
 * The AWS SDK, loaded when the first S3 store is made: a worker that stages in a folder never loads it (about 24 MB of
 * its memory). Its packages are CommonJS, which an `import` loads as well, so this is the very module an import gives.
 */
const load = createRequire(import.meta.url);
let clientS3: typeof import('@aws-sdk/client-s3') | undefined;
const sdk = () => (clientS3 ??= load('@aws-sdk/client-s3') as typeof import('@aws-sdk/client-s3'));

/** Whether `err` is an S3 service error; none can be before the SDK is loaded, so this never loads it. */
export function isS3ServiceException(err: unknown): err is S3ServiceException {
  return clientS3 !== undefined && err instanceof clientS3.S3ServiceException;
}

export interface S3Location {
  bucket: string;
  /** Without leading or trailing slash; empty for the bucket's root. */
  prefix: string;
}

/** `s3://bucket/some/prefix` → its bucket and prefix; throws naming the expected form. */
export function parseS3Url(url: string): S3Location {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url.trim());
  if (!m) throw new Error(`BULKPORT_STAGING_URL=${url} is not an s3://bucket/prefix URL`);
  return { bucket: m[1]!, prefix: m[2]!.replace(/^\/+|\/+$/g, '') };
}

/**
 * Client settings beyond the default chain: path-style addressing when an endpoint is set (MinIO and most
 * S3-compatible servers have no per-bucket host names), or when AWS_S3_FORCE_PATH_STYLE asks for it. CRC checksums
 * only where S3 requires them (DeleteObjects): every staging file carries its own SHA-256 seal, checked on each read,
 * so a second checksum of every byte up and down would cost CPU for nothing.
 */
export function s3ClientConfig(env: NodeJS.ProcessEnv = process.env): S3ClientConfig {
  const flag = env.AWS_S3_FORCE_PATH_STYLE?.toLowerCase();
  const forcePathStyle = flag ? flag === 'true' || flag === '1' : Boolean(env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL);
  return { forcePathStyle, requestChecksumCalculation: 'WHEN_REQUIRED', responseChecksumValidation: 'WHEN_REQUIRED' };
}

/** The SDK's "no such key" in the local store's words, so that readers report a missing staging file as they do for a folder. */
function notFound(err: unknown): boolean {
  return isS3ServiceException(err) && (err.name === 'NoSuchKey' || err.name === 'NotFound' || err.$metadata.httpStatusCode === 404);
}
function asEnoent(err: unknown, key: string): unknown {
  if (!notFound(err) || (err as S3ServiceException).name === 'NoSuchBucket') return err;
  return Object.assign(new Error(`no such staging object: ${key}`), { code: 'ENOENT' });
}

/** What a failed S3 call means, in words that name the variable to fix; undefined when it is no setup problem. */
export function describeS3Failure(err: unknown, store: S3Store): string | undefined {
  if (!(err instanceof Error)) return undefined;
  const endpoint = process.env.AWS_ENDPOINT_URL_S3 ?? process.env.AWS_ENDPOINT_URL ?? 'AWS S3';
  const { name } = err;
  const code = (err as NodeJS.ErrnoException).code;
  if (name === 'CredentialsProviderError')
    return `No credentials for the staging bucket ${store.bucket}: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) as the workers have them.`;
  if (/Region is missing/i.test(err.message)) return `No region for the staging bucket ${store.bucket}: set AWS_REGION.`;
  if (name === 'NoSuchBucket' || (name === 'NotFound' && err.message.includes('bucket')))
    return `Bucket ${store.bucket} does not exist at ${endpoint}: check BULKPORT_STAGING_URL (or --staging-url) and AWS_ENDPOINT_URL.`;
  // A HEAD request's 403 has no body to name the reason: the SDK calls it UnknownError.
  if (
    ['InvalidAccessKeyId', 'SignatureDoesNotMatch', 'AccessDenied'].includes(name) ||
    (err as S3ServiceException).$metadata?.httpStatusCode === 403
  )
    return `${endpoint} refused the credentials for bucket ${store.bucket} (${name === 'UnknownError' ? '403' : name}): check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY.`;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || name === 'TimeoutError')
    return `Cannot reach the S3 endpoint ${endpoint} (${code ?? name}): check AWS_ENDPOINT_URL.`;
  return undefined;
}

/** S3 allows at most this many keys in one DeleteObjects request. */
const DELETE_BATCH = 1000;

export class S3Store implements StagingStore {
  readonly client: S3Client;

  constructor(
    readonly location: S3Location,
    client?: S3Client,
  ) {
    // Loaded with any store, whoever made its client: isS3ServiceException knows the SDK's errors from then on.
    const { S3Client } = sdk();
    this.client = client ?? new S3Client(s3ClientConfig());
  }

  static fromUrl(url: string, env: NodeJS.ProcessEnv = process.env): S3Store {
    return new S3Store(parseS3Url(url), new (sdk().S3Client)(s3ClientConfig(env)));
  }

  /** An object's URL as `locate` gives it (`s3://bucket/key`) → a store at the bucket's root and the object's key. */
  static forObject(url: string, env: NodeJS.ProcessEnv = process.env): { store: S3Store; key: string } {
    const { bucket, prefix } = parseS3Url(url);
    return { store: new S3Store({ bucket, prefix: '' }, new (sdk().S3Client)(s3ClientConfig(env))), key: prefix };
  }

  get bucket(): string {
    return this.location.bucket;
  }

  /** `s3://bucket/prefix`, as BULKPORT_STAGING_URL names it. */
  get url(): string {
    return `s3://${this.bucket}/${this.location.prefix}`;
  }

  /** The object key of a staging key; keys that would leave the prefix are refused, as the folder store refuses `..`. */
  objectKey(key: string): string {
    const normal = path.posix.normalize(key);
    if (normal.startsWith('/') || normal === '..' || normal.startsWith('../') || normal === '.') {
      throw new Error(`staging key escapes the store: ${key}`);
    }
    return this.location.prefix ? `${this.location.prefix}/${normal}` : normal;
  }

  locate(key: string): string {
    return `s3://${this.bucket}/${this.objectKey(key)}`;
  }

  /** Objects are tagged with their kind on write, so that lifecycle rules can expire chunks sooner than reports. */
  private tagging(key: string): string {
    return `${STAGING_KIND_TAG}=${stagingKindOf(key)}`;
  }

  async createWriter(key: string): Promise<StoreWriter> {
    const body = new PassThrough();
    // A multipart upload becomes visible only when completed, and a small one is a single PUT: whole or not at all.
    const { Upload } = load('@aws-sdk/lib-storage') as typeof import('@aws-sdk/lib-storage');
    const upload = new Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: this.objectKey(key), Body: body, Tagging: this.tagging(key) },
      // Two 8 MB parts in flight: bounded memory per writer, however large the file (a 1M-line report).
      queueSize: 2,
      partSize: 8 * 1024 * 1024,
    });
    const done = upload.done();
    // A failed upload stops reading: fail the writer's pending write instead of waiting for a drain that never comes.
    done.catch((err: Error) => body.destroy(err));
    let aborted = false;
    return {
      async write(line) {
        if (!body.write(`${line}\n`)) await once(body, 'drain');
      },
      async writeBytes(lines) {
        if (!writeAll(body, lines)) await once(body, 'drain');
      },
      async close() {
        body.end();
        await done;
      },
      async abort() {
        if (aborted) return;
        aborted = true;
        await upload.abort();
        body.destroy();
        await done.catch(() => {});
      },
    };
  }

  async writeText(key: string, text: string | readonly Buffer[]): Promise<void> {
    // Pieces go out as a stream of known length: no copy of the whole file is made.
    const body =
      typeof text === 'string'
        ? { Body: text }
        : { Body: Readable.from(text), ContentLength: text.reduce((n, piece) => n + piece.length, 0) };
    await this.client.send(
      new (sdk().PutObjectCommand)({ Bucket: this.bucket, Key: this.objectKey(key), ...body, Tagging: this.tagging(key) }),
    );
  }

  private async body(key: string): Promise<GetObjectCommandOutput> {
    try {
      return await this.client.send(new (sdk().GetObjectCommand)({ Bucket: this.bucket, Key: this.objectKey(key) }));
    } catch (err) {
      throw asEnoent(err, key);
    }
  }

  async readText(key: string): Promise<string> {
    const { Body } = await this.body(key);
    return (await Body?.transformToString('utf-8')) ?? '';
  }

  async readBytes(key: string): Promise<Buffer> {
    const { Body } = await this.body(key);
    const bytes = await Body?.transformToByteArray();
    return bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) : Buffer.alloc(0);
  }

  /** The object's bytes as a stream; a missing one throws ENOENT. */
  async open(key: string): Promise<Readable> {
    const { Body } = await this.body(key);
    return Body as Readable;
  }

  /** The same, at once: the request goes out when the stream is created, and its failure (ENOENT) comes through the stream. */
  readStream(key: string): Readable {
    const out = new PassThrough();
    this.open(key).then(
      (body) => pipeline(body, out, () => {}),
      (err: unknown) => out.destroy(err as Error),
    );
    return out;
  }

  async *readLines(key: string): AsyncIterable<string> {
    const { Body } = (await this.body(key)) as { Body?: Readable };
    if (!Body) return;
    const lines = readline.createInterface({ input: Body, crlfDelay: Infinity });
    try {
      for await (const line of lines) if (line) yield line;
    } finally {
      Body.destroy();
    }
  }

  /** Pages of a listing: objects and, with a delimiter, the "folders" (common prefixes, without their slash). */
  private async *listPages(
    prefix: string,
    delimiter?: string,
  ): AsyncIterable<{ objects: { key: string; size: number; modifiedMs: number }[]; folders: string[] }> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new (sdk().ListObjectsV2Command)({
          Bucket: this.bucket,
          Prefix: prefix,
          ...(delimiter ? { Delimiter: delimiter } : {}),
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      yield {
        objects: (page.Contents ?? []).map((o) => ({ key: o.Key!, size: o.Size ?? 0, modifiedMs: o.LastModified?.getTime() ?? 0 })),
        folders: (page.CommonPrefixes ?? []).map((p) => p.Prefix!.slice(0, -1)),
      };
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  /** As the folder store: the names in `prefix`'s folder that start with its last part (files and folders), sorted. */
  async list(prefix: string): Promise<string[]> {
    const { dir, base } = splitListPrefix(prefix);
    const folder = dir === '.' ? '' : `${dir}/`;
    const folderKey = folder ? `${this.objectKey(dir)}/` : this.location.prefix ? `${this.location.prefix}/` : '';
    const names: string[] = [];
    for await (const page of this.listPages(`${folderKey}${base}`, '/')) {
      for (const name of [...page.objects.map((o) => o.key), ...page.folders]) names.push(name.slice(folderKey.length));
    }
    return names.sort().map((n) => `${folder}${n}`);
  }

  async exists(key: string): Promise<boolean> {
    try {
      await this.client.send(new (sdk().HeadObjectCommand)({ Bucket: this.bucket, Key: this.objectKey(key) }));
      return true;
    } catch (err) {
      if (asEnoent(err, key) !== err) return false;
      throw err;
    }
  }

  /** As the folder store: the object `prefix` and everything in the "folder" `prefix/` (not `prefix-other`). */
  async remove(prefix: string): Promise<void> {
    let batch: string[] = [this.objectKey(prefix)];
    const flush = async () => {
      if (!batch.length) return;
      const answer = await this.client.send(
        new (sdk().DeleteObjectsCommand)({ Bucket: this.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
      );
      batch = [];
      const failed = answer.Errors ?? [];
      if (failed.length)
        throw new Error(`could not remove ${failed.length} staging object(s), first ${failed[0]?.Key}: ${failed[0]?.Message}`);
    };
    for await (const { key } of this.objects(prefix)) {
      batch.push(this.objectKey(key));
      if (batch.length === DELETE_BATCH) await flush();
    }
    await flush();
  }

  /** Every object under the "folder" `prefix/`, recursively, by staging key. */
  private async *objects(prefix: string): AsyncIterable<{ key: string; size: number; modifiedMs: number }> {
    const full = `${this.objectKey(prefix)}/`;
    for await (const page of this.listPages(full)) {
      for (const o of page.objects) yield { ...o, key: `${prefix}/${o.key.slice(full.length)}` };
    }
  }

  async usage(prefix: string): Promise<{ bytes: number; modifiedMs: number } | undefined> {
    let total: { bytes: number; modifiedMs: number } | undefined;
    try {
      const head = await this.client.send(new (sdk().HeadObjectCommand)({ Bucket: this.bucket, Key: this.objectKey(prefix) }));
      total = { bytes: head.ContentLength ?? 0, modifiedMs: head.LastModified?.getTime() ?? 0 };
    } catch (err) {
      if (asEnoent(err, prefix) === err) throw err;
    }
    for await (const o of this.objects(prefix)) {
      total ??= { bytes: 0, modifiedMs: 0 };
      total.bytes += o.size;
      total.modifiedMs = Math.max(total.modifiedMs, o.modifiedMs);
    }
    return total;
  }

  /** Throws when the bucket cannot be used (missing, no credentials, refused, unreachable): a worker checks at its start. */
  async check(): Promise<void> {
    try {
      await this.client.send(new (sdk().HeadBucketCommand)({ Bucket: this.bucket }));
    } catch (err) {
      if (isS3ServiceException(err) && err.$metadata.httpStatusCode === 404) {
        throw new Error(describeS3Failure(Object.assign(new Error(err.message), { name: 'NoSuchBucket' }), this));
      }
      throw new Error(describeS3Failure(err, this) ?? `The staging bucket ${this.bucket} cannot be used: ${(err as Error).message}`);
    }
  }

  /** A link anyone can download the object with until it expires (at most 7 days with SigV4). */
  presign(key: string, expiresInSeconds: number): Promise<string> {
    const { getSignedUrl } = load('@aws-sdk/s3-request-presigner') as typeof import('@aws-sdk/s3-request-presigner');
    return getSignedUrl(this.client, new (sdk().GetObjectCommand)({ Bucket: this.bucket, Key: this.objectKey(key) }), {
      expiresIn: expiresInSeconds,
    });
  }
}
