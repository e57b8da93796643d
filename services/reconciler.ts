// Starts the reconciler (workflows/reconciler.ts) once per namespace: every worker calls this at boot;
// the first start wins and the others find it running.
import { setTimeout as sleep } from 'node:timers/promises';
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import { workflowId } from '../workflows/ids.js';
import type { ReconcilerInput, reconciler } from '../workflows/reconciler.js';

export interface ReconcilerOptions extends Omit<ReconcilerInput, 'totals'> {
  /** A reconciler of its own under `reconciler:<scope>` (tests, with `tenantIds`); the namespace's one when not given. */
  scope?: string;
  /** Where failed starts are reported while they are retried. */
  logger?: { warn(object: object, message: string): void };
  /** Stops retrying a start that fails (Temporal unreachable); without it, the first failure is thrown. */
  signal?: AbortSignal;
}

/**
 * Starts the reconciler on `taskQueue` unless it is already running: `started` or `running`. With a
 * `signal`, a failing start is retried with backoff (1 s doubling to 30 s) until it succeeds or the
 * signal aborts (`stopped`); without one, the error is thrown.
 */
export async function ensureReconciler(client: Client, taskQueue: string, options: ReconcilerOptions = {}): Promise<'started' | 'running' | 'stopped'> {
  const { scope, logger, signal, ...input } = options;
  const id = workflowId.reconciler(scope);
  for (let attempt = 0; ; attempt++) {
    try {
      await client.workflow.start<typeof reconciler>('reconciler', {
        workflowId: id,
        taskQueue,
        args: [input],
        staticSummary: 'Reconciler: starts the lost workflows of in-progress operations again, and fails operations whose workflow ended without finishing them',
      });
      return 'started';
    } catch (error) {
      if (error instanceof WorkflowExecutionAlreadyStartedError) return 'running';
      if (!signal) throw error;
      logger?.warn({ workflowId: id, err: (error as Error).message }, 'reconciler not started yet; retrying');
      try {
        await sleep(Math.min(1000 * 2 ** attempt, 30_000), undefined, { signal });
      } catch {
        return 'stopped';
      }
    }
  }
}
