/**
 * `npm run bench`: lists the benchmarks with what each measures; `npm run bench -- <name> [args…]` runs one
 * (the same as `node --import tsx bench/<name>.ts [args…]`). Results belong in bench/README.md.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dir = path.dirname(fileURLToPath(import.meta.url));
// A benchmark's header says how to run it (`bench/<name>.ts`); the modules they share (bare.ts) don't.
const benchmarks = readdirSync(dir)
  .filter((file) => file.endsWith('.ts') && file !== 'run.ts' && readFileSync(path.join(dir, file), 'utf8').includes(`bench/${file}`))
  .map((file) => file.slice(0, -3))
  .sort();

/** The first sentence of a benchmark's header comment, shortened to a line. */
function purpose(name: string): string {
  const text = readFileSync(path.join(dir, `${name}.ts`), 'utf8');
  const header = /^\/\*\*([\s\S]*?)\*\/|^((?:\/\/.*\n)+)/.exec(text);
  const words = (header?.[1] ?? header?.[2] ?? '')
    .replace(/^\s*(\*|\/\/)\s?/gm, '')
    .replace(/\s+/g, ' ')
    .trim();
  const sentence = /^(.*?\.)(\s|$)/.exec(words)?.[1] ?? words;
  return sentence.length > 150 ? `${sentence.slice(0, 149)}…` : sentence;
}

const [name, ...args] = process.argv.slice(2);
if (!name || name === '--help' || name === '-h') {
  console.log('Usage: npm run bench -- <name> [args…]   (results: bench/README.md)\n');
  for (const b of benchmarks) console.log(`  ${b.padEnd(11)} ${purpose(b)}`);
  process.exit(0);
}
if (!benchmarks.includes(name)) {
  console.error(`No benchmark "${name}": choose one of ${benchmarks.join(', ')}`);
  process.exit(1);
}
const run = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, `${name}.ts`), ...args], { stdio: 'inherit' });
process.exit(run.status ?? 1);
