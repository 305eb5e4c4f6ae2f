/**
 * `bulkport setup`: registers bulkport's search attributes on a namespace, so the Web UI and
 * `bulkport list` can filter and show imports by target, status and counts. Idempotent: only
 * missing attributes are added; one that exists with another type is an error to fix by hand.
 */
import { isGrpcServiceError, type Client } from '@temporalio/client';
// Exported by the SDK for registering search attributes, though not from the package root.
import { encodeSearchAttributeIndexedValueType } from '@temporalio/common/lib/search-attributes';
import { allSearchAttributes } from '../common/search-attributes';

/** gRPC status codes with which a cluster refuses the operator API. */
const REFUSED = new Set([7 /* PERMISSION_DENIED */, 12 /* UNIMPLEMENTED */, 16 /* UNAUTHENTICATED */]);

export interface SetupResult {
  namespace: string;
  added: string[];
  alreadyPresent: string[];
}

/** The attribute as Temporal Cloud's tcld takes it: BulkImportTotal=Int. */
const tcldSpec = (a: (typeof allSearchAttributes)[number]) => `${a.name}=${a.type[0]}${a.type.slice(1).toLowerCase()}`;

export function cloudInstructions(namespace: string): string {
  return (
    `On Temporal Cloud, search attributes are added in the Cloud UI (Namespaces › ${namespace} › Search attributes) or with tcld:\n` +
    `  tcld namespace search-attributes add --namespace ${namespace} ${allSearchAttributes.map((a) => `--search-attribute "${tcldSpec(a)}"`).join(' ')}`
  );
}

export async function registerSearchAttributes(client: Client, namespace: string): Promise<SetupResult> {
  const operator = client.connection.operatorService;
  try {
    const { customAttributes } = await operator.listSearchAttributes({ namespace });
    const existing = customAttributes ?? {};
    const alreadyPresent: string[] = [];
    const missing: Record<string, number> = {};
    for (const attribute of allSearchAttributes) {
      const wanted = encodeSearchAttributeIndexedValueType(attribute.type)!;
      const found = existing[attribute.name];
      if (found === undefined) missing[attribute.name] = wanted;
      else if (found !== wanted)
        throw new Error(
          `search attribute ${attribute.name} already exists in ${namespace} with another type; bulkport needs ${attribute.type}`,
        );
      else alreadyPresent.push(attribute.name);
    }
    if (Object.keys(missing).length) await operator.addSearchAttributes({ namespace, searchAttributes: missing });
    return { namespace, added: Object.keys(missing), alreadyPresent };
  } catch (err) {
    // Temporal Cloud refuses the operator API to namespace API keys and certificates.
    if (isGrpcServiceError(err) && REFUSED.has(err.code)) {
      throw new Error(
        `The cluster refused to register search attributes (${err.details || err.message}).\n${cloudInstructions(namespace)}`,
      );
    }
    throw err;
  }
}
