/**
 * Tracing (common/tracing.ts): one Propeller import through a traced client and worker, its spans caught by an
 * in-memory exporter. The client's StartWorkflow, the workflow's RunWorkflow (from the bundle's interceptors) and the
 * stage, submit and report activities must form one trace, each span under the one that caused it.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import path from 'node:path';
import { InMemorySpanExporter, type ReadableSpan, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { Client } from '@temporalio/client';
import { startImport } from '../client';
import { clientInterceptors, installTracing, tracesExporterOf } from '../common/tracing';
import { writeCatalog } from '../scripts/catalog';
import { eventually, tempDir, useTemporal } from './helpers';
import { sandboxFor, workerFor } from './harness';

// Before any worker is created: createImportWorker takes the process's tracing.
const spans = new InMemorySpanExporter();
const tracing = installTracing('bulkport-test', { processor: new SimpleSpanProcessor(spans) });

const t = useTemporal();

test('one import is one trace: StartWorkflow, then RunWorkflow, then its activities', async (ctx) => {
  const sandbox = await sandboxFor(ctx, 'propeller', { seed: 3 });
  const dir = await tempDir('tracing');
  const file = await writeCatalog(path.join(dir, 'catalog.jsonl'), {
    target: 'propeller',
    count: 600,
    format: 'jsonl',
    keyPrefix: 'trace',
  });
  const worker = await workerFor(ctx, t, sandbox.env, 'tracing');
  const client = new Client({ connection: t.client.connection, namespace: t.namespace, interceptors: clientInterceptors(tracing) });
  const workflowId = `tracing-${Date.now()}`;
  const handle = await startImport(
    client,
    // A request per chunk, so that each is a submission of its own.
    { target: 'propeller', source: { location: file }, options: { chunkSize: 200, requestsPerChunk: 1 } },
    { taskQueue: worker.taskQueue, workflowId },
  );
  const summary = await handle.result();
  assert.equal(summary.counts.succeeded, 600);

  const named = (name: string) => spans.getFinishedSpans().filter((s) => s.name === name);
  // The workflow's spans leave the worker through a sink, after the activation that ended them.
  const [run] = await eventually(
    'the RunWorkflow span',
    () => {
      const found = named('RunWorkflow:importCatalog');
      return found.length ? found : undefined;
    },
    10_000,
  );
  const [start] = named('StartWorkflow:importCatalog');
  assert.ok(start && run, 'the client and the workflow have their spans');
  const traceId = start.spanContext().traceId;
  const parentOf = (span: ReadableSpan) => span.parentSpanId;
  assert.equal(run.spanContext().traceId, traceId, 'the workflow runs in the client’s trace');
  assert.equal(parentOf(run), start.spanContext().spanId, 'RunWorkflow is a child of StartWorkflow');

  for (const activity of ['stage', 'submitChunk', 'writeReport']) {
    const scheduled = named(`StartActivity:${activity}`);
    const ran = named(`RunActivity:${activity}`);
    assert.ok(scheduled.length > 0 && ran.length > 0, `${activity} has its spans`);
    for (const s of scheduled) {
      assert.equal(s.spanContext().traceId, traceId, `StartActivity:${activity} is in the trace`);
      assert.equal(parentOf(s), run.spanContext().spanId, `StartActivity:${activity} is a child of RunWorkflow`);
    }
    const scheduledIds = new Set(scheduled.map((s) => s.spanContext().spanId));
    for (const r of ran) {
      assert.equal(r.spanContext().traceId, traceId, `RunActivity:${activity} is in the trace`);
      assert.ok(scheduledIds.has(parentOf(r) ?? ''), `RunActivity:${activity} is a child of its StartActivity`);
    }
  }
  // 600 products in chunks of 200: three submissions, each scheduled and run once (no retries here).
  assert.equal(named('RunActivity:submitChunk').length, 3);
  assert.ok(
    spans.getFinishedSpans().every((s) => s.spanContext().traceId === traceId),
    'nothing of this import started a trace of its own',
  );
});

test('tracing is off unless OTEL_* asks for an exporter', () => {
  const endpoint = { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' };
  assert.equal(tracesExporterOf({}), undefined);
  assert.equal(tracesExporterOf({ OTEL_SERVICE_NAME: 'bulkport' }), undefined, 'a name alone exports nothing');
  assert.equal(tracesExporterOf(endpoint), 'otlp');
  assert.equal(tracesExporterOf({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' }), 'otlp');
  assert.equal(tracesExporterOf({ OTEL_TRACES_EXPORTER: 'console' }), 'console');
  assert.equal(tracesExporterOf({ ...endpoint, OTEL_TRACES_EXPORTER: 'none' }), undefined);
  assert.equal(tracesExporterOf({ ...endpoint, OTEL_SDK_DISABLED: 'true' }), undefined);
  assert.throws(() => tracesExporterOf({ OTEL_TRACES_EXPORTER: 'zipkin' }), /OTEL_TRACES_EXPORTER=zipkin is not supported/);
});
