/**
 * `bulkport`: the command line (npm run bulkport -- <command>, or npx bulkport from the repo).
 * The commands live in ./commands.ts; this file runs them and turns errors into messages and exit codes.
 */
import { buildProgram, describeError } from './commands';

try {
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  const { message, exitCode } = describeError(err);
  process.stderr.write(`bulkport: ${message}\n`);
  process.exitCode = exitCode;
}
