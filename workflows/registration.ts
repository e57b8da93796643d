// API and Event registration (docs/architecture.md, flow 2): fetch the spec (retry, timeout, size cap) →
// validate → store with its status; runtimes sharing a scenario see the new configVersion.
import { ApplicationFailure, proxyActivities, upsertSearchAttributes } from '@temporalio/workflow';
import type { RegistrationActivities, SpecResult } from '../activities/registration.js';
import { failureMessage, innermostFailure } from './failures.js';
import { MeridianStage } from './ids.js';

export const RegistrationStage = {
  VALIDATING: 'VALIDATING',
  FINISHED: 'FINISHED',
} as const;
export type RegistrationStage = (typeof RegistrationStage)[keyof typeof RegistrationStage];

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
  upsertSearchAttributes([{ key: MeridianStage, value: RegistrationStage.VALIDATING }]);
  let result: SpecResult;
  try {
    result = await registerSpec({ definitionId: input.definitionId });
  } catch (error) {
    // The spec's own refusal (its size, its version, no answer in time) is worth showing; an activity timeout is not.
    const message = innermostFailure(error) instanceof ApplicationFailure ? failureMessage(error) : 'the spec could not be fetched';
    result = await markSpecFailed({ definitionId: input.definitionId, message });
  }
  await finishRegistration({ operationId: input.operationId, result });
  upsertSearchAttributes([{ key: MeridianStage, value: RegistrationStage.FINISHED }]);
  return result;
}
