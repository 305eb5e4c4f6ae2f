import { createReadStream } from 'node:fs';
import { addAbortSignal, type Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import { fileURLToPath } from 'node:url';
import got, { HTTPError, RequestError } from 'got';
import { SourceError, type ReadSourceOptions } from './types';

export const isHttpUrl = (location: string): boolean => /^https?:\/\//i.test(location);

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
    throw new SourceError(`unsupported source location ${redactLocation(location)}: use a local path or an http(s) URL (for ${scheme}, a pre-signed https URL)`);
  }
  return location;
}

export function openSource(location: string, opts: ReadSourceOptions): Readable {
  const stream: Readable = isHttpUrl(location)
    ? // Retries are left to the activity, which restarts the read as a whole.
      got.stream(location, { retry: { limit: 0 }, timeout: { connect: 30_000, socket: 120_000 } })
    : createReadStream(localPath(location), opts.highWaterMark ? { highWaterMark: opts.highWaterMark } : {});
  if (opts.signal) addAbortSignal(opts.signal, stream);
  return stream;
}

/** Decodes bytes to text; the decoder keeps a multi-byte character split across chunks intact. */
export async function* utf8Chunks(input: AsyncIterable<Buffer>): AsyncGenerator<string> {
  const decoder = new StringDecoder('utf8');
  let first = true;
  for await (const bytes of input) {
    let text = decoder.write(bytes);
    if (first && text.length > 0) {
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      first = false;
    }
    if (text.length > 0) yield text;
  }
  const rest = decoder.end();
  if (rest.length > 0) yield rest;
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
  if (err instanceof RequestError) {
    return new SourceError(`downloading the source ${where} failed: ${err.code}; check that the host is reachable`, true);
  }
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
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
