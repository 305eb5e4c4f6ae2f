import { createReadStream } from 'node:fs';
import { addAbortSignal, type Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import got, { HTTPError, RequestError } from 'got';
import { isS3ServiceException, S3Store } from '../staging/s3-store';
import { SourceError, type ReadSourceOptions } from './types';

export const isHttpUrl = (location: string): boolean => /^https?:\/\//i.test(location);
/** An object in an S3-compatible bucket: `s3://bucket/key`. */
export const isS3Url = (location: string): boolean => /^s3:\/\//i.test(location);

/** The URL as it may appear in logs and errors: no credentials, no query string (signed URLs carry secrets there). */
export function redactLocation(location: string): string {
  if (!isHttpUrl(location)) return location;
  try {
    const url = new URL(location);
    return `${url.origin}${url.pathname}${url.search ? '?…' : ''}`;
  } catch {
    return location.replace(/[?#].*$/s, '');
  }
}

function localPath(location: string): string {
  if (/^file:/i.test(location)) return fileURLToPath(location);
  const scheme = /^([a-z][a-z0-9+.-]+):\/\//i.exec(location)?.[1];
  if (scheme) {
    throw new SourceError(
      `unsupported source location ${redactLocation(location)}: use a local path, an http(s) URL or s3://bucket/key (for ${scheme}, a pre-signed https URL)`,
    );
  }
  return location;
}

function s3Object(location: string): Readable {
  const { store, key } = S3Store.forObject(location);
  return store.readStream(key);
}

export function openSource(location: string, opts: ReadSourceOptions): Readable {
  const stream: Readable = opts.open
    ? opts.open()
    : isS3Url(location)
      ? // The object through the AWS SDK's default chain (AWS_* variables, a profile, a role), as the staging bucket is.
        s3Object(location)
      : isHttpUrl(location)
        ? // Retries are left to the activity, which restarts the read as a whole.
          got.stream(location, { retry: { limit: 0 }, timeout: { connect: 30_000, socket: 120_000 } })
        : createReadStream(localPath(location), opts.highWaterMark ? { highWaterMark: opts.highWaterMark } : {});
  if (opts.signal) addAbortSignal(opts.signal, stream);
  return stream;
}

/** Attempts for a refused connection: a local server may be restarting, but not for long. */
const REFUSED_ATTEMPTS = 3;

function describeRequestError(err: RequestError, where: string): SourceError {
  const host = /^https?:\/\/([^/?#]+)/i.exec(where)?.[1] ?? where;
  switch (err.code) {
    case 'ENOTFOUND':
      return new SourceError(`downloading the source ${where} failed: the host ${host} is unknown (ENOTFOUND); check the URL's host name`);
    case 'ECONNREFUSED':
      return new SourceError(
        `downloading the source ${where} failed: ${host} refused the connection (ECONNREFUSED); check that the server is running and the port is right`,
        true,
        REFUSED_ATTEMPTS,
      );
    case 'ERR_INVALID_URL':
      return new SourceError(`the source URL ${where} is not a valid URL; check it`);
    default:
      // Timeouts, resets and EAI_AGAIN may pass on another try.
      return new SourceError(`downloading the source ${where} failed: ${err.code}; check that the host is reachable`, true);
  }
}

const retryableStatus = (status: number): boolean => status === 408 || status === 429 || status >= 500;

/** Replaces low-level stream errors with ones that tell the user what to check; others pass through. */
export function describeSourceError(err: unknown, location: string): unknown {
  if (err instanceof SourceError || (err instanceof Error && err.name === 'AbortError')) return err;
  const where = redactLocation(location);
  // Got's own errors are not passed on: their options hold the full URL with its query string.
  if (err instanceof HTTPError) {
    const { statusCode, statusMessage } = err.response;
    return new SourceError(
      `downloading the source ${where} failed with HTTP ${statusCode}${statusMessage ? ` ${statusMessage}` : ''}; check that the URL is right and still valid`,
      retryableStatus(statusCode),
    );
  }
  if (err instanceof RequestError) return describeRequestError(err, where);
  if (isS3ServiceException(err)) {
    const status = err.$metadata.httpStatusCode ?? 0;
    return new SourceError(
      `reading the source ${where} failed: ${err.name} (HTTP ${status}); check the bucket and key, and the AWS_* variables of the worker`,
      status >= 500 || status === 429,
    );
  }
  // The SDK's own setup errors (no region, no credentials) before any request.
  if (isS3Url(location) && err instanceof Error && (err as NodeJS.ErrnoException).code !== 'ENOENT') {
    return new SourceError(
      `reading the source ${where} failed: ${err.message}; set the worker's AWS_REGION and credentials (and AWS_ENDPOINT_URL for an S3-compatible server)`,
    );
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      if (isS3Url(location)) return new SourceError(`no source object ${where}: check the bucket and the key`);
      return new SourceError(`source file not found: ${where} (check the path; relative paths are resolved from ${process.cwd()})`);
    case 'EACCES':
    case 'EPERM':
      return new SourceError(`source file is not readable: ${where} (check its permissions for the user running the worker)`);
    case 'EISDIR':
      return new SourceError(`source path is a directory, not a file: ${where}`);
    default:
      return err;
  }
}
