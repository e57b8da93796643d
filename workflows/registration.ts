// API and Event registration (DESIGN.md, flow 2): fetch the spec (retry, timeout, size cap) →
// validate → store with its status; runtimes sharing a scenario see the new configVersion.
import { ActivityFailure, ApplicationFailure, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { RegistrationActivities, SpecResult } from '../activities/registration.js';
import { MeridianStage } from './ids.js';

export interface RegistrationInput {
  definitionId: string;
  operationId: string;
}

const { registerSpec } = proxyActivities<RegistrationActivities>({
  startToCloseTimeout: '1 minute',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '10 seconds', maximumAttempts: 4, nonRetryableErrorTypes: ['NotFound'] },
});
const { markSpecFailed, finishRegistration } = proxyActivities<RegistrationActivities>({ startToCloseTimeout: '30 seconds' });

export async function apiRegistration(input: RegistrationInput): Promise<SpecResult> {
  upsertSearchAttributes([{ key: MeridianStage, value: 'VALIDATING' }]);
  let result: SpecResult;
  try {
    result = await registerSpec({ definitionId: input.definitionId });
  } catch (error) {
    const cause = error instanceof ActivityFailure ? error.cause : undefined;
    const message = cause instanceof ApplicationFailure ? cause.message : 'the spec could not be fetched';
    result = await markSpecFailed({ definitionId: input.definitionId, message });
  }
  await finishRegistration({ operationId: input.operationId, result });
  upsertSearchAttributes([{ key: MeridianStage, value: 'FINISHED' }]);
  return result;
}
