// Helpers for tests and benchmarks that drive a sandbox over real HTTP.

export interface HttpAnswer {
  status: number;
  headers: Headers;
  text: string;
  /** The parsed body, or undefined when it is not JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read answers field by field, as the API documents them
  json: any;
}

export async function httpRequest(url: string, init: RequestInit = {}): Promise<HttpAnswer> {
  const response = await fetch(url, init);
  const text = await response.text();
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

export function jsonRequest(method: 'GET' | 'POST', body: unknown, headers: Record<string, string>): RequestInit {
  return {
    method,
    headers: { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  };
}

/** Calls `read` until `done` holds for its value, or fails after timeoutMs. */
export async function pollUntil<T>(read: () => Promise<T>, done: (value: T) => boolean, timeoutMs = 10_000, intervalMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline)
      throw new Error(`condition not met within ${timeoutMs} ms; last value: ${JSON.stringify(value).slice(0, 500)}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A Voucherify bulk body of exactly `bytes` bytes: one product whose name pads it out. */
export function voucherifyBodyOfSize(bytes: number, sourceId = 'padded'): string {
  const prefix = `[{"source_id":${JSON.stringify(sourceId)},"name":"`;
  const suffix = '"}]';
  const padding = bytes - prefix.length - suffix.length;
  if (padding < 0) throw new RangeError(`cannot build a body of ${bytes} bytes`);
  return prefix + 'x'.repeat(padding) + suffix;
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
