import { readCsv } from './csv';
import { readJsonArray } from './json-array';
import { readJsonl } from './jsonl';
import { Readable } from 'node:stream';
import { decodeSource } from './decode';
import { describeSourceError, isHttpUrl, openSource, redactLocation } from './open';
import { DEFAULT_MAX_RECORD_CHARS, SourceError, type ReadSourceOptions, type SourceFormat, type SourceItem } from './types';

export { csvColumns, flattenDotted, jsonOrText, unflattenDotted } from '../../common/dotted';
export { redactLocation } from './open';
export { binaryKindOf, encodingNamed, isGzip, utf16Of } from './decode';
export {
  jsonRecord,
  keysWithin,
  MAX_NESTING_DEPTH,
  mayHoldProtoKey,
  nestedDeeperThan,
  protoKeyMessage,
  protoKeyPath,
  sendableAsIs,
  tooDeepMessage,
} from './types';
export { SourceError, type ReadSourceOptions, type SourceFormat, type SourceItem } from './types';

const FORMATS: readonly SourceFormat[] = ['jsonl', 'csv', 'json'];

const EXTENSIONS: Record<string, SourceFormat> = {
  '.jsonl': 'jsonl',
  '.ndjson': 'jsonl',
  '.csv': 'csv',
  '.json': 'json',
};

/** The explicit format when given, else the one named by the location's extension. */
export function detectFormat(location: string, explicit?: SourceFormat): SourceFormat {
  if (explicit !== undefined) {
    // The value may come straight from the command line.
    if (!FORMATS.includes(explicit))
      throw new SourceError(`unknown format ${JSON.stringify(explicit)}: --format accepts ${FORMATS.join(', ')}`);
    return explicit;
  }
  let path = location;
  if (isHttpUrl(location)) {
    try {
      path = new URL(location).pathname;
    } catch {
      path = location.replace(/[?#].*$/s, '');
    }
  }
  // A compressed catalog is named by the extension under .gz (catalog.jsonl.gz).
  const extension = /\.[^./\\]+$/.exec(path.replace(/\.gz$/i, ''))?.[0]?.toLowerCase();
  const format = extension === undefined ? undefined : EXTENSIONS[extension];
  if (format) return format;
  throw new SourceError(
    `cannot tell the format of ${redactLocation(location)} from its extension: expected ${Object.keys(EXTENSIONS).join(', ')}; ` +
      `otherwise pass --format ${FORMATS.join('|')}`,
  );
}

/**
 * Streams the records of a local file or http(s) URL. Memory is bounded by the largest record,
 * not the file. A broken record becomes an error item and reading goes on; a problem with the
 * source as a whole (missing, unreachable, not an array) is thrown as a SourceError.
 */
export async function* readSource(location: string, format: SourceFormat, opts: ReadSourceOptions = {}): AsyncIterable<SourceItem> {
  for await (const batch of readSourceBatches(location, format, opts)) yield* batch;
}

/** Records a batch at a time; the ones read before a failure come first. */
async function* inBatches(items: AsyncIterable<SourceItem>, size = 256): AsyncIterable<SourceItem[]> {
  let batch: SourceItem[] = [];
  try {
    for await (const item of items) {
      batch.push(item);
      if (batch.length >= size) {
        yield batch;
        batch = [];
      }
    }
  } catch (err) {
    if (batch.length) yield batch;
    throw err;
  }
  if (batch.length) yield batch;
}

/** readSource's records in batches, as staging reads them: a promise a batch, not one a record. */
export async function* readSourceBatches(
  location: string,
  format: SourceFormat,
  opts: ReadSourceOptions = {},
): AsyncIterable<Iterable<SourceItem>> {
  opts.signal?.throwIfAborted();
  const maxRecordChars = opts.maxRecordChars ?? DEFAULT_MAX_RECORD_CHARS;
  let input;
  try {
    input = openSource(location, opts);
    if (opts.recordsPath !== undefined && format !== 'json')
      throw new SourceError(`--records-path applies to a JSON source only, not ${format}`);
    if (opts.delimiter !== undefined && format !== 'csv') throw new SourceError(`--delimiter applies to a CSV source only, not ${format}`);
    const text = decodeSource(input, opts);
    switch (format) {
      case 'jsonl':
        yield* readJsonl(text, maxRecordChars, opts.precheck);
        break;
      case 'json':
        yield* inBatches(readJsonArray(text, maxRecordChars, opts.recordsPath));
        break;
      case 'csv':
        yield* inBatches(readCsv(Readable.from(text), maxRecordChars, opts));
        break;
      default:
        throw new SourceError(`unknown format ${JSON.stringify(format)}: expected ${FORMATS.join(', ')}`);
    }
  } catch (err) {
    throw describeSourceError(err, location);
  } finally {
    input?.destroy();
  }
}
