import { TestWorkflowEnvironment } from '@temporalio/testing';
import { allSearchAttributes } from '../common/search-attributes';
import { ensureTemporalCli } from './install-temporal';

export interface DevServerOptions {
  /** Serve the Web UI too (the demo does; tests don't). */
  ui?: boolean;
  uiPort?: number;
  port?: number;
  log?: (line: string) => void;
}

/**
 * Starts the Temporal CLI's dev server with bulkport's search attributes registered.
 * The SDK gives the server only a few seconds to come up, which a loaded 2-core machine can
 * miss, so a failed start is tried again before giving up.
 */
export async function startDevServer(options: DevServerOptions = {}): Promise<TestWorkflowEnvironment> {
  const binary = await ensureTemporalCli(options.log);
  let lastError: unknown;
  for (let attempt = 1; attempt <= 3; attempt++) {
    try {
      return await TestWorkflowEnvironment.createLocal({
        server: {
          executable: { type: 'existing-path', path: binary },
          searchAttributes: allSearchAttributes,
          ui: options.ui ?? false,
          ...(options.uiPort ? { uiPort: options.uiPort } : {}),
          ...(options.port ? { port: options.port } : {}),
          log: { format: 'pretty', level: 'error' },
        },
      });
    } catch (err) {
      lastError = err;
      options.log?.(`The Temporal dev server did not start (attempt ${attempt}): ${(err as Error).message}`);
    }
  }
  throw lastError;
}
