/**
 * The import's side of its account's quota coordinator (workflows/account-quota.ts): a message to it, by
 * signal-with-start, so the first import into an account starts the coordinator on its own task queue.
 */
import { createHash } from 'node:crypto';
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import type { ImportInput, TargetName } from '../common/import';
import {
  accountQuotaWorkflowId,
  permitAnswerSignal,
  permitRequestSignal,
  type AccountQuotaArgs,
  type PermitAnswer,
  type PermitRequest,
} from '../workflows/account-quota';
import type { TargetRegistry } from './targets';

export type QuotaMessage = { request: PermitRequest; answer?: undefined } | { answer: PermitAnswer; request?: undefined };

/** A short, stable name for an account: a hash, so neither URL nor application id shows in workflow ids. */
export function accountKey(account: string): string {
  return createHash('sha256').update(account).digest('hex').slice(0, 16);
}

export function createQuotaActivities(targets: TargetRegistry) {
  // Keyed by the task queue too: the coordinator runs on the queue of the import that starts it, and only that
  // queue's workers are sure to poll it (a deployment's imports share one queue).
  const coordinatorOf = (target: TargetName, taskQueue: string): string => {
    const api = targets.api(target);
    const account = api.mode === 'async-action' ? api.account : undefined;
    if (!account) throw ApplicationFailure.nonRetryable(`${target} has no account whose quota imports could share`, 'NoSharedQuota');
    return accountQuotaWorkflowId(target, accountKey(`${account}|${taskQueue}`));
  };
  return {
    /** Returns the coordinator's workflow id, for the import's progress and logs. */
    async messageQuotaCoordinator({ input, message }: { input: Pick<ImportInput, 'target'>; message: QuotaMessage }): Promise<string> {
      const ctx = Context.current();
      const workflowId = coordinatorOf(input.target, ctx.info.taskQueue);
      const args: AccountQuotaArgs = { target: input.target };
      const common = { workflowId, taskQueue: ctx.info.taskQueue, args: [args] as [AccountQuotaArgs] };
      await (message.request
        ? ctx.client.workflow.signalWithStart('accountQuota', { ...common, signal: permitRequestSignal, signalArgs: [message.request] })
        : ctx.client.workflow.signalWithStart('accountQuota', { ...common, signal: permitAnswerSignal, signalArgs: [message.answer] }));
      return workflowId;
    },
  };
}
