/**
 * Where Temporal is, from the environment, for workers and clients alike:
 * TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_TASK_QUEUE, and for Temporal Cloud either
 * TEMPORAL_API_KEY or TEMPORAL_TLS_CERT + TEMPORAL_TLS_KEY (paths to PEM files).
 */
import { readFileSync } from 'node:fs';

export const DEFAULT_TASK_QUEUE = 'bulkport-imports';

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  tls?: boolean | { clientCertPair: { crt: Buffer; key: Buffer } };
  apiKey?: string;
  /** Where people look at a run: the Web UI. */
  uiUrl: string;
}

export function temporalConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const address = env.TEMPORAL_ADDRESS ?? 'localhost:7233';
  const apiKey = env.TEMPORAL_API_KEY || undefined;
  let tls: TemporalConfig['tls'];
  if (env.TEMPORAL_TLS_CERT || env.TEMPORAL_TLS_KEY) {
    if (!env.TEMPORAL_TLS_CERT || !env.TEMPORAL_TLS_KEY) throw new Error('Set both TEMPORAL_TLS_CERT and TEMPORAL_TLS_KEY (paths to PEM files), or neither.');
    tls = { clientCertPair: { crt: readFileSync(env.TEMPORAL_TLS_CERT), key: readFileSync(env.TEMPORAL_TLS_KEY) } };
  } else if (apiKey || env.TEMPORAL_TLS === 'true') {
    tls = true;
  }
  return {
    address,
    namespace: env.TEMPORAL_NAMESPACE ?? 'default',
    taskQueue: env.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    tls,
    apiKey,
    uiUrl: (env.TEMPORAL_UI_URL ?? 'http://localhost:8233').replace(/\/+$/, ''),
  };
}

export function workflowUiLink(config: Pick<TemporalConfig, 'uiUrl' | 'namespace'>, workflowId: string, runId?: string): string {
  const base = `${config.uiUrl}/namespaces/${encodeURIComponent(config.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}` : base;
}
