/**
 * `--mapping <file>`: a field mapping read, checked and compiled before anything starts, so a bad one is refused with
 * the file, the field and JSONata's error, never found out by the worker.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { compileMapping, MappingError } from '../activities/mapping';
import { FieldMapping } from '../common/mapping';

/** A mapping file that cannot be used, and why: the CLI prints it as it is. */
export class MappingFileError extends Error {}

/** The mapping in `file`, checked as the workflow checks it and compiled as staging compiles it. */
export async function loadMapping(file: string, target: string): Promise<FieldMapping> {
  const where = path.resolve(file);
  const text = await readFile(where, 'utf8').catch((err: NodeJS.ErrnoException) => {
    throw new MappingFileError(`the mapping file ${where} cannot be read (${err.code ?? err.message}): check the path`);
  });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new MappingFileError(`the mapping file ${where} is not JSON: ${(err as Error).message}`);
  }
  const parsed = FieldMapping.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.length ? `${i.path.join('.')}: ` : ''}${i.message}`);
    throw new MappingFileError(`the mapping file ${where} is not a mapping: ${issues.join('; ')}`);
  }
  const mapping = parsed.data;
  if (mapping.target !== undefined && mapping.target !== target) {
    throw new MappingFileError(`the mapping file ${where} makes ${mapping.target} products, not ${target}: pick the mapping for ${target}`);
  }
  try {
    compileMapping(mapping);
  } catch (err) {
    if (err instanceof MappingError) throw new MappingFileError(`the mapping file ${where} has an invalid expression: ${err.message}`);
    throw err;
  }
  return mapping;
}
