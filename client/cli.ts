/**
 * `bulkport`: the command line (npm run bulkport -- <command>, or npx bulkport from the repo).
 * The commands live in ./commands/ (program.ts builds them); this file runs them and turns errors into messages and exit codes.
 */
import { describeError } from './commands/errors';
import { buildProgram } from './commands/program';
import { installTracing, shutdownTracing } from '../common/tracing';

try {
  // Before any command connects: OTEL_* settings it cannot use are named as such, not as an unreachable server.
  installTracing('bulkport-client');
  await buildProgram().parseAsync(process.argv);
} catch (err) {
  const { message, exitCode } = describeError(err);
  process.stderr.write(`bulkport: ${message}\n`);
  process.exitCode = exitCode;
} finally {
  // Spans are exported in batches: the last ones go out before the process ends.
  await shutdownTracing();
}
