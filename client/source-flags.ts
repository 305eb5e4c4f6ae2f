/**
 * The `import` flags that describe how to read the source (format, encoding, delimiter, records path),
 * and the SourceRef they make. Checked here so a typo fails before anything starts.
 */
import { InvalidArgumentError, Option } from 'commander';
import { encodingNamed } from '../activities/sources';
import { sourceFormats, type SourceRef } from '../common/import';

export interface SourceFlags {
  format?: (typeof sourceFormats)[number];
  encoding?: string;
  delimiter?: string;
  recordsPath?: string;
}

function encodingLabel(value: string): string {
  try {
    encodingNamed(value);
  } catch (err) {
    throw new InvalidArgumentError((err as Error).message);
  }
  return value;
}

/** One character; `tab` and `\t` for a tab, since a literal tab is awkward to type in a shell. */
function delimiterOf(value: string): string {
  const delimiter = value === 'tab' || value === '\\t' ? '\t' : value;
  if (delimiter.length !== 1 || /[\r\n"]/.test(delimiter)) {
    const expected = "one character other than a quote or a line break, such as ';', '|' or tab";
    throw new InvalidArgumentError(`the delimiter must be ${expected}; got ${JSON.stringify(value)}`);
  }
  return delimiter;
}

function recordsPathOf(value: string): string {
  if (!/^[^.]+(\.[^.]+)*$/.test(value)) {
    throw new InvalidArgumentError(`expected a dotted path of object keys such as products or data.items; got ${JSON.stringify(value)}`);
  }
  return value;
}

export const formatOption = () =>
  new Option('--format <format>', 'the source format (default: from the file extension; .gz is read decompressed)').choices(sourceFormats);

export const encodingOption = () =>
  new Option(
    '--encoding <label>',
    "the source's text encoding when it is not UTF-8, e.g. windows-1252, latin1, shift_jis (UTF-16 with a BOM is detected)",
  ).argParser(encodingLabel);

export const delimiterOption = () =>
  new Option('--delimiter <char>', 'CSV: the cell separator (default ","; e.g. \';\' or tab)').argParser(delimiterOf);

export const recordsPathOption = () =>
  new Option(
    '--records-path <path>',
    'JSON: where the array of records is inside a top-level object, e.g. products or data.items',
  ).argParser(recordsPathOf);

export function sourceRefOf(location: string, flags: SourceFlags): SourceRef {
  const { format, encoding, delimiter, recordsPath } = flags;
  return {
    location,
    ...(format ? { format } : {}),
    ...(encoding ? { encoding } : {}),
    ...(delimiter ? { delimiter } : {}),
    ...(recordsPath ? { recordsPath } : {}),
  };
}
