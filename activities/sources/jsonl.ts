import { RecordText, takeJsonRecord, type SourceItem } from './types';

/** One JSON value per line; blank lines are skipped and a broken line is reported without stopping. */
export async function* readJsonl(chunks: AsyncIterable<string>, maxRecordChars: number): AsyncGenerator<SourceItem> {
  const acc = new RecordText(maxRecordChars);
  let line = 1;
  for await (const chunk of chunks) {
    let start = 0;
    // Searching only the new chunk keeps a very long line linear instead of rescanning it.
    for (let nl = chunk.indexOf('\n'); nl !== -1; nl = chunk.indexOf('\n', start)) {
      acc.add(chunk.slice(start, nl));
      const item = takeJsonRecord(line, acc);
      if (item) yield item;
      line++;
      start = nl + 1;
    }
    acc.add(chunk.slice(start));
  }
  const last = takeJsonRecord(line, acc);
  if (last) yield last;
}
