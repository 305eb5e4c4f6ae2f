import { readFileSync } from 'node:fs';
import { VoucherifyProduct } from '../targets/voucherify/schema';
import { PropellerProduct } from '../targets/propeller/schema';
import { asGivenCheck } from '../targets/as-given';
for (const [name, schema, file] of [
  ['voucherify', VoucherifyProduct, '.bulkport/bench/memory-voucherify-1000000.jsonl'],
  ['propeller', PropellerProduct, '.bulkport/bench/memory-propeller-200000.jsonl'],
] as const) {
  const lines = readFileSync(file, 'utf8').slice(0, 40_000_000).split('\n').slice(0, 100000).filter(Boolean).slice(0, -1);
  const parsed = lines.map((l) => JSON.parse(l));
  const check = asGivenCheck(schema)!;
  let passed = 0, zodOk = 0;
  for (const p of parsed) { if (check(p)) passed++; if (schema.safeParse(p).success) zodOk++; }
  for (const [what, f] of [['check', (p: unknown) => check(p)], ['zod', (p: unknown) => schema.safeParse(p).success]] as const) {
    for (let r = 0; r < 2; r++) {
      const t = process.hrtime.bigint();
      for (const p of parsed) f(p);
      if (r) console.log(name, what, (Number(process.hrtime.bigint() - t) / parsed.length).toFixed(0), 'ns');
    }
  }
  console.log(name, 'check passed', passed, 'zod ok', zodOk, 'of', parsed.length);
}
