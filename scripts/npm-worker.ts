/** Node's arguments in package.json's `worker` script, for a tool that starts `npm run worker`'s process itself. */
import { readFileSync } from 'node:fs';
import path from 'node:path';

export function npmWorkerArgs(): string[] {
  const packageJson = path.resolve(import.meta.dirname, '../package.json');
  const { scripts } = JSON.parse(readFileSync(packageJson, 'utf8')) as { scripts: { worker: string } };
  return scripts.worker.split(' ').slice(1); // after `node`
}
