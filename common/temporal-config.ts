/**
 * Where Temporal is, for workers and clients alike, read as the Temporal CLI reads it (`@temporalio/envconfig`):
 * the profile file (TEMPORAL_CONFIG_FILE, default ~/.config/temporalio/temporal.toml; TEMPORAL_PROFILE picks a
 * profile), then TEMPORAL_ADDRESS, TEMPORAL_NAMESPACE, TEMPORAL_API_KEY, TEMPORAL_TLS, TEMPORAL_TLS_CLIENT_CERT_PATH,
 * TEMPORAL_TLS_CLIENT_KEY_PATH, TEMPORAL_TLS_SERVER_CA_CERT_PATH, TEMPORAL_TLS_SERVER_NAME, TEMPORAL_GRPC_META_*…
 * over it. bulkport's own: TEMPORAL_TASK_QUEUE and TEMPORAL_UI_URL. The names of bulkport 0.1 (TEMPORAL_TLS_CERT,
 * TEMPORAL_TLS_KEY) still work for this release, with a warning naming the new one.
 */
import { existsSync } from 'node:fs';
import { loadClientConnectConfig } from '@temporalio/envconfig';
import type { NativeConnectionOptions } from '@temporalio/worker';

export const DEFAULT_TASK_QUEUE = 'bulkport-imports';

export interface TemporalConfig {
  address: string;
  namespace: string;
  taskQueue: string;
  tls?: NativeConnectionOptions['tls'];
  apiKey?: string;
  /** gRPC metadata (TEMPORAL_GRPC_META_*, or the profile's grpc_meta). */
  metadata?: NativeConnectionOptions['metadata'];
  /** Where people look at a run: the Web UI. */
  uiUrl: string;
}

/** Old name → the Temporal CLI's name. */
const ALIASES: Record<string, string> = {
  TEMPORAL_TLS_CERT: 'TEMPORAL_TLS_CLIENT_CERT_PATH',
  TEMPORAL_TLS_KEY: 'TEMPORAL_TLS_CLIENT_KEY_PATH',
};

/** Each deprecated name warns once per process. */
const warned = new Set<string>();

/** The environment with the old names mapped to the new ones (a new name set explicitly wins). */
export function withAliases(
  env: NodeJS.ProcessEnv,
  warn: (message: string) => void = (m) => process.stderr.write(`${m}\n`),
): Record<string, string> {
  const mapped = Object.fromEntries(Object.entries(env).filter((e): e is [string, string] => e[1] !== undefined));
  for (const [old, current] of Object.entries(ALIASES)) {
    if (!env[old]) continue;
    if (!warned.has(old)) {
      warned.add(old);
      warn(`bulkport: ${old} is deprecated and will be removed in the next release: set ${current} instead (the Temporal CLI's name).`);
    }
    mapped[current] ??= env[old];
  }
  return mapped;
}

export function temporalConfigFromEnv(env: NodeJS.ProcessEnv = process.env): TemporalConfig {
  const vars = withAliases(env);
  // envconfig reads a missing file as an empty one: a file named on purpose must exist.
  if (vars.TEMPORAL_CONFIG_FILE && !existsSync(vars.TEMPORAL_CONFIG_FILE)) {
    throw new Error(`TEMPORAL_CONFIG_FILE names ${vars.TEMPORAL_CONFIG_FILE}, which does not exist: fix the path, or unset it`);
  }
  const hasCert = !!vars.TEMPORAL_TLS_CLIENT_CERT_PATH || !!vars.TEMPORAL_TLS_CLIENT_CERT_DATA;
  const hasKey = !!vars.TEMPORAL_TLS_CLIENT_KEY_PATH || !!vars.TEMPORAL_TLS_CLIENT_KEY_DATA;
  if (hasCert !== hasKey) {
    throw new Error('Set both TEMPORAL_TLS_CLIENT_CERT_PATH and TEMPORAL_TLS_CLIENT_KEY_PATH (paths to PEM files), or neither.');
  }
  const { connectionOptions: c, namespace } = loadClientConnectConfig({ overrideEnvVars: vars });
  return {
    address: c.address ?? 'localhost:7233',
    namespace: namespace ?? 'default',
    taskQueue: vars.TEMPORAL_TASK_QUEUE ?? DEFAULT_TASK_QUEUE,
    ...(c.tls !== undefined && c.tls !== null ? { tls: c.tls } : {}),
    ...(c.apiKey ? { apiKey: c.apiKey as string } : {}),
    ...(c.metadata && Object.keys(c.metadata).length ? { metadata: c.metadata } : {}),
    uiUrl: (vars.TEMPORAL_UI_URL ?? 'http://localhost:8233').replace(/\/+$/, ''),
  };
}

export function workflowUiLink(config: Pick<TemporalConfig, 'uiUrl' | 'namespace'>, workflowId: string, runId?: string): string {
  const base = `${config.uiUrl}/namespaces/${encodeURIComponent(config.namespace)}/workflows/${encodeURIComponent(workflowId)}`;
  return runId ? `${base}/${encodeURIComponent(runId)}` : base;
}
