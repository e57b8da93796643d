// Activities of a scenario assignment's pass (workflows/scenario-assignment.ts): one batch of the
// tenant's runtimes per call, each in its own transaction, then the applications told of new slots.
import { Context } from '@temporalio/activity';
import type { Client } from '@temporalio/client';
import type pg from 'pg';
import { setOperation, setOperationProgress, type OperationProgress } from '../db/operations.js';
import { assignmentBatch } from '../db/scenario-assignments.js';
import { withTransaction } from '../db/tx.js';
import { announcePendingSlots } from '../services/announcements.js';

export interface AssignmentDeps {
  pool: pg.Pool;
  temporal: Client;
}

export interface AssignmentBatchInput {
  tenantId: string;
  scenario: string;
  operationId: string;
  /** The last runtime id of the previous batch; null for the first. */
  after: string | null;
  limit: number;
  /** The pass's counts before this batch. */
  progress: OperationProgress;
}

export function createAssignmentActivities({ pool, temporal }: AssignmentDeps) {
  return {
    /**
     * Syncs the next batch of runtimes with the scenario's assignments and records the pass's progress
     * in the operation, in one transaction; then announces new credential slots. Returns the last runtime
     * id examined (null: the pass is over, or its operation was superseded by a newer pass, which covers
     * every runtime itself) and the progress so far.
     */
    async assignScenarioBatch(input: AssignmentBatchInput): Promise<{ last: string | null; progress: OperationProgress }> {
      const { last, progress } = await withTransaction(pool, async (client) => {
        const batch = await assignmentBatch(client, input.tenantId, input.scenario, input.after, input.limit);
        const progress: OperationProgress = {
          examined: input.progress.examined + batch.examined,
          total: batch.total,
          joined: input.progress.joined + batch.joined,
          left: input.progress.left + batch.left,
        };
        const current = await setOperationProgress(client, input.operationId, progress);
        return { last: current ? batch.last : null, progress };
      });
      const { log, info } = Context.current();
      await announcePendingSlots({ pool, temporal, taskQueue: info.taskQueue, logger: { warn: (object, message) => log.warn(message, { ...object }) } }, input.tenantId);
      return { last, progress };
    },

    /** Finishes the assignment's operation: SUCCEEDED at stage FINISHED. */
    async finishAssignment({ operationId }: { operationId: string }): Promise<void> {
      await setOperation(pool, operationId, 'FINISHED', 'SUCCEEDED');
    },
  };
}

export type AssignmentActivities = ReturnType<typeof createAssignmentActivities>;
