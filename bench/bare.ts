/**
 * The bare scripts the benchmarks compare bulkport with: what a careful one-off script does and nothing more. No
 * validation, no durability, no report; `concurrency` loops take request bodies off one list and POST them.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Runs `concurrency` loops over `jobs`, each handing its job to `work`. */
export async function pool<T>(jobs: AsyncIterable<T> | Iterable<T>, concurrency: number, work: (job: T) => Promise<void>): Promise<void> {
  const iterator = (Symbol.asyncIterator in jobs ? jobs[Symbol.asyncIterator]() : jobs[Symbol.iterator]()) as
    | AsyncIterator<T>
    | Iterator<T>;
  // One reader at a time: the loops share the iterator.
  let reading = Promise.resolve();
  const next = () => {
    const turn = reading.then(() => iterator.next());
    reading = turn.then(() => undefined);
    return turn;
  };
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let item = await next(); !item.done; item = await next()) await work(item.value);
    }),
  );
}

/** The catalog's lines, `size` at a time: a JSONL file read once, as a script would. */
export async function* linesOf(file: string, size: number): AsyncIterable<string[]> {
  let batch: string[] = [];
  for await (const line of createInterface({ input: createReadStream(file), crlfDelay: Number.POSITIVE_INFINITY })) {
    if (!line) continue;
    batch.push(line);
    if (batch.length === size) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}

/** Propeller: one POST per batch to the bulk endpoint, with a client-credentials token. */
export async function barePropeller(env: Record<string, string>, file: string, size: number, concurrency: number): Promise<void> {
  const form = new URLSearchParams({
    grant_type: 'client_credentials',
    client_id: env.PROPELLER_CLIENT_ID ?? '',
    client_secret: env.PROPELLER_CLIENT_SECRET ?? '',
  });
  const token = ((await (await fetch(env.PROPELLER_TOKEN_URL ?? '', { method: 'POST', body: form })).json()) as { access_token: string })
    .access_token;
  const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
  await pool(linesOf(file, size), concurrency, async (lines) => {
    const answer = await fetch(`${env.PROPELLER_API_URL}/v2/products/bulk/sourceId`, {
      method: 'POST',
      headers,
      body: `{"products":[${lines.join(',')}]}`,
    });
    if (!answer.ok) throw new Error(`bare script: Propeller answered ${answer.status}`);
    await answer.arrayBuffer();
  });
}

/** Voucherify's credentials, as the sandbox's environment gives them. */
export const voucherifyHeaders = (env: Record<string, string>) => ({
  'x-app-id': env.VOUCHERIFY_APP_ID ?? '',
  'x-app-token': env.VOUCHERIFY_APP_TOKEN ?? '',
});

/** Voucherify: one async bulk action per batch of at most `maxBytes`, each polled every `pollMs` until it is done. */
export async function bareVoucherify(
  env: Record<string, string>,
  file: string,
  maxBytes: number,
  concurrency: number,
  pollMs = 200,
): Promise<void> {
  const headers = { ...voucherifyHeaders(env), 'content-type': 'application/json' };
  async function* bodies(): AsyncIterable<string> {
    let batch: string[] = [];
    let bytes = 2;
    for await (const lines of linesOf(file, 1000)) {
      for (const line of lines) {
        if (batch.length && bytes + line.length + 1 > maxBytes) {
          yield `[${batch.join(',')}]`;
          batch = [];
          bytes = 2;
        }
        batch.push(line);
        bytes += line.length + 1;
      }
    }
    if (batch.length) yield `[${batch.join(',')}]`;
  }
  await pool(bodies(), concurrency, async (body) => {
    const answer = await fetch(`${env.VOUCHERIFY_API_URL}/v1/products/bulk/async`, { method: 'POST', headers, body });
    if (!answer.ok) throw new Error(`bare script: Voucherify answered ${answer.status}`);
    const { async_action_id: id } = (await answer.json()) as { async_action_id: string };
    for (;;) {
      await sleep(pollMs);
      const poll = await fetch(`${env.VOUCHERIFY_API_URL}/v1/async-actions/${id}`, { headers });
      const { status } = (await poll.json()) as { status: string };
      if (status === 'DONE' || status === 'FAILED') return;
    }
  });
}
