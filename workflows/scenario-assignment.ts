// Automatic scenario assignment (docs/architecture.md, flow 7): one pass over the tenant's runtimes, a
// batch per activity and transaction, bringing each one's membership of the scenario in line with the
// scenario's assignment (or its removal). Progress is in the operation; a long pass continues as new.
import { continueAsNew, proxyActivities, upsertSearchAttributes, workflowInfo } from '@temporalio/workflow';
import type { AssignmentActivities } from '../activities/assignment.js';
import type { OperationProgress } from '../db/operations.js';
import { MeridianStage } from './ids.js';

export const AssignmentStage = {
  ASSIGNING: 'ASSIGNING',
  FINISHED: 'FINISHED',
} as const;
export type AssignmentStage = (typeof AssignmentStage)[keyof typeof AssignmentStage];

/** Runtimes per batch (one transaction each) unless the start says otherwise. */
export const ASSIGNMENT_BATCH = 100;

export interface ScenarioAssignmentInput {
  tenantId: string;
  scenario: string;
  operationId: string;
  batchSize?: number;
  /** Where a run continued as new picks up: the last runtime id examined and the counts so far. */
  after?: string | null;
  progress?: OperationProgress;
}

// A batch is retried until it commits: its transaction is all-or-nothing and it can be repeated.
const { assignScenarioBatch, finishAssignment } = proxyActivities<AssignmentActivities>({
  startToCloseTimeout: '2 minutes',
  retry: { initialInterval: '1 second', backoffCoefficient: 2, maximumInterval: '30 seconds' },
});

export async function scenarioAssignment(input: ScenarioAssignmentInput): Promise<OperationProgress> {
  let after = input.after ?? null;
  let progress = input.progress ?? { examined: 0, total: 0, joined: 0, left: 0 };
  for (;;) {
    const batch = await assignScenarioBatch({ tenantId: input.tenantId, scenario: input.scenario, operationId: input.operationId, after, limit: input.batchSize ?? ASSIGNMENT_BATCH, progress });
    progress = batch.progress;
    if (batch.last === null) break;
    after = batch.last;
    if (workflowInfo().continueAsNewSuggested) await continueAsNew<typeof scenarioAssignment>({ ...input, after, progress });
  }
  await finishAssignment({ operationId: input.operationId });
  upsertSearchAttributes([{ key: MeridianStage, value: AssignmentStage.FINISHED }]);
  return progress;
}
