import { pipeline, type Readable } from 'node:stream';
import { parse, type CsvError } from 'csv-parse';
import { SourceError, type ReadSourceOptions, type SourceItem } from './types';

interface ParsedRow {
  record: Record<string, string>;
  raw: string;
  info: { lines: number; index: number; columns: unknown };
}
/** Pushed by on_skip into the parser's own output so it stays in order with the rows. */
interface SkippedRow {
  skipped: CsvError;
  raw: string;
}

/**
 * csv-parse reports the line where a record ends, counting a line break only once a character
 * follows it; the record's raw text (which may begin with the first character of preceding
 * empty lines' breaks) gives the start. It counts the CR and the LF of a CRLF inside a quoted
 * cell as two lines, so that excess is carried forward. (A CRLF inside a quoted header cell is
 * not accounted for.)
 */
class StartLines {
  private excess = 0;

  of(endLine: number, raw: string): { line: number; body: string } {
    const body = raw.replace(/^[\r\n]+/, '');
    let counted = 0;
    let crlf = 0;
    for (let i = 0; i < body.length - 1; i++) {
      const c = body.charCodeAt(i);
      if (c === 0x0a || c === 0x0d) counted++;
      if (c === 0x0d && body.charCodeAt(i + 1) === 0x0a) crlf++;
    }
    const line = endLine - counted - this.excess;
    this.excess += crlf;
    return { line, body: body.replace(/[\r\n]+$/, '') };
  }
}

const quoteList = (cells: string[]): string =>
  cells
    .slice(0, 6)
    .map((c) => JSON.stringify(c))
    .join(', ') + (cells.length > 6 ? ', …' : '');

/** The --delimiter value for a separator, as a user types it. */
const delimiterFlag = (d: string): string => (d === '\t' ? 'tab' : `'${d}'`);

/** A header read as one column because the file uses another separator. */
function checkDelimiter(header: string[], delimiter: string): void {
  if (header.length !== 1) return;
  const other = [';', '\t', '|'].find((d) => d !== delimiter && (header[0] ?? '').includes(d));
  if (other) {
    throw new SourceError(
      `the CSV header (line 1) is one column, ${JSON.stringify(header[0])}: the file separates cells with ${delimiterFlag(other)}, ` +
        `not ${delimiterFlag(delimiter)}; pass --delimiter ${delimiterFlag(other)}`,
    );
  }
}

/** The target cannot key a product without these columns; a missing one usually means there is no header row. */
function checkKeyColumns(header: string[], names: (string | false)[], key: NonNullable<ReadSourceOptions['keyColumns']>): void {
  const missing = key.columns.filter((c) => !names.includes(c));
  if (missing.length === 0) return;
  const has = `it has ${quoteList(header)}`;
  if (/^\s*[[{]/.test(header[0] ?? '')) {
    const fix = 'the file looks like JSON; name it .jsonl or .json, or pass --format jsonl';
    throw new SourceError(`the CSV header (line 1) has no ${missing.join(' or ')} column; ${has}: ${fix}`);
  }
  const lacksHeader = header.some((cell) => !/^[A-Za-z_][\w.-]*$/.test(cell.trim()));
  const fix = lacksHeader
    ? `does the file lack a header row? Add one such as ${key.example}`
    : `rename the column that holds it, or add it (a header such as ${key.example})`;
  throw new SourceError(`the CSV header (line 1) has no ${missing.join(' or ')} column; ${has}: ${fix}`);
}

function headerNames(header: string[], opts: ReadSourceOptions): (string | false)[] {
  const delimiter = opts.delimiter ?? ',';
  checkDelimiter(header, delimiter);
  const seen = new Set<string>();
  const names = header.map((cell) => {
    const name = cell.trim();
    // Spreadsheet exports leave unnamed trailing columns; with no field name they cannot be imported.
    if (name === '') return false;
    // Two columns of one name would silently drop one cell of every row.
    if (seen.has(name)) throw new SourceError(`the CSV header has the column ${JSON.stringify(name)} twice; rename one of them`);
    seen.add(name);
    return name;
  });
  if (opts.keyColumns) checkKeyColumns(header, names, opts.keyColumns);
  return names;
}

function describeSkip(err: CsvError): string {
  if (err.code === 'CSV_QUOTE_NOT_CLOSED') return 'invalid CSV: a quoted cell is never closed (the file ends inside it)';
  return `invalid CSV: ${err.message}`;
}

/** CSV with a header row; rows become flat objects of strings. A malformed row is reported and skipped. */
export async function* readCsv(input: Readable, maxRecordChars: number, opts: ReadSourceOptions = {}): AsyncGenerator<SourceItem> {
  const starts = new StartLines();
  const parser = parse({
    bom: true,
    columns: (header: string[]) => headerNames(header, opts),
    ...(opts.delimiter ? { delimiter: opts.delimiter } : {}),
    info: true,
    raw: true,
    relax_column_count: true,
    // Unquoted cells like 12" screen are common in catalogs and are kept literally.
    relax_quotes: true,
    skip_empty_lines: true,
    // Spreadsheet exports often end with rows of bare commas.
    skip_records_with_empty_values: true,
    skip_records_with_error: true,
    max_record_size: maxRecordChars,
    on_skip: (err, raw) => {
      // csv-parse cannot resume after this error, and it nearly always means a quote runs on through the file.
      if (err?.code === 'CSV_MAX_RECORD_SIZE') {
        const { line } = starts.of(Number(err.lines), raw ?? '');
        throw new SourceError(
          `the CSV record starting at line ${line} is longer than ${maxRecordChars} bytes; look for a quote that is never closed`,
        );
      }
      if (err) parser.push({ skipped: err, raw: raw ?? '' } satisfies SkippedRow);
    },
  });
  // pipeline forwards a failing input (missing file, HTTP error) into the parser's iterator.
  pipeline(input, parser, () => {});
  for await (const row of parser as AsyncIterable<ParsedRow | SkippedRow>) {
    if ('skipped' in row) {
      const { line, body } = starts.of(Number(row.skipped.lines), row.raw);
      yield { line, error: describeSkip(row.skipped), text: body };
      continue;
    }
    const { line, body } = starts.of(row.info.lines, row.raw);
    const headerLength = Array.isArray(row.info.columns) ? row.info.columns.length : 0;
    if (row.info.index !== headerLength) {
      yield { line, error: `row has ${row.info.index} cells but the header has ${headerLength}`, text: body };
    } else {
      yield { line, record: row.record };
    }
  }
}
