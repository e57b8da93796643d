// Runtime deprovisioning: revoke certificates → stop the agent → provider.deprovision → delete the
// runtime (applications' configVersion moves) → notify the applications that shared it.
import { proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { ProvisioningActivities, RuntimeInput } from '../activities/provisioning.js';
import { announceRuntime, applicationsSharingRuntime } from './notify.js';
import { MeridianStage } from './ids.js';

const acts = proxyActivities<ProvisioningActivities>({ startToCloseTimeout: '2 minutes', retry: { maximumInterval: '30 seconds' } });

export async function deprovisioning(input: RuntimeInput & { operationId: string }): Promise<void> {
  const stage = (value: string) => upsertSearchAttributes([{ key: MeridianStage, value }]);
  stage('REVOKING');
  await acts.markRuntime({ runtimeId: input.runtimeId, condition: 'DEPROVISIONING', operationId: input.operationId, stage: 'REVOKING' });
  await acts.revokeRuntimeCertificates(input);
  stage('STOPPING_AGENT');
  await acts.stopRuntimeAgent(input);
  stage('DEPROVISIONING');
  await acts.deprovisionRuntime(input);
  const facts = await acts.runtimeFacts(input);
  const audience = await applicationsSharingRuntime(input);
  stage('DELETING');
  await acts.deleteRuntime(input);
  stage('NOTIFYING');
  await announceRuntime('runtime.removed', { ...input, ...facts }, audience);
  stage('FINISHED');
  await acts.finishOperation({ operationId: input.operationId, stage: 'FINISHED' });
}
