import type { temporal } from '@temporalio/proto';

/** A workflow history as text with every payload decoded, so tests can search what it carries. */
export function historyText(history: temporal.api.history.v1.IHistory): string {
  const parts: string[] = [];
  const walk = (value: unknown): void => {
    if (value instanceof Uint8Array) parts.push(Buffer.from(value).toString('utf8'));
    else if (Array.isArray(value)) value.forEach(walk);
    else if (value && typeof value === 'object')
      for (const [k, v] of Object.entries(value)) {
        parts.push(k);
        walk(v);
      }
    else if (value !== null && value !== undefined) parts.push(String(value));
  };
  walk(history);
  return parts.join('\n');
}
