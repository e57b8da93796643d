// Runtime deprovisioning: revoke certificates → stop the agent → provider.deprovision → delete the
// runtime (applications' configVersion moves) → notify the applications that shared it. Stopping the
// agent and the provider are retried with backoff for a bounded time; then the operation and the
// runtime end FAILED with the reason, and `DELETE /v1/runtimes/{id}` can be called again.
import { patched, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { ProvisioningActivities, RuntimeInput } from '../activities/provisioning.js';
import type { WebhookActivities } from '../activities/webhooks.js';
import { fanOutAsChild, runtimeEvent } from './fan-out.js';
import { lastAttemptMessage } from './failures.js';
import { MeridianStage } from './ids.js';

export const DeprovisioningStage = {
  REVOKING: 'REVOKING',
  STOPPING_AGENT: 'STOPPING_AGENT',
  DEPROVISIONING: 'DEPROVISIONING',
  DELETING: 'DELETING',
  NOTIFYING: 'NOTIFYING',
  FINISHED: 'FINISHED',
  /** Only the MeridianStage of a deprovisioning that gave up; the operation keeps the stage that failed. */
  FAILED: 'FAILED',
} as const;
export type DeprovisioningStage = (typeof DeprovisioningStage)[keyof typeof DeprovisioningStage];

export interface DeprovisioningInput extends RuntimeInput {
  operationId: string;
  /** How long stopping the agent and the provider's deprovision are retried, in all (histories before it: 10 minutes). */
  deprovisionTimeoutMs?: number;
}

/** The bound of histories started before `deprovisionTimeoutMs` was part of the input (MERIDIAN_DEPROVISION_TIMEOUT_SECONDS' default). */
const DEFAULT_DEPROVISION_TIMEOUT_MS = 10 * 60_000;

const acts = proxyActivities<ProvisioningActivities>({ startToCloseTimeout: '2 minutes', retry: { maximumInterval: '30 seconds' } });
const { applicationsSharingRuntime } = proxyActivities<WebhookActivities>({ startToCloseTimeout: '30 seconds' });

/** `ms` for people: seconds up to two minutes, minutes beyond. */
const duration = (ms: number) => (ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} minutes`);

export async function deprovisioning(input: DeprovisioningInput): Promise<void> {
  const current: { stage: DeprovisioningStage } = { stage: DeprovisioningStage.REVOKING };
  const enter = (next: DeprovisioningStage) => {
    current.stage = next;
    upsertSearchAttributes([{ key: MeridianStage, value: next }]);
  };
  enter(DeprovisioningStage.REVOKING);
  await acts.markRuntime({ runtimeId: input.runtimeId, condition: 'DEPROVISIONING', operationId: input.operationId, stage: DeprovisioningStage.REVOKING });
  await acts.revokeRuntimeCertificates(input);

  // What needs the outside world (Temporal for the agent, the provider) is retried with backoff until
  // one deadline shared by both steps.
  const timeoutMs = input.deprovisionTimeoutMs ?? DEFAULT_DEPROVISION_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const bounded = () =>
    proxyActivities<ProvisioningActivities>({
      startToCloseTimeout: '2 minutes',
      scheduleToCloseTimeout: Math.max(deadline - Date.now(), 1_000),
      retry: { maximumInterval: '30 seconds' },
    });
  try {
    enter(DeprovisioningStage.STOPPING_AGENT);
    await bounded().stopRuntimeAgent(input);
    enter(DeprovisioningStage.DEPROVISIONING);
    await bounded().deprovisionRuntime(input);
  } catch (error) {
    // Histories from before the bound failed the workflow here, and still do when they replay.
    if (!patched('bounded-deprovisioning')) throw error;
    const { stage } = current;
    const what = stage === DeprovisioningStage.STOPPING_AGENT ? 'the runtime agent could not be stopped' : 'the provider could not deprovision the runtime';
    const reason = `${what} within ${duration(timeoutMs)}: ${lastAttemptMessage(error)}`;
    await acts.failDeprovisioning({ runtimeId: input.runtimeId, operationId: input.operationId, stage, reason });
    upsertSearchAttributes([{ key: MeridianStage, value: DeprovisioningStage.FAILED }]);
    return;
  }
  // Who shared the runtime can only be asked while it exists.
  const facts = await acts.runtimeFacts(input);
  const audience = await applicationsSharingRuntime(input);
  enter(DeprovisioningStage.DELETING);
  await acts.deleteRuntime(input);
  enter(DeprovisioningStage.NOTIFYING);
  await fanOutAsChild(runtimeEvent('runtime.removed', { ...input, ...facts }, audience), `Tell the applications that shared runtime ${input.runtimeId} that it was removed`);
  enter(DeprovisioningStage.FINISHED);
  await acts.finishOperation({ operationId: input.operationId, stage: DeprovisioningStage.FINISHED });
}
