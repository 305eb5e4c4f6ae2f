/**
 * The JSON Schema of an import's request, for services in other languages that start imports: generated from the zod
 * schema the client and the workflow validate with (common/import.ts), so it cannot drift from them unnoticed
 * (test/schema.test.ts compares the committed file with this). Regenerate: `npm run schema`.
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { ImportInput } from '../common/import';

export const schemaFile = path.resolve(import.meta.dirname, '..', 'schemas', 'import-request.schema.json');

/** The file's text: what a caller may send (`io: 'input'`: options with defaults may be left out). */
export function importRequestSchemaText(): string {
  const { $schema, ...rest } = z.toJSONSchema(ImportInput, { io: 'input' });
  const schema = {
    $schema,
    title: 'bulkport import request',
    description:
      "The one argument of the workflow type importCatalog (task queue bulkport-imports unless the workers' TEMPORAL_TASK_QUEUE says otherwise). importId names the import's staging data and report: use the workflow id, and start with the id reuse policy REJECT_DUPLICATE. source.location is a path the workers can read or an http(s) URL. Generated from common/import.ts by `npm run schema`.",
    ...rest,
  };
  return `${JSON.stringify(schema, null, 2)}\n`;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  await writeFile(schemaFile, importRequestSchemaText());
  console.log(`wrote ${path.relative(process.cwd(), schemaFile)}`);
}
