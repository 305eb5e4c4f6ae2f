// Contract test: the Voucherify sandbox's answers against Voucherify's official
// OpenAPI files, kept in <repo>/../shared/apis/voucherify-openapi/.
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startVoucherifySandbox, type VoucherifySandbox } from '../sandbox/index';
import { validateJson, type JsonSchema } from '../sandbox/json-schema';
import { httpRequest, jsonRequest, pollUntil, voucherifyBodyOfSize, type HttpAnswer } from '../sandbox/test-support';

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const specDir = join(repoRoot, '..', 'shared', 'apis', 'voucherify-openapi');
const specFiles = ['products', 'async-actions', 'oauth'] as const;
const missing = specFiles.filter((name) => !existsSync(join(specDir, `${name}.json`)));
const skip =
  missing.length > 0
    ? `Voucherify's OpenAPI files are not at ${specDir} (missing ${missing.map((name) => `${name}.json`).join(', ')}); ../shared is absent`
    : false;

interface Operation {
  operationId: string;
  requestBody?: { content: Record<string, { examples?: Record<string, { value: unknown }> }> };
  responses: Record<string, { content?: Record<string, { schema: JsonSchema }> }>;
}
interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, JsonSchema> };
}

/** One spec file: its operations by id, and a $ref resolver scoped to it. */
function loadSpec(name: (typeof specFiles)[number]) {
  const spec = JSON.parse(readFileSync(join(specDir, `${name}.json`), 'utf8')) as Spec;
  const resolveRef = (ref: string): JsonSchema => {
    const match = /^#\/components\/schemas\/(.+)$/.exec(ref);
    const schema = match?.[1] === undefined ? undefined : spec.components.schemas[match[1]];
    if (!schema) throw new Error(`${name}.json: cannot resolve ${ref}`);
    return schema;
  };
  const operations = new Map<string, Operation>();
  for (const methods of Object.values(spec.paths))
    for (const op of Object.values(methods)) if (op.operationId) operations.set(op.operationId, op);
  return { spec, resolveRef, operations };
}

