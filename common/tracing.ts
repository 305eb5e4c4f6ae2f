/**
 * OpenTelemetry tracing through @temporalio/interceptors-opentelemetry: the client's StartWorkflow, the workflow's
 * RunWorkflow and its activities' spans form one trace. Configured by the standard OTEL_* variables and off unless
 * one of them asks for an exporter, so a process without them creates no tracer, and a worker without them runs the
 * workflow bundle without the workflow interceptors (workers/worker.ts, bundleWorkflows).
 */
import { createRequire } from 'node:module';
import type * as otel from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import type { SpanProcessor } from '@opentelemetry/sdk-trace-base';
import type { OpenTelemetrySinks } from '@temporalio/interceptors-opentelemetry';
import type { InjectedSinks, WorkerOptions } from '@temporalio/worker';

const require = createRequire(import.meta.url);

/** The SDK and the interceptors load once tracing is on: a process without it does not pay their ~20 MB (bench/README.md). */
const load = () => ({
  contextHooks: require('@opentelemetry/context-async-hooks') as typeof import('@opentelemetry/context-async-hooks'),
  otlp: require('@opentelemetry/exporter-trace-otlp-http') as typeof import('@opentelemetry/exporter-trace-otlp-http'),
  resources: require('@opentelemetry/resources') as typeof import('@opentelemetry/resources'),
  traceBase: require('@opentelemetry/sdk-trace-base') as typeof import('@opentelemetry/sdk-trace-base'),
  interceptors: require('@temporalio/interceptors-opentelemetry') as typeof import('@temporalio/interceptors-opentelemetry'),
});

/** The workflow half of the interceptors: bundled with the workflows for a worker that traces. */
export const workflowInterceptorModules = [require.resolve('@temporalio/interceptors-opentelemetry/lib/workflow-interceptors')];

export interface Tracing {
  tracer: otel.Tracer;
  processor: SpanProcessor;
  resource: Resource;
  /** Exports what is pending and stops; call before the process exits. */
  shutdown(): Promise<void>;
}

/** The exporter OTEL_* asks for, or undefined when tracing is off (the default). */
export function tracesExporterOf(env: NodeJS.ProcessEnv): 'otlp' | 'console' | undefined {
  if (env.OTEL_SDK_DISABLED === 'true') return undefined;
  const named = env.OTEL_TRACES_EXPORTER?.trim();
  if (named === 'none') return undefined;
  if (named === 'otlp' || named === 'console') return named;
  if (named) throw new Error(`OTEL_TRACES_EXPORTER=${named} is not supported by bulkport: use otlp, console or none`);
  return env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ? 'otlp' : undefined;
}

let installed: Tracing | undefined;

/**
 * Registers the process's tracer provider (W3C propagation, AsyncLocalStorage context), once: later calls return the
 * first. `processor` replaces the exporter OTEL_* names (tests pass an in-memory one). Undefined when tracing is off.
 */
export function installTracing(
  serviceName: string,
  { env = process.env, processor }: { env?: NodeJS.ProcessEnv; processor?: SpanProcessor } = {},
): Tracing | undefined {
  if (installed) return installed;
  const exporter = processor ? undefined : tracesExporterOf(env);
  if (!processor && !exporter) return undefined;
  const { contextHooks, otlp, resources, traceBase } = load();
  // The OTLP exporter reads its endpoint, headers and timeout from OTEL_EXPORTER_OTLP_* itself.
  const spanProcessor =
    processor ??
    new traceBase.BatchSpanProcessor(exporter === 'console' ? new traceBase.ConsoleSpanExporter() : new otlp.OTLPTraceExporter());
  // OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES win over the process's own name.
  const resource = resources.Resource.default()
    .merge(new resources.Resource({ 'service.name': serviceName }))
    .merge(resources.detectResourcesSync({ detectors: [resources.envDetectorSync] }));
  const provider = new traceBase.BasicTracerProvider({ resource, spanProcessors: [spanProcessor] });
  provider.register({ contextManager: new contextHooks.AsyncLocalStorageContextManager().enable() });
  installed = { tracer: provider.getTracer('bulkport'), processor: spanProcessor, resource, shutdown: () => provider.shutdown() };
  return installed;
}

/** Flushes and stops the process's tracing, if any. */
export async function shutdownTracing(): Promise<void> {
  const tracing = installed;
  installed = undefined;
  await tracing?.shutdown();
}

/** The client's interceptors: a StartWorkflow span whose context travels to the workflow in its headers. */
export function clientInterceptors(tracing = installTracing('bulkport-client')) {
  if (!tracing) return undefined;
  const { OpenTelemetryWorkflowClientInterceptor } = load().interceptors;
  return { workflow: [new OpenTelemetryWorkflowClientInterceptor({ tracer: tracing.tracer })] };
}

/** What a worker adds: activity spans under the workflow's, the worker's own client calls, and the workflow spans' sink. */
export function workerTracing(tracing = installTracing('bulkport-worker')): Pick<WorkerOptions, 'interceptors' | 'sinks'> {
  if (!tracing) return { sinks: droppedWorkflowSpans };
  const {
    makeWorkflowExporter,
    OpenTelemetryActivityInboundInterceptor,
    OpenTelemetryActivityOutboundInterceptor,
    OpenTelemetryWorkflowClientInterceptor,
  } = load().interceptors;
  const options = { tracer: tracing.tracer };
  return {
    interceptors: {
      activity: [
        (ctx) => ({
          inbound: new OpenTelemetryActivityInboundInterceptor(ctx, options),
          outbound: new OpenTelemetryActivityOutboundInterceptor(ctx),
        }),
      ],
      client: { workflow: [new OpenTelemetryWorkflowClientInterceptor(options)] },
    },
    sinks: { exporter: makeWorkflowExporter(tracing.processor, tracing.resource) } satisfies InjectedSinks<OpenTelemetrySinks>,
  };
}

/**
 * Where a worker that does not trace runs a bundle with the workflow interceptors anyway (the tests' bundle, one named
 * by BULKPORT_WORKFLOW_BUNDLE, a dist/ built before the untraced bundle), they call this sink: it drops their spans.
 */
const droppedWorkflowSpans: InjectedSinks<OpenTelemetrySinks> = { exporter: { export: { fn() {} } } };
