/**
 * The environment the image gives the worker: the `ENV` lines of the Dockerfile, read from it so that a bench runs the
 * worker as it ships (glibc's arenas, V8's heap limit) and cannot drift from it.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const dockerfile = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../Dockerfile');

export function imageEnv(): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [, name = '', value = ''] of readFileSync(dockerfile, 'utf8').matchAll(/^ENV\s+(\w+)=("[^"]*"|\S*)\s*$/gm)) {
    env[name] = value.replace(/^"(.*)"$/, '$1');
  }
  return env;
}
