// Runtime deprovisioning: revoke certificates → stop the agent → provider.deprovision → delete the
// runtime (applications' configVersion moves) → notify the applications that shared it.
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { ProvisioningActivities, RuntimeInput } from '../activities/provisioning.js';
import type { WebhookActivities } from '../activities/webhooks.js';
import { fanOutAsChild, runtimeEvent } from './fan-out.js';
import { MeridianStage } from './ids.js';

export const DeprovisioningStage = {
  REVOKING: 'REVOKING',
  STOPPING_AGENT: 'STOPPING_AGENT',
  DEPROVISIONING: 'DEPROVISIONING',
  DELETING: 'DELETING',
  NOTIFYING: 'NOTIFYING',
  FINISHED: 'FINISHED',
} as const;
export type DeprovisioningStage = (typeof DeprovisioningStage)[keyof typeof DeprovisioningStage];

const acts = proxyActivities<ProvisioningActivities>({ startToCloseTimeout: '2 minutes', retry: { maximumInterval: '30 seconds' } });
const { applicationsSharingRuntime } = proxyActivities<WebhookActivities>({ startToCloseTimeout: '30 seconds' });

export async function deprovisioning(input: RuntimeInput & { operationId: string }): Promise<void> {
  const enter = (stage: DeprovisioningStage) => upsertSearchAttributes([{ key: MeridianStage, value: stage }]);
  enter(DeprovisioningStage.REVOKING);
  await acts.markRuntime({ runtimeId: input.runtimeId, condition: 'DEPROVISIONING', operationId: input.operationId, stage: DeprovisioningStage.REVOKING });
  await acts.revokeRuntimeCertificates(input);
  enter(DeprovisioningStage.STOPPING_AGENT);
  await acts.stopRuntimeAgent(input);
  enter(DeprovisioningStage.DEPROVISIONING);
  await acts.deprovisionRuntime(input);
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
