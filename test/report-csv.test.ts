/**
 * The report's CSV rows (`csvRow`) against csv-stringify, which wrote them before: byte for byte, on the inputs
 * that decide quoting and on many random ones.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stringify } from 'csv-stringify/sync';
import { csvRow } from '../activities/report';
import { seededRandom } from './random';

/** What the report wrote per row before. */
const reference = (fields: unknown[]) => stringify([fields]).trimEnd();

const tricky: unknown[] = [
  '',
  ' ',
  'plain',
  ' leading',
  'trailing ',
  'trailing\t',
  'a,b',
  ',',
  '"',
  '""',
  'say "hi"',
  'line\nbreak',
  'cr\rhere',
  'crlf\r\n',
  '\n',
  'tab\tin',
  'ünïcödé — ✓ 😀',
  '\u2028',
  'ends\u00a0',
  "'quoted'",
  '=1+2',
  '-minus',
  '#',
  ';semi;colon',
  '\\back\\slash\\',
  0,
  -0,
  1,
  -12.5,
  1e21,
  1.5e-7,
  Number.NaN,
  Number.POSITIVE_INFINITY,
  Number.MAX_SAFE_INTEGER,
];
// Left to csv-stringify: the row must still come out as it did.
const otherKinds: unknown[] = [true, false, null, undefined, { a: 'b,"c"' }, ['x', 'y'], new Date(0), 10n];

test('each tricky field alone, first, last and between others: the same bytes as csv-stringify', () => {
  for (const field of [...tricky, ...otherKinds]) {
    for (const fields of [[field], [field, 'x'], ['x', field], ['x', field, 'y,z']]) {
      assert.equal(csvRow(fields), reference(fields), JSON.stringify(fields.map(String)));
    }
  }
});

test('the report rows and a failed-records header: the same bytes as csv-stringify', () => {
  const rows: unknown[][] = [
    ['line', 'key', 'outcome', 'attempts', 'error'],
    [12, 'ERP:sku-1', 'failed', 3, 'HTTP 422: {"message":"bad, very bad"}\nsecond line'],
    [13, 'k', 'succeeded', 1, ''],
    [14, '', 'invalid', 0, 'price: must be > 0; names.EN: required '],
    ['sourceId', 'names.EN', 'parent.sourceId', 'attributes'],
  ];
  for (const fields of rows) assert.equal(csvRow(fields), reference(fields));
});

test('random rows over the characters that matter: the same bytes as csv-stringify', () => {
  const alphabet = ['a', 'Z', '0', ' ', ',', '"', '\n', '\r', '\t', 'é', '😀', '\u00a0', '\\', "'"];
  const random = seededRandom(7).int;
  const field = () => {
    if (random(5) === 0) return random(2) ? random(100_000) - 50_000 : random(1000) / 7;
    return Array.from({ length: random(6) }, () => alphabet[random(alphabet.length)]).join('');
  };
  for (let i = 0; i < 5000; i++) {
    const fields = Array.from({ length: 1 + random(5) }, field);
    assert.equal(csvRow(fields), reference(fields), JSON.stringify(fields));
  }
});
