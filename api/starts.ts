// How the API starts the workflow of an operation it has just committed (docs/architecture.md,
// "Durable intent"): the operation row is the intent; the start is the first attempt to carry it out.
import type { Client, WorkflowHandle } from '@temporalio/client';
import type { Workflow } from '@temporalio/common';
import { startFlow, type FlowStart } from '../services/workflow-starts.js';
import { isUnavailable } from './problems.js';

/**
 * Starts the workflow of a committed operation. When Temporal is unavailable the intent is still
 * recorded: a warning is logged, the reconciler starts the workflow later, and the answer is undefined
 * (the route answers as if it had started). Any other error is thrown.
 */
export async function startRecorded<W extends Workflow>(
  temporal: Client,
  start: FlowStart<W>,
  log: { warn(object: object, message: string): void },
): Promise<WorkflowHandle<W> | undefined> {
  try {
    return await startFlow(temporal, start);
  } catch (error) {
    if (!isUnavailable(error)) throw error;
    const operationId = (start.options.memo as { operationId?: string } | undefined)?.operationId;
    log.warn(
      { workflowId: start.options.workflowId, operationId, err: (error as Error).message },
      'workflow not started: Temporal is unavailable; the operation is recorded and the reconciler will start it',
    );
    return undefined;
  }
}
