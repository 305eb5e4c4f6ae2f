/**
 * The files of one import in the staging store, and their line formats.
 */
import type { ItemOutcome, StagedItem } from '../../targets/types';
import type { LineWriter, StagingStore } from './store';

export const importPrefix = (importId: string) => `imports/${importId}`;
export const chunkKey = (importId: string, chunkId: string) => `${importPrefix(importId)}/chunks/${chunkId}.jsonl`;
export const outcomeKey = (importId: string, chunkId: string) => `${importPrefix(importId)}/outcomes/${chunkId}.jsonl`;
export const invalidKey = (importId: string) => `${importPrefix(importId)}/invalid.jsonl`;
export const metaKey = (importId: string) => `${importPrefix(importId)}/meta.json`;
export const reportKey = (importId: string, file: string) => `${importPrefix(importId)}/report/${file}`;

export { chunkIdOf as chunkId } from '../../common/import';
export const roundOutcomesPrefix = (importId: string, round: number) => `${importPrefix(importId)}/outcomes/r${round}-`;
export const chunkIdOfKey = (key: string) => key.slice(key.lastIndexOf('/') + 1).replace(/\.jsonl$/, '');

/** A chunk line embeds the body as JSON, so it is re-serialized to the very bytes that were measured. */
interface ChunkLine {
  line: number;
  key: string;
  raw: unknown;
  body: unknown;
}

export function encodeItem(item: StagedItem): string {
  return `{"line":${item.line},"key":${JSON.stringify(item.key)},"raw":${JSON.stringify(item.raw ?? null)},"body":${item.body}}`;
}

export async function writeChunk(store: StagingStore, importId: string, id: string, items: StagedItem[]): Promise<void> {
  await writeLines(store, chunkKey(importId, id), items.map(encodeItem));
}

export async function readChunk(store: StagingStore, importId: string, id: string): Promise<StagedItem[]> {
  const items: StagedItem[] = [];
  for await (const text of store.readLines(chunkKey(importId, id))) {
    const line = JSON.parse(text) as ChunkLine;
    items.push({ line: line.line, key: line.key, raw: line.raw, body: JSON.stringify(line.body) });
  }
  return items;
}

/** One line per product of a chunk attempt. */
export type OutcomeLine = { line: number; key: string } & ItemOutcome;

export async function writeOutcomes(store: StagingStore, importId: string, id: string, items: StagedItem[], outcomes: ItemOutcome[]): Promise<void> {
  await writeLines(store, outcomeKey(importId, id), items.map((item, i) => JSON.stringify({ line: item.line, key: item.key, ...outcomes[i] })));
}

export async function* readJsonLines<T>(store: StagingStore, key: string): AsyncIterable<T> {
  for await (const text of store.readLines(key)) yield JSON.parse(text) as T;
}

export async function writeLines(store: StagingStore, key: string, lines: Iterable<string>): Promise<void> {
  const writer = await store.createWriter(key);
  try {
    for (const line of lines) await writer.write(line);
    await writer.close();
  } catch (err) {
    await writer.abort();
    throw err;
  }
}

/** A row rejected before submission, or by the target's validation. */
export interface InvalidRow {
  line: number;
  key?: string;
  errors: { path: string; message: string }[];
  raw?: unknown;
  /** The source text when the row could not be parsed at all. */
  text?: string;
}

export const describeErrors = (errors: InvalidRow['errors']) =>
  errors.map((e) => (e.path ? `${e.path}: ${e.message}` : e.message)).join('; ');

/** Facts about the source that the report needs to write failed records in the source's own format. */
export interface ImportMeta {
  format: 'jsonl' | 'csv' | 'json';
  columns?: string[];
  source: string;
}

export type { LineWriter };