// A skipped test (rather than a skipped suite) so the runner counts and shows the reason.
if (skip) test('Voucherify sandbox against the official OpenAPI files', { skip }, () => {});
else
  describe('Voucherify sandbox against the official OpenAPI files', () => {
    let specs: Record<(typeof specFiles)[number], ReturnType<typeof loadSpec>>;
    let sandbox: VoucherifySandbox;
    const appKeys = { 'x-app-id': 'sandbox-app-id', 'x-app-token': 'sandbox-app-token' };
    const get = (path: string) => httpRequest(`${sandbox.url}${path}`, { headers: appKeys });
    const bulk = (body: unknown) => httpRequest(`${sandbox.url}/v1/products/bulk/async`, jsonRequest('POST', body, appKeys));

    before(async () => {
      specs = { products: loadSpec('products'), 'async-actions': loadSpec('async-actions'), oauth: loadSpec('oauth') };
      sandbox = await startVoucherifySandbox({ productsPerSecond: 200 });
    });
    after(() => sandbox?.close());

    /** Violations of the schema the spec gives for this operation and status. */
    function violations(file: (typeof specFiles)[number], operationId: string, answer: HttpAnswer): string[] {
      const { operations, resolveRef } = specs[file];
      const operation = operations.get(operationId);
      assert.ok(operation, `${file}.json has no operation ${operationId}`);
      const schema = operation.responses[String(answer.status)]?.content?.['application/json']?.schema;
      assert.ok(schema, `${operationId} documents no JSON answer for ${answer.status}`);
      return validateJson(answer.json, schema, resolveRef);
    }

    function assertConforms(file: (typeof specFiles)[number], operationId: string, answer: HttpAnswer): void {
      assert.deepEqual(violations(file, operationId, answer), [], `${operationId} ${answer.status}: ${answer.text.slice(0, 300)}`);
    }

    /** AsyncAction.result is an untagged oneOf; the alternative that applies is the one titled with the action's type. */
    function resultSchemaFor(type: string): JsonSchema {
      const { resolveRef } = specs['async-actions'];
      const alternatives = (resolveRef('#/components/schemas/AsyncAction').allOf?.[1]?.properties?.result?.oneOf ?? []).map((alt) =>
        resolveRef(alt.$ref ?? ''),
      );
      const schema = alternatives.find((alt) => alt.title === type);
      assert.ok(schema, `no result schema titled ${type}`);
      return schema;
    }

    test('the validator is not vacuous: it rejects answers that break the spec', () => {
      const wrongAction = {
        status: 200,
        json: { id: 1, status: 'WHATEVER', progress: 150, object: 'async_action', created_at: 'yesterday' },
      } as HttpAnswer;
      const found = violations('async-actions', 'get-async-action', wrongAction);
      assert.ok(found.includes('#/id: expected type: String, found: Integer'), found.join('\n'));
      assert.ok(found.includes('#/status: WHATEVER is not a valid enum value'), found.join('\n'));
      assert.ok(found.includes('#/progress: 150 is not less or equal to 100'), found.join('\n'));
      assert.ok(found.includes('#/created_at: [yesterday] is not a valid date-time'), found.join('\n'));
      const productWithoutId = {
        status: 200,
        json: { source_id: 'x', name: null, price: null, attributes: [], metadata: {}, object: 'product' },
      } as HttpAnswer;
      assert.deepEqual(violations('products', 'get-product', productWithoutId), ['#: required key [id] not found']);
    });

    test('POST /v1/oauth/token: 200 and 400', async () => {
      const tokenRequest = (body: string) =>
        httpRequest(`${sandbox.url}/v1/oauth/token`, {
          method: 'POST',
          headers: { ...appKeys, 'content-type': 'application/x-www-form-urlencoded' },
          body,
        });
      assertConforms('oauth', 'generate-oauth-token', await tokenRequest('grant_type=client_credentials&scope=api%20products'));
      assertConforms('oauth', 'generate-oauth-token', await tokenRequest('grant_type=client_credentials&scope=everything'));
    });

    test('POST /v1/products/bulk/async: the spec’s own example gets 202; an oversized body gets the documented 413', async () => {
      const operation = specs.products.operations.get('update-products-in-bulk');
      const example = operation?.requestBody?.content['application/json']?.examples?.Example?.value as Array<Record<string, unknown>>;
      assert.ok(Array.isArray(example) && example.length > 0);
      // The example's image_url is a documentation placeholder ({{internalVoucherifyURL}}).
      const accepted = await bulk(example.map((p) => ({ ...p, image_url: 'https://images.example/phone.png' })));
      assert.equal(accepted.status, 202);
      assertConforms('products', 'update-products-in-bulk', accepted);
      const tooLarge = await bulk(voucherifyBodyOfSize(10_485_761));
      assert.equal(tooLarge.status, 413);
      assertConforms('products', 'update-products-in-bulk', tooLarge);

      const done = await pollUntil(
        () => get(`/v1/async-actions/${accepted.json.async_action_id}`),
        (a) => a.json.status === 'DONE',
      );
      assert.equal(done.json.result.done_count, example.length);
    });

    test('GET /v1/async-actions/{id}: while queued or running, when done with errors, and when unknown', async () => {
      const products = Array.from({ length: 300 }, (_, i) => ({ source_id: `contract-${i}`, price: i === 7 ? 'seven' : i }));
      const id = (await bulk(products)).json.async_action_id as string;
      const early = await get(`/v1/async-actions/${id}`);
      assert.ok(['ENQUEUED', 'IN_PROGRESS'].includes(early.json.status));
      assertConforms('async-actions', 'get-async-action', early);

      const done = await pollUntil(
        () => get(`/v1/async-actions/${id}`),
        (a) => a.json.status === 'DONE',
      );
      assertConforms('async-actions', 'get-async-action', done);
      assert.equal(done.json.result.errors.length, 1);
      const { resolveRef } = specs['async-actions'];
      assert.deepEqual(validateJson(done.json.result, resultSchemaFor(done.json.type), resolveRef), []);

      const unknown = await get('/v1/async-actions/aa_00000000000000dead');
      assert.equal(unknown.status, 404);
      assertConforms('async-actions', 'get-async-action', unknown);
    });

    test('GET /v1/async-actions: 200 and 400', async () => {
      assertConforms('async-actions', 'list-async-actions', await get('/v1/async-actions?limit=3'));
      assertConforms('async-actions', 'list-async-actions', await get('/v1/async-actions?limit=0'));
    });

    test('GET /v1/products and /v1/products/{id}: 200 and 404', async () => {
      await pollUntil(
        () => Promise.resolve(sandbox.productCount()),
        (n) => n >= 2,
      );
      const list = await get('/v1/products?limit=5');
      assertConforms('products', 'list-products', list);
      const first = list.json.products[0];
      assertConforms('products', 'get-product', await get(`/v1/products/${first.id}`));
      assertConforms('products', 'get-product', await get(`/v1/products/${first.source_id}`));
      assertConforms('products', 'get-product', await get('/v1/products/prod_0b00000000deadbeef'));
    });

    test('errors the operations do not list (401, 429) still follow the Error schema', async () => {
      const { resolveRef } = specs.products;
      const unauthorized = await httpRequest(`${sandbox.url}/v1/products/x`);
      assert.equal(unauthorized.status, 401);
      assert.deepEqual(validateJson(unauthorized.json, resolveRef('#/components/schemas/Error'), resolveRef), []);
      sandbox.setFaults({ rateLimitBurstRate: 1, rateLimitBurstLength: 1 });
      const limited = await get('/v1/products/x');
      sandbox.setFaults({});
      assert.equal(limited.status, 429);
      assert.deepEqual(validateJson(limited.json, resolveRef('#/components/schemas/Error'), resolveRef), []);
    });
  });
