import { jsonRecord, RecordText, SourceError, takeJsonRecord, type SourceItem } from './types';

/** A JSON array where JSON Lines were expected: checked on the source's first non-blank character. */
function notJsonLines(): SourceError {
  return new SourceError(
    'the source starts with "[": it is a JSON array, not JSON Lines (one object per line); pass --format json or name the file .json',
  );
}

/**
 * One JSON value per line; blank lines are skipped and a broken line is reported without stopping. The records come in
 * batches, one per piece of text read: a promise a batch, where one a record cost as much as parsing it.
 */
export async function* readJsonl(chunks: AsyncIterable<string>, maxRecordChars: number): AsyncGenerator<SourceItem[]> {
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
    const batch: SourceItem[] = [];
    // Searching only the new chunk keeps a very long line linear instead of rescanning it.
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      const text = chunk.slice(start, nl);
      // A line within one piece of text, as most are, skips the collector.
      let item: SourceItem | undefined;
      if (acc.isEmpty && text.length <= maxRecordChars) item = jsonRecord(line, text);
      else {
        acc.add(text);
        item = takeJsonRecord(line, acc);
      }
      if (item) batch.push(item);
      line++;
      start = nl + 1;
    }
    acc.add(chunk.slice(start));
    if (batch.length) yield batch;
  }
  const last = takeJsonRecord(line, acc);
  if (last) yield [last];
}
