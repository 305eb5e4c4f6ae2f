/**
 * Errors of the command line: an error meant for the user (CliError), and the message and exit code of any error a command
 * ends with. A command connected to Temporal passes its connection settings along with the error (InCluster), so the
 * message speaks of the cluster the command used.
 */
import { isGrpcServiceError, NamespaceNotFoundError } from '@temporalio/client';
import { ZodError } from 'zod';
import { temporalConfigFromEnv, type TemporalConfig } from '../../common/temporal-config';
import { SourceNotFoundError } from '../index';
import { ImportNotFoundError } from '../status';
import { NoWorkerError } from '../workers';

/** An error meant for the user: printed without a stack, with this exit code. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const NOT_FOUND = 5; // gRPC status
const UNAVAILABLE = 14;

export function unreachable(config: TemporalConfig, detail: string): CliError {
  return new CliError(
    `Cannot reach Temporal at ${config.address} (${detail}).\n` +
      'Start one locally with `npm start` (the demo: dev server, Web UI, sandboxes and a worker) or `temporal server start-dev`,\n' +
      'or point TEMPORAL_ADDRESS (or --address) at your cluster.',
  );
}

/** An error of a command that used these connection settings: the message then names that cluster and namespace. */
export class InCluster extends Error {
  constructor(
    readonly error: unknown,
    readonly config: TemporalConfig,
  ) {
    super(error instanceof Error ? error.message : String(error), { cause: error });
  }
}

/** The message a user sees for any error a command ends with. */
export function describeError(thrown: unknown): { message: string; exitCode: number } {
  // The settings the command used; before it connected (a bad flag), those of the environment.
  const config = thrown instanceof InCluster ? thrown.config : undefined;
  const err = thrown instanceof InCluster ? thrown.error : thrown;
  const settings = () => config ?? temporalConfigFromEnv();
  if (err instanceof CliError) return { message: err.message, exitCode: err.exitCode };
  if (err instanceof ZodError) {
    const issues = err.issues.map((i) => `${i.path.length ? flagOf(String(i.path.at(-1))) : 'input'}: ${issueText(i)}`);
    return { message: `invalid import: ${issues.join('; ')} (see bulkport import --help)`, exitCode: 1 };
  }
  if (err instanceof ImportNotFoundError || err instanceof NoWorkerError || err instanceof SourceNotFoundError)
    return { message: err.message, exitCode: 1 };
  if (isGrpcServiceError(err) && err.code === UNAVAILABLE)
    return { message: unreachable(settings(), err.details || err.message).message, exitCode: 1 };
  const cause = err instanceof Error && (isGrpcServiceError(err.cause) || err.cause instanceof NamespaceNotFoundError) ? err.cause : err;
  const unknownNamespace = isGrpcServiceError(cause) && cause.code === NOT_FOUND && /namespace/i.test(cause.details || cause.message);
  if (unknownNamespace || cause instanceof NamespaceNotFoundError) {
    const { namespace, address } = settings();
    return {
      message:
        `Namespace ${namespace} does not exist on Temporal at ${address}: create it (\`temporal operator namespace create ${namespace}\`), ` +
        'or check --namespace / TEMPORAL_NAMESPACE.',
      exitCode: 1,
    };
  }
  const message = err instanceof Error ? err.message : String(err);
  return { message: process.env.BULKPORT_DEBUG && err instanceof Error ? (err.stack ?? message) : message, exitCode: 1 };
}

/** Zod's bounds in words ("must be at most 2000"); its other messages as they are. */
function issueText(issue: ZodError['issues'][number]): string {
  if (issue.code === 'too_small' && typeof issue.minimum === 'number') return `must be at least ${issue.minimum}`;
  if (issue.code === 'too_big' && typeof issue.maximum === 'number') return `must be at most ${issue.maximum.toLocaleString('en-US')}`;
  return issue.message;
}

export const kebab = (name: string) => name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
/** The flag that sets a field of the import request. */
export const flagOf = (field: string) => ({ importId: '--id', location: '<file>' })[field] ?? `--${kebab(field)}`;
