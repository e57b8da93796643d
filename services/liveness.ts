// Telling applications that a runtime became UNREACHABLE or CONNECTED again (docs/architecture.md, "When a
// runtime last called"). A transition is made by one conditional statement that records it in the outbox
// (db/liveness.ts); announcing it starts `fan-out:runtime.<unreachable|reachable>:<runtimeId>:<transition>`,
// so a transition announced twice (by the API and the reconciler, or by two replicas) is delivered once.
// The reconciler's rounds announce what a crash or an unavailable Temporal left in the outbox.
import { WorkflowExecutionAlreadyStartedError, type Client } from '@temporalio/client';
import type pg from 'pg';
import { markAnnounced, markReachable, unannouncedTransitions, type LivenessEvent } from '../db/liveness.js';
import { FanOutStage, livenessEvent, type runtimeEventFanOut } from '../workflows/fan-out.js';
import { runtimeAttributes, workflowId } from '../workflows/ids.js';

export interface LivenessDeps {
  pool: pg.Pool;
  temporal: Client;
  /** The management plane's task queue, where the fan-out runs. */
  taskQueue: string;
}

/** Transitions announced per call at most; the rest in the reconciler's next round. */
export const ANNOUNCEMENTS_PER_CALL = 500;

/**
 * Starts the fan-out of every liveness transition not announced yet (of these tenants or runtimes when
 * given), oldest first, each removed from the outbox once its fan-out started. Returns how many.
 */
export async function announceLivenessTransitions(deps: LivenessDeps, scope: { tenantIds?: string[]; runtimeIds?: string[] } = {}): Promise<number> {
  const transitions = await unannouncedTransitions(deps.pool, { ...scope, limit: ANNOUNCEMENTS_PER_CALL });
  for (const transition of transitions) {
    await startFanOut(deps, transition);
    await markAnnounced(deps.pool, transition.runtimeId, transition.transition);
  }
  return transitions.length;
}

/**
 * The runtime called: when it was UNREACHABLE it is CONNECTED again (one conditional statement: of
 * several calls at once, one makes the transition), and applications sharing a scenario hear
 * `runtime.reachable`. True when it made the transition.
 */
export async function runtimeCalled(deps: LivenessDeps, runtimeId: string): Promise<boolean> {
  if (!(await markReachable(deps.pool, runtimeId))) return false;
  await announceLivenessTransitions(deps, { runtimeIds: [runtimeId] });
  return true;
}

/** Starts the transition's fan-out to the applications sharing a scenario with its runtime; one started before is the same event. */
async function startFanOut(deps: LivenessDeps, t: LivenessEvent): Promise<void> {
  const input = livenessEvent(t.type, t, t.transition, t.occurredAt);
  await deps.temporal.workflow
    .start<typeof runtimeEventFanOut>('runtimeEventFanOut', {
      workflowId: workflowId.fanOut(input.eventId),
      taskQueue: deps.taskQueue,
      args: [input],
      workflowIdReusePolicy: 'REJECT_DUPLICATE',
      staticSummary: `Deliver ${t.type} (runtime ${t.runtimeId}, transition ${t.transition}) to the applications sharing a scenario with it`,
      typedSearchAttributes: runtimeAttributes(t.tenantId, t.runtimeId, FanOutStage.NOTIFYING),
    })
    .catch((error: unknown) => {
      if (!(error instanceof WorkflowExecutionAlreadyStartedError)) throw error;
    });
}
