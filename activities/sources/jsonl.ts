import { jsonRecord, type ReadSourceOptions, RecordText, SourceError, takeJsonRecord, type SourceItem } from './types';

/** A JSON array where JSON Lines were expected: checked on the source's first non-blank character. */
function notJsonLines(): SourceError {
  return new SourceError(
    'the source starts with "[": it is a JSON array, not JSON Lines (one object per line); pass --format json or name the file .json',
  );
}

/**
 * A piece's lines, each parsed only when its reader comes to it. Parsed all at once, a piece's few thousand records were
 * alive together while staging went through them: every young-generation collection copied them, and promoted them to
 * be collected again (bench/README.md, "Records parsed as staging takes them"). An entry is a line's text, or the item
 * of a line that the collector joined (one longer than a piece), or undefined (its text is still being collected).
 */
class JsonlBatch implements Iterable<SourceItem> {
  readonly entries: (string | SourceItem | undefined)[] = [];
  constructor(
    private readonly firstLine: number,
    private readonly precheck?: Precheck,
  ) {}

  *[Symbol.iterator](): Iterator<SourceItem> {
    const { entries, firstLine, precheck } = this;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i];
      const item = typeof entry === 'string' ? jsonRecord(firstLine + i, entry, precheck) : entry;
      if (item) yield item;
    }
  }
}

type Precheck = NonNullable<ReadSourceOptions['precheck']>;

/**
 * One JSON value per line; blank lines are skipped and a broken line is reported without stopping. The records come in
 * batches, one per piece of text read: a promise a batch, where one a record cost as much as parsing it.
 */
export async function* readJsonl(
  chunks: AsyncIterable<string>,
  maxRecordChars: number,
  precheck?: Precheck,
): AsyncGenerator<Iterable<SourceItem>> {
  const acc = new RecordText(maxRecordChars);
  let line = 1;
  let started = false;
  for await (const chunk of chunks) {
    if (!started) {
      const first = /\S/.exec(chunk)?.[0];
      if (first === '[') throw notJsonLines();
      started = first !== undefined;
    }
    let start = 0;
    const batch = new JsonlBatch(line, precheck);
    // Searching only the new chunk keeps a very long line linear instead of rescanning it.
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      const text = chunk.slice(start, nl);
      // A line within one piece of text, as most are, skips the collector.
      if (acc.isEmpty && text.length <= maxRecordChars) batch.entries.push(text);
      else {
        acc.add(text);
        batch.entries.push(takeJsonRecord(line, acc, precheck));
      }
      line++;
      start = nl + 1;
    }
    acc.add(chunk.slice(start));
    if (batch.entries.length) yield batch;
  }
  const last = takeJsonRecord(line, acc, precheck);
  if (last) yield [last];
}
